#include "base/sdcompat.h"

#include "base/clock.h"
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#if HAVE_SYSTEMD
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#endif

void sdc_notify(const char *fmt, ...)
{
#if HAVE_SYSTEMD
	char buf[512];
	va_list ap;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sd_notify(0, buf);
#else
	(void)fmt;
#endif
}

unsigned long long sdc_watchdog_usec(void)
{
#if HAVE_SYSTEMD
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) > 0)
		return usec;
#endif
	return 0;
}

#if HAVE_SYSTEMD
static unsigned long long watchdog_last;

static unsigned long long monotonic_usec(void)
{
	return (unsigned long long)(clock_monotonic() * 1e6);
}
#endif

void sdc_watchdog_kick(void)
{
#if HAVE_SYSTEMD
	if (!sdc_watchdog_usec())
		return;
	watchdog_last = monotonic_usec();
	sd_notify(0, "WATCHDOG=1");
#endif
}

void sdc_watchdog_tick(void)
{
#if HAVE_SYSTEMD
	static unsigned long long usec;
	static bool checked;

	if (!checked) {
		usec = sdc_watchdog_usec();
		checked = true;
	}
	if (!usec || monotonic_usec() - watchdog_last < usec / 2)
		return;
	sdc_watchdog_kick();
#endif
}

bool sdc_journal_available(void)
{
#if HAVE_SYSTEMD
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
#else
	return false;
#endif
}

void sdc_journal(int priority, const char *message, const char *const *fields)
{
#if HAVE_SYSTEMD
	struct iovec iov[16];
	char prio[32], msg[2048];
	int n = 0;

	snprintf(prio, sizeof(prio), "PRIORITY=%d", priority);
	snprintf(msg, sizeof(msg), "MESSAGE=%s", message);
	iov[n++] = (struct iovec){prio, strlen(prio)};
	iov[n++] = (struct iovec){msg, strlen(msg)};
	iov[n++] = (struct iovec){(char *)(uintptr_t) "SYSLOG_IDENTIFIER=cim-agent", 27};
	for (const char *const *f = fields; f && *f && n < 16; f++)
		iov[n++] = (struct iovec){(char *)(uintptr_t)*f, strlen(*f)};
	sd_journal_sendv(iov, n);
#else
	(void)priority;
	(void)message;
	(void)fields;
#endif
}

int sdc_failed_units(char *names, size_t size, struct err *e)
{
#if HAVE_SYSTEMD
	sd_bus *bus = NULL;
	sd_bus_message *reply = NULL;
	sd_bus_error berr = SD_BUS_ERROR_NULL;
	const char *unit;
	int count = 0, r;

	names[0] = '\0';
	r = sd_bus_open_system(&bus);
	if (r < 0)
		return err_set(e, "cannot reach systemd over D-Bus: %s", strerror(-r));
	r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
			       "org.freedesktop.systemd1.Manager", "ListUnitsFiltered", &berr,
			       &reply, "as", 1, "failed");
	if (r < 0) {
		err_set(e, "asking systemd for failed units: %s",
			berr.message ? berr.message : strerror(-r));
		count = -1;
		goto out;
	}
	r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "(ssssssouso)");
	while (r >= 0 && (r = sd_bus_message_read(reply, "(ssssssouso)", &unit, NULL, NULL, NULL,
						  NULL, NULL, NULL, NULL, NULL, NULL)) > 0) {
		size_t used = strlen(names);
		snprintf(names + used, size - used, "%s%s", count ? " " : "", unit);
		count++;
	}
	if (r < 0) {
		err_set(e, "reading systemd's answer: %s", strerror(-r));
		count = -1;
	}
out:
	sd_bus_error_free(&berr);
	sd_bus_message_unref(reply);
	sd_bus_unref(bus);
	return count;
#else
	(void)names;
	(void)size;
	return err_set(e, "systemd health checks are not available on this system");
#endif
}
