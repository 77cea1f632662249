/* Which host is in which wave: the plan of a commit applied to the hosts file
 * of the same commit.
 *
 *   1. Pattern waves ([wave] hosts = ...) take the hosts their patterns match
 *      ('*' any run of characters, '?' one character). Every pattern must
 *      match at least one host of the hosts file, and a host matched by two
 *      waves is an error: a host belongs to one wave.
 *   2. Percent and selector-less waves share out the hosts that no pattern
 *      wave names, in file order. A percent wave takes ceil(percent * n / 100)
 *      of the n hosts still left, so at least one when any is left: those with
 *      the lowest fleet_name_hash() (ties by name). A selector-less wave takes
 *      every host left.
 *   3. Hosts that no wave takes go last, in an implicit wave named
 *      FLEET_IMPLICIT_WAVE with the [rollout] soak, min_healthy and
 *      max_failures.
 *
 * Waves go in file order (the implicit wave last). A wave that selects no host
 * is an error, and so is a min_healthy larger than its wave, except in the last
 * wave, which gates nothing (its min_healthy is capped at its size). Every
 * error is a plan error: the caller halts the rollout of that commit. */
#ifndef CIM_FLEET_ASSIGN_H
#define CIM_FLEET_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

struct err;
struct fleet_plan;
struct fleet_hosts;

#define FLEET_IMPLICIT_WAVE "(unselected)"

struct fleet_wave {
	const char *name; /* the plan's, or FLEET_IMPLICIT_WAVE */
	int line;	  /* of its [wave] header; 0 for the implicit wave */
	unsigned soak;	  /* seconds */
	unsigned max_failures;
	size_t min_healthy; /* hosts; a percentage resolved against n (rounded up) */
	size_t *members;    /* indexes into hosts->v, in hosts file order */
	size_t n;
};

struct fleet_assignment {
	const struct fleet_plan *plan; /* borrowed: they must outlive the assignment */
	const struct fleet_hosts *hosts;
	struct fleet_wave *waves;
	size_t nwaves;
	size_t *wave_of; /* per host index: its wave's index */
};

/* Assigns every host of hosts to a wave of plan (see above). out is
 * overwritten; on error it holds nothing and e names the plan's file:line or
 * the hosts file's, and the fix. */
int fleet_assign(struct fleet_assignment *out, const struct fleet_plan *plan,
		 const struct fleet_hosts *hosts, struct err *e);

/* The wave index of the host called name, or -1 when it is not a member. */
long fleet_assign_wave_of(const struct fleet_assignment *a, const char *name);

/* The stable hash that orders hosts for percent waves (and may spread
 * triggered fetches): the first 8 bytes of SHA-256(name), big-endian. */
uint64_t fleet_name_hash(const char *name);

void fleet_assign_release(struct fleet_assignment *a);

#endif
