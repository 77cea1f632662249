/* Building age files for the unit tests, with libsodium and the module's own
 * HKDF: one X25519 stanza to TEST_PUBLIC and the payload chunks asked for,
 * each sealed with the last flag given (so broken files can be made too).
 * Include after cmocka.h. */
#ifndef CIM_TEST_AGE_BUILD_H
#define CIM_TEST_AGE_BUILD_H

#include "base/fileio.h"
#include "secrets/age.h"
#include "secrets/age_hkdf.h"
#include "secrets/identity.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* A test key pair made with age-keygen. */
#define TEST_SECRET "AGE-SECRET-KEY-1WNE5PRCKSQL5V88SQ4GZ8Z8PKPRPG402WSNTQM0D0CZS3D7YDPQSVMQ9PH"
#define TEST_PUBLIC "age1ytg70d0898820qcjnnqe2mae24hpud9jx25qxzsmvjt3wuxyg5jsnj323t"

/* --- building age files -------------------------------------------------- */

struct built {
	unsigned char *buf;
	size_t len;
};

static void put(struct built *b, const void *p, size_t n)
{
	b->buf = realloc(b->buf, b->len + n);
	assert_non_null(b->buf);
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static void put_b64(struct built *b, const unsigned char *p, size_t n)
{
	char s[256];

	sodium_bin2base64(s, sizeof(s), p, n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	put(b, s, strlen(s));
}

/* One payload chunk: plaintext length and the last flag it is sealed with. */
struct chunk {
	size_t len;
	int last;
};

/* Builds an age file to TEST_PUBLIC (one X25519 stanza) with the given chunks;
 * extra_header is inserted as-is before the MAC line (and covered by it). */
static struct built build(const struct chunk *chunks, size_t nchunks, const char *extra_header)
{
	struct built b = {0};
	unsigned char file_key[16], eph[32], share[32], shared[32], salt[64], wrap[32];
	unsigned char body[32], mac_key[32], mac[32], nonce[16], pkey[32], recip[32];
	unsigned char pt[AGE_CHUNK], ct[AGE_CHUNK + 16], n12[12];
	static const unsigned char zero12[12];
	char hrp[8];
	size_t n;

	assert_int_equal(bech32_decode(TEST_PUBLIC, hrp, sizeof(hrp), recip, 32, &n), 0);
	randombytes_buf(file_key, 16);
	randombytes_buf(eph, 32);
	crypto_scalarmult_base(share, eph);
	assert_int_equal(crypto_scalarmult(shared, eph, recip), 0);
	memcpy(salt, share, 32);
	memcpy(salt + 32, recip, 32);
	age_hkdf_sha256(salt, 64, shared, 32, (const unsigned char *)"age-encryption.org/v1/X25519",
			28, wrap, 32);
	crypto_aead_chacha20poly1305_ietf_encrypt(body, NULL, file_key, 16, NULL, 0, NULL, zero12,
						  wrap);
	put(&b, "age-encryption.org/v1\n-> X25519 ", 32);
	put_b64(&b, share, 32);
	put(&b, "\n", 1);
	put_b64(&b, body, 32);
	put(&b, "\n", 1);
	if (extra_header)
		put(&b, extra_header, strlen(extra_header));
	put(&b, "---", 3);
	age_hkdf_sha256(NULL, 0, file_key, 16, (const unsigned char *)"header", 6, mac_key, 32);
	crypto_auth_hmacsha256(mac, b.buf, b.len, mac_key);
	put(&b, " ", 1);
	put_b64(&b, mac, 32);
	put(&b, "\n", 1);
	randombytes_buf(nonce, 16);
	put(&b, nonce, 16);
	age_hkdf_sha256(nonce, 16, file_key, 16, (const unsigned char *)"payload", 7, pkey, 32);
	for (size_t i = 0; i < nchunks; i++) {
		memset(n12, 0, sizeof(n12));
		n12[10] = (unsigned char)i;
		n12[9] = (unsigned char)(i >> 8);
		n12[11] = (unsigned char)chunks[i].last;
		memset(pt, (int)('a' + i), chunks[i].len);
		crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, pt, chunks[i].len, NULL, 0,
							  NULL, n12, pkey);
		put(&b, ct, chunks[i].len + 16);
	}
	return b;
}

#endif
