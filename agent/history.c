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

json_t *history_load(const char *state_dir, struct err *e)
{
	char path[4096], *text;
	size_t len;
	json_error_t jerr;
	json_t *arr;
	struct stat st;

	history_path(state_dir, path, sizeof(path));
	if (stat(path, &st) < 0 && errno == ENOENT)
		return json_array();
	if (file_read_capped(path, HISTORY_MAX_BYTES, &text, &len, e) < 0)
		return NULL;
	arr = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!arr || !json_is_array(arr)) {
		json_decref(arr);
		err_set(e, "%s:%d: history is corrupt (%s)", path, jerr.line, jerr.text);
		return NULL;
	}
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
	while (json_array_size(arr) > HISTORY_MAX)
		json_array_remove(arr, 0);
	text = json_dumps(arr, JSON_INDENT(1));
	json_decref(arr);
	if (!text)
		return err_set(e, "out of memory");
	history_path(state_dir, path, sizeof(path));
	rc = file_write_atomic(path, text, strlen(text), 0644, e);
	free(text);
	return rc;
}
