/* The fleet in `cim-agent status` and in the metrics, from state_dir/fleet.json
 * alone (no network): this host's wave, the gate and what it waits for, the
 * NATS health, the forged reports seen. */
#ifndef CIM_FLEET_STATUS_H
#define CIM_FLEET_STATUS_H

#include <jansson.h>
#include <stdio.h>

struct config;

/* The "fleet" object of status --json (agent/status-schema.json), or NULL
 * when [fleet] is not configured. */
json_t *fleet_status_json(const struct config *cfg);

/* The fleet lines of `cim-agent status`; nothing without [fleet]. */
void fleet_status_print(const struct config *cfg, FILE *out);

/* cim_agent_fleet_* samples; nothing without [fleet]. */
void fleet_status_metrics(FILE *f, const struct config *cfg);

#endif
