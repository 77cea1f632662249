/* pull/allowed_signers: who may sign, for what, and when. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "pull/allowed_signers.h"
#include "tests/unit/fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("'%s' does not contain '%s'", (hay), (needle));                   \
	} while (0)

#define ADA_KEY FX_ADA_TYPE " " FX_ADA_B64
#define NOW	((time_t)1700000000) /* 2023-11-14 22:13:20 UTC */

static struct sshkey ada;

static int setup(void **state)
{
	struct err e;

	return sshkey_parse_text(FX_ADA_TYPE, FX_ADA_B64, &ada, &e);
}

static int parse(struct allowed_signers *as, const char *text, struct err *e)
{
	return allowed_signers_parse(as, "signers", text, strlen(text), e);
}

/* Parses text (which must be valid) and matches ada's key against it. */
static const struct allowed_signer *match(struct allowed_signers *as, const char *text,
					  const char *identity, time_t now, struct err *e)
{
	if (parse(as, text, e) != 0)
		fail_msg("parse failed: %s", e->msg);
	return allowed_signers_match(as, &ada, identity, "git", now, e);
}

static void listed_key_matches_its_principal(void **state)
{
	struct allowed_signers as;
	struct err e = {""};
	const struct allowed_signer *m;

	m = match(&as, "# who may push\n\nada@example.com " ADA_KEY " ada's laptop\n",
		  "ada@example.com", NOW, &e);
	assert_non_null(m);
	assert_int_equal(m->line, 3);
	assert_true(m->supported);
	assert_string_equal(m->keytype, "ssh-ed25519");
	allowed_signers_release(&as);
}

static void unlisted_key_is_refused(void **state)
{
	struct allowed_signers as;
	struct err e = {""};
	struct sshkey other = ada;

	other.pk[0] ^= 1;
	assert_int_equal(parse(&as, "ada@example.com " ADA_KEY "\n", &e), 0);
	assert_null(allowed_signers_match(&as, &other, "ada@example.com", "git", NOW, &e));
	assert_contains(e.msg, "is not in signers");
	assert_true(strncmp(e.msg, "key SHA256:", 11) == 0);
	allowed_signers_release(&as);
}

static void other_principal_is_refused(void **state)
{
	struct allowed_signers as;
	struct err e = {""};

	assert_null(match(&as, "\nada@example.com " ADA_KEY "\n", "bob@example.com", NOW, &e));
	/* The message names both fixes: the email to commit with, the line to add. */
	assert_string_equal(e.msg,
			    "key " FX_ADA_FP " is allowed for principals "
			    "'ada@example.com' (line 2), not for the committer's email "
			    "'bob@example.com'; commit with git config user.email set to "
			    "one of 'ada@example.com', or, if this key may sign as "
			    "'bob@example.com', add the line 'bob@example.com " ADA_KEY
			    "' to signers ([repo] signer = any accepts any allowed key, as git "
			    "verify-commit does)");
	allowed_signers_release(&as);
}

static void signer_any_ignores_the_principal(void **state)
{
	struct allowed_signers as;
	struct err e = {""};
	struct sshkey other = ada;

	assert_int_equal(parse(&as, "ada@example.com " ADA_KEY "\n", &e), 0);
	as.signer = SIGNER_ANY;
	assert_non_null(allowed_signers_match(&as, &ada, "bob@example.com", "git", NOW, &e));
	other.pk[0] ^= 1;
	assert_null(allowed_signers_match(&as, &other, "ada@example.com", "git", NOW, &e));
	allowed_signers_release(&as);
}

static void authorized_keys_line_is_named(void **state)
{
	struct allowed_signers as;
	struct err e = {""};

	assert_int_equal(parse(&as, "# keys\n" ADA_KEY " ada@laptop\n", &e), -1);
	assert_contains(e.msg, "signers:2: this looks like an authorized_keys line");
	assert_contains(e.msg, "allowed_signers lines start with a principal");
	allowed_signers_release(&as);
}

static void negated_principal_refuses_mallory_but_allows_ada(void **state)
{
	static const char text[] = "*@example.com,!mallory@example.com " ADA_KEY "\n";
	struct allowed_signers as;
	struct err e = {""};

	assert_non_null(match(&as, text, "ada@example.com", NOW, &e));
	allowed_signers_release(&as);
	assert_null(match(&as, text, "mallory@example.com", NOW, &e));
	assert_contains(e.msg, "not for the committer's email 'mallory@example.com'");
	allowed_signers_release(&as);
	assert_null(match(&as, text, "ada@example.org", NOW, &e));
	allowed_signers_release(&as);
}

static void namespaces_file_refuses_git(void **state)
{
	struct allowed_signers as;
	struct err e = {""};

	assert_null(match(&as, "ada@example.com namespaces=\"file\" " ADA_KEY "\n",
			  "ada@example.com", NOW, &e));
	assert_string_equal(e.msg, "namespace 'git' not allowed (signers:1), only 'file'");
	allowed_signers_release(&as);
	assert_non_null(match(&as, "ada@example.com namespaces=\"file,g?t\" " ADA_KEY "\n",
			      "ada@example.com", NOW, &e));
	allowed_signers_release(&as);
}

static void valid_before_in_the_past_refuses(void **state)
{
	struct allowed_signers as;
	struct err e = {""};

	assert_null(match(&as, "ada@example.com valid-before=\"20200101Z\" " ADA_KEY "\n",
			  "ada@example.com", NOW, &e));
	assert_string_equal(e.msg, "key " FX_ADA_FP
				   " is not valid after 2020-01-01 00:00:00 UTC (signers:1)");
	allowed_signers_release(&as);
}

static void valid_after_in_the_future_refuses(void **state)
{
	struct allowed_signers as;
	struct err e = {""};

	assert_null(match(&as, "ada@example.com valid-after=\"20991231235959Z\" " ADA_KEY "\n",
			  "ada@example.com", NOW, &e));
	assert_string_equal(e.msg, "key " FX_ADA_FP
				   " is not valid before 2099-12-31 23:59:59 UTC (signers:1)");
	allowed_signers_release(&as);
}

static void validity_window_bounds(void **state)
{
	static const char text[] =
	    "ada@example.com "
	    "valid-after=\"202311142213Z\",valid-before=\"20231114221321Z\" " ADA_KEY "\n";
	struct allowed_signers as;
	struct err e = {""};

	/* valid-after is inclusive, valid-before exclusive. */
	assert_non_null(match(&as, text, "ada@example.com", NOW, &e));
	allowed_signers_release(&as);
	assert_null(match(&as, text, "ada@example.com", NOW + 1, &e));
	assert_contains(e.msg, "not valid after 2023-11-14 22:13:21 UTC");
	allowed_signers_release(&as);
	assert_null(match(&as, text, "ada@example.com", NOW - 21, &e));
	assert_contains(e.msg, "not valid before 2023-11-14 22:13:00 UTC");
	allowed_signers_release(&as);
}

static void time_without_z_is_local_time(void **state)
{
	struct allowed_signers as;
	struct err e = {""};
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

	setenv("TZ", "EST5", 1);
	tzset();
	assert_int_equal(
	    parse(&as,
		  "ada@example.com valid-after=\"20240101\",valid-before=\"20240101Z\" "
		  "" ADA_KEY "\n",
		  &e),
	    0);
	assert_int_equal(as.v[0].valid_before, 1704067200);	      /* 2024-01-01T00:00Z */
	assert_int_equal(as.v[0].valid_after, 1704067200 + 5 * 3600); /* 05:00Z */
	allowed_signers_release(&as);
	if (old)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	free(old);
	tzset();
}

static void cert_authority_lines_never_match(void **state)
{
	struct allowed_signers as;
	struct err e = {""};

	assert_null(
	    match(&as, "*@example.com cert-authority " ADA_KEY "\n", "ada@example.com", NOW, &e));
	assert_string_equal(e.msg,
			    "key " FX_ADA_FP " is listed only as a cert-authority (signers:1)");
	assert_true(as.v[0].cert_authority);
	allowed_signers_release(&as);
	/* Option names are case-insensitive. */
	assert_null(match(&as, "*@example.com Cert-Authority,namespaces=\"git\" " ADA_KEY "\n",
			  "ada@example.com", NOW, &e));
	allowed_signers_release(&as);
}

static void unknown_option_reports_its_line(void **state)
{
	struct allowed_signers as;
	struct err e = {""};

	assert_int_equal(parse(&as,
			       "ada@example.com " ADA_KEY "\n# comment\n"
			       "bob@example.com namespace=\"git\" " ADA_KEY "\n",
			       &e),
			 -1);
	assert_string_equal(e.msg, "signers:3: unknown option 'namespace'");
	assert_int_equal(as.n, 0);
	assert_null(as.v);
}

static void rsa_line_is_skipped_not_an_error(void **state)
{
	struct allowed_signers as;
	struct err e = {""};
	const struct allowed_signer *m;

	m = match(&as,
		  "ada@example.com ssh-rsa " FX_RSA_B64 " old key\n"
		  "ada@example.com ecdsa-sha2-nistp256 " FX_ECDSA_B64 "\n"
		  "ada@example.com " ADA_KEY "\n",
		  "ada@example.com", NOW, &e);
	assert_int_equal(as.n, 3);
	assert_false(as.v[0].supported);
	assert_string_equal(as.v[0].keytype, "ssh-rsa");
	assert_false(as.v[1].supported);
	assert_non_null(m);
	assert_int_equal(m->line, 3);
	allowed_signers_release(&as);
}

static void rsa_line_is_still_syntax_checked(void **state)
{
	struct allowed_signers as;
	struct err e = {""};

	assert_int_equal(parse(&as, "ada@example.com ssh-rsa " FX_ECDSA_B64 "\n", &e), -1);
	assert_string_equal(
	    e.msg, "signers:1: key is labelled ssh-rsa but its blob says ecdsa-sha2-nistp256");
	assert_int_equal(parse(&as, "ada@example.com ssh-rsa AAAA!!!!\n", &e), -1);
	assert_contains(e.msg, "signers:1: ssh-rsa key is not valid base64");
}

static void bad_lines_are_errors_with_line_numbers(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"ada@example.com valid-after=\"2024-01-01\" " ADA_KEY "\n",
	     "signers:1: valid-after \"2024-01-01\" is not a time"},
	    {"\nada@example.com valid-before=\"20230230\" " ADA_KEY "\n",
	     "signers:2: valid-before \"20230230\" is not a time"},
	    {"ada@example.com valid-before=20230101 " ADA_KEY "\n",
	     "signers:1: option valid-before needs a double-quoted value"},
	    {"ada@example.com " FX_ADA_TYPE " AAAAC3NzaC1lZDI1NTE5AAAAIAzC05HX*\n",
	     "signers:1: ssh-ed25519 key is not valid base64"},
	    {"ada@example.com\n", "signers:1: no key after the principals"},
	    {"ada@example.com ssh-ed25519\n", "signers:1: no base64 key after ssh-ed25519"},
	    {"\"ada@example.com " ADA_KEY "\n", "signers:1: unterminated double quote"},
	    {"ada@example.com cert-authority,cert-authority " ADA_KEY "\n",
	     "signers:1: option cert-authority given twice"},
	    {"ada@example.com namespaces=\"\" " ADA_KEY "\n",
	     "signers:1: option namespaces is empty"},
	    {"ada@example.com ssh-ed2559 " FX_ADA_B64 "\n",
	     "signers:1: key is labelled ssh-ed2559 but its blob says ssh-ed25519"},
	    {"ada@example.com sk-ssh-ed25519@openssh.com " FX_ADA_B64 "\n",
	     "signers:1: key is labelled sk-ssh-ed25519@openssh.com"},
	    {"ok@example.com " ADA_KEY "\nada@example.com \0 " ADA_KEY "\n",
	     "signers:2: contains a NUL byte"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct allowed_signers as;
		struct err e = {""};
		size_t len = strlen(cases[i].text);

		if (i == sizeof(cases) / sizeof(cases[0]) - 1)
			len += 1 + strlen(cases[i].text + len + 1); /* across the NUL */
		assert_int_equal(allowed_signers_parse(&as, "signers", cases[i].text, len, &e), -1);
		assert_contains(e.msg, cases[i].msg);
	}
}

static void quoted_principals_and_crlf_accepted(void **state)
{
	struct allowed_signers as;
	struct err e = {""};

	assert_non_null(
	    match(&as, "\"bob@example.com,ada@example.com\" NAMESPACES=\"git\" " ADA_KEY "\r\n",
		  "ada@example.com", NOW, &e));
	assert_string_equal(as.v[0].principals, "bob@example.com,ada@example.com");
	assert_string_equal(as.v[0].namespaces, "git");
	allowed_signers_release(&as);
}

static void long_line_and_big_file_refused(void **state)
{
	struct allowed_signers as;
	struct err e = {""};
	size_t big = ALLOWED_SIGNERS_MAX_BYTES + 1;
	char *text = malloc(big + 1);

	assert_non_null(text);
	memset(text, '#', big);
	text[big] = '\0';
	assert_int_equal(allowed_signers_parse(&as, "signers", text, big, &e), -1);
	assert_contains(e.msg, "signers: larger than");

	memcpy(text, "ada@example.com " ADA_KEY "\n", strlen("ada@example.com " ADA_KEY "\n"));
	assert_int_equal(allowed_signers_parse(&as, "signers", text,
					       strlen("ada@example.com " ADA_KEY "\n") +
						   ALLOWED_SIGNERS_MAX_LINE + 1,
					       &e),
			 -1);
	assert_string_equal(e.msg, "signers:2: line is longer than 8192 characters");
	/* Exactly at the limit is fine (a comment line). */
	assert_int_equal(allowed_signers_parse(&as, "signers", text,
					       strlen("ada@example.com " ADA_KEY "\n") +
						   ALLOWED_SIGNERS_MAX_LINE,
					       &e),
			 0);
	assert_int_equal(as.n, 1);
	allowed_signers_release(&as);
	free(text);
}

static void closest_miss_is_reported(void **state)
{
	struct allowed_signers as;
	struct err e = {""};

	assert_null(match(&as,
			  "bob@example.com " ADA_KEY "\n"
			  "ada@example.com valid-before=\"20200101Z\" " ADA_KEY "\n"
			  "ada@example.com cert-authority " ADA_KEY "\n",
			  "ada@example.com", NOW, &e));
	assert_contains(e.msg, "is not valid after 2020-01-01 00:00:00 UTC (signers:2)");
	allowed_signers_release(&as);
}

static void load_reads_a_file(void **state)
{
	struct allowed_signers as;
	struct err e = {""};
	char path[] = "/tmp/cim-test-signers-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("ada@example.com " ADA_KEY "\n", f);
	fclose(f);
	assert_int_equal(allowed_signers_load(&as, path, &e), 0);
	assert_int_equal(as.n, 1);
	assert_string_equal(as.name, path);
	allowed_signers_release(&as);
	unlink(path);
	assert_int_equal(allowed_signers_load(&as, path, &e), -1);
	assert_contains(e.msg, path);
}

static void pattern_lists(void **state)
{
	assert_int_equal(pattern_list_match("ada@example.com", "ada@example.com"), 1);
	assert_int_equal(pattern_list_match("ada@example.com", "*@example.com"), 1);
	assert_int_equal(pattern_list_match("ada@example.com", "bob@x,a?a@*.com"), 1);
	assert_int_equal(pattern_list_match("ada@example.com", "bob@example.com"), 0);
	assert_int_equal(pattern_list_match("ada@example.com", "*,!ada@*"), -1);
	assert_int_equal(pattern_list_match("ada@example.com", "!bob@*"), 0);
	assert_int_equal(pattern_list_match("Ada@example.com", "ada@*"), 0);
	assert_int_equal(pattern_list_match("ada@example.com", "ada"), 0);
	assert_int_equal(pattern_list_match("ada", "ada*"), 1);
	assert_int_equal(pattern_list_match("ada", "*a*d*a*"), 1);
	assert_int_equal(pattern_list_match("ada", "a??a"), 0);
	assert_int_equal(pattern_list_match("", "*"), 1);
	assert_int_equal(pattern_list_match("x", ""), 0);
	/* Backtracking stays linear-ish on hostile patterns. */
	assert_int_equal(pattern_list_match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
					    "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(listed_key_matches_its_principal),
	    cmocka_unit_test(unlisted_key_is_refused),
	    cmocka_unit_test(other_principal_is_refused),
	    cmocka_unit_test(signer_any_ignores_the_principal),
	    cmocka_unit_test(authorized_keys_line_is_named),
	    cmocka_unit_test(negated_principal_refuses_mallory_but_allows_ada),
	    cmocka_unit_test(namespaces_file_refuses_git),
	    cmocka_unit_test(valid_before_in_the_past_refuses),
	    cmocka_unit_test(valid_after_in_the_future_refuses),
	    cmocka_unit_test(validity_window_bounds),
	    cmocka_unit_test(time_without_z_is_local_time),
	    cmocka_unit_test(cert_authority_lines_never_match),
	    cmocka_unit_test(unknown_option_reports_its_line),
	    cmocka_unit_test(rsa_line_is_skipped_not_an_error),
	    cmocka_unit_test(rsa_line_is_still_syntax_checked),
	    cmocka_unit_test(bad_lines_are_errors_with_line_numbers),
	    cmocka_unit_test(quoted_principals_and_crlf_accepted),
	    cmocka_unit_test(long_line_and_big_file_refused),
	    cmocka_unit_test(closest_miss_is_reported),
	    cmocka_unit_test(load_reads_a_file),
	    cmocka_unit_test(pattern_lists),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
