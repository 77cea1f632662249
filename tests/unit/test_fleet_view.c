/* Unit tests of fleet/view.c: which report of each member counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fleet_world.h"

static const char *const two[] = {"web-01", "web-02", NULL};
static const char plan[] = "[rollout]\nhosts = h\nstale_after = 5m\n[wave all]\n";

static void test_the_highest_seq_that_verifies_wins(void **state)
{
	struct world w;
	struct fleet_report r;
	const struct fleet_view *v;

	world_load(&w, plan, two);
	world_on(&w, "web-01", 1, w.now); /* seq 1 */
	world_on(&w, "web-01", 2, w.now); /* seq 2 */
	world_report(&w, "web-01", &r);	  /* seq 3, but forged by web-02 */
	r.seq = 99;
	world_put_as(&w, "web-01", &r, "web-02");
	fleet_report_release(&r);
	/* an older seq stored later (a replay) loses too */
	w.seq[0] = 0;
	world_on(&w, "web-01", 1, w.now); /* seq 1 again */
	v = world_view(&w);
	assert_int_equal(v->v[0].verdict, FLEET_OK);
	assert_int_equal(v->v[0].report.seq, 2);
	assert_string_equal(v->v[0].report.deployed, commit(2));
	assert_int_equal(v->v[0].revision, 2);
	assert_int_equal(v->v[0].forged, 1);
	assert_int_equal(v->forged, 1);
	assert_non_null(strstr(v->v[0].why, "forged"));
	assert_int_equal(v->v[1].verdict, FLEET_SILENT);
	world_release(&w);
}

static void test_the_same_seq_twice_keeps_the_later_revision(void **state)
{
	struct world w;
	const struct fleet_view *v;

	world_load(&w, plan, two);
	world_on(&w, "web-02", 1, w.now);
	w.seq[1] = 0;
	world_on(&w, "web-02", 2, w.now);
	v = world_view(&w);
	assert_int_equal(v->v[1].report.seq, 1);
	assert_string_equal(v->v[1].report.deployed, commit(2));
	world_release(&w);
}

static void test_verdicts(void **state)
{
	struct world w;
	struct fleet_view *v;

	world_load(&w, plan, two);
	world_on(&w, "web-01", 1, w.now);
	world_store(&w, "web-02", "not even json");
	world_store(&w, "web-03", "a key of no member");
	world_store(&w, "web-01", "{}");
	world_view(&w);
	v = &w.view;
	assert_int_equal(v->v[0].verdict, FLEET_OK);
	assert_int_equal(v->v[1].verdict, FLEET_FORGED);
	assert_int_equal(v->outsiders, 1);
	assert_int_equal(v->forged, 2);
	fleet_view_classify(v, NULL, w.now + 300, 300);
	assert_int_equal(v->v[0].verdict, FLEET_OK);
	fleet_view_classify(v, NULL, w.now + 301, 300);
	assert_int_equal(v->v[0].verdict, FLEET_STALE);
	fleet_view_classify(v, NULL, w.now - 301, 300);
	assert_int_equal(v->v[0].verdict, FLEET_STALE);
	assert_int_equal(fleet_seen_note(&w.seen, "web-01", 2, NULL), 0);
	fleet_view_classify(v, &w.seen, w.now, 300);
	assert_int_equal(v->v[0].verdict, FLEET_REPLAYED);
	assert_string_equal(fleet_verdict_name(FLEET_REPLAYED), "replayed");
	assert_string_equal(fleet_verdict_name(FLEET_SILENT), "silent");
	assert_string_equal(fleet_verdict_name(FLEET_OK), "ok");
	assert_string_equal(fleet_verdict_name(FLEET_STALE), "stale");
	assert_string_equal(fleet_verdict_name(FLEET_FORGED), "forged");
	world_release(&w);
}

static void test_a_deletion_or_an_invalid_report_hides_nothing(void **state)
{
	struct world w;
	struct fleet_view v;
	struct fleet_entry del = {.key = (char[]){"web-01"}, .revision = 99, .deleted = true};
	struct fleet_report r;
	struct err e = {{0}};

	world_load(&w, plan, two);
	world_on(&w, "web-01", 1, w.now);
	assert_int_equal(fleet_view_init(&v, &w.hosts, &e), 0);
	assert_int_equal(fleet_view_add(&v, &w.entries[0], &e), 1);
	assert_int_equal(fleet_view_add(&v, &w.entries[0], &e), 0); /* the same again */
	assert_int_equal(fleet_view_add(&v, &del, &e), 0);
	/* signed by web-01 but naming web-02 */
	world_report(&w, "web-01", &r);
	snprintf(r.host, sizeof(r.host), "web-02");
	world_put_as(&w, "web-01", &r, "web-01");
	fleet_report_release(&r);
	assert_int_equal(fleet_view_add(&v, &w.entries[1], &e), 0);
	assert_int_equal(v.v[0].invalid, 1);
	assert_int_equal(v.forged, 0);
	fleet_view_classify(&v, NULL, w.now, 300);
	assert_int_equal(v.v[0].verdict, FLEET_OK);
	assert_int_equal(v.v[0].report.seq, 1);
	fleet_view_release(&v);
	world_release(&w);
}

static void test_seen_keeps_the_highest_seq(void **state)
{
	struct fleet_seen s = {0};
	struct world w;

	assert_int_equal(fleet_seen_get(&s, "a"), 0);
	for (int i = 200; i > 0; i--) {
		char name[16];
		snprintf(name, sizeof(name), "h%03d", i);
		assert_int_equal(fleet_seen_note(&s, name, (uint64_t)i, NULL), 0);
	}
	assert_int_equal(s.n, 200);
	assert_int_equal(fleet_seen_get(&s, "h150"), 150);
	assert_int_equal(fleet_seen_note(&s, "h150", 7, NULL), 0);
	assert_int_equal(fleet_seen_get(&s, "h150"), 150);
	assert_int_equal(fleet_seen_note(&s, "h150", 151, NULL), 0);
	assert_int_equal(fleet_seen_get(&s, "h150"), 151);
	for (size_t i = 1; i < s.n; i++)
		assert_true(strcmp(s.v[i - 1].host, s.v[i].host) < 0);
	fleet_seen_release(&s);
	/* merge notes what a view accepted */
	world_load(&w, plan, two);
	world_on(&w, "web-02", 1, w.now);
	world_on(&w, "web-02", 1, w.now);
	assert_int_equal(fleet_seen_merge(&w.seen, world_view(&w), NULL), 0);
	assert_int_equal(fleet_seen_get(&w.seen, "web-02"), 2);
	assert_int_equal(fleet_seen_get(&w.seen, "web-01"), 0);
	world_release(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_the_highest_seq_that_verifies_wins),
	    cmocka_unit_test(test_the_same_seq_twice_keeps_the_later_revision),
	    cmocka_unit_test(test_verdicts),
	    cmocka_unit_test(test_a_deletion_or_an_invalid_report_hides_nothing),
	    cmocka_unit_test(test_seen_keeps_the_highest_seq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
