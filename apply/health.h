/* Health checks after an activation: no failed systemd units (but those that
 * had failed before it), HTTP(S) probes answering 2xx (or a set status),
 * commands exiting 0, the git remote still reachable. A deployment is healthy
 * when every check passes before the deadline (checks are retried every
 * interval until then) and then keeps passing for the settle window. */
#ifndef CIM_HEALTH_H
#define CIM_HEALTH_H

#include "apply/settings.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct err;

struct health_plan {
	const struct health_settings *health;
	/* The remote check ([health] remote): 0 when the git remote answers,
	 * -1 with e filled when not. May be NULL. */
	int (*remote_reachable)(void *ctx, struct err *e);
	void *remote_ctx;
	bool (*should_stop)(void);	    /* may be NULL: stop waiting early */
	void (*tick)(void);		    /* may be NULL: called while waiting */
	const char *failed_before;	    /* may be NULL: health_failed_baseline() */
};

#define HEALTH_UNITS_MAX 4096 /* bytes of a list of failed units */

/* Runs every configured check once. Returns 0 when all passed; otherwise 1
 * and a one-line summary of what failed in why. */
int health_check_once(const struct health_plan *p, char *why, size_t whylen);

enum health_verdict {
	HEALTH_PASSED,
	HEALTH_FAILED,	/* why holds the failure */
	HEALTH_STOPPED, /* should_stop said to stop before a verdict */
};

/* Repeats health_check_once until it passes or the wall-clock deadline (unix
 * time, so it survives a restart of the agent) has passed; then, for
 * [health] settle seconds, every interval, a failure ends the wait. */
enum health_verdict health_wait(const struct health_plan *p, time_t deadline, char *why,
				size_t whylen);

/* The units failed before an activation, space-separated, for failed_before
 * (empty without [health] systemd). Returns 0, or -1 when systemd cannot be
 * asked. */
int health_failed_baseline(const struct health_settings *health, char *units, size_t size, struct err *e);

/* True when at least one check is configured. */
int health_configured(const struct health_settings *health);

#endif
