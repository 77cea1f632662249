/* agent/report, agent/metrics, agent/hook: the webhook signature, label
 * escaping, the profile generation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/hook.h"
#include "agent/metrics.h"
#include "agent/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* RFC 4231, test case 2: a key shorter than the block. */
static void hmac_matches_rfc4231_case_2(void **state)
{
	static const char data[] = "what do ya want for nothing?";
	char hex[REPORT_HMAC_HEX_LEN];

	report_hmac_hex((const unsigned char *)"Jefe", 4, data, strlen(data), hex);
	assert_string_equal(hex,
			    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* RFC 4231, test case 6: a key longer than the block is hashed first. */
static void hmac_matches_rfc4231_case_6(void **state)
{
	static const char data[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	unsigned char key[131];
	char hex[REPORT_HMAC_HEX_LEN];

	memset(key, 0xaa, sizeof(key));
	report_hmac_hex(key, sizeof(key), data, strlen(data), hex);
	assert_string_equal(hex,
			    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void assert_escaped(const char *in, const char *want)
{
	char *got = metrics_escape_label(in);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void label_values_are_escaped(void **state)
{
	assert_escaped("", "");
	assert_escaped("plain ada@example.com", "plain ada@example.com");
	assert_escaped("a\"quote\"", "a\\\"quote\\\"");
	assert_escaped("back\\slash", "back\\\\slash");
	assert_escaped("two\nlines\n", "two\\nlines\\n");
	assert_escaped("\\\"\n", "\\\\\\\"\\n");
}

static void generation_comes_from_the_profile_link(void **state)
{
	char dir[] = "/tmp/cim-test-report.XXXXXX", link[64];
	static const struct {
		const char *target;
		unsigned long gen;
	} cases[] = {
	    {"system-42-link", 42},
	    {"/nix/var/nix/profiles/system-7-link", 7},
	    {"per-user-profile-3-link", 3},
	    {"system-link", 0},
	    {"system--link", 0},
	    {"system-4x-link", 0},
	    {"/nix/store/abc-nixos-system", 0},
	};

	assert_non_null(mkdtemp(dir));
	snprintf(link, sizeof(link), "%s/system", dir);
	assert_int_equal(hook_profile_generation(link), 0); /* no link at all */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unlink(link);
		assert_int_equal(symlink(cases[i].target, link), 0);
		if (hook_profile_generation(link) != cases[i].gen)
			fail_msg("%s: got %lu, want %lu", cases[i].target,
				 hook_profile_generation(link), cases[i].gen);
	}
	unlink(link);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hmac_matches_rfc4231_case_2),
	    cmocka_unit_test(hmac_matches_rfc4231_case_6),
	    cmocka_unit_test(label_values_are_escaped),
	    cmocka_unit_test(generation_comes_from_the_profile_link),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
