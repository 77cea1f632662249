#include "secrets/age_hkdf.h"

#include <sodium.h>
#include <string.h>

int age_hkdf_sha256(const unsigned char *salt, size_t salt_len, const unsigned char *ikm,
		    size_t ikm_len, const unsigned char *info, size_t info_len, unsigned char *out,
		    size_t out_len)
{
	crypto_auth_hmacsha256_state st;
	unsigned char prk[32], t[32];
	size_t done = 0;
	unsigned char counter = 1;

	static const unsigned char none[1];

	if (out_len > 255 * 32)
		return -1;
	/* libsodium's HMAC memcpy()s its arguments: never hand it NULL. */
	if (!salt)
		salt = none;
	if (!ikm)
		ikm = none;
	/* Extract: PRK = HMAC(salt, IKM); an empty salt acts as 32 zero bytes. */
	crypto_auth_hmacsha256_init(&st, salt, salt_len);
	crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
	crypto_auth_hmacsha256_final(&st, prk);
	/* Expand: T(i) = HMAC(PRK, T(i-1) | info | i). */
	while (done < out_len) {
		size_t n = out_len - done < 32 ? out_len - done : 32;

		crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
		if (done > 0)
			crypto_auth_hmacsha256_update(&st, t, sizeof(t));
		crypto_auth_hmacsha256_update(&st, info, info_len);
		crypto_auth_hmacsha256_update(&st, &counter, 1);
		crypto_auth_hmacsha256_final(&st, t);
		memcpy(out + done, t, n);
		done += n;
		counter++;
	}
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(t, sizeof(t));
	sodium_memzero(&st, sizeof(st));
	return 0;
}
