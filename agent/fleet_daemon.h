/* The daemon's side of the fleet: the watch of the bucket and the trigger
 * subscription in its poll() set, and the deadlines they make. A change in
 * the bucket re-runs the gate at once (without a fetch) while this host
 * waits for an earlier wave; a trigger makes it fetch after a delay spread
 * by a stable hash of its name over [fleet] trigger_spread, at most once
 * every FLEET_TRIGGER_GAP seconds; a soak that ends re-runs the gate then. */
#ifndef CIM_FLEET_DAEMON_H
#define CIM_FLEET_DAEMON_H

#include "agent/cycle.h"

#include <stdint.h>

struct config;

#define FLEET_TRIGGER_GAP 3 /* seconds between triggered fetches */

enum fleet_wake {
	FLEET_WAKE_NONE,
	FLEET_WAKE_FETCH, /* a trigger: poll now */
	FLEET_WAKE_GATE,  /* the bucket changed or a soak ended: decide again */
};

/* Connects, watches, subscribes and puts the first report (failures are
 * logged and retried). */
void fleet_daemon_start(const struct config *cfg);

/* The fd to poll for events, -1 when none. */
int fleet_daemon_fd(void);

/* Seconds (monotonic clock) of the next fleet deadline, or 0 when none. */
double fleet_daemon_deadline(void);

/* After poll(): takes the events, runs the due timers; what to run now. */
enum fleet_wake fleet_daemon_service(const struct config *cfg);

/* After each cycle: the report, and the deadline of a soak that ends. */
void fleet_daemon_after_cycle(const struct config *cfg, const struct cycle_result *res);

void fleet_daemon_stop(void);

/* The delay of a triggered fetch, in milliseconds: the name's stable hash
 * spread over spread seconds. */
uint64_t fleet_trigger_delay_ms(const char *name, unsigned spread);

#endif
