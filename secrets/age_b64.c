#include "secrets/age_b64.h"

#include <stdint.h>
#include <string.h>

/* 0..63 for the alphabet, 0xff for anything else: one lookup per character
 * and one test per group. The input is ciphertext or public header text, so a
 * table lookup leaks nothing secret. */
#define X 0xff
/* clang-format off */
static const unsigned char b64_table[256] = {
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
    X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
/* clang-format on */
#undef X

int age_b64_value(unsigned char c)
{
	return b64_table[c] == 0xff ? -1 : b64_table[c];
}

long age_b64_decode(const char *s, size_t len, unsigned char *out, size_t out_size)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0, chars = 0;

	for (size_t i = 0; i < len; i++) {
		int v;
		if (s[i] == '\n')
			continue;
		v = age_b64_value((unsigned char)s[i]);
		if (v < 0)
			return -1;
		chars++;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			if (n == out_size)
				return -1;
			out[n++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	if (chars % 4 == 1 || (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)n;
}

int age_b64_exact(const char *s, size_t len, unsigned char *out, size_t want)
{
	unsigned char tmp[64];
	long n;

	if (want > sizeof(tmp))
		return -1;
	n = age_b64_decode(s, len, tmp, sizeof(tmp));
	if (n != (long)want)
		return -1;
	memcpy(out, tmp, want);
	return 0;
}

int age_b64_quads(const char *s, size_t nquads, unsigned char *out)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned bad = 0;

	for (size_t q = 0; q < nquads; q++, u += 4, out += 3) {
		unsigned a = b64_table[u[0]], b = b64_table[u[1]], c = b64_table[u[2]],
			 d = b64_table[u[3]];
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;

		bad |= a | b | c | d;
		out[0] = (unsigned char)(v >> 16);
		out[1] = (unsigned char)(v >> 8);
		out[2] = (unsigned char)v;
	}
	return bad & 0x80 ? -1 : 0;
}
