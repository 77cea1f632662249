/* The rollout plan, rollout.conf at the repository root (or [fleet] plan), an
 * INI file read from the tree of the commit it governs:
 *
 *     [rollout]
 *     hosts = fleet/hosts    ; required: the hosts file, a path in the repository
 *     soak = 10m             ; default soak of every wave (default 10m)
 *     max_failures = 0       ; default failure budget of every wave (default 0)
 *     stale_after = 15m      ; a host silent longer is stale (default 15m)
 *     min_healthy = 1        ; default of every wave: a number or a percentage (default 1)
 *
 *     [wave canary]
 *     hosts = web-01 db-0*   ; host name patterns ('*', '?'), repeatable
 *
 *     [wave quarter]
 *     percent = 25           ; of the hosts left, by a stable hash of the name
 *     soak = 30m             ; soak, min_healthy and max_failures may be set per wave
 *
 *     [wave rest]            ; no selector: every host left
 *
 * Durations are written as the agent's configuration writes them (90s, 5m,
 * 1h30m; a bare number is seconds). Every error names file:line and the fix;
 * a plan error halts the rollout of the commit it comes from. Which host is in
 * which wave is fleet/assign.h's business. */
#ifndef CIM_FLEET_PLAN_H
#define CIM_FLEET_PLAN_H

#include <stdbool.h>
#include <stddef.h>

struct err;

#define FLEET_PLAN_MAX_BYTES	(64 * 1024)
#define FLEET_PLAN_MAX_WAVES	32
#define FLEET_PLAN_MAX_PATTERNS 1024 /* in all waves together */
#define FLEET_PATTERN_MAX	253
#define FLEET_WAVE_NAME_MAX	40
#define FLEET_PATH_MAX		1024
#define FLEET_DURATION_MAX	(10u * 365 * 24 * 3600)

#define FLEET_DEFAULT_SOAK	  600
#define FLEET_DEFAULT_STALE_AFTER 900

/* min_healthy: an absolute number of hosts, or a percentage of the wave. */
struct fleet_count {
	unsigned value;
	bool percent;
};

struct fleet_plan_wave {
	char name[FLEET_WAVE_NAME_MAX + 1];
	int line;	    /* of its [wave NAME] header */
	int hosts_line;	    /* of its first hosts key; 0 when none */
	char **patterns;    /* the hosts patterns, in order */
	int *pattern_lines; /* the line each pattern was written on */
	size_t npatterns;
	unsigned percent; /* 1..100; 0 when not a percent wave */
	int percent_line;
	/* The wave's own values, or the [rollout] defaults when not set. */
	unsigned soak;
	unsigned max_failures;
	struct fleet_count min_healthy;
};

struct fleet_plan {
	char *source;	  /* file name, for messages */
	char *hosts_path; /* [rollout] hosts: a clean relative path */
	int hosts_line;
	unsigned soak; /* [rollout] defaults */
	unsigned max_failures;
	unsigned stale_after;
	struct fleet_count min_healthy;
	struct fleet_plan_wave *waves; /* in file order */
	size_t nwaves;
};

/* Parses text (len bytes; name is for messages) into p, which is overwritten.
 * Refuses: more than FLEET_PLAN_MAX_BYTES, FLEET_PLAN_MAX_WAVES waves,
 * FLEET_PLAN_MAX_PATTERNS patterns, lines longer than inih's limit, NUL bytes,
 * unknown sections or keys, a key set twice, a wave with both hosts and
 * percent, bad values, a missing [rollout] or hosts key, a plan without a
 * wave. On error p holds nothing and e says file:line: what and how to fix. */
int fleet_plan_parse(struct fleet_plan *p, const char *name, const char *text, size_t len,
		     struct err *e);

/* Parses a duration (90s, 5m, 1h30m, or a bare number of seconds) up to
 * FLEET_DURATION_MAX; 0 or -1. */
int fleet_parse_duration(const char *text, unsigned *seconds);

void fleet_plan_release(struct fleet_plan *p);

#endif
