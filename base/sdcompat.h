/* The one place that talks to systemd (libsystemd). On systems without it
 * (macOS) every function is a harmless no-op or reports "unavailable". */
#ifndef CIM_SDCOMPAT_H
#define CIM_SDCOMPAT_H

#include <stdbool.h>
#include <stddef.h>

struct err;

/* sd_notify(3) with a formatted state string; no-op without NOTIFY_SOCKET. */
void sdc_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Watchdog interval in microseconds from WATCHDOG_USEC, 0 when not enabled. */
unsigned long long sdc_watchdog_usec(void);

/* Sends WATCHDOG=1 when the watchdog is on and half its interval passed
 * since the last ping; cheap enough to call often. */
void sdc_watchdog_tick(void);

/* Sends WATCHDOG=1 now when the watchdog is on. */
void sdc_watchdog_kick(void);

/* True when stderr is connected to the journal (JOURNAL_STREAM matches). */
bool sdc_journal_available(void);

/* Sends a structured journal entry: priority, message and CIM_* fields
 * ("CIM_COMMIT=...", NULL-terminated list). */
void sdc_journal(int priority, const char *message, const char *const *fields);

/* Lists units in the "failed" state over D-Bus into names (space-separated).
 * Returns the number of failed units, or -1 when systemd cannot be asked. */
int sdc_failed_units(char *names, size_t size, struct err *e);

#endif
