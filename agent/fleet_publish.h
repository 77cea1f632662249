/* This host's report in the fleet bucket (fleet/report.h): put after each
 * cycle outcome and at start, and read back when the state was lost. */
#ifndef CIM_FLEET_PUBLISH_H
#define CIM_FLEET_PUBLISH_H

#include "agent/cycle.h"

#include <stdint.h>

struct agent_state;
struct fleet_report;
struct config;

/* Updates the lineage and failures from the cycle that ended (res; NULL: no
 * cycle, at start or after a reconnect), signs the next report and puts it
 * under this host's name. Takes the state_dir lock; failures are logged and
 * noted as the NATS health in fleet.json. */
void fleet_publish(const struct config *cfg, const struct cycle_result *res);

/* A state without a baseline or a deployment (a wiped state_dir): takes the
 * baseline from this host's own newest signed report in the bucket, so that
 * nothing older than what it last reported is accepted, and goes on with its
 * seq. With the state_dir lock held. 1 when restored, 0 when there was
 * nothing to restore (or NATS is unreachable: logged). */
int fleet_restore_baseline(const struct config *cfg, struct agent_state *st);

/* The streak and failures of r after a cycle that ended in res (NULL: none)
 * with st: a deployment adds to the streak; a rollback or a failure records
 * the failure and starts a new streak on what runs. */
void fleet_publish_update_streak(struct fleet_report *r, const struct agent_state *st,
				 const struct cycle_result *res, int64_t now);

#endif
