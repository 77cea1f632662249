/* Unit tests of fleet/gate.c: the rules each agent applies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fleet_world.h"

#include "fleet_gate_fixtures.h"

static void test_wave_1_deploys_the_newest_tip_at_once(void **state)
{
	struct world w;
	struct fleet_gate g;

	world_load(&w, three_waves, six);
	settled(&w);
	g = world_gate(&w, "c-1", 1, 3, 2);
	assert_int_equal(deploys(&g), 3);
	assert_int_equal(g.wave, 0);
	assert_string_equal(g.wave_name, "canary");
	assert_false(g.waiting);
	/* Even with nothing in the bucket (NATS unreachable). */
	fleet_entries_free(w.entries, w.n);
	w.entries = NULL;
	w.n = w.cap = 0;
	g = world_gate(&w, "c-2", 1, 3, 2);
	assert_int_equal(deploys(&g), 3);
	world_release(&w);
}

static void test_later_waves_wait_for_the_soak_of_the_wave_before(void **state)
{
	struct world w;
	struct fleet_gate g;

	world_load(&w, three_waves, six);
	settled(&w);
	w.now = T0;
	world_on(&w, "c-1", 2, T0);
	world_on(&w, "c-2", 2, T0 + 1);
	w.now = T0 + 9 * MIN;
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	assert_true(g.waiting);
	assert_string_equal(g.wait_wave, "canary");
	assert_int_equal(g.wait_until, T0 + 1 + 10 * MIN);
	assert_string_equal(
	    g.waits_for, "a000002 waits for wave canary: c-1 soaks until 2023-11-14T22:23:20Z, c-2 "
			 "soaks until 2023-11-14T22:23:21Z; 0 of 2 hosts soaked (min_healthy 1); "
			 "soaked at 2023-11-14T22:23:21Z");
	/* One second short of the soak of the last canary: still waiting. */
	w.now = T0 + 10 * MIN;
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	w.now = T0 + 1 + 10 * MIN;
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), 2);
	assert_string_equal(g.wave_name, "quarter");
	/* The rest waits for quarter, which soaks 30 minutes, not 10. */
	g = world_gate(&w, "r-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	assert_string_equal(g.wait_wave, "quarter");
	contains(g.waits_for, "q-1 runs a000001, q-2 runs a000001");
	int64_t q_since = w.now;
	world_on(&w, "q-1", 2, q_since);
	world_on(&w, "q-2", 2, q_since);
	/* everyone keeps reporting, or they would be stale by then */
	w.now += 29 * MIN;
	world_on(&w, "c-1", 2, T0);
	world_on(&w, "c-2", 2, T0 + 1);
	world_on(&w, "q-1", 2, q_since);
	world_on(&w, "q-2", 2, q_since);
	g = world_gate(&w, "r-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	w.now += 1 * MIN;
	g = world_gate(&w, "r-1", 1, 2, 2);
	assert_int_equal(deploys(&g), 2);
	world_release(&w);
}

static void test_an_unhealthy_or_lagging_host_holds_its_wave(void **state)
{
	struct world w;
	struct fleet_gate g;
	struct fleet_report r;

	world_load(&w, three_waves, six);
	settled(&w);
	world_on(&w, "c-1", 2, T0 - 3600);
	/* c-2 is still on 1, freshly reported */
	w.now = T0;
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	assert_string_equal(g.waits_for, "a000002 waits for wave canary: c-2 runs a000001; 1 of 2 "
					 "hosts soaked (min_healthy 1)");
	/* c-2 deploys 2 and is not healthy yet */
	world_report(&w, "c-2", &r);
	snprintf(r.deployed, sizeof(r.deployed), "%s", commit(2));
	world_put_as(&w, "c-2", &r, "c-2");
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	contains(g.waits_for, "c-2 is not healthy");
	/* a host that runs a commit nobody knows (not a descendant) holds too */
	world_on(&w, "c-2", -1, T0 - 86400);
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	world_release(&w);
}

static void test_stale_hosts_do_not_block_for_ever_but_never_stand_in_for_health(void **state)
{
	struct world w;
	struct fleet_gate g;

	world_load(&w, three_waves, six);
	settled(&w);
	w.now = T0;
	world_on(&w, "c-1", 2, T0 - 3600);
	/* c-2 went silent on commit 1 for 16 minutes: stale, left out */
	w.now = T0;
	world_on(&w, "c-2", 1, T0 - 86400);
	w.now = T0 + 16 * MIN;
	world_on(&w, "c-1", 2, T0 - 3600);
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), 2);
	/* 15 minutes exactly is not stale yet */
	w.now = T0 + 15 * MIN;
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	/* both stale: the wave never opens, however long one waits */
	w.now = T0 + 16 * MIN + 86400;
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	assert_string_equal(g.waits_for, "a000002 waits for wave canary: 0 of 2 hosts soaked "
					 "(min_healthy 1, 2 stale); too few hosts report it "
					 "healthy: this holds until enough do");
	world_release(&w);
}

static void test_a_silent_wave_holds_the_next_for_ever(void **state)
{
	struct world w;
	struct fleet_gate g;

	world_load(&w, three_waves, six);
	w.now = T0 + 365 * 86400;
	g = world_gate(&w, "q-1", -1, 2, 1);
	assert_int_equal(deploys(&g), -1);
	contains(g.waits_for, "0 of 2 hosts soaked (min_healthy 1, 2 silent)");
	assert_int_equal(g.wait_until, 0);
	/* the wave after waits too, for quarter... no: for canary first */
	g = world_gate(&w, "r-1", -1, 2, 1);
	assert_string_equal(g.wait_wave, "canary");
	world_release(&w);
}

static void test_min_healthy(void **state)
{
	static const char plan[] = "[rollout]\nhosts = h\nmin_healthy = 2\n"
				   "[wave canary]\nhosts = c-*\n[wave rest]\n";
	static const char *const hosts[] = {"c-1", "c-2", "c-3", "r-1", NULL};
	struct world w;
	struct fleet_gate g;

	world_load(&w, plan, hosts);
	w.now = T0;
	world_on(&w, "c-1", 2, T0 - 3600);
	g = world_gate(&w, "r-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	contains(g.waits_for, "1 of 3 hosts soaked (min_healthy 2, 2 silent)");
	world_on(&w, "c-3", 2, T0 - 3600);
	g = world_gate(&w, "r-1", 1, 2, 2);
	assert_int_equal(deploys(&g), 2);
	world_release(&w);
}

static void test_forged_replayed_and_other_members_reports_open_no_gate(void **state)
{
	struct world w;
	struct fleet_gate g;
	struct fleet_report r;
	unsigned char pk[32], sk[64];
	struct err e = {{0}};
	char *env;
	size_t len;

	world_load(&w, three_waves, six);
	w.now = T0;
	/* c-1 and c-2 "healthy on 2 for an hour", signed by q-1, a member */
	world_report(&w, "c-1", &r);
	r.healthy = true;
	fleet_report_lineage_add(&r, commit(2), T0 - 3600, &e);
	snprintf(r.deployed, sizeof(r.deployed), "%s", commit(2));
	world_put_as(&w, "c-1", &r, "q-1");
	snprintf(r.host, sizeof(r.host), "c-2");
	world_put_as(&w, "c-2", &r, "q-1");
	g = world_gate(&w, "q-2", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	contains(g.waits_for, "2 forged");
	assert_int_equal(w.view.forged, 2);
	/* ... and by a key of no member, valid JSON all the same */
	crypto_sign_keypair(pk, sk);
	assert_int_equal(fleet_report_sign(&r, sk, &env, &len, &e), 0);
	world_store(&w, "c-2", env);
	free(env);
	g = world_gate(&w, "q-2", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	fleet_report_release(&r);
	world_release(&w);
}

static void test_a_replayed_healthy_report_opens_no_gate(void **state)
{
	struct world w;
	struct fleet_gate g;

	world_load(&w, three_waves, six);
	w.now = T0 - 60;
	world_on(&w, "c-1", 2, T0 - 3600); /* seq 1: healthy on 2 */
	world_on(&w, "c-2", 2, T0 - 3600);
	w.now = T0;
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), 2);
	/* the agent has seen seq 2 of both (they failed and rolled back), then the
	 * bucket is wiped and refilled with the old healthy reports */
	assert_int_equal(fleet_seen_note(&w.seen, "c-1", 2, NULL), 0);
	assert_int_equal(fleet_seen_note(&w.seen, "c-2", 2, NULL), 0);
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	contains(g.waits_for, "2 replayed");
	assert_int_equal(w.view.v[0].verdict, FLEET_REPLAYED);
	/* an old report replayed long after is stale anyway, even when never seen */
	fleet_seen_release(&w.seen);
	w.now = T0 + 86400;
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	contains(g.waits_for, "2 stale");
	world_release(&w);
}

static void test_a_forged_overwrite_neither_counts_nor_hides_the_last_valid_report(void **state)
{
	struct world w;
	struct fleet_gate g;
	struct fleet_report r;

	world_load(&w, three_waves, six);
	w.now = T0;
	world_on(&w, "c-1", 1, T0 - 86400);
	world_on(&w, "c-2", 1, T0 - 86400);
	/* a forged "c-1 healthy on 2 for a day", stored after the genuine one */
	world_report(&w, "c-1", &r);
	r.healthy = true;
	fleet_report_lineage_add(&r, commit(2), T0 - 86400, NULL);
	snprintf(r.deployed, sizeof(r.deployed), "%s", commit(2));
	r.seq = 1000;
	world_put_as(&w, "c-1", &r, "r-1");
	fleet_report_release(&r);
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	assert_int_equal(w.view.v[0].verdict, FLEET_OK);
	assert_int_equal(w.view.v[0].report.seq, 1);
	assert_int_equal(w.view.v[0].forged, 1);
	contains(g.waits_for, "c-1 runs a000001, c-2 runs a000001");
	world_release(&w);
}

static void test_the_plan_of_each_commit_decides(void **state)
{
	static const char moved[] = "[rollout]\nhosts = h\n[wave canary]\nhosts = c-* r-1\n"
				    "[wave quarter]\nhosts = q-*\n[wave rest]\n";
	struct world w, w2;
	struct fleet_gate g;
	struct err e = {{0}};
	char c2[41], c1[41];

	world_load(&w, three_waves, six);
	world_load(&w2, moved, six);
	settled(&w);
	snprintf(c2, sizeof(c2), "%s", commit(2));
	snprintf(c1, sizeof(c1), "%s", commit(1));
	/* 2 moves r-1 into the canary wave: r-1 deploys 2 at once, under 2's plan */
	struct fleet_candidate c = {c2, &w2.assign, NULL, NULL};
	struct fleet_gate_input in = {"r-1", c1, &c, 1, world_is_ancestor, &w, w.now};
	assert_int_equal(fleet_gate_decide(&in, &g, &e), 0);
	assert_string_equal(g.deploy, c2);
	assert_string_equal(g.wave_name, "canary");
	/* under the old plan it would have waited */
	g = world_gate(&w, "r-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	world_release(&w2);
	world_release(&w);
}

static void test_a_host_that_is_no_member_deploys_nothing(void **state)
{
	struct world w;
	struct fleet_gate g;

	world_load(&w, three_waves, six);
	g = world_gate(&w, "x-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	assert_int_equal(g.wave, -1);
	assert_string_equal(g.note, "x-1 is not in fleet/hosts of a000002");
	world_release(&w);
}

static void test_nothing_older_than_what_runs_is_deployed(void **state)
{
	struct world w;
	struct fleet_gate g;

	world_load(&w, three_waves, six);
	g = world_gate(&w, "c-1", 3, 3, 1);
	assert_int_equal(deploys(&g), -1);
	assert_false(g.waiting);
	assert_int_equal(g.wave, 0);
	/* running 2, the candidates 3..1: 3 goes; running 4 (not a candidate): nothing */
	g = world_gate(&w, "c-1", 2, 3, 1);
	assert_int_equal(deploys(&g), 3);
	g = world_gate(&w, "c-1", 4, 3, 1);
	assert_int_equal(deploys(&g), -1);
	world_release(&w);
}

static void test_an_ancestry_error_deploys_nothing(void **state)
{
	struct world w;
	struct fleet_gate g;
	struct fleet_candidate c;
	struct err e = {{0}};
	char c2[41], c1[41];

	world_load(&w, three_waves, six);
	snprintf(c2, sizeof(c2), "%s", commit(2));
	snprintf(c1, sizeof(c1), "%s", commit(1));
	c = (struct fleet_candidate){c2, &w.assign, NULL, world_view(&w)};
	w.ancestry_fails = true;
	struct fleet_gate_input in = {"c-1", c1, &c, 1, world_is_ancestor, &w, w.now};
	assert_int_equal(fleet_gate_decide(&in, &g, &e), -1);
	assert_null(g.deploy);
	assert_string_equal(e.msg,
			    "cannot tell whether a00000200000 is an ancestor of a00000100000");
	world_release(&w);
}

static void test_the_soak_clock_runs_on_the_lineage(void **state)
{
	struct world w;
	struct fleet_gate g;

	world_load(&w, three_waves, six);
	settled(&w);
	/* c-1 and c-2 ran 2 from T0, then 3 from T0 + 8 min: 2 has soaked, 3 not */
	world_healthy(&w, "c-1", 2, (int[]){2, 3}, (int64_t[]){T0, T0 + 8 * MIN});
	world_healthy(&w, "c-2", 3, (int[]){1, 2, 3}, (int64_t[]){T0 - 86400, T0, T0 + 8 * MIN});
	w.now = T0 + 12 * MIN;
	g = world_gate(&w, "q-1", 1, 3, 2);
	assert_int_equal(deploys(&g), 2);
	assert_true(g.waiting);
	assert_string_equal(g.wait_commit, commit(3));
	assert_int_equal(g.wait_until, T0 + 18 * MIN);
	/* a rollback starts a new streak: its clock starts again */
	world_on(&w, "c-2", 2, T0 + 11 * MIN);
	g = world_gate(&w, "q-1", 1, 3, 2);
	assert_int_equal(deploys(&g), -1);
	/* a streak that starts in the future has not run */
	world_on(&w, "c-2", 2, T0 + 86400);
	g = world_gate(&w, "q-1", 1, 3, 2);
	assert_int_equal(deploys(&g), -1);
	world_release(&w);
}

static void test_a_report_from_far_in_the_future_is_stale(void **state)
{
	struct world w;
	struct fleet_gate g;

	world_load(&w, three_waves, six);
	w.now = T0 + 86400; /* c-1's clock is a day ahead */
	world_on(&w, "c-1", 2, T0 - 3600);
	w.now = T0;
	world_on(&w, "c-2", 2, T0 - 3600);
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), 2);
	assert_int_equal(w.view.v[0].verdict, FLEET_STALE);
	world_release(&w);
}

static void test_rollout_progress(void **state)
{
	struct world w;
	struct fleet_progress p;
	struct err e = {{0}};
	char c2[41];

	world_load(&w, three_waves, six);
	settled(&w);
	world_on(&w, "c-1", 2, T0 - 3600);
	world_on(&w, "c-2", 2, T0 - 3600);
	world_on(&w, "q-1", 2, T0 - 60);
	snprintf(c2, sizeof(c2), "%s", commit(2));
	struct fleet_candidate c = {c2, &w.assign, NULL, world_view(&w)};
	assert_int_equal(fleet_gate_progress(&c, world_is_ancestor, &w, w.now, &p, &e), 0);
	assert_false(p.halted);
	assert_int_equal(p.nwaves, 3);
	assert_string_equal(p.waves[0].name, "canary");
	assert_int_equal(p.waves[0].done, 2);
	assert_int_equal(p.waves[0].total, 2);
	assert_true(p.waves[0].is_soaked);
	assert_true(p.waves[0].open);
	assert_int_equal(p.waves[1].done, 1);
	assert_int_equal(p.waves[1].waiting, 1);
	assert_true(p.waves[1].open);
	assert_false(p.waves[1].is_soaked);
	assert_int_equal(p.waves[1].soaking_until, 0); /* q-2 has not deployed it */
	assert_int_equal(p.waves[1].soak, 1800);
	assert_false(p.waves[2].open);
	world_on(&w, "q-2", 2, T0 - 30);
	c.view = world_view(&w);
	assert_int_equal(fleet_gate_progress(&c, world_is_ancestor, &w, w.now, &p, &e), 0);
	assert_int_equal(p.waves[1].soaking_until, T0 - 30 + 1800);
	world_failed(&w, "r-2", 2, 1, "no");
	c.view = world_view(&w);
	assert_int_equal(fleet_gate_progress(&c, world_is_ancestor, &w, w.now, &p, &e), 0);
	assert_true(p.halted);
	assert_true(p.waves[2].halted);
	assert_false(p.waves[0].halted);
	assert_false(p.waves[0].open);
	assert_int_equal(p.waves[2].failed, 1);
	assert_string_equal(p.halted_reason, "rollout of a000002 halted: r-2 rolled back: no");
	world_release(&w);
}

static void test_ancestry_is_asked_once_per_pair(void **state)
{
	struct world w;
	struct fleet_gate g;

	world_load(&w, three_waves, six);
	settled(&w);
	w.ancestry_calls = 0;
	g = world_gate(&w, "r-1", 0, 2, 1);
	assert_int_equal(deploys(&g), 1);
	/* (2, 0), (2, 1), (1, 0): the six hosts share the answers */
	assert_int_equal(w.ancestry_calls, 3);
	world_release(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wave_1_deploys_the_newest_tip_at_once),
	    cmocka_unit_test(test_later_waves_wait_for_the_soak_of_the_wave_before),
	    cmocka_unit_test(test_an_unhealthy_or_lagging_host_holds_its_wave),
	    cmocka_unit_test(test_stale_hosts_do_not_block_for_ever_but_never_stand_in_for_health),
	    cmocka_unit_test(test_a_silent_wave_holds_the_next_for_ever),
	    cmocka_unit_test(test_min_healthy),
	    cmocka_unit_test(test_forged_replayed_and_other_members_reports_open_no_gate),
	    cmocka_unit_test(test_a_replayed_healthy_report_opens_no_gate),
	    cmocka_unit_test(
		test_a_forged_overwrite_neither_counts_nor_hides_the_last_valid_report),
	    cmocka_unit_test(test_the_plan_of_each_commit_decides),
	    cmocka_unit_test(test_a_host_that_is_no_member_deploys_nothing),
	    cmocka_unit_test(test_nothing_older_than_what_runs_is_deployed),
	    cmocka_unit_test(test_an_ancestry_error_deploys_nothing),
	    cmocka_unit_test(test_the_soak_clock_runs_on_the_lineage),
	    cmocka_unit_test(test_a_report_from_far_in_the_future_is_stale),
	    cmocka_unit_test(test_rollout_progress),
	    cmocka_unit_test(test_ancestry_is_asked_once_per_pair),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
