/* The agent's side of the fleet: the streak a report carries after each
 * cycle outcome, fleet.json (its own signed report and the seqs seen survive
 * a restart; a report under another key does not), and the spread of
 * triggered fetches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/config.h"
#include "agent/failed.h"
#include "agent/fleet_daemon.h"
#include "agent/fleet_local.h"
#include "agent/fleet_publish.h"
#include "agent/fleet_status.h"
#include "agent/state.h"
#include "base/err.h"
#include "base/fileio.h"
#include "fleet_fixtures.h"
#include "files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define C1 "1111111111111111111111111111111111111111"
#define C2 "2222222222222222222222222222222222222222"
#define C3 "3333333333333333333333333333333333333333"

static struct cycle_result result(enum cycle_outcome o, const char *commit, const char *msg)
{
	struct cycle_result r;

	memset(&r, 0, sizeof(r));
	r.outcome = o;
	snprintf(r.commit, sizeof(r.commit), "%s", commit);
	snprintf(r.message, sizeof(r.message), "%s", msg);
	return r;
}

static void streak_grows_with_deployments_and_restarts_after_a_rollback(void **unused)
{
	struct agent_state st = {0};
	struct fleet_report r = {0};
	struct cycle_result res;

	/* the first report of a host that runs C1 since 100: a streak from then */
	state_set_str(&st.deployed, C1);
	st.deployed_at = 100;
	fleet_publish_update_streak(&r, &st, NULL, 150);
	assert_int_equal(r.nlineage, 1);
	assert_string_equal(r.lineage[0].commit, C1);
	assert_int_equal(r.lineage[0].since, 100);

	/* C2 deployed at 200: the streak goes on, C1's clock keeps running */
	state_set_str(&st.deployed, C2);
	res = result(CYCLE_DEPLOYED, C2, "deployed");
	fleet_publish_update_streak(&r, &st, &res, 200);
	assert_int_equal(r.nlineage, 2);
	assert_string_equal(r.lineage[1].commit, C2);
	assert_int_equal(r.lineage[0].since, 100);

	/* nothing new: nothing changes */
	res = result(CYCLE_UP_TO_DATE, C2, "up to date");
	fleet_publish_update_streak(&r, &st, &res, 250);
	assert_int_equal(r.nlineage, 2);

	/* C3 rolled back: its failure, with the check's words, and a new streak on C2 */
	failed_remember(&st, C3, NULL, "http://web-01/healthz answered 500");
	res = result(CYCLE_ROLLED_BACK, C3,
		     "rolled back to /nix/store/x: http://web-01/healthz answered 500");
	fleet_publish_update_streak(&r, &st, &res, 300);
	assert_int_equal(r.nfailures, 1);
	assert_string_equal(r.failures[0].commit, C3);
	assert_true(r.failures[0].rolled_back);
	assert_string_equal(r.failures[0].reason, "http://web-01/healthz answered 500");
	assert_int_equal(r.nlineage, 1);
	assert_string_equal(r.lineage[0].commit, C2);
	assert_int_equal(r.lineage[0].since, 300);

	/* a build failure is a failure too, not rolled back */
	res = result(CYCLE_FAILED, C3, "build failed");
	fleet_publish_update_streak(&r, &st, &res, 400);
	assert_int_equal(r.nfailures, 2);
	assert_false(r.failures[1].rolled_back);
	assert_int_equal(r.lineage[0].since, 400);

	/* what runs changed behind the streak's back (a manual rollback): anew */
	state_set_str(&st.deployed, C1);
	fleet_publish_update_streak(&r, &st, NULL, 500);
	assert_int_equal(r.nlineage, 1);
	assert_string_equal(r.lineage[0].commit, C1);
	assert_int_equal(r.lineage[0].since, 500);

	/* nothing runs: no streak */
	state_set_str(&st.deployed, NULL);
	fleet_publish_update_streak(&r, &st, NULL, 600);
	assert_int_equal(r.nlineage, 0);
	fleet_report_release(&r);
	state_release(&st);
}

static int dir_setup(void **state)
{
	char *dir = strdup("/tmp/cim-fleet-agent-XXXXXX");

	assert_non_null(mkdtemp(dir));
	*state = dir;
	return 0;
}

static int dir_teardown(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
	assert_int_equal(system(cmd), 0);
	free(*state);
	return 0;
}

static void local_file_survives_a_restart(void **state)
{
	const char *dir = *state;
	unsigned char pk[32], sk[64], other_pk[32], other_sk[64];
	struct fleet_local l = {0}, back;
	struct fleet_report r = {0};
	struct err e = {{0}};
	size_t len;

	fx_keypair("web-01", pk, sk);
	fx_keypair("web-02", other_pk, other_sk);
	snprintf(r.host, sizeof(r.host), "web-01");
	r.seq = 41;
	r.time = 1700000000;
	r.healthy = true;
	snprintf(r.deployed, sizeof(r.deployed), C2);
	assert_int_equal(fleet_report_lineage_add(&r, C2, 1699999000, &e), 0);
	assert_int_equal(fleet_report_sign(&r, sk, &l.envelope, &len, &e), 0);
	l.seq = 41;
	l.gate.active = true;
	l.gate.wave = 2;
	snprintf(l.gate.wave_name, sizeof(l.gate.wave_name), "rest");
	l.gate.waiting = true;
	snprintf(l.gate.waits_for, sizeof(l.gate.waits_for), "1111111 waits for wave canary");
	l.gate.stale_after = 60;
	assert_int_equal(fleet_seen_note(&l.seen, "web-02", 9, &e), 0);
	assert_int_equal(fleet_local_save(&l, dir, &e), 0);

	assert_int_equal(fleet_local_load(&back, dir, "web-01", pk, &e), 0);
	assert_true(back.have_self);
	assert_int_equal(back.seq, 41);
	assert_string_equal(back.self.deployed, C2);
	assert_int_equal(back.self.nlineage, 1);
	assert_int_equal(back.self.lineage[0].since, 1699999000);
	assert_int_equal(fleet_seen_get(&back.seen, "web-02"), 9);
	assert_true(back.gate.waiting);
	assert_int_equal(back.gate.wave, 2);
	assert_string_equal(back.gate.wave_name, "rest");
	assert_int_equal(back.gate.stale_after, 60);
	fleet_local_release(&back);

	/* under another key the kept report is nobody's: it starts afresh, the seq goes on */
	assert_int_equal(fleet_local_load(&back, dir, "web-01", other_pk, &e), 0);
	assert_false(back.have_self);
	assert_int_equal(back.self.nlineage, 0);
	assert_int_equal(back.seq, 41);
	fleet_local_release(&back);
	fleet_local_release(&l);
	fleet_report_release(&r);
}

static void local_file_that_does_not_parse_is_an_error(void **state)
{
	const char *dir = *state;
	char path[4200];
	struct fleet_local l;
	struct err e = {{0}};
	FILE *f;

	assert_int_equal(fleet_local_load(&l, dir, "web-01", NULL, &e), 0); /* absent: empty */
	assert_int_equal(l.seq, 0);
	fleet_local_release(&l);
	snprintf(path, sizeof(path), "%s/fleet.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"seq\": 3,", f);
	fclose(f);
	assert_int_equal(fleet_local_load(&l, dir, "web-01", NULL, &e), -1);
	assert_non_null(strstr(e.msg, "fleet.json:1: not a JSON object"));
	assert_non_null(strstr(e.msg, "remove the file to start afresh"));
}

/* Loading dir/fleet.json holding text fails with an error that names the
 * file, says why and how to fix it, and leaves the file as it was (a caller
 * that fails to load it saves nothing over it). */
static void local_load_refuses(const char *dir, const char *text, const char *why)
{
	char path[4200], *back = NULL;
	size_t len = 0;
	struct fleet_local l;
	struct err e = {{0}};
	FILE *f;

	snprintf(path, sizeof(path), "%s/fleet.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(fleet_local_load(&l, dir, "web-01", NULL, &e), -1);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, why));
	assert_non_null(strstr(e.msg, "remove the file to start afresh"));
	assert_int_equal(file_read_capped(path, 2 * FLEET_LOCAL_MAX_BYTES, &back, &len, &e), 0);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(back, text, len);
	free(back);
}

static void local_file_of_another_shape_is_an_error_and_kept(void **state)
{
	const char *dir = *state;

	local_load_refuses(dir, "{\"seq\": 41, \"gate\": {\"wave\": 2",
			   "fleet.json:1: not a JSON object");
	local_load_refuses(dir, "[{\"seq\": 41}]", "not a JSON object");
	local_load_refuses(dir, "\"seq\"", "not a JSON object");
	local_load_refuses(dir, "{\"seq\": \"41\"}", "\"seq\" is not an integer");
	local_load_refuses(dir, "{\"nats_ok\": \"yes\"}", "\"nats_ok\" is not true or false");
	local_load_refuses(dir, "{\"report\": {}}", "\"report\" is not a string");
	local_load_refuses(dir, "{\"gate\": [1]}", "\"gate\" is not an object");
	local_load_refuses(dir, "{\"gate\": {\"wave\": \"rest\"}}",
			   "\"gate.wave\" is not an integer");
	local_load_refuses(dir, "{\"seen\": {\"web-02\": \"9\"}}",
			   "\"seen.web-02\" is not an integer");
	local_load_refuses(dir, "{\"seen\": 9}", "\"seen\" is not an object");
}

static void local_file_over_the_limit_is_an_error_and_kept(void **state)
{
	const char *dir = *state;
	char *big = fx_oversize_json(FLEET_LOCAL_MAX_BYTES + 1, '{', '}');

	assert_non_null(big);
	local_load_refuses(dir, big, "over the limit of 1048576");
	free(big);
}

/* cim_agent_fleet_wave from fleet.json: the wave's number from 1, and 0 for
 * a number no plan can have (a file edited by hand; INT64_MAX + 1 was UB). */
static void metrics_wave_is_bounded(void **state)
{
	const char *dir = *state;
	const char *cases[][2] = {
	    {"{\"gate\": {\"active\": true, \"wave\": 1}}", "cim_agent_fleet_wave 2\n"},
	    {"{\"gate\": {\"active\": true, \"wave\": 9223372036854775807}}",
	     "cim_agent_fleet_wave 0\n"},
	    {"{\"gate\": {\"active\": true, \"wave\": -5}}", "cim_agent_fleet_wave 0\n"},
	    {"{\"gate\": {\"active\": false, \"wave\": 1}}", "cim_agent_fleet_wave 0\n"},
	};
	struct config cfg;
	char path[4200], *out = NULL, url[] = "nats://127.0.0.1:4222";
	size_t len = 0;

	memset(&cfg, 0, sizeof(cfg));
	char state_dir[4200];
	snprintf(state_dir, sizeof(state_dir), "%s", dir);
	cfg.agent.state_dir = state_dir;
	cfg.fleet.nats_url.v[0] = url;
	cfg.fleet.nats_url.n = 1;
	snprintf(path, sizeof(path), "%s/fleet.json", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f = fopen(path, "w"), *m;
		assert_non_null(f);
		fputs(cases[i][0], f);
		fclose(f);
		m = open_memstream(&out, &len);
		assert_non_null(m);
		fleet_status_metrics(m, &cfg);
		fclose(m);
		assert_non_null(strstr(out, cases[i][1]));
		free(out);
		out = NULL;
	}
	unlink(path);
}

static void trigger_delay_is_spread_and_stable(void **unused)
{
	char name[32];
	unsigned buckets[10] = {0};

	assert_int_equal(fleet_trigger_delay_ms("web-01", 0), 0);
	assert_int_equal(fleet_trigger_delay_ms("web-01", 10),
			 fleet_trigger_delay_ms("web-01", 10));
	for (int i = 0; i < 1000; i++) {
		uint64_t d;
		snprintf(name, sizeof(name), "host-%04d", i);
		d = fleet_trigger_delay_ms(name, 10);
		assert_true(d <= 10000);
		buckets[d * 10 / 10001]++;
	}
	/* 1000 hosts over 10 s: every second gets some, none gets a herd */
	for (int i = 0; i < 10; i++) {
		assert_true(buckets[i] > 50);
		assert_true(buckets[i] < 150);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(streak_grows_with_deployments_and_restarts_after_a_rollback),
	    cmocka_unit_test_setup_teardown(local_file_survives_a_restart, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(local_file_that_does_not_parse_is_an_error, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(local_file_of_another_shape_is_an_error_and_kept,
					    dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(local_file_over_the_limit_is_an_error_and_kept,
					    dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(metrics_wave_is_bounded, dir_setup, dir_teardown),
	    cmocka_unit_test(trigger_delay_is_spread_and_stable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
