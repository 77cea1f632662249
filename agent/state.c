#include "agent/state.h"

#include "base/err.h"
#include "base/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int state_load(struct state *st, const char *state_dir, struct err *e)
{
	json_error_t jerr;
	char *text = NULL;
	size_t len;
	struct stat sb;

	memset(st, 0, sizeof(*st));
	if (asprintf(&st->path, "%s/state.json", state_dir) < 0) {
		st->path = NULL;
		return err_set(e, "out of memory");
	}
	if (stat(st->path, &sb) < 0 && errno == ENOENT) {
		st->root = json_pack("{s:i}", "schema", STATE_SCHEMA);
		return st->root ? 0 : err_set(e, "out of memory");
	}
	if (file_read_capped(st->path, STATE_MAX_BYTES, &text, &len, e) < 0)
		return -1;
	st->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!st->root || !json_is_object(st->root))
		return err_set(e, "%s:%d: state file is corrupt (%s); move it away to start over",
			       st->path, jerr.line, st->root ? "not an object" : jerr.text);
	return 0;
}

int state_save(struct state *st, struct err *e)
{
	char *text;
	int rc;

	json_object_set_new(st->root, "schema", json_integer(STATE_SCHEMA));
	text = json_dumps(st->root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return err_set(e, "out of memory");
	rc = file_write_atomic(st->path, text, strlen(text), 0644, e);
	free(text);
	return rc;
}

int state_save_retrying(struct state *st, unsigned patience, bool (*stop)(void), void (*tick)(void),
			struct err *e)
{
	struct timespec nap = {0, 100 * 1000 * 1000};

	for (unsigned i = 1; i <= patience * 10 && !(stop && stop()); i++) {
		if (tick)
			tick();
		nanosleep(&nap, NULL);
		if (i % 10 == 0 && state_save(st, e) == 0)
			return 0;
	}
	return -1;
}

const char *state_get(const struct state *st, const char *key)
{
	return json_string_value(json_object_get(st->root, key));
}

int64_t state_get_int(const struct state *st, const char *key)
{
	return json_integer_value(json_object_get(st->root, key));
}

int state_set(struct state *st, const char *key, const char *value)
{
	if (!value) {
		json_object_del(st->root, key); /* absent already is fine */
		return 0;
	}
	return json_object_set_new(st->root, key, json_string(value));
}

int state_set_int(struct state *st, const char *key, int64_t value)
{
	return json_object_set_new(st->root, key, json_integer(value));
}

void state_release(struct state *st)
{
	json_decref(st->root);
	free(st->path);
	memset(st, 0, sizeof(*st));
}
