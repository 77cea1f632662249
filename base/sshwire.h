/* The SSH wire format (RFC 4251 section 5): big-endian uint32, and strings
 * as a uint32 length followed by that many bytes. A bounds-checked cursor to
 * read it and two writers, for signatures, public key blobs and OpenSSH
 * private keys. Bottom layer: depends on nothing but libc. */
#ifndef CIM_BASE_SSHWIRE_H
#define CIM_BASE_SSHWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A cursor over len bytes at p; off bytes are consumed. */
struct sshwire {
	const uint8_t *p;
	size_t len;
	size_t off;
};

/* A cursor over buf (len bytes), at its start. */
struct sshwire sshwire_init(const void *buf, size_t len);

/* Each reader returns 0 and advances, or -1 (the data ends first) and leaves
 * the cursor where it was. A string's bytes stay in the buffer. */
int sshwire_u8(struct sshwire *w, uint8_t *v);
int sshwire_u32(struct sshwire *w, uint32_t *v);
int sshwire_string(struct sshwire *w, const uint8_t **s, size_t *len);
/* Consumes n raw bytes (no length prefix), e.g. a magic; *s points to them. */
int sshwire_bytes(struct sshwire *w, size_t n, const uint8_t **s);

/* Bytes not consumed yet. */
size_t sshwire_left(const struct sshwire *w);

/* True when the string s (len bytes) is exactly want. */
bool sshwire_eq(const uint8_t *s, size_t len, const char *want);

/* Write v, or a string of len bytes, at p; return the end of what was written. */
uint8_t *sshwire_put_u32(uint8_t *p, uint32_t v);
uint8_t *sshwire_put_string(uint8_t *p, const void *s, size_t len);

#endif
