/* agent/history: history.json as the agent writes it loads back; a file that
 * does not load (truncated, not an array, an entry of another shape, over
 * the limit) is an error that names it and says what to do, and is left as
 * it is by the load; the next append sets it aside whole, and keeps the
 * newest HISTORY_MAX entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/history.h"
#include "base/err.h"
#include "base/fileio.h"
#include "files.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define C1 "1111111111111111111111111111111111111111"

struct dir {
	char path[4096];
	char file[4200];
	char aside[4300];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));
	const char *tmp = getenv("TMPDIR");

	snprintf(d->path, sizeof(d->path), "%s/cim-test-history.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(d->path))
		return -1;
	snprintf(d->file, sizeof(d->file), "%s/history.json", d->path);
	snprintf(d->aside, sizeof(d->aside), "%s.corrupt", d->file);
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;

	unlink(d->file);
	unlink(d->aside);
	rmdir(d->path);
	free(d);
	return 0;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void assert_file_holds(const char *path, const char *text)
{
	char *back = NULL;
	size_t len = 0;
	struct err e = {{0}};

	assert_int_equal(file_read_capped(path, 2 * HISTORY_MAX_BYTES, &back, &len, &e), 0);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(back, text, len);
	free(back);
}

static const struct history_entry deployed = {
    .commit = C1,
    .outcome = "deployed",
    .signer = "ada@example.com",
    .store_path = "/nix/store/aaaa-nixos-system",
    .started_at = 1764150000,
    .finished_at = 1764150030,
};

static void appended_entries_load_back(void **state)
{
	struct dir *d = *state;
	struct history_entry h;
	struct err e = {{0}};
	json_t *arr;

	assert_int_equal(history_append(d->path, &deployed, &e), 0);
	assert_int_equal(history_append(d->path, &deployed, &e), 0);
	arr = history_load(d->path, &e);
	assert_non_null(arr);
	assert_int_equal(json_array_size(arr), 2);
	history_entry_read(json_array_get(arr, 1), &h);
	assert_string_equal(h.commit, C1);
	assert_string_equal(h.outcome, "deployed");
	assert_null(h.reason); /* written as null */
	assert_int_equal(h.finished_at, 1764150030);
	json_decref(arr);
}

/* Loading history.json holding text fails with an error that names the file,
 * says why and what to do, and leaves the file as it was. */
static void load_refuses(const struct dir *d, const char *text, const char *why)
{
	struct err e = {{0}};

	put(d->file, text);
	assert_null(history_load(d->path, &e));
	assert_non_null(strstr(e.msg, d->file));
	assert_non_null(strstr(e.msg, why));
	assert_non_null(strstr(e.msg, "fix it or move it away (the next deployment sets it "
				      "aside as history.json.corrupt)"));
	assert_file_holds(d->file, text);
}

static void malformed_history_is_an_error_and_kept(void **state)
{
	struct dir *d = *state;

	load_refuses(
	    d, "[{\"commit\": \"" C1 "\", \"outcome\": ", "history.json:1: history is corrupt");
	load_refuses(d, "{\"commit\": \"" C1 "\"}", "history is not a JSON array");
	load_refuses(d, "[\"" C1 "\"]", "entry 1 is not an object");
	load_refuses(d, "[{\"commit\": \"" C1 "\", \"outcome\": \"deployed\"}, {\"commit\": 1}]",
		     "entry 2 has no \"commit\" and \"outcome\" strings");
	load_refuses(d, "[{\"commit\": \"" C1 "\", \"outcome\": \"deployed\", \"reason\": 7}]",
		     "entry 1: \"reason\" is not a string");
	load_refuses(d,
		     "[{\"commit\": \"" C1 "\", \"outcome\": \"deployed\", \"finished_at\": "
		     "\"yesterday\"}]",
		     "entry 1: \"finished_at\" is not an integer");
}

static void history_over_the_limit_is_an_error_and_kept(void **state)
{
	struct dir *d = *state;
	char *big = fx_oversize_json(HISTORY_MAX_BYTES + 1, '[', ']');

	assert_non_null(big);
	load_refuses(d, big, "over the limit of 8388608");
	free(big);
}

/* A corrupt history does not block a deployment: it is set aside whole and
 * a new one begins. */
static void append_sets_a_corrupt_history_aside(void **state)
{
	struct dir *d = *state;
	struct err e = {{0}};
	json_t *arr;

	put(d->file, "[{\"commit\": 5}]");
	assert_int_equal(history_append(d->path, &deployed, &e), 0);
	assert_file_holds(d->aside, "[{\"commit\": 5}]");
	arr = history_load(d->path, &e);
	assert_non_null(arr);
	assert_int_equal(json_array_size(arr), 1);
	json_decref(arr);
}

/* A file with more entries than HISTORY_MAX (written by hand, or by
 * another version) keeps its newest ones. */
static void append_keeps_the_newest_entries(void **state)
{
	struct dir *d = *state;
	struct err e = {{0}};
	json_t *arr = json_array(), *back;

	for (int i = 0; i < HISTORY_MAX + 50; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:i}", "commit", C1, "outcome",
						     "deployed", "started_at", i));
	assert_int_equal(json_dump_file(arr, d->file, 0), 0);
	json_decref(arr);
	assert_int_equal(history_append(d->path, &deployed, &e), 0);
	back = history_load(d->path, &e);
	assert_non_null(back);
	assert_int_equal(json_array_size(back), HISTORY_MAX);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(back, 0), "started_at")),
			 51);
	assert_int_equal(json_integer_value(
			     json_object_get(json_array_get(back, HISTORY_MAX - 1), "started_at")),
			 deployed.started_at);
	json_decref(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(appended_entries_load_back, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(malformed_history_is_an_error_and_kept, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(history_over_the_limit_is_an_error_and_kept, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(append_sets_a_corrupt_history_aside, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(append_keeps_the_newest_entries, dir_setup,
					    dir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
