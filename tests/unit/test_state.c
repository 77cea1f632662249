/* agent/state: a state file written by version 0.1 is read into the typed
 * fields, keys this version does not know survive a save, and a file with a
 * key of the wrong type is an error, never an empty state; a file that does
 * not load (truncated, not an object, over the limit) is left as it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/state.h"
#include "base/err.h"
#include "base/fileio.h"
#include "files.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define C1 "1111111111111111111111111111111111111111"
#define C2 "2222222222222222222222222222222222222222"
#define C3 "3333333333333333333333333333333333333333"

struct dir {
	char path[4096];
	char file[4200];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	const char *tmp = getenv("TMPDIR");

	snprintf(d->path, sizeof(d->path), "%s/cim-test-state.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(d->path))
		return -1;
	snprintf(d->file, sizeof(d->file), "%s/state.json", d->path);
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;

	unlink(d->file);
	rmdir(d->path);
	free(d);
	return 0;
}

static void put(const struct dir *d, const char *text)
{
	FILE *f = fopen(d->file, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The file as 0.1 wrote it, from the source tree (make test runs there). */
static json_t *old_state(void)
{
	const char *src = getenv("CIM_SRC");
	char path[4096];
	json_error_t jerr;

	snprintf(path, sizeof(path), "%s/tests/unit/data/state-0.1.json", src ? src : ".");
	return json_load_file(path, 0, &jerr);
}

static void put_old_state(const struct dir *d)
{
	json_t *root = old_state();

	assert_non_null(root);
	assert_int_equal(json_dump_file(root, d->file, JSON_INDENT(2)), 0);
	json_decref(root);
}

static void old_state_is_read_into_fields(void **state)
{
	struct dir *d = *state;
	struct agent_state st;
	struct err e = {{0}};

	put_old_state(d);
	assert_int_equal(state_load(&st, d->path, &e), 0);
	assert_string_equal(st.host, "web1");
	assert_string_equal(st.baseline, C2);
	assert_string_equal(st.deployed_path, "/nix/store/aaaa-nixos-system");
	assert_int_equal(st.deployed_at, 1764150000);
	assert_true(st.phase_known);
	assert_int_equal(st.phase, PHASE_HEALTH);
	assert_int_equal(st.last_outcome, CYCLE_ROLLED_BACK);
	assert_true(st.reboot_needed);
	assert_string_equal(st.target.commit, C1);
	assert_string_equal(st.target.path, "/nix/store/bbbb-nixos-system");
	assert_int_equal(st.target.health_deadline, 1764150300);
	assert_int_equal(st.target.secrets_before, 2);
	assert_int_equal(st.target.secrets_generation, 3);
	assert_int_equal(st.attempt, 1);
	/* an entry of 0.1 has no "signed": it matches by commit alone */
	assert_int_equal(st.nfailed, 1);
	assert_string_equal(st.failed[0].commit, C3);
	assert_null(st.failed[0].signed_digest);
	assert_string_equal(st.failed[0].reason, "build failed");
	assert_int_equal(st.metrics.cycles[CYCLE_DEPLOYED], 3);
	assert_int_equal(st.metrics.cycles[CYCLE_ROLLED_BACK], 1);
	assert_int_equal(st.metrics.ok[METRIC_VERIFY], 1764150100);
	assert_int_equal(st.metrics.failed[METRIC_DEPLOY], 1764150200);
	state_release(&st);
}

/* Everything of the 0.1 file comes back from a save, daemon_pid (a key
 * this version no longer writes) included. */
static void old_state_survives_a_save(void **state)
{
	struct dir *d = *state;
	struct agent_state st;
	struct err e = {{0}};
	json_error_t jerr;
	json_t *before, *after;

	put_old_state(d);
	assert_int_equal(state_load(&st, d->path, &e), 0);
	assert_int_equal(state_save(&st, &e), 0);
	state_release(&st);
	before = old_state();
	after = json_load_file(d->file, 0, &jerr);
	assert_non_null(before);
	assert_non_null(after);
	assert_int_equal(json_integer_value(json_object_get(after, "daemon_pid")), 4242);
	assert_true(json_equal(before, after));
	json_decref(before);
	json_decref(after);
}

static void unknown_keys_are_not_in_the_documented_view(void **state)
{
	struct dir *d = *state;
	struct agent_state st;
	struct err e = {{0}};
	json_t *view;

	put(d, "{\"schema\": 1, \"host\": \"web1\", \"from_the_future\": [1, 2]}");
	assert_int_equal(state_load(&st, d->path, &e), 0);
	view = state_to_json(&st, false);
	assert_null(json_object_get(view, "from_the_future"));
	assert_string_equal(json_string_value(json_object_get(view, "host")), "web1");
	json_decref(view);
	view = state_to_json(&st, true);
	assert_non_null(json_object_get(view, "from_the_future"));
	json_decref(view);
	state_release(&st);
}

static void wrong_type_is_an_error_naming_the_key(void **state)
{
	struct dir *d = *state;
	struct agent_state st;
	struct err e = {{0}};

	put(d, "{\"schema\": 1, \"baseline\": 5}");
	assert_int_equal(state_load(&st, d->path, &e), -1);
	assert_non_null(strstr(e.msg, d->file));
	assert_non_null(strstr(e.msg, "\"baseline\" is not a string"));
}

/* Loading a state file holding text fails with an error that names the
 * file, says why and how to fix it, and leaves the file as it was. */
static void load_refuses(const struct dir *d, const char *text, const char *why)
{
	struct agent_state st;
	struct err e = {{0}};
	char *back = NULL;
	size_t len = 0;

	put(d, text);
	assert_int_equal(state_load(&st, d->path, &e), -1);
	assert_non_null(strstr(e.msg, d->file));
	assert_non_null(strstr(e.msg, why));
	assert_true(strstr(e.msg, "move it away to start over") ||
		    strstr(e.msg, "move the file away to start over"));
	assert_int_equal(file_read_capped(d->file, 2 * STATE_MAX_BYTES, &back, &len, &e), 0);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(back, text, len);
	free(back);
}

static void corrupt_file_is_an_error_and_kept(void **state)
{
	struct dir *d = *state;

	load_refuses(d, "{\"schema\": 1, \"baseline\": ", "state.json:1: state file is corrupt");
	load_refuses(d, "[{\"schema\": 1}]", "state file is corrupt (not an object)");
	load_refuses(d, "null", "state file is corrupt");
	load_refuses(d, "{\"deployed\": \"" C1 "\", \"deployed\": \"" C2 "\"}",
		     "duplicate object key");
	load_refuses(d, "{\"failed_commits\": {\"commit\": \"" C1 "\"}}",
		     "\"failed_commits\" is not a list");
	load_refuses(d, "{\"failed_commits\": [\"" C1 "\"]}",
		     "\"failed_commits\" is not a list of");
	load_refuses(d, "{\"metrics\": 3}", "\"metrics\" is not an object");
	load_refuses(d, "{\"attempt\": 1.5}", "\"attempt\" is not an integer");
}

static void file_over_the_limit_is_an_error_and_kept(void **state)
{
	struct dir *d = *state;
	char *big = fx_oversize_json(STATE_MAX_BYTES + 1, '{', '}');

	assert_non_null(big);
	load_refuses(d, big, "over the limit of 4194304");
	free(big);
}

/* A phase this version does not know starts the cycle over. */
static void unknown_phase_starts_over(void **state)
{
	struct dir *d = *state;
	struct agent_state st;
	struct err e = {{0}};

	put(d, "{\"schema\": 1, \"phase\": \"fleet-gate\"}");
	assert_int_equal(state_load(&st, d->path, &e), 0);
	assert_true(st.phase_known);
	assert_int_equal(st.phase, PHASE_FETCH);
	state_release(&st);
}

static void no_file_is_an_empty_state(void **state)
{
	struct dir *d = *state;
	struct agent_state st;
	struct err e = {{0}};

	assert_int_equal(state_load(&st, d->path, &e), 0);
	assert_false(st.phase_known);
	assert_null(st.baseline);
	assert_int_equal(st.last_outcome, -1);
	state_release(&st);
}

/* A quiet poll's save is left unwritten, but the next load in this process
 * reads it (the daemon's next cycle), so its counts and times go on; a file
 * written by someone else since wins. */
static void quiet_saves_reach_the_next_load(void **state)
{
	struct dir *d = *state;
	struct agent_state st = {0}, again = {0};
	struct err e = {{0}};
	json_t *root;

	assert_int_equal(state_load(&st, d->path, &e), 0);
	state_set_str(&st.deployed, C1);
	st.phase = PHASE_IDLE;
	st.phase_known = true;
	assert_int_equal(state_save(&st, &e), 0); /* new: written */
	st.metrics.cycles[CYCLE_UP_TO_DATE] = 5;
	st.last_cycle_at = 1234;
	st.phase = PHASE_FETCH;
	assert_int_equal(state_save(&st, &e), 0); /* quiet: left unwritten */
	st.phase = PHASE_IDLE;
	assert_int_equal(state_save(&st, &e), 0);
	state_release(&st);
	root = json_load_file(d->file, 0, NULL);
	assert_non_null(root);
	assert_null(json_object_get(root, "last_cycle_at"));
	json_decref(root);

	assert_int_equal(state_load(&again, d->path, &e), 0);
	assert_int_equal(again.metrics.cycles[CYCLE_UP_TO_DATE], 5);
	assert_int_equal(again.last_cycle_at, 1234);
	assert_int_equal(again.phase, PHASE_IDLE);
	state_release(&again);

	/* Another writer: its file is what the next load reads. */
	assert_int_equal(state_load(&st, d->path, &e), 0);
	st.last_cycle_at = 99;
	assert_int_equal(state_save(&st, &e), 0); /* quiet again */
	state_release(&st);
	FILE *f = fopen(d->file, "w");
	assert_non_null(f);
	fputs("{\"schema\": 1, \"deployed\": \"" C2 "\"}", f);
	fclose(f);
	assert_int_equal(state_load(&again, d->path, &e), 0);
	assert_string_equal(again.deployed, C2);
	assert_int_equal(again.last_cycle_at, 0);
	state_release(&again);
}

/* A poll that ends as the last one did (a failed tip skipped again, a halted
 * rollout, the same refusal or error) is as quiet as an up-to-date one; a
 * different outcome or message is written. */
static void repeated_outcomes_are_quiet(void **state)
{
	struct dir *d = *state;
	struct agent_state st = {0};
	struct err e = {{0}};
	json_t *root;

	assert_int_equal(state_load(&st, d->path, &e), 0);
	st.phase = PHASE_IDLE;
	st.phase_known = true;
	st.last_outcome = CYCLE_SKIPPED;
	st.metrics.cycles[CYCLE_SKIPPED] = 1;
	assert_int_equal(state_save(&st, &e), 0); /* new: written */
	st.metrics.cycles[CYCLE_SKIPPED] = 2;
	st.metrics.failed[METRIC_VERIFY] = 1234;
	st.last_cycle_at = 1234;
	assert_int_equal(state_save(&st, &e), 0); /* the same outcome: left unwritten */
	root = json_load_file(d->file, 0, NULL);
	assert_non_null(root);
	assert_null(json_object_get(root, "last_cycle_at"));
	json_decref(root);
	st.last_outcome = CYCLE_HALTED;
	assert_int_equal(state_save(&st, &e), 0); /* another outcome: written */
	root = json_load_file(d->file, 0, NULL);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "last_outcome")), "halted");
	json_decref(root);
	state_set_str(&st.last_error, "rollout gate: the bucket is unreachable");
	st.last_outcome = CYCLE_ERROR;
	assert_int_equal(state_save(&st, &e), 0);
	st.metrics.cycles[CYCLE_ERROR] = 7;
	st.metrics.failed[METRIC_FETCH] = 99;
	assert_int_equal(state_save(&st, &e), 0); /* the same error again: unwritten */
	root = json_load_file(d->file, 0, NULL);
	assert_null(
	    json_object_get(json_object_get(json_object_get(root, "metrics"), "cycles"), "error"));
	json_decref(root);
	state_set_str(&st.last_error, "fetch: the server hung up");
	assert_int_equal(state_save(&st, &e), 0); /* another message: written */
	root = json_load_file(d->file, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(root, "last_error")),
			    "fetch: the server hung up");
	json_decref(root);
	state_release(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(old_state_is_read_into_fields, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(old_state_survives_a_save, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(unknown_keys_are_not_in_the_documented_view, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(wrong_type_is_an_error_naming_the_key, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(corrupt_file_is_an_error_and_kept, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(file_over_the_limit_is_an_error_and_kept, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(unknown_phase_starts_over, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(no_file_is_an_empty_state, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(repeated_outcomes_are_quiet, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(quiet_saves_reach_the_next_load, dir_setup,
					    dir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
