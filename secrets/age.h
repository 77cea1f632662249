/* age v1 decryption (age-encryption.org/v1), on libsodium only.
 *
 * Supported stanzas: X25519, ssh-ed25519 and scrypt (which must be alone).
 * Unknown stanza types are ignored; a file only for ssh-rsa is reported as
 * unsupported. The optional ASCII armor is accepted.
 *
 * Plaintext is released chunk by chunk, and only after its chunk authenticated:
 * the decryptor reads up to AGE_BATCH_CHUNKS chunks, authenticates and decrypts
 * all of them into locked memory, then hands that batch to the writer. A file
 * whose payload fits in one batch (up to 1 MiB) therefore produces no output at
 * all unless every chunk, the final-chunk rules included, checked out. For
 * longer files a failure may come after earlier batches were written: the
 * caller must discard the output unless age_decrypt() returned AGE_OK. */
#ifndef CIM_SECRETS_AGE_H
#define CIM_SECRETS_AGE_H

#include "secrets/identity.h"

#include <stddef.h>

struct err;

#define AGE_MAX_HEADER	 (64 * 1024) /* bytes, up to and including the MAC line */
#define AGE_MAX_STANZAS	 64
#define AGE_MAX_ARGS	 16 /* per stanza, the type included */
#define AGE_MAX_LOG_N	 22 /* scrypt work factor cap */
#define AGE_CHUNK	 (64 * 1024)
#define AGE_BATCH_CHUNKS 16
#define AGE_MAX_ARMORED	 (256 * 1024 * 1024) /* armored input is decoded in memory */

/* What went wrong, for callers that react differently (the message says more). */
enum age_status {
	AGE_OK = 0,
	AGE_ERR_NO_IDENTITY, /* not encrypted to any of our identities / wrong passphrase */
	AGE_ERR_HEADER,	     /* malformed header */
	AGE_ERR_MAC,	     /* header MAC mismatch: the header was tampered with */
	AGE_ERR_PAYLOAD,     /* payload corrupt, truncated or followed by trailing data */
	AGE_ERR_UNSUPPORTED, /* only for recipient types we do not implement (ssh-rsa) */
	AGE_ERR_IO,	     /* reading input, writing output, out of memory */
};

/* A parsed stanza: args[0] is the type; args point into the parsed buffer (not
 * NUL-terminated); body is decoded into memory owned by the header. */
struct age_stanza {
	const char *args[AGE_MAX_ARGS];
	size_t arglen[AGE_MAX_ARGS];
	size_t nargs;
	const unsigned char *body;
	size_t body_len;
};

struct age_header {
	struct age_stanza stanzas[AGE_MAX_STANZAS];
	size_t nstanzas;
	size_t mac_input_len; /* bytes covered by the MAC: up to and including "---" */
	unsigned char mac[32];
	size_t len;	       /* header length including the MAC line's newline */
	unsigned char *bodies; /* storage of the decoded bodies */
};

/* Parses the header at the start of buf (len bytes, which may include the
 * payload). Returns AGE_OK or AGE_ERR_HEADER (e filled). On AGE_OK, release h
 * with age_header_release(); it points into buf. Recognized stanza types are
 * checked for their shape (argument count and sizes) here. */
enum age_status age_header_parse(const unsigned char *buf, size_t len, struct age_header *h,
				 struct err *e);

void age_header_release(struct age_header *h);

/* Where the ciphertext comes from: fd when fd >= 0, else data/len in memory. */
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

/* HKDF-SHA-256 (RFC 5869), extract then expand; out_len at most 255 * 32. */
int age_hkdf_sha256(const unsigned char *salt, size_t salt_len, const unsigned char *ikm,
		    size_t ikm_len, const unsigned char *info, size_t info_len, unsigned char *out,
		    size_t out_len);

/* Decrypts and authenticates one payload chunk (c_len = plaintext + 16 bytes)
 * with counter and last flag into m; 0 or -1. Exposed for tests. */
int age_chunk_open(const unsigned char key[32], unsigned long long counter, int last,
		   const unsigned char *c, size_t c_len, unsigned char *m);

#endif
