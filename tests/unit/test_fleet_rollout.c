/* A rollout played second by second: agents that deploy what their gate
 * allows and report it, signed, into one bucket; pushes every few seconds.
 * What is checked is what happened (each host's deploy history), not what
 * the reports say. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fleet_world.h"

#define NHOSTS	7
#define MAXHIST 4096

static const char *const names[NHOSTS + 1] = {"c-1", "c-2", "q-1", "q-2",
					      "r-1", "r-2", "r-3", NULL};

struct agent {
	struct fleet_report own; /* what it reports: deployed, lineage */
	int deployed;
	int hist_commit[MAXHIST];
	int64_t hist_time[MAXHIST];
	size_t nhist;
};

struct sim {
	struct world w;
	struct fleet_view view;
	struct agent a[NHOSTS];
	int tip;
	int64_t start;
};

static void put_report(struct sim *s, int h)
{
	struct agent *ag = &s->a[h];
	unsigned char pk[32], sk[64];
	struct err e = {{0}};
	char *env;
	size_t len;

	ag->own.seq++;
	ag->own.time = s->w.now;
	fx_keypair(names[h], pk, sk);
	if (fleet_report_sign(&ag->own, sk, &env, &len, &e) != 0)
		fail_msg("%s", e.msg);
	world_store(&s->w, names[h], env);
	free(env);
	assert_true(fleet_view_add(&s->view, &s->w.entries[s->w.n - 1], &e) >= 0);
}

static void deploy(struct sim *s, int h, int c)
{
	struct agent *ag = &s->a[h];
	struct err e = {{0}};

	assert_true(c > ag->deployed);
	ag->deployed = c;
	snprintf(ag->own.deployed, sizeof(ag->own.deployed), "%s", commit(c));
	assert_int_equal(fleet_report_lineage_add(&ag->own, commit(c), s->w.now, &e), 0);
	assert_true(ag->nhist < MAXHIST);
	ag->hist_commit[ag->nhist] = c;
	ag->hist_time[ag->nhist++] = s->w.now;
	put_report(s, h);
}

/* Since when host h has run commit c or a later one, by its history; -1 if not. */
static int64_t running_since(const struct agent *ag, int c)
{
	int64_t since = -1;

	for (size_t i = ag->nhist; i-- > 0 && ag->hist_commit[i] >= c;)
		since = ag->hist_time[i];
	return since;
}

/* Never early: when h (wave k) deploys c, every host of every wave before k
 * has run c or later for at least that wave's soak. */
static void check_not_early(const struct sim *s, int h, int c)
{
	const struct fleet_assignment *a = &s->w.assign;
	size_t k = a->wave_of[h];

	for (size_t j = 0; j < k; j++)
		for (size_t m = 0; m < a->waves[j].n; m++) {
			size_t o = a->waves[j].members[m];
			int64_t since = running_since(&s->a[o], c);
			if (since < 0 || since + a->waves[j].soak > s->w.now)
				fail_msg("t=%lld: %s deployed %d before %s had soaked it (since "
					 "%lld)",
					 (long long)(s->w.now - s->start), names[h], c, names[o],
					 (long long)since);
		}
}

static void tick(struct sim *s, int h)
{
	struct agent *ag = &s->a[h];
	static struct fleet_candidate c[1024];
	static char ids[1024][41];
	struct fleet_gate g;
	struct err e = {{0}};
	size_t n = 0;

	for (int i = s->tip; i > ag->deployed && n < 1024; i--) {
		snprintf(ids[n], sizeof(ids[n]), "%s", commit(i));
		c[n] = (struct fleet_candidate){ids[n], &s->w.assign, NULL, &s->view};
		n++;
	}
	struct fleet_gate_input in = {names[h], ag->own.deployed, c, n, world_is_ancestor,
				      &s->w,	s->w.now};
	if (fleet_gate_decide(&in, &g, &e) != 0)
		fail_msg("%s", e.msg);
	if (g.deploy) {
		int which = (int)strtol((char[7]){g.deploy[1], g.deploy[2], g.deploy[3],
						  g.deploy[4], g.deploy[5], g.deploy[6], 0},
					NULL, 16);
		check_not_early(s, h, which);
		deploy(s, h, which);
	} else if ((s->w.now - s->start) % 30 == h % 30) {
		put_report(s, h); /* the periodic report */
	}
}

struct outcome {
	int64_t last_wave_lag;	/* the most the last wave trailed a push, while pushes went on */
	int last_wave_deploys;	/* deploys in the last wave while pushes went on */
	int64_t all_done_after; /* seconds after the last push when every host had the tip */
};

static void run(struct sim *s, int push_every, unsigned soak, int push_for, struct outcome *o)
{
	char plan[256];
	struct err e = {{0}};
	int64_t end = push_for + 4 * soak + 120;

	snprintf(plan, sizeof(plan),
		 "[rollout]\nhosts = h\nsoak = %u\n[wave canary]\nhosts = c-*\n"
		 "[wave quarter]\nhosts = q-*\n[wave rest]\n",
		 soak);
	memset(s, 0, sizeof(*s));
	memset(o, 0, sizeof(*o));
	o->all_done_after = -1;
	world_load(&s->w, plan, names);
	assert_int_equal(fleet_view_init(&s->view, &s->w.hosts, &e), 0);
	s->start = s->w.now;
	s->w.now = s->start - 86400;
	for (int h = 0; h < NHOSTS; h++) {
		snprintf(s->a[h].own.host, sizeof(s->a[h].own.host), "%s", names[h]);
		s->a[h].own.healthy = true;
		deploy(s, h, 1);
	}
	s->tip = 1;
	for (int64_t t = 0; t <= end; t++) {
		bool all = true;
		s->w.now = s->start + t;
		if (t < push_for && t % push_every == 0)
			s->tip++;
		fleet_view_classify(&s->view, NULL, s->w.now, s->w.plan.stale_after);
		for (int h = 0; h < NHOSTS; h++)
			tick(s, h);
		for (int h = 0; h < NHOSTS; h++)
			all = all && s->a[h].deployed == s->tip;
		if (all && t >= push_for && o->all_done_after < 0)
			o->all_done_after = t - (push_for - 1) / push_every * push_every;
		if (t < push_for && t % 10 == 0) {
			/* how far behind the newest push the last wave runs */
			int c = s->a[NHOSTS - 1].deployed;
			int64_t pushed_next = (int64_t)(c - 1) * push_every; /* when c+1 came */
			if (c < s->tip && t - pushed_next > o->last_wave_lag)
				o->last_wave_lag = t - pushed_next;
		}
	}
	for (size_t i = 0; i < s->a[NHOSTS - 1].nhist; i++)
		if (s->a[NHOSTS - 1].hist_time[i] >= s->start &&
		    s->a[NHOSTS - 1].hist_time[i] < s->start + push_for)
			o->last_wave_deploys++;
}

static void release(struct sim *s)
{
	for (int h = 0; h < NHOSTS; h++)
		fleet_report_release(&s->a[h].own);
	fleet_view_release(&s->view);
	world_release(&s->w);
}

static void test_a_good_commit_moves_wave_by_wave_and_never_early(void **state)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct outcome o;

	assert_non_null(s);
	/* one push; soak 10 minutes: canary at once, quarter after 10, rest after 20 */
	run(s, 1000000, 600, 1, &o);
	assert_int_equal(s->a[0].hist_time[1] - s->start, 0);
	assert_int_equal(s->a[2].hist_time[1] - s->start, 600);
	assert_int_equal(s->a[4].hist_time[1] - s->start, 1200);
	assert_int_equal(s->a[6].deployed, 2);
	release(s);
	free(s);
}

static void test_pushes_every_few_seconds_with_a_longer_soak_still_move_every_wave(void **state)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct outcome o;

	assert_non_null(s);
	/* a push every 5 s for 20 minutes; each wave soaks 60 s */
	run(s, 5, 60, 1200, &o);
	print_message("last wave: %d deploys during the pushes, at most %llds behind a push; "
		      "all done %llds after the last push\n",
		      o.last_wave_deploys, (long long)o.last_wave_lag, (long long)o.all_done_after);
	assert_true(o.last_wave_deploys >= 10);
	/* it trails by the two soaks before it, and a little for the thinned lineage */
	assert_true(o.last_wave_lag <= 2 * 60 * 3 / 2 + 10);
	assert_true(o.all_done_after >= 120 && o.all_done_after <= 2 * 60 + 10);
	release(s);
	free(s);
}

static void test_a_push_every_two_seconds_for_twenty_minutes(void **state)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct outcome o;

	assert_non_null(s);
	/* 300 pushes: each canary's lineage (32 entries) is thinned ten times over */
	run(s, 2, 60, 600, &o);
	print_message("last wave: %d deploys during the pushes, at most %llds behind a push; "
		      "all done %llds after the last push\n",
		      o.last_wave_deploys, (long long)o.last_wave_lag, (long long)o.all_done_after);
	assert_true(o.last_wave_deploys >= 20);
	assert_true(o.last_wave_lag <= 2 * 60 * 3 / 2 + 10);
	release(s);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_good_commit_moves_wave_by_wave_and_never_early),
	    cmocka_unit_test(
		test_pushes_every_few_seconds_with_a_longer_soak_still_move_every_wave),
	    cmocka_unit_test(test_a_push_every_two_seconds_for_twenty_minutes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
