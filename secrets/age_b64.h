/* Base64 as age writes it: the standard alphabet, canonical (zero trailing
 * bits), decoded by table. The header uses it unpadded; the ASCII armor in
 * whole groups of four characters with padding at the very end. */
#ifndef CIM_SECRETS_AGE_B64_H
#define CIM_SECRETS_AGE_B64_H

#include <stddef.h>

/* The value of c (0..63), or -1 when c is not in the alphabet ('=' is not). */
int age_b64_value(unsigned char c);

/* Decodes unpadded canonical base64, skipping newlines; returns the decoded
 * length, or -1 for a bad character, an impossible length, non-zero trailing
 * bits or more than out_size bytes. */
long age_b64_decode(const char *s, size_t len, unsigned char *out, size_t out_size);

/* age_b64_decode() into exactly want bytes (at most 64); 0 or -1. */
int age_b64_exact(const char *s, size_t len, unsigned char *out, size_t want);

/* Decodes nquads groups of four characters (no padding) into 3 * nquads
 * bytes at out; -1 when any character is outside the alphabet. */
int age_b64_quads(const char *s, size_t nquads, unsigned char *out);

#endif
