/* age v1 decryption (age-encryption.org/v1), on libsodium only.
 *
 * Supported stanzas: X25519, ssh-ed25519 and scrypt (which must be alone).
 * Unknown stanza types are ignored; a file only for ssh-rsa is reported as
 * unsupported. The optional ASCII armor is accepted and decoded as it is read.
 *
 * The input is streamed through bounded buffers (about 130 KiB of ciphertext,
 * 1 MiB of plaintext) whatever its size; binary input in memory is used in
 * place. Plaintext is released chunk by chunk, and only after its chunk
 * authenticated: the decryptor authenticates and decrypts up to
 * AGE_BATCH_CHUNKS chunks into locked memory, then hands that batch to the
 * writer. A file whose payload fits in one batch (up to 1 MiB) therefore
 * produces no output at all unless every chunk, the final-chunk rules and the
 * end of the armor included, checked out. For longer files a failure may come
 * after earlier batches were written: the caller must discard the output
 * unless age_decrypt() returned AGE_OK. */
#ifndef CIM_SECRETS_AGE_H
#define CIM_SECRETS_AGE_H

#include <stddef.h>

struct err;
struct age_identities;

#define AGE_CHUNK	 (64 * 1024)
#define AGE_BATCH_CHUNKS 16

/* What went wrong, for callers that react differently (the message says more). */
enum age_status {
	AGE_OK = 0,
	AGE_ERR_NO_IDENTITY, /* not encrypted to any of our identities / wrong passphrase */
	AGE_ERR_HEADER,	     /* malformed header or ASCII armor */
	AGE_ERR_MAC,	     /* header MAC mismatch: the header was tampered with */
	AGE_ERR_PAYLOAD,     /* payload corrupt, truncated or followed by trailing data */
	AGE_ERR_UNSUPPORTED, /* only for recipient types we do not implement (ssh-rsa) */
	AGE_ERR_IO,	     /* reading input, writing output, out of memory */
};

/* Where the ciphertext comes from: fd when fd >= 0 (read from its current
 * offset to its end), else data/len in memory. */
struct age_source {
	int fd;
	const unsigned char *data;
	size_t len;
};

/* Receives authenticated plaintext; returns 0, or -1 with e filled. */
typedef int (*age_write_fn)(void *ctx, const void *buf, size_t len, struct err *e);

/* A writer for age_decrypt(): ctx points to an int file descriptor. */
int age_write_fd(void *ctx, const void *buf, size_t len, struct err *e);

/* Decrypts src with ids, passing plaintext to write(wctx, ...). Returns AGE_OK
 * only when the whole file decrypted and authenticated, else an AGE_ERR_* with
 * e filled (messages never contain key or plaintext bytes). */
enum age_status age_decrypt(const struct age_source *src, age_write_fn write, void *wctx,
			    const struct age_identities *ids, struct err *e);

/* Decrypts and authenticates one payload chunk (c_len = plaintext + 16 bytes)
 * with counter and last flag into m; 0 or -1. Exposed for tests. */
int age_chunk_open(const unsigned char key[32], unsigned long long counter, int last,
		   const unsigned char *c, size_t c_len, unsigned char *m);

#endif
