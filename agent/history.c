#include "agent/history.h"

#include "base/err.h"
#include "base/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void history_path(const char *state_dir, char *buf, size_t size)
{
	snprintf(buf, size, "%s/history.json", state_dir);
}

#define HISTORY_FIX                                                                                \
	"; fix it or move it away (the next deployment sets it aside as history.json.corrupt)"

/* The keys entry_json() writes, and their types: commit and outcome always
 * strings, the other strings or null, the times integers. */
static const char *const text_keys[] = {"reason",     "signer",	       "key",
					"store_path", "previous_path", "closure_diff"};
static const char *const int_keys[] = {"started_at", "finished_at", "cycle_ms", "children_ms"};

static int entry_check(const json_t *item, size_t i, const char *name, struct err *e)
{
	json_t *v;

	if (!json_is_object(item))
		return err_set(e, "%s: entry %zu is not an object" HISTORY_FIX, name, i + 1);
	if (!json_is_string(json_object_get(item, "commit")) ||
	    !json_is_string(json_object_get(item, "outcome")))
		return err_set(
		    e, "%s: entry %zu has no \"commit\" and \"outcome\" strings" HISTORY_FIX, name,
		    i + 1);
	for (size_t k = 0; k < sizeof(text_keys) / sizeof(text_keys[0]); k++)
		if ((v = json_object_get(item, text_keys[k])) && !json_is_string(v) &&
		    !json_is_null(v))
			return err_set(e, "%s: entry %zu: \"%s\" is not a string" HISTORY_FIX, name,
				       i + 1, text_keys[k]);
	for (size_t k = 0; k < sizeof(int_keys) / sizeof(int_keys[0]); k++)
		if ((v = json_object_get(item, int_keys[k])) && !json_is_integer(v))
			return err_set(e, "%s: entry %zu: \"%s\" is not an integer" HISTORY_FIX,
				       name, i + 1, int_keys[k]);
	return 0;
}

json_t *history_parse(const char *name, const char *text, size_t len, struct err *e)
{
	json_error_t jerr;
	json_t *arr = json_loadb(text, len, 0, &jerr), *item;
	size_t i;

	if (!arr) {
		err_set(e, "%s:%d: history is corrupt (%s)" HISTORY_FIX, name, jerr.line,
			jerr.text);
		return NULL;
	}
	if (!json_is_array(arr)) {
		json_decref(arr);
		err_set(e, "%s: history is not a JSON array" HISTORY_FIX, name);
		return NULL;
	}
	json_array_foreach(arr, i, item)
	{
		if (entry_check(item, i, name, e) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

json_t *history_load(const char *state_dir, struct err *e)
{
	char path[4096], *text;
	size_t len;
	json_t *arr;
	struct stat st;
	int gone;

	history_path(state_dir, path, sizeof(path));
	gone = stat(path, &st) < 0 ? errno : 0;
	if (gone == ENOENT)
		return json_array();
	if (!gone && st.st_size > HISTORY_MAX_BYTES) {
		err_set(e, "%s: %lld bytes, over the limit of %d" HISTORY_FIX, path,
			(long long)st.st_size, HISTORY_MAX_BYTES);
		return NULL;
	}
	if (file_read_capped(path, HISTORY_MAX_BYTES, &text, &len, e) < 0)
		return NULL;
	arr = history_parse(path, text, len, e);
	free(text);
	return arr;
}

static json_t *entry_json(const struct history_entry *h)
{
	return json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:I, s:I, s:s?, s:I, s:I}",
			 "commit", h->commit, "outcome", h->outcome, "reason", h->reason, "signer",
			 h->signer, "key", h->key, "store_path", h->store_path, "previous_path",
			 h->previous_path, "started_at", (json_int_t)h->started_at, "finished_at",
			 (json_int_t)h->finished_at, "closure_diff", h->closure_diff, "cycle_ms",
			 (json_int_t)h->cycle_ms, "children_ms", (json_int_t)h->children_ms);
}

void history_entry_read(const json_t *item, struct history_entry *out)
{
#define S(key) json_string_value(json_object_get(item, key))
#define I(key) json_integer_value(json_object_get(item, key))
	*out = (struct history_entry){
	    .commit = S("commit"),
	    .outcome = S("outcome"),
	    .reason = S("reason"),
	    .signer = S("signer"),
	    .key = S("key"),
	    .store_path = S("store_path"),
	    .previous_path = S("previous_path"),
	    .closure_diff = S("closure_diff"),
	    .started_at = I("started_at"),
	    .finished_at = I("finished_at"),
	    .cycle_ms = I("cycle_ms"),
	    .children_ms = I("children_ms"),
	};
#undef S
#undef I
}

/* The last max items of arr, which it takes: one copy, where removing the
 * first item again and again would move the rest each time. NULL when out
 * of memory. */
static json_t *newest(json_t *arr, size_t max)
{
	size_t n = json_array_size(arr);
	json_t *tail;

	if (n <= max)
		return arr;
	tail = json_array();
	for (size_t i = n - max; tail && i < n; i++)
		if (json_array_append(tail, json_array_get(arr, i)) < 0) {
			json_decref(tail);
			tail = NULL;
		}
	json_decref(arr);
	return tail;
}

int history_append(const char *state_dir, const struct history_entry *h, struct err *e)
{
	char path[4096], *text;
	json_t *entry = entry_json(h), *arr;
	int rc;

	if (!entry)
		return err_set(e, "out of memory");
	arr = history_load(state_dir, e);

	if (!arr) {
		/* A corrupt history must not block deployments: keep it aside, start anew. */
		char aside[4200];
		history_path(state_dir, path, sizeof(path));
		snprintf(aside, sizeof(aside), "%s.corrupt", path);
		rename(path, aside);
		arr = json_array();
	}
	json_array_append_new(arr, entry);
	arr = newest(arr, HISTORY_MAX);
	text = arr ? json_dumps(arr, JSON_INDENT(1)) : NULL;
	json_decref(arr);
	if (!text)
		return err_set(e, "out of memory");
	history_path(state_dir, path, sizeof(path));
	rc = file_write_atomic(path, text, strlen(text), 0644, e);
	free(text);
	return rc;
}
