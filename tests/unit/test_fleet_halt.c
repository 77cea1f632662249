/* Unit tests of fleet/gate.c: halts, and what follows them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fleet_gate_fixtures.h"

static void test_halt_on_a_failure(void **state)
{
	struct world w;
	struct fleet_gate g;

	world_load(&w, three_waves, six);
	settled(&w);
	w.now = T0;
	world_failed(&w, "c-1", 2, 1, "http://c-1/healthz answered 500");
	world_on(&w, "c-2", 2, T0 - 3600);
	/* every host says why; c-2, which runs 2, keeps it; the others stay on 1 */
	for (int i = 1; six[i]; i++) {
		g = world_gate(&w, six[i], i == 1 ? 2 : 1, 2, 2);
		assert_int_equal(deploys(&g), -1);
		assert_int_equal(g.nhalted, 1);
		assert_string_equal(g.halted, "rollout of a000002 halted: c-1 rolled back: "
					      "http://c-1/healthz answered 500");
	}
	/* a canary that never had it does not deploy it either */
	g = world_gate(&w, "c-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	world_release(&w);
}

static void test_a_failure_within_the_budget_does_not_hold_the_wave(void **state)
{
	static const char plan[] = "[rollout]\nhosts = h\nmax_failures = 1\n"
				   "[wave canary]\nhosts = c-*\n[wave quarter]\nhosts = q-*\n"
				   "[wave rest]\n";
	struct world w;
	struct fleet_gate g;

	world_load(&w, plan, six);
	settled(&w);
	w.now = T0;
	world_failed(&w, "c-1", 2, 1, "build failed");
	world_on(&w, "c-2", 2, T0 - 3600);
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), 2);
	assert_int_equal(g.nhalted, 0);
	/* a second failure, in another wave, is over that wave's budget? no: each
	 * wave has its own; two in one wave are */
	world_failed(&w, "c-2", 2, 1, "activation failed");
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	assert_string_equal(g.halted, "rollout of a000002 halted: c-1 rolled back: build failed "
				      "(2 failures in wave canary, max_failures = 1)");
	world_release(&w);
}

static void test_a_stale_hosts_failure_still_counts(void **state)
{
	struct world w;
	struct fleet_gate g;

	world_load(&w, three_waves, six);
	settled(&w);
	w.now = T0;
	world_failed(&w, "c-1", 2, 1, "it broke and went silent");
	w.now = T0 + 86400;
	world_on(&w, "c-2", 2, T0);
	g = world_gate(&w, "q-1", 1, 2, 2);
	assert_int_equal(deploys(&g), -1);
	assert_int_equal(w.view.v[0].verdict, FLEET_STALE);
	assert_int_equal(g.nhalted, 1);
	world_release(&w);
}

static void test_a_newer_commit_starts_its_own_rollout_from_wave_1(void **state)
{
	struct world w;
	struct fleet_gate g;

	world_load(&w, three_waves, six);
	settled(&w);
	w.now = T0;
	world_failed(&w, "c-1", 2, 1, "broken");
	/* the fix, 3 on top of 2 */
	g = world_gate(&w, "c-1", 1, 3, 2);
	assert_int_equal(deploys(&g), 3);
	g = world_gate(&w, "c-2", 1, 3, 2);
	assert_int_equal(deploys(&g), 3);
	/* quarter waits for the canaries to soak 3, and never takes 2 */
	world_healthy(&w, "c-1", 2, (int[]){1, 3}, (int64_t[]){T0, T0 + 60});
	world_healthy(&w, "c-2", 2, (int[]){1, 3}, (int64_t[]){T0 - 86400, T0 + 60});
	w.now = T0 + 5 * MIN;
	g = world_gate(&w, "q-1", 1, 3, 2);
	assert_int_equal(deploys(&g), -1);
	assert_string_equal(g.wait_commit, commit(3));
	assert_string_equal(g.halted, "rollout of a000002 halted: c-1 rolled back: broken");
	w.now = T0 + 60 + 10 * MIN;
	g = world_gate(&w, "q-1", 1, 3, 2);
	assert_int_equal(deploys(&g), 3);
	/* the failure of 2 stays on record, but 3 is not 2 */
	assert_int_equal(g.nhalted, 0);
	world_release(&w);
}

static void test_a_malformed_plan_halts_and_never_deploys_early(void **state)
{
	struct world w;
	struct fleet_gate g;
	struct fleet_candidate c[2];
	struct err e = {{0}};
	char c3[41], c2[41], c1[41];

	world_load(&w, three_waves, six);
	settled(&w);
	w.now = T0;
	world_on(&w, "c-1", 2, T0 - 3600);
	world_on(&w, "c-2", 2, T0 - 3600);
	snprintf(c3, sizeof(c3), "%s", commit(3));
	snprintf(c2, sizeof(c2), "%s", commit(2));
	snprintf(c1, sizeof(c1), "%s", commit(1));
	c[0] = (struct fleet_candidate){c3, NULL,
					"rollout.conf:4: [wave canary] hosts: c-9 is "
					"not in fleet/hosts; add it there or remove it here",
					NULL};
	c[1] = (struct fleet_candidate){c2, &w.assign, NULL, world_view(&w)};
	for (int i = 0; six[i]; i++) {
		struct fleet_gate_input in = {six[i], c1, c, 2, world_is_ancestor, &w, w.now};
		assert_int_equal(fleet_gate_decide(&in, &g, &e), 0);
		/* 3 goes nowhere; 2, under its own good plan, goes where it may */
		assert_true(!g.deploy || strcmp(g.deploy, c2) == 0);
		assert_int_equal(g.wave, -1);
		assert_string_equal(g.halted, "rollout of a000003 halted: rollout.conf:4: [wave "
					      "canary] hosts: c-9 is not in fleet/hosts; add it "
					      "there or remove it here");
		assert_int_equal(!!g.deploy, i < 4); /* the rest waits for quarter */
	}
	world_release(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_halt_on_a_failure),
	    cmocka_unit_test(test_a_failure_within_the_budget_does_not_hold_the_wave),
	    cmocka_unit_test(test_a_stale_hosts_failure_still_counts),
	    cmocka_unit_test(test_a_newer_commit_starts_its_own_rollout_from_wave_1),
	    cmocka_unit_test(test_a_malformed_plan_halts_and_never_deploys_early),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
