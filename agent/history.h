/* The bounded history of deployments, state_dir/history.json: a JSON array,
 * newest last, at most HISTORY_MAX entries, written atomically. */
#ifndef CIM_HISTORY_H
#define CIM_HISTORY_H

#include <jansson.h>

struct err;

#define HISTORY_MAX       100
#define HISTORY_MAX_BYTES (8 * 1024 * 1024)

/* Appends entry (a JSON object; reference stolen) and drops the oldest. */
int history_append(const char *state_dir, json_t *entry, struct err *e);

/* Loads the array (empty when there is no file); caller json_decref()s. */
json_t *history_load(const char *state_dir, struct err *e);

#endif
