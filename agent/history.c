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

int history_append(const char *state_dir, json_t *entry, struct err *e)
{
	char path[4096], *text;
	json_t *arr = history_load(state_dir, e);
	int rc;

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
