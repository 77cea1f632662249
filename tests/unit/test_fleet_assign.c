/* Unit tests of fleet/assign.c: which host is in which wave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "fleet/assign.h"
#include "fleet/hosts.h"
#include "fleet/plan.h"
#include "fleet_fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const twelve[] = {"web-01", "web-02", "db-01",  "db-02",  "app-01",
				     "app-02", "app-03", "app-04", "app-05", "app-06",
				     "app-07", "app-08", NULL};

static const char issue_plan[] = "[rollout]\nhosts = fleet/hosts\n"
				 "[wave canary]\nhosts = web-01 db-0*\n"
				 "[wave quarter]\npercent = 25\nsoak = 30m\n"
				 "[wave rest]\n";

struct fx {
	struct fleet_plan plan;
	struct fleet_hosts hosts;
	struct fleet_assignment a;
};

static int load(struct fx *f, const char *plan, const char *const *names, struct err *e)
{
	char *text = fx_hosts_text(names);
	int rc;

	memset(f, 0, sizeof(*f));
	if (fleet_plan_parse(&f->plan, "rollout.conf", plan, strlen(plan), e) != 0 ||
	    fleet_hosts_parse(&f->hosts, "fleet/hosts", text, strlen(text), e) != 0)
		fail_msg("%s", e->msg);
	free(text);
	rc = fleet_assign(&f->a, &f->plan, &f->hosts, e);
	return rc;
}

static void release(struct fx *f)
{
	fleet_assign_release(&f->a);
	fleet_hosts_release(&f->hosts);
	fleet_plan_release(&f->plan);
}

/* The members of wave w, "a b c" in hosts file order. */
static const char *members(const struct fx *f, size_t w)
{
	static char buf[1024];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < f->a.waves[w].n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? " " : "",
					f->hosts.v[f->a.waves[w].members[i]].name);
	return buf;
}

static void assign_fails(const char *plan, const char *const *names, const char *msg)
{
	struct fx f;
	struct err e = {{0}};

	assert_int_equal(load(&f, plan, names, &e), -1);
	if (!strstr(e.msg, msg))
		fail_msg("'%s' not in '%s'", msg, e.msg);
	assert_null(f.a.waves);
	release(&f);
}

static void test_the_plan_of_the_issue(void **state)
{
	struct fx f;
	struct err e = {{0}};

	if (load(&f, issue_plan, twelve, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(f.a.nwaves, 3);
	assert_string_equal(f.a.waves[0].name, "canary");
	assert_string_equal(members(&f, 0), "web-01 db-01 db-02");
	/* 25% of the 9 hosts left, rounded up: the 3 with the lowest hash
	 * (printf NAME | sha256sum: app-07 0294a8.., web-02 02d087.., app-05 0d211d..). */
	assert_string_equal(members(&f, 1), "web-02 app-05 app-07");
	assert_int_equal(f.a.waves[1].soak, 1800);
	assert_string_equal(members(&f, 2), "app-01 app-02 app-03 app-04 app-06 app-08");
	assert_int_equal(f.a.waves[2].soak, 600);
	assert_int_equal(fleet_assign_wave_of(&f.a, "app-05"), 1);
	assert_int_equal(fleet_assign_wave_of(&f.a, "db-02"), 0);
	assert_int_equal(fleet_assign_wave_of(&f.a, "nope"), -1);
	assert_int_equal(f.a.waves[0].min_healthy, 1);
	release(&f);
}

static void test_the_hash_is_sha256_of_the_name(void **state)
{
	/* printf web-01 | sha256sum */
	assert_true(fleet_name_hash("web-01") == 0x0b9d9f06cc8cf447ull);
	assert_true(fleet_name_hash("app-07") == 0x0294a879a7130f3full);
}

static void test_the_order_of_the_hosts_file_does_not_matter(void **state)
{
	static const char *const shuffled[] = {"app-08", "app-01", "web-02", "app-07", "db-02",
					       "app-03", "app-05", "web-01", "app-02", "db-01",
					       "app-06", "app-04", NULL};
	struct fx f;
	struct err e = {{0}};

	if (load(&f, issue_plan, shuffled, &e) != 0)
		fail_msg("%s", e.msg);
	assert_string_equal(members(&f, 1), "web-02 app-07 app-05");
	release(&f);
}

static void test_hosts_no_wave_selects_go_last(void **state)
{
	struct fx f;
	struct err e = {{0}};

	if (load(&f,
		 "[rollout]\nhosts = h\nsoak = 1m\nmin_healthy = 50%\n[wave canary]\n"
		 "hosts = web-0?\n[wave db]\nhosts = db-*\n",
		 twelve, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(f.a.nwaves, 3);
	assert_string_equal(f.a.waves[2].name, FLEET_IMPLICIT_WAVE);
	assert_int_equal(f.a.waves[2].line, 0);
	assert_int_equal(f.a.waves[2].soak, 60);
	assert_string_equal(members(&f, 2), "app-01 app-02 app-03 app-04 app-05 app-06 app-07 "
					    "app-08");
	assert_int_equal(f.a.waves[2].min_healthy, 4);
	release(&f);
}

static void test_a_later_pattern_wave_takes_its_hosts_out_of_the_shares(void **state)
{
	struct fx f;
	struct err e = {{0}};

	/* Without that rule the percent wave could take a db host, and whether
	 * [wave db] then conflicts would depend on the hash. */
	if (load(&f,
		 "[rollout]\nhosts = h\n[wave some]\npercent = 50\n[wave db]\n"
		 "hosts = db-*\n[wave rest]\n",
		 twelve, &e) != 0)
		fail_msg("%s", e.msg);
	assert_string_equal(members(&f, 1), "db-01 db-02");
	assert_int_equal(f.a.waves[0].n, 5); /* ceil(50% of 10) */
	assert_int_equal(f.a.waves[2].n, 5);
	for (size_t i = 0; i < f.a.waves[0].n; i++)
		assert_null(strstr(f.hosts.v[f.a.waves[0].members[i]].name, "db-"));
	release(&f);
}

static void test_rounding_up_takes_at_least_one(void **state)
{
	static const char *const two[] = {"a", "b", NULL};
	struct fx f;
	struct err e = {{0}};

	if (load(&f, "[rollout]\nhosts = h\n[wave tiny]\npercent = 1\n[wave rest]\n", two, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(f.a.waves[0].n, 1);
	assert_int_equal(f.a.waves[1].n, 1);
	release(&f);
}

static void test_min_healthy(void **state)
{
	struct fx f;
	struct err e = {{0}};

	if (load(&f,
		 "[rollout]\nhosts = h\nmin_healthy = 50%\n[wave canary]\nhosts = web-01 db-*\n"
		 "[wave rest]\nmin_healthy = 100\n",
		 twelve, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(f.a.waves[0].min_healthy, 2); /* 50% of 3, rounded up */
	assert_int_equal(f.a.waves[1].min_healthy, 9); /* the last wave: capped */
	release(&f);
	assign_fails("[rollout]\nhosts = h\n[wave canary]\nhosts = web-01\nmin_healthy = 2\n"
		     "[wave rest]\n",
		     twelve,
		     "rollout.conf:3: [wave canary] has 1 host but min_healthy = 2: it could never "
		     "soak; lower min_healthy or give the wave more hosts");
}

static void test_plan_errors(void **state)
{
	assign_fails("[rollout]\nhosts = h\n[wave canary]\nhosts = web-01\nhosts = web-09\n",
		     twelve,
		     "rollout.conf:5: [wave canary] hosts: web-09 is not in fleet/hosts; add it "
		     "there or remove it here");
	assign_fails("[rollout]\nhosts = h\n[wave canary]\nhosts = web-01 dc-*\n", twelve,
		     "rollout.conf:4: [wave canary] hosts: 'dc-*' matches no host in fleet/hosts");
	assign_fails("[rollout]\nhosts = h\n[wave canary]\nhosts = web-01\n[wave web]\n"
		     "hosts = web-*\n",
		     twelve,
		     "rollout.conf:6: [wave web] hosts: web-01 is already in [wave canary] (line "
		     "3); a host belongs to one wave");
	assign_fails("[rollout]\nhosts = h\n[wave web]\nhosts = web-*\n[wave canary]\n"
		     "hosts = web-01\n",
		     twelve,
		     "rollout.conf:6: [wave canary] hosts: web-01 is already in [wave web]");
	assign_fails("[rollout]\nhosts = h\n[wave all]\n[wave more]\npercent = 10\n", twelve,
		     "rollout.conf:4: [wave more] selects no host: every host of fleet/hosts is "
		     "named by a pattern wave or taken by an earlier wave; remove the wave");
	assign_fails("[rollout]\nhosts = h\n[wave web]\nhosts = *\n[wave rest]\n", twelve,
		     "rollout.conf:5: [wave rest] selects no host");
}

static void test_the_same_host_twice_in_one_wave_is_fine(void **state)
{
	struct fx f;
	struct err e = {{0}};

	if (load(&f, "[rollout]\nhosts = h\n[wave web]\nhosts = web-01 web-* *-01\n", twelve, &e) !=
	    0)
		fail_msg("%s", e.msg);
	assert_string_equal(members(&f, 0), "web-01 web-02 db-01 app-01");
	release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_the_plan_of_the_issue),
	    cmocka_unit_test(test_the_hash_is_sha256_of_the_name),
	    cmocka_unit_test(test_the_order_of_the_hosts_file_does_not_matter),
	    cmocka_unit_test(test_hosts_no_wave_selects_go_last),
	    cmocka_unit_test(test_a_later_pattern_wave_takes_its_hosts_out_of_the_shares),
	    cmocka_unit_test(test_rounding_up_takes_at_least_one),
	    cmocka_unit_test(test_min_healthy),
	    cmocka_unit_test(test_plan_errors),
	    cmocka_unit_test(test_the_same_host_twice_in_one_wave_is_fine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
