#include "apply/health.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/sdcompat.h"
#include "apply/spawn.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROBE_TIMEOUT_MAX 10L /* seconds for one HTTP probe or command */

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	(void)userdata;
	return size * nmemb;
}

static int check_url(const char *url, unsigned expect, long timeout, char *why, size_t whylen)
{
	CURL *curl = curl_easy_init();
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;

	if (!curl) {
		snprintf(why, whylen, "%s: cannot start libcurl", url);
		return 1;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "cim-agent/" CIM_VERSION " health");
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return 1;
	}
	if (expect ? status != (long)expect : (status < 200 || status > 299)) {
		if (expect)
			snprintf(why, whylen, "%s answered %ld, expected %u", url, status, expect);
		else
			snprintf(why, whylen, "%s answered %ld, expected 2xx", url, status);
		return 1;
	}
	return 0;
}

static int check_command(const char *cmd, unsigned timeout, char *why, size_t whylen)
{
	struct spawn_opts o = {.timeout = timeout, .capture_stdout = true, .capture_max = 4096};
	struct spawn_result r;
	struct err e = {{0}};

	if (spawn_shell(cmd, &o, &r, &e) < 0) {
		snprintf(why, whylen, "command '%s': %s", cmd, e.msg);
		return 1;
	}
	spawn_result_release(&r);
	if (r.timed_out) {
		snprintf(why, whylen, "command '%s' timed out after %us", cmd, timeout);
		return 1;
	}
	if (r.status != 0) {
		snprintf(why, whylen, "command '%s' exited %d", cmd, r.status);
		return 1;
	}
	return 0;
}

int health_configured(const struct health_settings *health)
{
	return health->systemd || health->url.n || health->command.n ||
	       health->remote;
}

/* True when the space-separated list has the word. */
static bool listed(const char *list, const char *word, size_t len)
{
	for (const char *p = list; p && *p;) {
		size_t n = strcspn(p, " ");
		if (n == len && strncmp(p, word, len) == 0)
			return true;
		p += n + strspn(p + n, " ");
	}
	return false;
}

/* Removes from units (space-separated, in place) the ones in before; returns
 * how many are left. */
static int drop_listed(char *units, const char *before)
{
	char *out = units;
	int kept = 0;

	for (const char *p = units; *p;) {
		size_t n = strcspn(p, " ");
		if (!listed(before, p, n)) {
			if (out != units)
				*out++ = ' ';
			memmove(out, p, n);
			out += n;
			kept++;
		}
		p += n + strspn(p + n, " ");
	}
	*out = '\0';
	return kept;
}

int health_failed_baseline(const struct health_settings *health, char *units, size_t size, struct err *e)
{
	units[0] = '\0';
	if (!health->systemd)
		return 0;
	return sdc_failed_units(units, size, e) < 0 ? -1 : 0;
}

int health_check_once(const struct health_plan *p, char *why, size_t whylen)
{
	const struct health_settings *health = p->health;
	struct err e = {{0}};

	if (health->systemd) {
		char units[HEALTH_UNITS_MAX];
		int n = sdc_failed_units(units, sizeof(units), &e);
		if (n < 0) {
			snprintf(why, whylen, "systemd: %s", e.msg);
			return 1;
		}
		n = drop_listed(units, p->failed_before);
		if (n > 0) {
			snprintf(why, whylen, "%d failed systemd unit%s: %s", n, n == 1 ? "" : "s",
				 units);
			return 1;
		}
	}
	for (size_t i = 0; i < health->url.n; i++)
		if (check_url(health->url.v[i], health->expect_status, PROBE_TIMEOUT_MAX,
			      why, whylen))
			return 1;
	for (size_t i = 0; i < health->command.n; i++)
		if (check_command(health->command.v[i],
				  health->timeout ? health->timeout : 60, why, whylen))
			return 1;
	if (health->remote && p->remote_reachable &&
	    p->remote_reachable(p->remote_ctx, &e) < 0) {
		snprintf(why, whylen, "git remote unreachable: %s", e.msg);
		return 1;
	}
	return 0;
}

/* Waits out one interval in small steps, staying responsive; false when
 * should_stop said to stop. */
static bool nap(const struct health_plan *p, double seconds)
{
	for (double end = clock_monotonic() + seconds; clock_monotonic() < end;) {
		if (p->should_stop && p->should_stop())
			return false;
		if (p->tick)
			p->tick();
		struct timespec step = {0, 100 * 1000 * 1000};
		nanosleep(&step, NULL);
	}
	return !(p->should_stop && p->should_stop());
}

/* Every check passed once: they must go on passing for the whole settle
 * window, or the deployment fails. */
static enum health_verdict settle(const struct health_plan *p, char *why, size_t whylen)
{
	unsigned window = p->health->settle, interval = p->health->interval;
	double start = clock_monotonic(), end = start + window;

	sdc_notify("STATUS=checking health: passed, must keep passing for %us before committing",
		   window);
	for (;;) {
		double left = end - clock_monotonic();
		if (left <= 0)
			return HEALTH_PASSED;
		if (!nap(p, left < interval ? left : (interval ? interval : 1)))
			return HEALTH_STOPPED;
		if (health_check_once(p, why, whylen) != 0) {
			if (p->should_stop && p->should_stop())
				return HEALTH_STOPPED; /* cut short by the stop: no verdict */
			size_t used = strlen(why);
			snprintf(why + used, whylen - used,
				 " (after %.0fs of the %us settle window)",
				 clock_monotonic() - start, window);
			return HEALTH_FAILED;
		}
	}
}

enum health_verdict health_wait(const struct health_plan *p, time_t deadline, char *why,
				size_t whylen)
{
	for (;;) {
		if (health_check_once(p, why, whylen) == 0)
			return p->health->settle ? settle(p, why, whylen) : HEALTH_PASSED;
		/* A check cut short by the stop (the remote probe) is no verdict. */
		if (p->should_stop && p->should_stop())
			return HEALTH_STOPPED;
		if (time(NULL) + (time_t)p->health->interval > deadline) {
			size_t used = strlen(why);
			snprintf(why + used, whylen - used, " (still failing after %us)",
				 p->health->timeout);
			return HEALTH_FAILED;
		}
		if (!nap(p, p->health->interval ? p->health->interval : 1))
			return HEALTH_STOPPED;
	}
}
