/* The agent's state file, state_dir/state.json: one JSON object, written
 * atomically (temp file, fsync, rename) so a crash leaves the old or the new
 * state, never a mix. Its keys are documented in README.md ("State file"). */
#ifndef CIM_STATE_H
#define CIM_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct err;

#define STATE_SCHEMA    1
#define STATE_MAX_BYTES (4 * 1024 * 1024)

struct state {
	char *path;
	json_t *root;
};

/* Loads state_dir/state.json, or starts an empty state when there is none.
 * A file that does not parse is an error (never silently reset: it holds
 * the trust baseline). */
int state_load(struct state *st, const char *state_dir, struct err *e);
int state_save(struct state *st, struct err *e);

/* For a state that must reach the disk: state_save() again every second,
 * for up to patience seconds or until stop() (may be NULL) says to stop;
 * tick() (may be NULL) runs meanwhile. */
int state_save_retrying(struct state *st, unsigned patience, bool (*stop)(void), void (*tick)(void),
			struct err *e);

/* NULL when unset or not a string. */
const char *state_get(const struct state *st, const char *key);
int64_t state_get_int(const struct state *st, const char *key);
/* value NULL removes the key. */
int state_set(struct state *st, const char *key, const char *value);
int state_set_int(struct state *st, const char *key, int64_t value);

void state_release(struct state *st);

#endif
