/* The bounded history of deployments, state_dir/history.json: a JSON array,
 * newest last, at most HISTORY_MAX entries, written atomically. Its keys
 * appear in agent/history.c only; README.md ("State files") documents them. */
#ifndef CIM_HISTORY_H
#define CIM_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define HISTORY_MAX	  100
#define HISTORY_MAX_BYTES (8 * 1024 * 1024)

/* One deployment attempt. Strings may be NULL. */
struct history_entry {
	const char *commit;
	const char *outcome; /* deployed, rolled-back, build-failed, secrets-failed, built */
	const char *reason;
	const char *signer, *key;
	const char *store_path, *previous_path;
	const char *closure_diff;
	int64_t started_at, finished_at;
	int64_t cycle_ms;    /* wall time of the cycle in this process */
	int64_t children_ms; /* of which in children (nix, activation, checks) */
};

/* Appends entry and drops the oldest. */
int history_append(const char *state_dir, const struct history_entry *entry, struct err *e);

/* Loads the array (empty when there is no file); caller json_decref()s. */
json_t *history_load(const char *state_dir, struct err *e);

/* history_load() on the file's text (len bytes, no NUL needed); name is the
 * file, for messages. Every item is checked to be an entry as
 * history_append() writes it (commit and outcome strings, the other strings
 * strings or null, the times integers): a file with any other is an error. */
json_t *history_parse(const char *name, const char *text, size_t len, struct err *e);

/* Reads an item of that array; the strings are borrowed from item. */
void history_entry_read(const json_t *item, struct history_entry *out);

#endif
