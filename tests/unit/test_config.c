/* agent/config: config_parse and config_parse_duration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/config.h"
#include "base/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("'%s' does not contain '%s'", (hay), (needle));                   \
	} while (0)

/* Eight lines; tests append from line 9 on. */
#define GOOD                                                                                       \
	"[agent]\n"                                                                                \
	"hostname = testhost\n"                                                                    \
	"state_dir = /var/lib/cim-test\n"                                                          \
	"\n"                                                                                       \
	"[repo]\n"                                                                                 \
	"url = https://git.example.com/fleet.git\n"                                                \
	"branch = main\n"                                                                          \
	"allowed_signers = /etc/cim-agent/allowed_signers\n"

static int parse(struct config *cfg, const char *text, struct err *e)
{
	memset(cfg, 0, sizeof(*cfg));
	return config_parse(cfg, "agent.conf", text, strlen(text), e);
}

/* Parses text, which must fail, and checks the message. */
static void assert_refused(const char *text, const char *msg)
{
	struct config cfg;
	struct err e = {""};

	if (parse(&cfg, text, &e) != -1)
		fail_msg("accepted: %s", text);
	config_release(&cfg);
	assert_contains(e.msg, msg);
}

static void good_file_parses_with_defaults(void **state)
{
	struct config cfg;
	struct err e = {""};

	assert_int_equal(parse(&cfg, GOOD, &e), 0);
	assert_string_equal(cfg.path, "agent.conf");
	assert_string_equal(cfg.agent.hostname, "testhost");
	assert_string_equal(cfg.agent.state_dir, "/var/lib/cim-test");
	assert_int_equal(cfg.agent.poll_interval, 60);
	assert_int_equal(cfg.agent.poll_jitter, 10);
	assert_string_equal(cfg.repo.url, "https://git.example.com/fleet.git");
	assert_string_equal(cfg.repo.branch, "main");
	assert_string_equal(cfg.repo.allowed_signers, "/etc/cim-agent/allowed_signers");
	assert_int_equal(cfg.repo.verify, VERIFY_TIP);
	assert_null(cfg.repo.token_file);
	assert_int_equal(cfg.repo.fetch_timeout, 120);
	config_release(&cfg);
	assert_null(cfg.repo.url);
	assert_null(cfg.path);
}

static void every_key_can_be_set(void **state)
{
	struct config cfg;
	struct err e = {""};

	assert_int_equal(parse(&cfg,
			       GOOD "verify = all\n"
				    "token_file = /etc/cim-agent/token\n"
				    "ssh_key = /etc/cim-agent/id_ed25519\n"
				    "known_hosts = /etc/cim-agent/known_hosts\n"
				    "fetch_timeout = 2m\n"
				    "[agent]\n"
				    "poll_interval = 1h30m\n"
				    "poll_jitter = 45\n",
			       &e),
			 0);
	assert_int_equal(cfg.repo.verify, VERIFY_ALL);
	assert_string_equal(cfg.repo.token_file, "/etc/cim-agent/token");
	assert_string_equal(cfg.repo.ssh_key, "/etc/cim-agent/id_ed25519");
	assert_string_equal(cfg.repo.known_hosts, "/etc/cim-agent/known_hosts");
	assert_int_equal(cfg.repo.fetch_timeout, 120);
	assert_int_equal(cfg.agent.poll_interval, 5400);
	assert_int_equal(cfg.agent.poll_jitter, 45);
	config_release(&cfg);
}

static void unknown_key_names_its_line(void **state)
{
	assert_refused(GOOD "alowed_signers = /x\n",
		       "agent.conf:9: [repo] alowed_signers: unknown key");
}

static void unknown_section_names_its_header_line(void **state)
{
	assert_refused(GOOD "\n[rpeo]\nurl = x\n", "agent.conf:10: [rpeo]: unknown section");
}

static void duplicate_key_names_both_lines(void **state)
{
	assert_refused(GOOD "branch = other\n",
		       "agent.conf:9: [repo] branch: set twice (first on line 7)");
}

static void key_outside_a_section_refused(void **state)
{
	assert_refused("url = x\n" GOOD, "agent.conf:1: 'url' is outside any [section]");
}

static void missing_required_key_named(void **state)
{
	assert_refused("[repo]\nurl = https://x/y.git\n",
		       "agent.conf: [repo] allowed_signers is required but not set");
}

static void bad_values_refused(void **state)
{
	assert_refused(GOOD "verify = some\n",
		       "agent.conf:9: [repo] verify: 'some' is not one of: tip, all");
	assert_refused(GOOD "token_file = etc/token\n",
		       "agent.conf:9: [repo] token_file: 'etc/token' is not an absolute path");
	assert_refused(GOOD "token_file =\n", "agent.conf:9: [repo] token_file: has no value");
	assert_refused(GOOD "ssh_key = /a\x01b\n", "ssh_key: contains a control character");
	assert_refused(GOOD "[agent]\npoll_interval = 5 minutes\n",
		       "agent.conf:10: [agent] poll_interval: '5 minutes' is not a duration");
	assert_refused(GOOD "fetch_timeout = 1h30\n",
		       "agent.conf:9: [repo] fetch_timeout: '1h30' is not a duration");
}

static void malformed_lines_refused(void **state)
{
	assert_refused(GOOD "just some words\n",
		       "agent.conf:9: not a 'key = value' line or a [section] header");
	assert_refused(GOOD "[repo\n", "agent.conf:9: not a 'key = value' line");
}

static void over_long_line_refused_not_split(void **state)
{
	char text[1024];

	snprintf(text, sizeof(text), GOOD "branch = %0300d\n", 0);
	assert_refused(text, "agent.conf:9: line is longer than");
}

static void nul_byte_refused(void **state)
{
	static const char text[] = GOOD "branch = a\0b\n";
	struct config cfg;
	struct err e = {""};

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(config_parse(&cfg, "agent.conf", text, sizeof(text) - 1, &e), -1);
	config_release(&cfg);
	assert_string_equal(e.msg, "agent.conf:9: contains a NUL byte");
}

static void oversized_file_refused(void **state)
{
	struct config cfg;
	struct err e = {""};
	char *text = malloc(CONFIG_MAX_BYTES + 2);

	assert_non_null(text);
	memset(text, '\n', CONFIG_MAX_BYTES + 1);
	text[CONFIG_MAX_BYTES + 1] = '\0';
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(config_parse(&cfg, "agent.conf", text, CONFIG_MAX_BYTES + 1, &e), -1);
	assert_contains(e.msg, "agent.conf: larger than");
	free(text);
}

static void durations_accepted(void **state)
{
	static const struct {
		const char *text;
		unsigned seconds;
	} good[] = {
	    {"90", 90}, {"90s", 90},	    {"5m", 300},  {"1h30m", 5400},
	    {"0", 0},	{"1h30m15s", 5415}, {"2h", 7200}, {"007s", 7},
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		unsigned s = 12345;

		if (config_parse_duration(good[i].text, &s) != 0)
			fail_msg("'%s' refused", good[i].text);
		assert_int_equal(s, good[i].seconds);
	}
}

static void bad_durations_refused(void **state)
{
	static const char *const bad[] = {
	    "5 minutes", "1h30",   "",	  "-1s", "1d",	 "s",
	    "m5",	 " 5s",	   "5s ", "5S",	 "1.5h", "99999999999999999999s",
	    "3650000h",	 "1h 30m", "+5",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned s = 12345;

		if (config_parse_duration(bad[i], &s) != -1)
			fail_msg("'%s' accepted as %u", bad[i], s);
		assert_int_equal(s, 12345); /* untouched on failure */
	}
}

static void print_redacts_url_credentials(void **state)
{
	struct config cfg;
	struct err e = {""};
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;

	assert_int_equal(parse(&cfg,
			       "[agent]\nhostname = h\n[repo]\n"
			       "url = https://deploy:s3cr3t@git.example.com/fleet.git\n"
			       "allowed_signers = /etc/a\n",
			       &e),
			 0);
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_print(&cfg, f);
	fclose(f);
	assert_contains(out, "url = https://<redacted>@git.example.com/fleet.git\n");
	assert_null(strstr(out, "s3cr3t"));
	assert_contains(out, "poll_interval = 60s\n");
	assert_contains(out, "# token_file is not set\n");
	free(out);
	config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(good_file_parses_with_defaults),
	    cmocka_unit_test(every_key_can_be_set),
	    cmocka_unit_test(unknown_key_names_its_line),
	    cmocka_unit_test(unknown_section_names_its_header_line),
	    cmocka_unit_test(duplicate_key_names_both_lines),
	    cmocka_unit_test(key_outside_a_section_refused),
	    cmocka_unit_test(missing_required_key_named),
	    cmocka_unit_test(bad_values_refused),
	    cmocka_unit_test(malformed_lines_refused),
	    cmocka_unit_test(over_long_line_refused_not_split),
	    cmocka_unit_test(nul_byte_refused),
	    cmocka_unit_test(oversized_file_refused),
	    cmocka_unit_test(durations_accepted),
	    cmocka_unit_test(bad_durations_refused),
	    cmocka_unit_test(print_redacts_url_credentials),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
