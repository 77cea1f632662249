/* HKDF-SHA-256 (RFC 5869), extract then expand, as age derives every key.
 * libsodium 1.0.18 has no HKDF; this one is built on its HMAC-SHA-256. */
#ifndef CIM_SECRETS_AGE_HKDF_H
#define CIM_SECRETS_AGE_HKDF_H

#include <stddef.h>

/* out_len at most 255 * 32; 0, or -1 when out_len is too large. salt and
 * ikm may be NULL when their length is 0. */
int age_hkdf_sha256(const unsigned char *salt, size_t salt_len, const unsigned char *ikm,
		    size_t ikm_len, const unsigned char *info, size_t info_len, unsigned char *out,
		    size_t out_len);

#endif
