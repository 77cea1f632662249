/* pull/lsrefs: the protocol v2 answers the ls-refs pre-check reads from an
 * untrusted server, the request it sends, and the URLs it asks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "pull/lsrefs.h"
#include "pull/lsrefs_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIP   "4658510ed4c367074d39200612feae991885e018"
#define OTHER "1111111111111111111111111111111111111111"

/* text as packets: each line of it one data packet, "|" a flush, "^" a
 * delimiter; fed to the caps reader, then (after its flush) to the refs one. */
static int feed(struct lsrefs_answer *a, const char *text,
		int (*reader)(void *, const struct pktline *, struct err *), struct err *e)
{
	char buf[8192];
	size_t n = 0;
	struct pktline_stream *s = malloc(sizeof(*s));
	int rc;

	for (const char *p = text; *p;) {
		if (*p == '|' || *p == '^') {
			memcpy(buf + n, *p == '|' ? "0000" : "0001", 4);
			n += 4;
			p++;
			continue;
		}
		size_t len = strcspn(p, "\n");
		len += p[len] == '\n';
		n += (size_t)pktline_format(buf + n, sizeof(buf) - n, p, len);
		p += len;
	}
	pktline_stream_init(s, LSREFS_ANSWER_MAX, reader, a);
	rc = pktline_stream_feed(s, buf, n, e);
	free(s);
	return rc;
}

static struct lsrefs_answer answer(void)
{
	struct lsrefs_answer a;
	struct err e = {{0}};

	assert_int_equal(lsrefs_answer_init(&a, "main", &e), 0);
	assert_string_equal(a.want, "refs/heads/main");
	return a;
}

static const char git_caps[] = "version 2\nagent=git/2.39.5\nls-refs=unborn\n"
			       "fetch=shallow wait-for-done\nserver-option\nobject-format=sha1\n|";

static void v2_capabilities_with_or_without_the_service_line(void **state)
{
	struct lsrefs_answer a = answer(), b = answer();
	struct err e = {{0}};
	char http[sizeof(git_caps) + 64];

	assert_int_equal(feed(&a, git_caps, lsrefs_caps_packet, &e), 1);
	assert_true(a.offers_ls_refs);
	assert_int_equal(a.stage, LSREFS_REFS);
	snprintf(http, sizeof(http), "# service=git-upload-pack\n|%s", git_caps);
	assert_int_equal(feed(&b, http, lsrefs_caps_packet, &e), 1);
	assert_true(b.offers_ls_refs);
}

static void expect_caps_error(const char *text, const char *message)
{
	struct lsrefs_answer a = answer();
	struct err e = {{0}};

	assert_int_equal(feed(&a, text, lsrefs_caps_packet, &e), -1);
	if (!strstr(e.msg, message))
		fail_msg("'%s' not in '%s'", message, e.msg);
}

static void what_is_not_v2_is_said(void **state)
{
	expect_caps_error(TIP " HEAD multi_ack side-band-64k\n" TIP " refs/heads/main\n|",
			  "does not speak protocol v2 (it answered with its ref list)");
	expect_caps_error("# service=git-upload-pack\n|" TIP " HEAD\n|",
			  "it answered with its ref list");
	expect_caps_error("version 1\n|", "does not speak protocol v2 (it answered \"version 1\")");
	expect_caps_error("|", "does not speak protocol v2");
	expect_caps_error("ERR access denied or repository not exported: /x\n",
			  "the server says: access denied");
	expect_caps_error("version 2\nfetch\n|", "offers no ls-refs");
	expect_caps_error("version 2\nls-refs\nobject-format=sha256\n|", "not SHA-1");
	expect_caps_error("version 2\nls-refs\n^", "a delimiter inside it");
	expect_caps_error("# service=git-upload-pack\nversion 2\n|", "no flush packet after");
	expect_caps_error("# service=git-upload-pack\n|# service=git-upload-pack\n|",
			  "does not speak protocol v2");
}

static void control_characters_from_the_server_are_not_repeated(void **state)
{
	struct lsrefs_answer a = answer();
	struct err e = {{0}};

	assert_int_equal(feed(&a, "\033[2Jversion 9\n|", lsrefs_caps_packet, &e), -1);
	assert_null(strchr(e.msg, '\033'));
	assert_non_null(strstr(e.msg, "?[2Jversion 9"));
}

static void capabilities_without_their_flush_are_not_complete(void **state)
{
	struct lsrefs_answer a = answer();
	struct err e = {{0}};

	assert_int_equal(feed(&a, "version 2\nls-refs\n", lsrefs_caps_packet, &e), 0);
	assert_int_equal(a.stage, LSREFS_CAPS);
}

static struct lsrefs_answer after_caps(void)
{
	struct lsrefs_answer a = answer();
	struct err e = {{0}};

	assert_int_equal(feed(&a, git_caps, lsrefs_caps_packet, &e), 1);
	return a;
}

static void the_branch_is_found_among_others(void **state)
{
	struct lsrefs_answer a = after_caps();
	struct err e = {{0}};
	char hex[GIT_OID_HEXSZ + 1];

	/* A server may ignore ref-prefix: only the exact name counts. */
	assert_int_equal(feed(&a,
			      OTHER " refs/heads/main2\n" OTHER " refs/heads/main/x\n" OTHER
				    " refs/heads/mai\n" TIP " refs/heads/main peeled:" OTHER
				    "\n" OTHER " refs/tags/main\n|",
			      lsrefs_refs_packet, &e),
			 1);
	assert_true(a.found);
	assert_int_equal(a.refs, 5);
	assert_string_equal(git_oid_tostr(hex, sizeof(hex), &a.tip), TIP);
	assert_int_equal(a.stage, LSREFS_DONE);
}

static void an_answer_without_the_branch_finds_nothing(void **state)
{
	struct lsrefs_answer a = after_caps();
	struct err e = {{0}};

	assert_int_equal(feed(&a, OTHER " refs/heads/other\n|", lsrefs_refs_packet, &e), 1);
	assert_false(a.found);
	a = after_caps();
	assert_int_equal(feed(&a, "|", lsrefs_refs_packet, &e), 1);
	assert_false(a.found);
}

static void expect_refs_error(const char *text, const char *message)
{
	struct lsrefs_answer a = after_caps();
	struct err e = {{0}};

	assert_int_equal(feed(&a, text, lsrefs_refs_packet, &e), -1);
	if (!strstr(e.msg, message))
		fail_msg("'%s' not in '%s'", message, e.msg);
}

static void malformed_ref_lines_are_errors(void **state)
{
	expect_refs_error(TIP " refs/heads/main\n" OTHER " refs/heads/main\n|",
			  "names refs/heads/main twice, at different commits");
	expect_refs_error("4658510ed4c3 refs/heads/main\n|", "line 1 is not");
	expect_refs_error("4658510ED4C367074D39200612FEAE991885E018 refs/heads/main\n|", "is not");
	expect_refs_error("465851zz" TIP " refs/heads/main\n|", "is not");
	expect_refs_error(TIP "\n|", "is not");
	expect_refs_error(TIP "xrefs/heads/main\n|", "is not");
	expect_refs_error("unborn refs/heads/main\n|", "is not");
	expect_refs_error(OTHER " refs/heads/a\n" TIP "\n|", "line 2 is not");
	expect_refs_error(TIP " refs/heads/main\n^", "a delimiter before its end");
	expect_refs_error("ERR upload-pack: not our ref\n", "the server says: upload-pack");
}

static void the_same_answer_twice_is_no_contradiction(void **state)
{
	struct lsrefs_answer a = after_caps();
	struct err e = {{0}};

	assert_int_equal(
	    feed(&a, TIP " refs/heads/main\n" TIP " refs/heads/main\n|", lsrefs_refs_packet, &e),
	    1);
	assert_true(a.found);
}

static void refs_before_the_capabilities_are_an_error(void **state)
{
	struct lsrefs_answer a = answer();
	struct err e = {{0}};

	assert_int_equal(feed(&a, TIP " refs/heads/main\n|", lsrefs_refs_packet, &e), -1);
}

static void the_number_of_refs_is_capped(void **state)
{
	struct lsrefs_answer a = after_caps();
	static const char line[] = OTHER " refs/heads/x\n";
	struct pktline p = {.kind = PKTLINE_DATA, .data = line, .len = sizeof(line) - 1};
	struct err e = {{0}};

	for (int i = 0; i < LSREFS_REFS_MAX; i++)
		assert_int_equal(lsrefs_refs_packet(&a, &p, &e), 0);
	assert_int_equal(lsrefs_refs_packet(&a, &p, &e), -1);
	assert_non_null(strstr(e.msg, "more than 100000 refs"));
}

static void only_branch_names_are_asked_about(void **state)
{
	static const char *const bad[] = {"",	       "a..b",	 "with space", "tab\there",
					  "new\nline", "x.lock", "a/",	       "@{"};
	struct lsrefs_answer a;
	struct err e = {{0}};
	char longname[LSREFS_BRANCH_MAX + 2];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (lsrefs_answer_init(&a, bad[i], &e) == 0)
			fail_msg("'%s' accepted", bad[i]);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(lsrefs_answer_init(&a, longname, &e), -1);
	assert_int_equal(lsrefs_answer_init(&a, "release/1.0", &e), 0);
	assert_string_equal(a.want, "refs/heads/release/1.0");
}

static void the_request_asks_for_one_prefix(void **state)
{
	static const char want[] = "0014command=ls-refs\n0001001fref-prefix refs/heads/main\n0000";
	struct lsrefs_answer a = answer();
	char out[512];

	assert_int_equal(lsrefs_request(&a, out, sizeof(out)), sizeof(want) - 1);
	assert_memory_equal(out, want, sizeof(want) - 1);
	assert_int_equal(lsrefs_request(&a, out, sizeof(want) - 2), -1);
}

static void urls_are_taken_apart(void **state)
{
	struct lsrefs_url u;
	struct err e = {{0}};

	assert_int_equal(
	    lsrefs_url_parse("https://deploy:pw@git.example.com:8443/fleet.git", &u, &e), 0);
	assert_int_equal(u.scheme, LSREFS_HTTPS);
	assert_string_equal(u.user, "deploy");
	assert_string_equal(u.hostport, "git.example.com:8443");
	assert_string_equal(u.host, "git.example.com");
	assert_string_equal(u.port, "8443");
	assert_string_equal(u.path, "/fleet.git");
	assert_int_equal(lsrefs_url_parse("HTTP://127.0.0.1:1@127.0.0.2/x", &u, &e), 0);
	assert_int_equal(u.scheme, LSREFS_HTTP);
	assert_string_equal(u.host, "127.0.0.2");
	assert_string_equal(u.user, "127.0.0.1");
	assert_int_equal(lsrefs_url_parse("http://example.com", &u, &e), 0);
	assert_string_equal(u.path, "/");
	assert_int_equal(lsrefs_url_parse("git://[::1]:9418/~ada/fleet", &u, &e), 0);
	assert_int_equal(u.scheme, LSREFS_GIT);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.hostport, "[::1]:9418");
	assert_string_equal(u.port, "9418");
	assert_string_equal(u.path, "/~ada/fleet");
}

static void other_urls_are_not_asked(void **state)
{
	static const char *const bad[] = {"ssh://git@example.com/fleet",
					  "git@example.com:fleet",
					  "/srv/git/fleet",
					  "file:///srv/git/fleet",
					  "http://example.com/x?y",
					  "http://example.com/x#y",
					  "http:///fleet",
					  "git://example.com",
					  "git://example.com/",
					  "http://[::1/x",
					  "http://[::1]x/",
					  "http://host:12a/x",
					  "http://host:/x",
					  "http://host:1234567/x",
					  "http://exa mple.com/"};
	struct lsrefs_url u;
	struct err e = {{0}};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (lsrefs_url_parse(bad[i], &u, &e) == 0)
			fail_msg("'%s' accepted", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(v2_capabilities_with_or_without_the_service_line),
	    cmocka_unit_test(what_is_not_v2_is_said),
	    cmocka_unit_test(control_characters_from_the_server_are_not_repeated),
	    cmocka_unit_test(capabilities_without_their_flush_are_not_complete),
	    cmocka_unit_test(the_branch_is_found_among_others),
	    cmocka_unit_test(an_answer_without_the_branch_finds_nothing),
	    cmocka_unit_test(malformed_ref_lines_are_errors),
	    cmocka_unit_test(the_same_answer_twice_is_no_contradiction),
	    cmocka_unit_test(refs_before_the_capabilities_are_an_error),
	    cmocka_unit_test(the_number_of_refs_is_capped),
	    cmocka_unit_test(only_branch_names_are_asked_about),
	    cmocka_unit_test(the_request_asks_for_one_prefix),
	    cmocka_unit_test(urls_are_taken_apart),
	    cmocka_unit_test(other_urls_are_not_asked),
	};
	int failed;

	git_libgit2_init(); /* the ref name check allocates through libgit2 */
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return failed;
}
