/* Unit tests of secrets/age.c and secrets/identity.c: HKDF, Bech32, header
 * rejections and the payload chunk rules on files built here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "secrets/age.h"
#include "secrets/age_header.h"
#include "secrets/age_hkdf.h"
#include "secrets/identity.h"
#include "tests/unit/age_build.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void hex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sscanf(s + 2 * i, "%2hhx", &out[i]);
}

static void test_hkdf_rfc5869_case1(void **state)
{
	unsigned char ikm[22], salt[13], info[10], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	hex("000102030405060708090a0b0c", salt, sizeof(salt));
	hex("f0f1f2f3f4f5f6f7f8f9", info, sizeof(info));
	hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
	    want, sizeof(want));
	assert_int_equal(age_hkdf_sha256(salt, sizeof(salt), ikm, sizeof(ikm), info, sizeof(info),
					 okm, sizeof(okm)),
			 0);
	assert_memory_equal(okm, want, sizeof(want));
}

static void test_hkdf_rfc5869_case3_empty_salt(void **state)
{
	unsigned char ikm[22], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
	    want, sizeof(want));
	assert_int_equal(age_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, okm, sizeof(okm)), 0);
	assert_memory_equal(okm, want, sizeof(want));
}

static void test_bech32_identity_and_recipient(void **state)
{
	struct age_identities ids = {0};
	struct err e = {{0}};
	char age1[128], ssh[128];
	const char *text = "# created: today\n" TEST_SECRET "\n";

	assert_int_equal(identity_parse(&ids, "t", text, strlen(text), &e), 0);
	assert_int_equal(ids.n, 1);
	assert_int_equal(identity_recipient(ids.keys[0], age1, sizeof(age1), ssh, sizeof(ssh), &e),
			 0);
	assert_string_equal(age1, TEST_PUBLIC);
	assert_string_equal(ssh, "");
	identities_release(&ids);
}

static void test_bech32_rejects_bad_checksum_and_mixed_case(void **state)
{
	struct age_identities ids = {0};
	struct err e = {{0}};
	char bad[] = TEST_SECRET "\n";
	char hrp[16];
	unsigned char data[64];
	size_t n;

	bad[40] = bad[40] == 'Q' ? 'P' : 'Q'; /* one character changed */
	assert_int_equal(identity_parse(&ids, "t", bad, strlen(bad), &e), -1);
	assert_non_null(strstr(e.msg, "not a valid AGE-SECRET-KEY-1"));
	assert_int_equal(bech32_decode("A12UEL5L", hrp, sizeof(hrp), data, sizeof(data), &n), 0);
	assert_string_equal(hrp, "a");
	assert_int_equal(n, 0);
	assert_int_equal(bech32_decode("A12uEL5L", hrp, sizeof(hrp), data, sizeof(data), &n), -1);
	assert_int_equal(bech32_decode("a12uel5m", hrp, sizeof(hrp), data, sizeof(data), &n), -1);
	assert_int_equal(bech32_decode(TEST_PUBLIC, hrp, sizeof(hrp), data, sizeof(data), &n), 0);
	assert_string_equal(hrp, "age");
	assert_int_equal(n, 32);
}

static void test_bech32_roundtrip(void **state)
{
	unsigned char in[32], out[32];
	char s[128], hrp[16];
	size_t n;

	for (int i = 0; i < 32; i++)
		in[i] = (unsigned char)(i * 7 + 3);
	assert_int_equal(bech32_encode("age", in, sizeof(in), s, sizeof(s)), 0);
	assert_int_equal(bech32_decode(s, hrp, sizeof(hrp), out, sizeof(out), &n), 0);
	assert_int_equal(n, 32);
	assert_memory_equal(in, out, 32);
	assert_int_equal(bech32_encode("age", in, sizeof(in), s, 20), -1);
}

struct sink {
	size_t len;
};

static int count_write(void *ctx, const void *buf, size_t len, struct err *e)
{
	((struct sink *)ctx)->len += len;
	return 0;
}

static enum age_status run(const struct built *b, size_t *out_len, struct err *e)
{
	struct age_identities ids = {0};
	struct age_source src = {.fd = -1, .data = b->buf, .len = b->len};
	struct sink s = {0};
	enum age_status st;

	assert_int_equal(identity_parse(&ids, "t", TEST_SECRET, strlen(TEST_SECRET), e), 0);
	st = age_decrypt(&src, count_write, &s, &ids, e);
	identities_release(&ids);
	*out_len = s.len;
	return st;
}

static void test_chunks_valid(void **state)
{
	const struct chunk one_short[] = {{100, 1}};
	const struct chunk empty[] = {{0, 1}};
	const struct chunk full_final[] = {{AGE_CHUNK, 0}, {AGE_CHUNK, 1}};
	const struct chunk many[] = {{AGE_CHUNK, 0}, {AGE_CHUNK, 0}, {AGE_CHUNK, 0}, {5, 1}};
	struct err e = {{0}};
	size_t n;
	struct built b;

	b = build(one_short, 1, NULL);
	assert_int_equal(run(&b, &n, &e), AGE_OK);
	assert_int_equal(n, 100);
	free(b.buf);
	b = build(empty, 1, NULL);
	assert_int_equal(run(&b, &n, &e), AGE_OK);
	assert_int_equal(n, 0);
	free(b.buf);
	b = build(full_final, 2, NULL);
	assert_int_equal(run(&b, &n, &e), AGE_OK);
	assert_int_equal(n, 2 * AGE_CHUNK);
	free(b.buf);
	b = build(many, 4, "-> grease-me a b c\n\n");
	assert_int_equal(run(&b, &n, &e), AGE_OK);
	assert_int_equal(n, 3 * AGE_CHUNK + 5);
	free(b.buf);
}

static void expect_payload_error(const struct chunk *c, size_t nc, const char *msg)
{
	struct err e = {{0}};
	struct built b = build(c, nc, NULL);
	size_t n;

	assert_int_equal(run(&b, &n, &e), AGE_ERR_PAYLOAD);
	if (!strstr(e.msg, msg))
		fail_msg("'%s' not in '%s'", msg, e.msg);
	assert_int_equal(n, 0); /* nothing released */
	free(b.buf);
}

static void test_chunk_rules(void **state)
{
	const struct chunk no_last[] = {{AGE_CHUNK, 0}};
	const struct chunk empty_last[] = {{AGE_CHUNK, 0}, {0, 1}};
	const struct chunk last_then_more[] = {{AGE_CHUNK, 1}, {10, 1}};
	const struct chunk short_not_last[] = {{10, 0}};
	const struct chunk middle_short[] = {{10, 0}, {10, 1}};

	expect_payload_error(NULL, 0, "no chunk after the nonce");
	expect_payload_error(no_last, 1, "truncated after chunk 0 (no final chunk)");
	expect_payload_error(empty_last, 2, "empty final chunk 1");
	expect_payload_error(last_then_more, 2, "trailing data after the final chunk (0)");
	expect_payload_error(short_not_last, 1, "chunk 0 failed to authenticate");
	expect_payload_error(middle_short, 2, "chunk 0 failed to authenticate");
}

static void expect_header_error(const char *text, const char *msg)
{
	struct age_header h;
	struct err e = {{0}};

	assert_int_equal(age_header_parse((const unsigned char *)text, strlen(text), &h, &e),
			 AGE_ERR_HEADER);
	if (!strstr(e.msg, msg))
		fail_msg("'%s' not in '%s' for %s", msg, e.msg, text);
}

#define MAC   "--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
#define SHARE "fJpKFnVpB3NKrhVSNIGZeLOWrI2lKWRoBMQ+EtKYaAo"
#define BODY  "m5wVmhAh8SWiI3+2GCK9eljPLS7b3sTUzDR3TDIFMYM"

static void test_header_accepts(void **state)
{
	struct age_header h;
	struct err e = {{0}};
	const char *ok =
	    "age-encryption.org/v1\n-> X25519 " SHARE "\n" BODY "\n"
	    "-> x y\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n\n" MAC "payload";

	assert_int_equal(age_header_parse((const unsigned char *)ok, strlen(ok), &h, &e), AGE_OK);
	assert_int_equal(h.nstanzas, 2);
	assert_int_equal(h.stanzas[1].body_len, 48);
	assert_int_equal(h.len, strlen(ok) - 7);
	assert_int_equal(h.mac_input_len, strlen(ok) - 7 - 45);
	age_header_release(&h);
}

static void test_header_rejections(void **state)
{
	expect_header_error("age-encryption.org/v2\n", "not an age file");
	expect_header_error("age-encryption.org/v1\n" MAC, "no recipient stanza");
	expect_header_error("age-encryption.org/v1\n-> X25519 " SHARE "\n" BODY "\n", "truncated");
	expect_header_error("age-encryption.org/v1\r\n-> X25519 " SHARE "\n" BODY "\n" MAC,
			    "not an age file");
	expect_header_error("age-encryption.org/v1\n-> X25519 " SHARE "\n" BODY "\nhello\n" MAC,
			    "expected a stanza");
	expect_header_error("age-encryption.org/v1\n-> X25519  " SHARE "\n" BODY "\n" MAC,
			    "empty stanza argument");
	expect_header_error("age-encryption.org/v1\n-> X25519 " SHARE " \n" BODY "\n" MAC,
			    "empty stanza argument");
	expect_header_error("age-encryption.org/v1\n-> X25519 " SHARE "\r\n" BODY "\n" MAC,
			    "invalid character");
	/* Non-canonical base64: the last character's unused bits are not zero. */
	expect_header_error("age-encryption.org/v1\n-> X25519 " SHARE "\n"
			    "m5wVmhAh8SWiI3+2GCK9eljPLS7b3sTUzDR3TDIFMYN\n" MAC,
			    "non-canonical");
	expect_header_error("age-encryption.org/v1\n-> X25519 " SHARE "\n" BODY "=\n" MAC,
			    "invalid base64");
	/* A body line of exactly 64 columns must be followed by another line. */
	expect_header_error(
	    "age-encryption.org/v1\n-> x\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n" MAC,
	    "invalid base64");
	expect_header_error("age-encryption.org/v1\n-> X25519 " SHARE "\n" BODY "\n"
			    "--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA \n",
			    "invalid MAC line");
	expect_header_error("age-encryption.org/v1\n-> X25519 " SHARE "\n" BODY "AAAA\n" MAC,
			    "invalid X25519 stanza");
	expect_header_error("age-encryption.org/v1\n-> X25519\n" BODY "\n" MAC,
			    "invalid X25519 stanza");
	expect_header_error("age-encryption.org/v1\n-> scrypt AAAAAAAAAAAAAAAAAAAAAA 018\n" BODY
			    "\n" MAC,
			    "invalid scrypt stanza");
	expect_header_error("age-encryption.org/v1\n-> scrypt AAAAAAAAAAAAAAAAAAAAAA 18\n" BODY
			    "\n-> X25519 " SHARE "\n" BODY "\n" MAC,
			    "must be the only stanza");
}

static void test_header_caps(void **state)
{
	size_t cap = 70 * 1024;
	char *big = malloc(cap + 1);
	struct age_header h;
	struct err e = {{0}};
	size_t pos;

	/* More than 64 stanzas. */
	pos = (size_t)sprintf(big, "age-encryption.org/v1\n");
	for (int i = 0; i < AGE_MAX_STANZAS + 1; i++)
		pos += (size_t)sprintf(big + pos, "-> a\n\n");
	pos += (size_t)sprintf(big + pos, MAC);
	assert_int_equal(age_header_parse((unsigned char *)big, pos, &h, &e), AGE_ERR_HEADER);
	assert_non_null(strstr(e.msg, "too many stanzas"));
	/* A header over 64 KiB. */
	pos = (size_t)sprintf(big, "age-encryption.org/v1\n-> a\n");
	while (pos < cap - 100)
		pos += (size_t)sprintf(big + pos, "%064d\n", 0);
	pos += (size_t)sprintf(big + pos, "\n" MAC);
	assert_int_equal(age_header_parse((unsigned char *)big, pos, &h, &e), AGE_ERR_HEADER);
	assert_non_null(strstr(e.msg, "larger than 64 KiB"));
	free(big);
}

static void test_header_mac_mismatch(void **state)
{
	const struct chunk one[] = {{10, 1}};
	struct built b = build(one, 1, "-> grease x\n\n");
	struct err e = {{0}};
	size_t n;
	unsigned char *g = memmem(b.buf, b.len, "grease x", 8);

	assert_non_null(g);
	g[7] = 'y';
	assert_int_equal(run(&b, &n, &e), AGE_ERR_MAC);
	assert_non_null(strstr(e.msg, "header MAC mismatch"));
	assert_int_equal(n, 0);
	free(b.buf);
}

static void test_not_for_us(void **state)
{
	const struct chunk one[] = {{10, 1}};
	struct built b = build(one, 1, NULL);
	struct age_identities ids = {0};
	struct age_source src = {.fd = -1, .data = b.buf, .len = b.len};
	struct sink s = {0};
	struct err e = {{0}};
	char other[128];
	unsigned char sk[32];

	randombytes_buf(sk, sizeof(sk));
	bech32_encode("age-secret-key-", sk, 32, other, sizeof(other));
	for (char *p = other; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	assert_int_equal(identity_parse(&ids, "t", other, strlen(other), &e), 0);
	assert_int_equal(age_decrypt(&src, count_write, &s, &ids, &e), AGE_ERR_NO_IDENTITY);
	assert_non_null(strstr(e.msg, "not encrypted to any of our identities"));
	assert_int_equal(s.len, 0);
	identities_release(&ids);
	free(b.buf);
}

/* A file whose header is given (MAC not checked before the stanza fails). */
static enum age_status decrypt_text(const char *text, const char *passphrase, struct err *e)
{
	struct age_identities ids = {0};
	struct age_source src = {
	    .fd = -1, .data = (const unsigned char *)text, .len = strlen(text)};
	struct sink s = {0};
	enum age_status st;

	assert_int_equal(identity_parse(&ids, "t", TEST_SECRET, strlen(TEST_SECRET), e), 0);
	if (passphrase) {
		ids.passphrase = sodium_malloc(strlen(passphrase) + 1);
		strcpy(ids.passphrase, passphrase);
		ids.passphrase_len = strlen(passphrase);
	}
	st = age_decrypt(&src, count_write, &s, &ids, e);
	identities_release(&ids);
	assert_int_equal(s.len, 0);
	return st;
}

static void test_scrypt_work_factor_cap(void **state)
{
	struct err e = {{0}};

	assert_int_equal(
	    decrypt_text("age-encryption.org/v1\n-> scrypt AAAAAAAAAAAAAAAAAAAAAA 23\n" BODY
			 "\n" MAC "0123456789abcdef",
			 "pw", &e),
	    AGE_ERR_UNSUPPORTED);
	assert_non_null(strstr(e.msg, "scrypt work factor 2^23 exceeds the limit of 2^22"));
	assert_int_equal(
	    decrypt_text("age-encryption.org/v1\n-> scrypt AAAAAAAAAAAAAAAAAAAAAA 10\n" BODY
			 "\n" MAC "0123456789abcdef",
			 NULL, &e),
	    AGE_ERR_NO_IDENTITY);
	assert_non_null(strstr(e.msg, "encrypted with a passphrase; none was given"));
}

static void test_low_order_share(void **state)
{
	struct err e = {{0}};

	/* The all-zero point: X25519 with it yields zero. */
	assert_int_equal(decrypt_text("age-encryption.org/v1\n-> X25519 "
				      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n" BODY "\n" MAC
				      "0123456789abcdef",
				      NULL, &e),
			 AGE_ERR_HEADER);
	assert_non_null(strstr(e.msg, "low-order point"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hkdf_rfc5869_case1),
	    cmocka_unit_test(test_hkdf_rfc5869_case3_empty_salt),
	    cmocka_unit_test(test_bech32_identity_and_recipient),
	    cmocka_unit_test(test_bech32_rejects_bad_checksum_and_mixed_case),
	    cmocka_unit_test(test_bech32_roundtrip),
	    cmocka_unit_test(test_chunks_valid),
	    cmocka_unit_test(test_chunk_rules),
	    cmocka_unit_test(test_header_accepts),
	    cmocka_unit_test(test_header_rejections),
	    cmocka_unit_test(test_header_caps),
	    cmocka_unit_test(test_header_mac_mismatch),
	    cmocka_unit_test(test_not_for_us),
	    cmocka_unit_test(test_scrypt_work_factor_cap),
	    cmocka_unit_test(test_low_order_share),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
