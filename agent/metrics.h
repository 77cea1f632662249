/* Prometheus metrics ([report] metrics_file): the text exposition format,
 * written atomically for node_exporter's textfile collector. Every metric is
 * documented in README.md ("Reporting"). */
#ifndef CIM_METRICS_H
#define CIM_METRICS_H

#include <jansson.h>

struct config;
struct err;

/* Keeps the per-step success and failure times and the outcome counters in
 * state (key "metrics") for the cycle that ends with outcome (a
 * cycle_outcome_name()); state's "phase" must still be the phase the cycle
 * ended in. Called once per finished cycle, before the state is saved, so
 * counters only ever grow. */
void metrics_note_outcome(json_t *state, const char *outcome);

/* Writes metrics_file from state and history (may be NULL); nothing to do
 * without [report] metrics_file. */
int metrics_write(const struct config *cfg, const json_t *state, const json_t *history,
		  struct err *e);

/* A label value escaped for the text format (backslash, double quote and
 * newline); the caller frees it. NULL when out of memory. */
char *metrics_escape_label(const char *value);

#endif
