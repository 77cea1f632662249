/* Prometheus metrics ([report] metrics_file): the text exposition format,
 * written atomically for node_exporter's textfile collector. Every metric is
 * documented in README.md ("Reporting"). */
#ifndef CIM_METRICS_H
#define CIM_METRICS_H

#include "agent/cycle.h"

#include <jansson.h>

struct agent_state;
struct config;
struct err;

/* Keeps the per-step success and failure times and the outcome counters in
 * the state (its metrics) for the cycle that ends with outcome; the state's
 * phase must still be the phase the cycle ended in. Called once per
 * finished cycle, before the state is saved, so counters only ever grow. */
void metrics_note_outcome(struct agent_state *st, enum cycle_outcome outcome);

/* Writes metrics_file from the state and the history (may be NULL); nothing
 * to do without [report] metrics_file. */
int metrics_write(const struct config *cfg, const struct agent_state *state, const json_t *history,
		  struct err *e);

/* A label value escaped for the text format (backslash, double quote and
 * newline); the caller frees it. NULL when out of memory. */
char *metrics_escape_label(const char *value);

#endif
