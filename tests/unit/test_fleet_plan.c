/* Unit tests of fleet/plan.c: rollout.conf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "fleet/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The plan of the issue, comments and all. */
static const char issue_plan[] =
    "[rollout]\n"
    "hosts = fleet/hosts        ; the fleet's members\n"
    "soak = 10m                 ; healthy time required in a wave before the next may go\n"
    "max_failures = 0           ; failures tolerated per wave before the rollout halts\n"
    "stale_after = 15m          ; a host silent longer does not hold a wave back\n"
    "\n"
    "[wave canary]\n"
    "hosts = web-01 db-0*       ; host name patterns\n"
    "\n"
    "[wave quarter]\n"
    "percent = 25               ; of the hosts no earlier wave took\n"
    "soak = 30m                 ; this wave's own soak\n"
    "\n"
    "[wave rest]                ; no selector: every host left\n";

static void parse_ok(struct fleet_plan *p, const char *text)
{
	struct err e = {{0}};

	if (fleet_plan_parse(p, "rollout.conf", text, strlen(text), &e) != 0)
		fail_msg("%s", e.msg);
}

static void parse_fails(const char *text, size_t len, const char *msg)
{
	struct fleet_plan p;
	struct err e = {{0}};

	assert_int_equal(fleet_plan_parse(&p, "rollout.conf", text, len, &e), -1);
	if (!strstr(e.msg, msg))
		fail_msg("'%s' not in '%s'", msg, e.msg);
	assert_null(p.waves);
	assert_int_equal(p.nwaves, 0);
}

static void fails(const char *text, const char *msg)
{
	parse_fails(text, strlen(text), msg);
}

#define HEAD "[rollout]\nhosts = fleet/hosts\n"

static void test_the_plan_of_the_issue(void **state)
{
	struct fleet_plan p;

	parse_ok(&p, issue_plan);
	assert_string_equal(p.source, "rollout.conf");
	assert_string_equal(p.hosts_path, "fleet/hosts");
	assert_int_equal(p.hosts_line, 2);
	assert_int_equal(p.soak, 600);
	assert_int_equal(p.max_failures, 0);
	assert_int_equal(p.stale_after, 900);
	assert_int_equal(p.min_healthy.value, 1);
	assert_false(p.min_healthy.percent);
	assert_int_equal(p.nwaves, 3);
	assert_string_equal(p.waves[0].name, "canary");
	assert_int_equal(p.waves[0].line, 7);
	assert_int_equal(p.waves[0].npatterns, 2);
	assert_string_equal(p.waves[0].patterns[0], "web-01");
	assert_string_equal(p.waves[0].patterns[1], "db-0*");
	assert_int_equal(p.waves[0].pattern_lines[1], 8);
	assert_int_equal(p.waves[0].percent, 0);
	assert_int_equal(p.waves[0].soak, 600);
	assert_string_equal(p.waves[1].name, "quarter");
	assert_int_equal(p.waves[1].percent, 25);
	assert_int_equal(p.waves[1].soak, 1800);
	assert_int_equal(p.waves[1].npatterns, 0);
	/* A wave without any key is a wave all the same. */
	assert_string_equal(p.waves[2].name, "rest");
	assert_int_equal(p.waves[2].line, 14);
	assert_int_equal(p.waves[2].npatterns, 0);
	assert_int_equal(p.waves[2].percent, 0);
	assert_int_equal(p.waves[2].soak, 600);
	fleet_plan_release(&p);
	assert_null(p.waves);
}

static void test_defaults_and_per_wave_values(void **state)
{
	struct fleet_plan p;

	parse_ok(&p, "[wave a]\nhosts = x\nmax_failures = 2\nmin_healthy = 50%\n"
		     "[rollout]\nhosts = h\n[wave b]\npercent = 10%\n");
	/* [rollout] may come last: its defaults still reach earlier waves. */
	assert_int_equal(p.soak, FLEET_DEFAULT_SOAK);
	assert_int_equal(p.stale_after, FLEET_DEFAULT_STALE_AFTER);
	assert_int_equal(p.waves[0].max_failures, 2);
	assert_int_equal(p.waves[0].min_healthy.value, 50);
	assert_true(p.waves[0].min_healthy.percent);
	assert_int_equal(p.waves[1].percent, 10);
	assert_int_equal(p.waves[1].max_failures, 0);
	assert_int_equal(p.waves[1].min_healthy.value, 1);
	fleet_plan_release(&p);
	parse_ok(&p, "[rollout]\nhosts = h\nsoak = 0\nmax_failures = 3\nmin_healthy = 2\n"
		     "stale_after = 1h30m\n[wave a]\n");
	assert_int_equal(p.waves[0].soak, 0);
	assert_int_equal(p.waves[0].max_failures, 3);
	assert_int_equal(p.waves[0].min_healthy.value, 2);
	assert_int_equal(p.stale_after, 5400);
	fleet_plan_release(&p);
}

static void test_patterns_add_up_and_indentation_is_harmless(void **state)
{
	struct fleet_plan p;

	parse_ok(&p, "\xEF\xBB\xBF[rollout]\n  hosts = h\n\n  [wave a]  ; first\n"
		     "  hosts = web-01, web-02\t web-0?\n"
		     "    soak = 5m\n"
		     "  hosts = db-*\n");
	assert_int_equal(p.nwaves, 1);
	assert_int_equal(p.waves[0].npatterns, 4);
	assert_string_equal(p.waves[0].patterns[2], "web-0?");
	assert_string_equal(p.waves[0].patterns[3], "db-*");
	assert_int_equal(p.waves[0].pattern_lines[3], 7);
	assert_int_equal(p.waves[0].hosts_line, 5);
	assert_int_equal(p.waves[0].soak, 300);
	fleet_plan_release(&p);
}

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		int rc;
		unsigned seconds;
	} cases[] = {
	    {"90s", 0, 90},
	    {"5m", 0, 300},
	    {"1h30m", 0, 5400},
	    {"45", 0, 45},
	    {"1h30", -1, 0},
	    {"5x", -1, 0},
	    {"", -1, 0},
	    {"m", -1, 0},
	    {"-5s", -1, 0},
	    {"3650d", -1, 0},
	    {"87600h", 0, 315360000},
	    {"87601h", -1, 0},
	    {"99999999999999999999s", -1, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned s = 12345;
		int rc = fleet_parse_duration(cases[i].text, &s);
		if (rc != cases[i].rc || (rc == 0 && s != cases[i].seconds))
			fail_msg("'%s': rc %d, %u", cases[i].text, rc, s);
	}
}

static void test_value_errors(void **state)
{
	fails(HEAD "soak = 1h30\n[wave a]\n",
	      "rollout.conf:3: [rollout] soak: '1h30' is not a duration (a number with s, m or "
	      "h, e.g. 90s, 5m, 1h30m)");
	fails(HEAD "stale_after = 0\n[wave a]\n", "rollout.conf:3: [rollout] stale_after: '0'");
	fails(HEAD "max_failures = -1\n[wave a]\n",
	      "rollout.conf:3: [rollout] max_failures: '-1' is not a number of failures");
	fails(HEAD "min_healthy = 0\n[wave a]\n",
	      "rollout.conf:3: [rollout] min_healthy: '0' is not a number of hosts of at least "
	      "1, or a percentage such as 50% (0 would let silent hosts pass)");
	fails(HEAD "[wave a]\nmin_healthy = 0%\n", "rollout.conf:4: [wave a] min_healthy: '0%'");
	fails(HEAD "[wave a]\nmin_healthy = 101%\n", "[wave a] min_healthy: '101%'");
	fails(HEAD "[wave a]\nmin_healthy = %\n", "[wave a] min_healthy: '%'");
	fails(HEAD "[wave a]\npercent = 0\n",
	      "rollout.conf:4: [wave a] percent: '0' is not a percentage from 1 to 100");
	fails(HEAD "[wave a]\npercent = 101\n", "[wave a] percent: '101'");
	fails(HEAD "[wave a]\npercent = 2.5\n", "[wave a] percent: '2.5'");
	fails(HEAD "[wave a]\nsoak = 10 m\n", "rollout.conf:4: [wave a] soak: '10 m'");
	fails(HEAD "[wave a]\nhosts = web[1]\n",
	      "rollout.conf:4: [wave a] hosts: 'web[1]' is not a host name pattern");
	fails("[rollout]\nhosts = ../hosts\n[wave a]\n",
	      "rollout.conf:2: [rollout] hosts: '../hosts' must be a path inside the repository");
	fails("[rollout]\nhosts = /etc/hosts\n[wave a]\n", "'/etc/hosts' must be a path inside");
	fails("[rollout]\nhosts = a//b\n[wave a]\n", "'a//b' must be a path inside");
	fails("[rollout]\nhosts =\n[wave a]\n", "rollout.conf:2: [rollout] hosts: has no value");
}

static void test_structure_errors(void **state)
{
	fails("", "rollout.conf:1: no [rollout] section");
	fails("[wave a]\nhosts = x\n", "no [rollout] section");
	fails("[rollout]\nsoak = 5m\n[wave a]\n",
	      "rollout.conf:1: [rollout] hosts is required: the path of the fleet's hosts file");
	fails(HEAD "soak = 5m\n", "rollout.conf:1: the plan has no [wave NAME] section");
	fails(HEAD "[waves a]\n", "rollout.conf:3: unknown section [waves a]; a plan has "
				  "[rollout] and [wave NAME] sections");
	fails(HEAD "[fleet]\nx = 1\n", "rollout.conf:3: unknown section [fleet]");
	fails(HEAD "[wave]\n", "rollout.conf:3: [wave] needs a name, e.g. [wave canary]");
	fails(HEAD "[wave a b]\n", "rollout.conf:3: [wave a b]: a wave's name is 1 to 40");
	fails(HEAD "[wave a]\n[wave b]\n[wave a]\n",
	      "rollout.conf:5: [wave a] is defined twice (first on line 3)");
	fails(HEAD "[wave a]\n[rollout]\n", "rollout.conf:4: [rollout] is given twice (first on "
					    "line 1)");
	fails("hosts = x\n" HEAD "[wave a]\n",
	      "rollout.conf:1: 'hosts' is outside a [rollout] or [wave NAME] section");
	fails(HEAD "wave = 1\n[wave a]\n", "rollout.conf:3: [rollout] wave: unknown key");
	fails(HEAD "[wave a]\nstale_after = 5m\n", "rollout.conf:4: [wave a] stale_after: "
						   "unknown key (a wave has hosts, percent");
	fails(HEAD "soak = 5m\nsoak = 6m\n[wave a]\n",
	      "rollout.conf:4: [rollout] soak: set twice (first on line 3)");
	fails(HEAD "hosts = y\n[wave a]\n", "rollout.conf:3: [rollout] hosts: set twice");
	fails(HEAD "[wave a]\npercent = 5\npercent = 6\n", "rollout.conf:5: [wave a] percent: "
							   "set twice");
	fails(HEAD "[wave a]\nhosts = x\npercent = 5\n",
	      "rollout.conf:5: [wave a] percent: a wave selects by hosts or by percent, not both "
	      "(the other is on line 4)");
	fails(HEAD "[wave a]\npercent = 5\nhosts = x\n", "rollout.conf:5: [wave a] hosts: a wave "
							 "selects by hosts or by percent");
	fails(HEAD "[wave a]\njust words\n",
	      "rollout.conf:4: not a 'key = value' line or a [section] header");
	fails(HEAD "[wave a\n", "rollout.conf:3: not a 'key = value' line");
	fails(HEAD "[wave a]\nhosts = x\x01y\n", "rollout.conf:4: [wave a] hosts: contains a "
						 "control character");
}

static void test_size_limits(void **state)
{
	char *text = malloc(FLEET_PLAN_MAX_BYTES + 2), line[400];
	size_t len;

	assert_non_null(text);
	memset(line, 'a', sizeof(line));
	snprintf(line, sizeof(line), HEAD "[wave a]\nhosts = %0198d\n", 0);
	fails(line, "rollout.conf:4: line is longer than 197 characters");
	snprintf(line, sizeof(line), HEAD "[wave %041d]\n", 0);
	fails(line, "rollout.conf:3: [wave 00000000000000000000000000000000000000000]: a wave's "
		    "name is 1 to 40");
	parse_fails(HEAD "[wave a]\n\0", strlen(HEAD) + 10, "rollout.conf:4: contains a NUL byte");
	len = (size_t)snprintf(text, 64, HEAD);
	for (int i = 0; i <= FLEET_PLAN_MAX_WAVES; i++)
		len += (size_t)snprintf(text + len, 64, "[wave w%d]\n", i);
	fails(text, "rollout.conf:35: more than 32 waves");
	len = (size_t)snprintf(text, 64, HEAD "[wave a]\n");
	for (int i = 0; i <= FLEET_PLAN_MAX_PATTERNS / 8; i++)
		len += (size_t)snprintf(text + len, 128, "hosts = a b c d e f g h\n");
	fails(text, "rollout.conf:132: more than 1024 host patterns in the plan");
	memset(text, ';', FLEET_PLAN_MAX_BYTES + 1);
	parse_fails(text, FLEET_PLAN_MAX_BYTES + 1, "rollout.conf: larger than 65536 bytes");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_the_plan_of_the_issue),
	    cmocka_unit_test(test_defaults_and_per_wave_values),
	    cmocka_unit_test(test_patterns_add_up_and_indentation_is_harmless),
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_value_errors),
	    cmocka_unit_test(test_structure_errors),
	    cmocka_unit_test(test_size_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
