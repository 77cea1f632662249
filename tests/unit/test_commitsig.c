/* pull/commitsig: finding a commit's signature where git finds it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "pull/commitsig.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define HEAD                                                                                       \
	"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"                                          \
	"author Ada <ada@example.com> 1700000000 +0000\n"                                          \
	"committer Ada <ada@example.com> 1700000000 +0000\n"
#define SIG                                                                                        \
	"gpgsig -----BEGIN SSH SIGNATURE-----\n"                                                   \
	" AAAA\n"                                                                                  \
	" -----END SSH SIGNATURE-----\n"
#define ARMOR "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"
#define BODY  "\nversion 1\n"

static void split_ok(const char *obj, struct commitsig *cs)
{
	struct err e = {{0}};

	if (commitsig_split(obj, strlen(obj), cs, &e) != 0)
		fail_msg("commitsig_split: %s", e.msg);
}

static void assert_payload(const struct commitsig *cs, const char *want)
{
	assert_int_equal(cs->payload_len, strlen(want));
	assert_memory_equal(cs->payload, want, cs->payload_len);
}

static void header_signature_is_split_off(void **state)
{
	struct commitsig cs;

	split_ok(HEAD SIG BODY, &cs);
	assert_non_null(cs.signature);
	assert_string_equal(cs.signature, ARMOR);
	assert_payload(&cs, HEAD BODY);
	commitsig_release(&cs);
}

static void unsigned_commit_has_no_signature(void **state)
{
	struct commitsig cs;

	split_ok(HEAD BODY, &cs);
	assert_null(cs.signature);
	assert_payload(&cs, HEAD BODY);
	commitsig_release(&cs);
}

static void signature_in_the_body_is_message_text(void **state)
{
	struct commitsig cs;

	split_ok(HEAD "\n" SIG "version 1\n", &cs);
	assert_null(cs.signature);
	assert_payload(&cs, HEAD "\n" SIG "version 1\n");
	commitsig_release(&cs);
}

static void nul_byte_is_refused(void **state)
{
	static const char obj[] = HEAD SIG BODY "\0hidden\n";
	struct commitsig cs;
	struct err e = {{0}};

	assert_int_equal(commitsig_split(obj, sizeof(obj) - 1, &cs, &e), -1);
	assert_non_null(strstr(e.msg, "NUL byte"));
	commitsig_release(&cs);
}

static void two_gpgsig_headers_are_refused(void **state)
{
	static const char obj[] = HEAD SIG SIG BODY;
	struct commitsig cs;
	struct err e = {{0}};

	assert_int_equal(commitsig_split(obj, strlen(obj), &cs, &e), -1);
	assert_non_null(strstr(e.msg, "two gpgsig headers"));
	commitsig_release(&cs);
}

static void gpgsig_sha256_is_left_out_of_the_payload(void **state)
{
	struct commitsig cs;

	split_ok(HEAD SIG "gpgsig-sha256 -----BEGIN SSH SIGNATURE-----\n BBBB\n "
			  "-----END SSH SIGNATURE-----\n" BODY,
		 &cs);
	assert_string_equal(cs.signature, ARMOR);
	assert_payload(&cs, HEAD BODY);
	commitsig_release(&cs);

	split_ok(HEAD "gpgsig-sha256 x\n y\n" SIG "encoding ISO-8859-1\n" BODY, &cs);
	assert_string_equal(cs.signature, ARMOR);
	assert_payload(&cs, HEAD "encoding ISO-8859-1\n" BODY);
	commitsig_release(&cs);
}

static void only_gpgsig_sha256_is_unsigned(void **state)
{
	struct commitsig cs;

	split_ok(HEAD "gpgsig-sha256 -----BEGIN SSH SIGNATURE-----\n AAAA\n" BODY, &cs);
	assert_null(cs.signature);
	assert_payload(&cs, HEAD BODY);
	commitsig_release(&cs);
}

static void digest_ignores_how_the_signature_is_wrapped(void **state)
{
	char a[COMMITSIG_DIGEST_HEX], b[COMMITSIG_DIGEST_HEX], c[COMMITSIG_DIGEST_HEX];
	struct commitsig cs;

	split_ok(HEAD SIG BODY, &cs);
	commitsig_digest(&cs, a);
	commitsig_release(&cs);
	split_ok(HEAD "gpgsig -----BEGIN SSH SIGNATURE-----\n AA\n AA\n -----END SSH "
		      "SIGNATURE-----\n" BODY,
		 &cs);
	commitsig_digest(&cs, b);
	commitsig_release(&cs);
	split_ok(HEAD SIG "\nversion 2\n", &cs);
	commitsig_digest(&cs, c);
	commitsig_release(&cs);
	assert_int_equal(strlen(a), 64);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
}

static void header_without_message_and_without_final_newline(void **state)
{
	struct commitsig cs;

	split_ok("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904", &cs);
	assert_null(cs.signature);
	assert_payload(&cs, "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904");
	commitsig_release(&cs);
	split_ok(HEAD "gpgsig x", &cs);
	assert_string_equal(cs.signature, "x");
	assert_payload(&cs, HEAD);
	commitsig_release(&cs);
}

static void oversized_object_is_refused(void **state)
{
	size_t len = COMMITSIG_MAX_BYTES + 1;
	char *big = malloc(len);
	struct commitsig cs;
	struct err e = {{0}};

	assert_non_null(big);
	memset(big, 'a', len);
	assert_int_equal(commitsig_split(big, len, &cs, &e), -1);
	assert_non_null(strstr(e.msg, "larger than"));
	commitsig_release(&cs);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(header_signature_is_split_off),
	    cmocka_unit_test(unsigned_commit_has_no_signature),
	    cmocka_unit_test(signature_in_the_body_is_message_text),
	    cmocka_unit_test(nul_byte_is_refused),
	    cmocka_unit_test(two_gpgsig_headers_are_refused),
	    cmocka_unit_test(gpgsig_sha256_is_left_out_of_the_payload),
	    cmocka_unit_test(only_gpgsig_sha256_is_unsigned),
	    cmocka_unit_test(digest_ignores_how_the_signature_is_wrapped),
	    cmocka_unit_test(header_without_message_and_without_final_newline),
	    cmocka_unit_test(oversized_object_is_refused),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
