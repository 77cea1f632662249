/* pull/sshsig: parsing and verifying SSH signatures as git writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "pull/sshsig.h"
#include "tests/unit/fixtures.h"

#include <sodium.h>
#include <string.h>

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("'%s' does not contain '%s'", (hay), (needle));                   \
	} while (0)

/* A small wire-format writer for building signatures by hand. */
struct buf {
	uint8_t b[4096];
	size_t n;
};

static void put_u32(struct buf *b, uint32_t v)
{
	b->b[b->n++] = (uint8_t)(v >> 24);
	b->b[b->n++] = (uint8_t)(v >> 16);
	b->b[b->n++] = (uint8_t)(v >> 8);
	b->b[b->n++] = (uint8_t)v;
}

static void put_raw(struct buf *b, const void *p, size_t len)
{
	memcpy(b->b + b->n, p, len);
	b->n += len;
}

static void put_str(struct buf *b, const void *p, size_t len)
{
	put_u32(b, (uint32_t)len);
	put_raw(b, p, len);
}

static void put_cstr(struct buf *b, const char *s)
{
	put_str(b, s, strlen(s));
}

/* Armors a blob, wrapping the base64 at the given column. */
static void armor(const struct buf *blob, int wrap, char *out, size_t outsz)
{
	char b64[8192];
	size_t len, o = 0;

	sodium_bin2base64(b64, sizeof(b64), blob->b, blob->n, sodium_base64_VARIANT_ORIGINAL);
	len = strlen(b64);
	o += (size_t)snprintf(out + o, outsz - o, "-----BEGIN SSH SIGNATURE-----\n");
	for (size_t i = 0; i < len; i += (size_t)wrap)
		o += (size_t)snprintf(out + o, outsz - o, "%.*s\n", wrap, b64 + i);
	snprintf(out + o, outsz - o, "-----END SSH SIGNATURE-----\n");
}

/* Decodes one of the fixtures back into its blob. */
static void dearmor(const char *text, struct buf *blob)
{
	const char *body = strchr(text, '\n') + 1;
	const char *end = strstr(text, "-----END");

	assert_int_equal(sodium_base642bin(blob->b, sizeof(blob->b), body, (size_t)(end - body),
					   "\n", &blob->n, NULL, sodium_base64_VARIANT_ORIGINAL),
			 0);
}

static int parse_str(const char *text, struct sshsig *sig, struct err *e)
{
	return sshsig_parse(text, strlen(text), sig, e);
}

static void good_signature_verifies(void **state)
{
	struct sshsig sig;
	struct err e = {""};

	assert_int_equal(parse_str(fx_sig_git, &sig, &e), 0);
	assert_int_equal(sig.key.type, SSHKEY_ED25519);
	assert_string_equal(sig.namespace, "git");
	assert_string_equal(sig.hash_alg, "sha512");
	assert_int_equal(sshsig_verify(&sig, "git", fx_msg, strlen(fx_msg), &e), 0);
}

static void sha256_signature_verifies(void **state)
{
	struct sshsig sig;
	struct err e = {""};

	assert_int_equal(parse_str(fx_sig_sha256, &sig, &e), 0);
	assert_string_equal(sig.hash_alg, "sha256");
	assert_int_equal(sshsig_verify(&sig, "git", fx_msg, strlen(fx_msg), &e), 0);
}

static void flipped_message_byte_fails(void **state)
{
	struct sshsig sig;
	struct err e = {""};
	char msg[sizeof(fx_msg)];

	memcpy(msg, fx_msg, sizeof(msg));
	msg[60] ^= 0x01;
	assert_int_equal(parse_str(fx_sig_git, &sig, &e), 0);
	assert_int_equal(sshsig_verify(&sig, "git", msg, strlen(msg), &e), -1);
	assert_contains(e.msg, "bad signature by ssh-ed25519 key " FX_ADA_FP);
}

static void flipped_signature_byte_fails(void **state)
{
	struct sshsig sig;
	struct err e = {""};

	assert_int_equal(parse_str(fx_sig_git, &sig, &e), 0);
	sig.sig[17] ^= 0x80;
	assert_int_equal(sshsig_verify(&sig, "git", fx_msg, strlen(fx_msg), &e), -1);
	assert_contains(e.msg, "bad signature");
}

static void flipped_byte_in_armored_signature_fails(void **state)
{
	struct sshsig sig;
	struct err e = {""};
	struct buf blob = {.n = 0};
	char text[4096];

	dearmor(fx_sig_git, &blob);
	blob.b[blob.n - 5] ^= 0x01; /* inside the 64 signature bytes */
	armor(&blob, 70, text, sizeof(text));
	assert_int_equal(parse_str(text, &sig, &e), 0);
	assert_int_equal(sshsig_verify(&sig, "git", fx_msg, strlen(fx_msg), &e), -1);
}

static void empty_message_fails(void **state)
{
	struct sshsig sig;
	struct err e = {""};

	assert_int_equal(parse_str(fx_sig_git, &sig, &e), 0);
	assert_int_equal(sshsig_verify(&sig, "git", "", 0, &e), -1);
}

static void wrong_namespace_refused(void **state)
{
	struct sshsig sig;
	struct err e = {""};

	assert_int_equal(parse_str(fx_sig_file, &sig, &e), 0);
	assert_string_equal(sig.namespace, "file");
	assert_int_equal(sshsig_verify(&sig, "git", fx_msg, strlen(fx_msg), &e), -1);
	assert_string_equal(e.msg, "signature namespace is 'file', expected 'git'");
	/* The signature itself is good: only the namespace makes it unusable. */
	assert_int_equal(sshsig_verify(&sig, "file", fx_msg, strlen(fx_msg), &e), 0);
}

static void rsa_refused_with_type_named(void **state)
{
	struct sshsig sig;
	struct err e = {""};

	assert_int_equal(parse_str(fx_sig_rsa, &sig, &e), -1);
	assert_string_equal(e.msg, "signed with an ssh-rsa key; cim-agent can verify only "
				   "ssh-ed25519 and sk-ssh-ed25519@openssh.com keys");
}

static void gpg_signature_refused(void **state)
{
	struct sshsig sig;
	struct err e = {""};

	assert_int_equal(parse_str(fx_sig_gpg, &sig, &e), -1);
	assert_string_equal(e.msg, "signature is a GPG (OpenPGP) signature; cim-agent only "
				   "accepts SSH signatures");
}

static void x509_signature_refused(void **state)
{
	static const char smime[] = "-----BEGIN SIGNED MESSAGE-----\nMIAGCSqGSIb3DQEHAqCAMIAC\n"
				    "-----END SIGNED MESSAGE-----\n";
	struct sshsig sig;
	struct err e = {""};

	assert_int_equal(parse_str(smime, &sig, &e), -1);
	assert_contains(e.msg, "X.509");
}

static void any_wrapping_accepted(void **state)
{
	struct sshsig sig;
	struct err e = {""};
	struct buf blob = {.n = 0};
	char text[4096];

	dearmor(fx_sig_git, &blob);
	armor(&blob, 76, text, sizeof(text));
	assert_int_equal(parse_str(text, &sig, &e), 0);
	assert_int_equal(sshsig_verify(&sig, "git", fx_msg, strlen(fx_msg), &e), 0);
	armor(&blob, 4000, text, sizeof(text));
	assert_int_equal(parse_str(text, &sig, &e), 0);
	assert_int_equal(sshsig_verify(&sig, "git", fx_msg, strlen(fx_msg), &e), 0);
}

static void signature_without_trailing_newline_accepted(void **state)
{
	struct sshsig sig;
	struct err e = {""};

	/* git_commit_extract_signature() drops the final newline. */
	assert_int_equal(sshsig_parse(fx_sig_git, strlen(fx_sig_git) - 1, &sig, &e), 0);
}

static void truncated_blob_refused(void **state)
{
	struct sshsig sig;
	struct err e = {""};
	struct buf blob = {.n = 0};
	char text[4096];

	dearmor(fx_sig_git, &blob);
	blob.n -= 1;
	armor(&blob, 70, text, sizeof(text));
	assert_int_equal(parse_str(text, &sig, &e), -1);
	assert_contains(e.msg, "truncated");
	blob.n = 20;
	armor(&blob, 70, text, sizeof(text));
	assert_int_equal(parse_str(text, &sig, &e), -1);
	assert_contains(e.msg, "truncated");
}

static void trailing_garbage_refused(void **state)
{
	struct sshsig sig;
	struct err e = {""};
	struct buf blob = {.n = 0};
	char text[4096];

	dearmor(fx_sig_git, &blob);
	blob.b[blob.n++] = 0;
	armor(&blob, 70, text, sizeof(text));
	assert_int_equal(parse_str(text, &sig, &e), -1);
	assert_string_equal(e.msg, "SSH signature has 1 bytes of trailing data");
}

static void text_after_end_line_refused(void **state)
{
	struct sshsig sig;
	struct err e = {""};
	char text[4096];

	snprintf(text, sizeof(text), "%sextra\n", fx_sig_git);
	assert_int_equal(parse_str(text, &sig, &e), -1);
	assert_contains(e.msg, "after");
}

static void missing_end_line_refused(void **state)
{
	struct sshsig sig;
	struct err e = {""};

	assert_int_equal(sshsig_parse(fx_sig_git, 100, &sig, &e), -1);
	assert_contains(e.msg, "END SSH SIGNATURE");
}

static void bad_base64_refused(void **state)
{
	struct sshsig sig;
	struct err e = {""};
	char text[4096];

	snprintf(text, sizeof(text), "%s", fx_sig_git);
	text[40] = '*';
	assert_int_equal(parse_str(text, &sig, &e), -1);
	assert_contains(e.msg, "base64");
}

static void version_2_refused(void **state)
{
	struct sshsig sig;
	struct err e = {""};
	struct buf blob = {.n = 0};
	char text[4096];

	dearmor(fx_sig_git, &blob);
	blob.b[9] = 2; /* low byte of the version after "SSHSIG" */
	armor(&blob, 70, text, sizeof(text));
	assert_int_equal(parse_str(text, &sig, &e), -1);
	assert_contains(e.msg, "version 2");
}

static void oversized_input_refused(void **state)
{
	static char big[SSHSIG_MAX_ARMORED + 2];
	struct sshsig sig;
	struct err e = {""};

	memset(big, ' ', sizeof(big));
	memcpy(big, fx_sig_git, strlen(fx_sig_git));
	assert_int_equal(sshsig_parse(big, sizeof(big), &sig, &e), -1);
	assert_contains(e.msg, "limit");
}

/* Builds an SSHSIG blob field by field; NULL sigblob means a valid-looking
 * Ed25519 signature of zeros. */
static void build(struct buf *b, const struct buf *pk, const char *ns, const char *hash,
		  const struct buf *sigblob)
{
	b->n = 0;
	put_raw(b, "SSHSIG", 6);
	put_u32(b, 1);
	put_str(b, pk->b, pk->n);
	put_cstr(b, ns);
	put_cstr(b, "");
	put_cstr(b, hash);
	put_str(b, sigblob->b, sigblob->n);
}

static void ed25519_pk(struct buf *pk, const char *type)
{
	uint8_t key[32] = {1, 2, 3};

	pk->n = 0;
	put_cstr(pk, type);
	put_str(pk, key, sizeof(key));
}

static void ed25519_sigblob(struct buf *s, const char *type, size_t siglen)
{
	uint8_t zero[128] = {0};

	s->n = 0;
	put_cstr(s, type);
	put_str(s, zero, siglen);
}

static int parse_built(const struct buf *blob, struct sshsig *sig, struct err *e)
{
	static char text[8192];

	armor(blob, 70, text, sizeof(text));
	return parse_str(text, sig, e);
}

static void empty_namespace_refused(void **state)
{
	struct buf pk, s, blob;
	struct sshsig sig;
	struct err e = {""};

	ed25519_pk(&pk, "ssh-ed25519");
	ed25519_sigblob(&s, "ssh-ed25519", 64);
	build(&blob, &pk, "git", "sha512", &s);
	assert_int_equal(parse_built(&blob, &sig, &e), 0);
	build(&blob, &pk, "", "sha512", &s);
	assert_int_equal(parse_built(&blob, &sig, &e), -1);
	assert_contains(e.msg, "empty namespace");
}

static void unknown_hash_refused(void **state)
{
	struct buf pk, s, blob;
	struct sshsig sig;
	struct err e = {""};

	ed25519_pk(&pk, "ssh-ed25519");
	ed25519_sigblob(&s, "ssh-ed25519", 64);
	build(&blob, &pk, "git", "sha1", &s);
	assert_int_equal(parse_built(&blob, &sig, &e), -1);
	assert_string_equal(e.msg, "SSH signature uses unknown hash algorithm 'sha1'");
}

static void signature_type_must_match_key(void **state)
{
	struct buf pk, s, blob;
	struct sshsig sig;
	struct err e = {""};

	ed25519_pk(&pk, "ssh-ed25519");
	ed25519_sigblob(&s, "rsa-sha2-512", 64);
	build(&blob, &pk, "git", "sha512", &s);
	assert_int_equal(parse_built(&blob, &sig, &e), -1);
	assert_string_equal(e.msg, "signature type is rsa-sha2-512 but the key is ssh-ed25519");
}

static void signature_length_must_be_64(void **state)
{
	struct buf pk, s, blob;
	struct sshsig sig;
	struct err e = {""};

	ed25519_pk(&pk, "ssh-ed25519");
	ed25519_sigblob(&s, "ssh-ed25519", 63);
	build(&blob, &pk, "git", "sha512", &s);
	assert_int_equal(parse_built(&blob, &sig, &e), -1);
	assert_contains(e.msg, "63 bytes, expected 64");
	ed25519_sigblob(&s, "ssh-ed25519", 65);
	build(&blob, &pk, "git", "sha512", &s);
	assert_int_equal(parse_built(&blob, &sig, &e), -1);
	assert_contains(e.msg, "65 bytes, expected 64");
}

static void ecdsa_and_certificates_refused_with_type_named(void **state)
{
	struct buf pk, s, blob;
	struct sshsig sig;
	struct err e = {""};

	ed25519_pk(&pk, "ecdsa-sha2-nistp256");
	ed25519_sigblob(&s, "ecdsa-sha2-nistp256", 64);
	build(&blob, &pk, "git", "sha512", &s);
	assert_int_equal(parse_built(&blob, &sig, &e), -1);
	assert_contains(e.msg, "signed with an ecdsa-sha2-nistp256 key");

	ed25519_pk(&pk, "sk-ecdsa-sha2-nistp256@openssh.com");
	build(&blob, &pk, "git", "sha512", &s);
	assert_int_equal(parse_built(&blob, &sig, &e), -1);
	assert_contains(e.msg, "signed with an sk-ecdsa-sha2-nistp256@openssh.com key");

	ed25519_pk(&pk, "ssh-ed25519-cert-v01@openssh.com");
	build(&blob, &pk, "git", "sha512", &s);
	assert_int_equal(parse_built(&blob, &sig, &e), -1);
	assert_contains(e.msg, "ssh-ed25519-cert-v01@openssh.com certificate");
}

static void key_text_parses_and_matches_signature(void **state)
{
	struct sshkey key;
	struct sshsig sig;
	struct err e = {""};
	uint8_t blob[SSHKEY_BLOB_MAX];
	char b64[256];

	assert_int_equal(sshkey_parse_text(FX_ADA_TYPE, FX_ADA_B64, &key, &e), 0);
	assert_int_equal(parse_str(fx_sig_git, &sig, &e), 0);
	assert_true(sshkey_equal(&key, &sig.key));
	/* The blob serialises back to the same text. */
	sodium_bin2base64(b64, sizeof(b64), blob, sshkey_blob(&key, blob),
			  sodium_base64_VARIANT_ORIGINAL);
	assert_string_equal(b64, FX_ADA_B64);
	key.pk[0] ^= 1;
	assert_false(sshkey_equal(&key, &sig.key));
}

static void fingerprint_matches_ssh_keygen(void **state)
{
	struct sshkey key;
	struct err e = {""};
	char fp[SSHKEY_FP_SIZE];

	assert_int_equal(sshkey_parse_text(FX_ADA_TYPE, FX_ADA_B64, &key, &e), 0);
	sshkey_fingerprint(&key, fp);
	assert_string_equal(fp, FX_ADA_FP);
}

static void key_text_errors(void **state)
{
	struct sshkey key;
	struct err e = {""};
	bool supported = true;

	assert_int_equal(sshkey_parse_text("ssh-rsa", FX_RSA_B64, &key, &e), -1);
	assert_contains(e.msg, "ssh-rsa");
	assert_int_equal(sshkey_parse_text("sk-ssh-ed25519@openssh.com", FX_ADA_B64, &key, &e), -1);
	assert_string_equal(e.msg, "key is labelled sk-ssh-ed25519@openssh.com but its blob "
				   "says ssh-ed25519");
	assert_int_equal(
	    sshkey_parse_text(FX_ADA_TYPE, "AAAAC3NzaC1lZDI1NTE5AAAAIAzC05HX!", &key, &e), -1);
	assert_contains(e.msg, "base64");
	/* Unpadded base64 is not what ssh-keygen writes. */
	assert_int_equal(
	    sshkey_parse_text("ecdsa-sha2-nistp256", "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY", &key, &e),
	    -1);
	/* A truncated blob (the 32-byte key cut short). */
	assert_int_equal(sshkey_parse_text(FX_ADA_TYPE, "AAAAC3NzaC1lZDI1NTE5AAAAIAzC", &key, &e),
			 -1);
	assert_contains(e.msg, "truncated");

	assert_int_equal(sshkey_parse_text_any("ssh-rsa", FX_RSA_B64, &key, &supported, &e), 0);
	assert_false(supported);
	assert_int_equal(
	    sshkey_parse_text_any("ecdsa-sha2-nistp256", FX_ECDSA_B64, &key, &supported, &e), 0);
	assert_false(supported);
	assert_int_equal(sshkey_parse_text_any("ssh-rsa", FX_ECDSA_B64, &key, &supported, &e), -1);
	assert_int_equal(sshkey_parse_text_any(FX_ADA_TYPE, FX_ADA_B64, &key, &supported, &e), 0);
	assert_true(supported);
}

/* No FIDO device here: build an sk-ssh-ed25519 signature with libsodium,
 * following PROTOCOL.u2f, and check it round-trips through parse/verify. */
static void make_sk_signature(char *text, size_t textsz, uint8_t flags, uint8_t sign_flags,
			      uint32_t counter)
{
	static const char app[] = "ssh:";
	uint8_t pk[32], sk[64], digest[64], sig[64], tosign[69];
	struct buf key = {.n = 0}, data = {.n = 0}, s = {.n = 0}, blob;

	/* A fixed seed keeps the vector reproducible. */
	uint8_t seed[32] = {42};
	crypto_sign_seed_keypair(pk, sk, seed);
	put_cstr(&key, "sk-ssh-ed25519@openssh.com");
	put_str(&key, pk, sizeof(pk));
	put_cstr(&key, app);

	crypto_hash_sha512(digest, (const uint8_t *)fx_msg, strlen(fx_msg));
	put_raw(&data, "SSHSIG", 6);
	put_cstr(&data, "git");
	put_cstr(&data, "");
	put_cstr(&data, "sha512");
	put_str(&data, digest, 64);

	crypto_hash_sha256(tosign, (const uint8_t *)app, strlen(app));
	tosign[32] = sign_flags;
	tosign[33] = (uint8_t)(counter >> 24);
	tosign[34] = (uint8_t)(counter >> 16);
	tosign[35] = (uint8_t)(counter >> 8);
	tosign[36] = (uint8_t)counter;
	crypto_hash_sha256(tosign + 37, data.b, data.n);
	crypto_sign_detached(sig, NULL, tosign, sizeof(tosign), sk);

	put_cstr(&s, "sk-ssh-ed25519@openssh.com");
	put_str(&s, sig, sizeof(sig));
	s.b[s.n++] = flags;
	put_u32(&s, counter);
	build(&blob, &key, "git", "sha512", &s);
	armor(&blob, 70, text, textsz);
}

static void sk_signature_verifies(void **state)
{
	char text[4096];
	struct sshsig sig;
	struct err e = {""};

	make_sk_signature(text, sizeof(text), 0x01, 0x01, 7);
	assert_int_equal(parse_str(text, &sig, &e), 0);
	assert_int_equal(sig.key.type, SSHKEY_SK_ED25519);
	assert_string_equal(sig.key.application, "ssh:");
	assert_int_equal(sig.flags, 0x01);
	assert_int_equal(sig.counter, 7);
	assert_int_equal(sshsig_verify(&sig, "git", fx_msg, strlen(fx_msg), &e), 0);
	/* A different message does not verify. */
	assert_int_equal(sshsig_verify(&sig, "git", fx_msg, strlen(fx_msg) - 1, &e), -1);
}

static void sk_signature_without_user_presence_refused(void **state)
{
	char text[4096];
	struct sshsig sig;
	struct err e = {""};

	/* Correctly signed, but the authenticator says nobody touched it. */
	make_sk_signature(text, sizeof(text), 0x00, 0x00, 7);
	assert_int_equal(parse_str(text, &sig, &e), 0);
	assert_int_equal(sshsig_verify(&sig, "git", fx_msg, strlen(fx_msg), &e), -1);
	assert_contains(e.msg, "without user presence");
}

static void sk_signature_with_altered_flags_or_counter_fails(void **state)
{
	char text[4096];
	struct sshsig sig;
	struct err e = {""};

	/* Signed with flags 0x00, claims 0x01: the flags are covered by the signature. */
	make_sk_signature(text, sizeof(text), 0x01, 0x00, 7);
	assert_int_equal(parse_str(text, &sig, &e), 0);
	assert_int_equal(sshsig_verify(&sig, "git", fx_msg, strlen(fx_msg), &e), -1);
	assert_contains(e.msg, "bad signature by sk-ssh-ed25519@openssh.com key");

	make_sk_signature(text, sizeof(text), 0x01, 0x01, 7);
	assert_int_equal(parse_str(text, &sig, &e), 0);
	sig.counter++;
	assert_int_equal(sshsig_verify(&sig, "git", fx_msg, strlen(fx_msg), &e), -1);
}

/* An sk-ssh-ed25519 signature built with libsodium (seed {7}, flags 0x01,
 * counter 3) over sk_msg, then checked independently with
 * `ssh-keygen -Y verify`, which printed the fingerprint below. */
static const char sk_msg[] = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\ninitial\n";
static const char sk_sig_checked_by_ssh_keygen[] =
    "-----BEGIN SSH SIGNATURE-----\n"
    "U1NIU0lHAAAAAQAAAEoAAAAac2stc3NoLWVkMjU1MTlAb3BlbnNzaC5jb20AAAAgovovSj\n"
    "VboukHpTAJ6eN8rd96x+ZqCLoHYx9VMHKz8kwAAAAEc3NoOgAAAANnaXQAAAAAAAAABnNo\n"
    "YTUxMgAAAGcAAAAac2stc3NoLWVkMjU1MTlAb3BlbnNzaC5jb20AAABA9DnBRYmWFo4s3T\n"
    "HdId/hGy4P8x+K1/QQNydXhpNgt34gLw+FOMD7DDRDfMtC+H/oUhOfB3amIxZUkCDkglFB\n"
    "BwEAAAAD\n"
    "-----END SSH SIGNATURE-----\n";

static void sk_signature_accepted_by_ssh_keygen_verifies(void **state)
{
	struct sshsig sig;
	struct err e = {""};
	char fp[SSHKEY_FP_SIZE];

	assert_int_equal(parse_str(sk_sig_checked_by_ssh_keygen, &sig, &e), 0);
	assert_int_equal(sig.counter, 3);
	sshkey_fingerprint(&sig.key, fp);
	assert_string_equal(fp, "SHA256:BDNysIp2UtSiuV02iia9Ixhd8NwaDQDEDmNyjlYyyRA");
	assert_int_equal(sshsig_verify(&sig, "git", sk_msg, strlen(sk_msg), &e), 0);
	assert_int_equal(sshsig_verify(&sig, "git", fx_msg, strlen(fx_msg), &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(good_signature_verifies),
	    cmocka_unit_test(sha256_signature_verifies),
	    cmocka_unit_test(flipped_message_byte_fails),
	    cmocka_unit_test(flipped_signature_byte_fails),
	    cmocka_unit_test(flipped_byte_in_armored_signature_fails),
	    cmocka_unit_test(empty_message_fails),
	    cmocka_unit_test(wrong_namespace_refused),
	    cmocka_unit_test(rsa_refused_with_type_named),
	    cmocka_unit_test(gpg_signature_refused),
	    cmocka_unit_test(x509_signature_refused),
	    cmocka_unit_test(any_wrapping_accepted),
	    cmocka_unit_test(signature_without_trailing_newline_accepted),
	    cmocka_unit_test(truncated_blob_refused),
	    cmocka_unit_test(trailing_garbage_refused),
	    cmocka_unit_test(text_after_end_line_refused),
	    cmocka_unit_test(missing_end_line_refused),
	    cmocka_unit_test(bad_base64_refused),
	    cmocka_unit_test(version_2_refused),
	    cmocka_unit_test(oversized_input_refused),
	    cmocka_unit_test(empty_namespace_refused),
	    cmocka_unit_test(unknown_hash_refused),
	    cmocka_unit_test(signature_type_must_match_key),
	    cmocka_unit_test(signature_length_must_be_64),
	    cmocka_unit_test(ecdsa_and_certificates_refused_with_type_named),
	    cmocka_unit_test(key_text_parses_and_matches_signature),
	    cmocka_unit_test(fingerprint_matches_ssh_keygen),
	    cmocka_unit_test(key_text_errors),
	    cmocka_unit_test(sk_signature_verifies),
	    cmocka_unit_test(sk_signature_without_user_presence_refused),
	    cmocka_unit_test(sk_signature_with_altered_flags_or_counter_fails),
	    cmocka_unit_test(sk_signature_accepted_by_ssh_keygen_verifies),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
