#include "secrets/age.h"

#include "base/err.h"
#include "base/fileio.h"
#include "secrets/age_header.h"
#include "secrets/age_hkdf.h"
#include "secrets/age_input.h"
#include "secrets/age_stanza.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define AGE_CHUNK_ENC (AGE_CHUNK + 16)
#define AGE_PLAIN_BUF ((size_t)AGE_BATCH_CHUNKS * AGE_CHUNK)
/* The largest header, the nonce, one lookahead byte and then a chunk: the
 * payload is read a chunk (and a byte) at a time, so one chunk's room is
 * enough. */
#define AGE_HEAD_READ  ((size_t)AGE_MAX_HEADER + 16 + 1)
#define AGE_CIPHER_BUF (AGE_HEAD_READ + AGE_CHUNK_ENC)

int age_chunk_open(const unsigned char key[32], unsigned long long counter, int last,
		   const unsigned char *c, size_t c_len, unsigned char *m)
{
	unsigned char nonce[12] = {0};

	if (c_len < 16)
		return -1;
	for (int i = 0; i < 8; i++)
		nonce[10 - i] = (unsigned char)(counter >> (8 * i));
	nonce[11] = last ? 1 : 0;
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
	    m, NULL, c, c_len - 16, c + c_len - 16, NULL, 0, nonce, key);
}

int age_write_fd(void *ctx, const void *buf, size_t len, struct err *e)
{
	if (fd_write_all(*(int *)ctx, buf, len) < 0)
		return err_set(e, "writing the plaintext: %s", strerror(errno));
	return 0;
}

/* The keys of one decryption, kept together in locked memory. */
struct age_keys {
	unsigned char file_key[16];
	unsigned char mac_key[32];
	unsigned char mac[32];
	unsigned char payload_key[32];
};

struct decrypt {
	struct age_input in;
	const unsigned char *c; /* ciphertext: cbuf, or the binary input in memory */
	unsigned char *cbuf;	/* AGE_CIPHER_BUF bytes when reading */
	size_t used, pos;	/* bytes in c, and the next one to decrypt */
	unsigned char *pbuf;	/* plaintext, locked */
	size_t pused;
	unsigned long long counter;
	struct age_keys *ks;
	age_write_fn write;
	void *wctx;
};

static enum age_status out_of_memory(struct err *e)
{
	err_set(e, "out of memory");
	return AGE_ERR_IO;
}

static enum age_status fill(struct decrypt *d, size_t want, struct err *e)
{
	return age_input_fill(&d->in, d->cbuf, AGE_CIPHER_BUF, want, &d->used, e);
}

/* Puts the start of the file, up to the largest header and the nonce, in c:
 * in place for binary input in memory, decoded for armor. */
static enum age_status open_input(struct decrypt *d, const struct age_source *src, struct err *e)
{
	bool in_memory = src->fd < 0;

	age_input_from_fd(&d->in, src->fd);
	if (in_memory && !age_input_is_armored(src->data, src->len)) {
		d->c = src->data;
		d->used = src->len;
		d->in.eof = true;
		return AGE_OK;
	}
	d->cbuf = malloc(AGE_CIPHER_BUF);
	if (!d->cbuf)
		return out_of_memory(e);
	d->c = d->cbuf;
	if (in_memory) {
		age_input_dearmor(&d->in, NULL, 0, src->len, src->data);
		return fill(d, AGE_HEAD_READ, e);
	}
	enum age_status st = fill(d, AGE_HEAD_READ, e);
	if (st != AGE_OK || !age_input_is_armored(d->cbuf, d->used))
		return st;
	/* The raw text read so far becomes the armor's text buffer. */
	age_input_dearmor(&d->in, d->cbuf, AGE_CIPHER_BUF, d->used, NULL);
	d->cbuf = malloc(AGE_CIPHER_BUF);
	if (!d->cbuf)
		return out_of_memory(e);
	d->c = d->cbuf;
	d->used = 0;
	return fill(d, AGE_HEAD_READ, e);
}

/* Parses the header, finds the file key, checks the MAC (only once a stanza
 * yielded the file key) and derives the payload key from the nonce. */
static enum age_status open_header(struct decrypt *d, const struct age_identities *ids,
				   struct err *e)
{
	struct age_header h;
	struct age_keys *ks = d->ks;
	enum age_status st = age_header_parse(d->c, d->used, &h, e);

	if (st != AGE_OK)
		return st;
	st = age_stanza_unwrap(&h, ids, ks->file_key, e);
	if (st != AGE_OK)
		goto out;
	age_hkdf_sha256(NULL, 0, ks->file_key, 16, (const unsigned char *)"header", 6, ks->mac_key,
			32);
	crypto_auth_hmacsha256(ks->mac, d->c, h.mac_input_len, ks->mac_key);
	if (crypto_verify_32(ks->mac, h.mac) != 0) {
		err_set(e, "header MAC mismatch: the file header was tampered with");
		st = AGE_ERR_MAC;
		goto out;
	}
	d->pos = h.len;
	if (d->used - d->pos < 16) {
		err_set(e, "payload corrupt or truncated: no payload nonce");
		st = AGE_ERR_PAYLOAD;
		goto out;
	}
	age_hkdf_sha256(d->c + d->pos, 16, ks->file_key, 16, (const unsigned char *)"payload", 7,
			ks->payload_key, 32);
	d->pos += 16;
out:
	age_header_release(&h);
	return st;
}

static enum age_status flush_plain(struct decrypt *d, struct err *e)
{
	if (d->pused == 0)
		return AGE_OK;
	if (d->write(d->wctx, d->pbuf, d->pused, e) < 0)
		return AGE_ERR_IO;
	/* The next batch overwrites it; sodium_free() wipes it at the end. */
	d->pused = 0;
	return AGE_OK;
}

static enum age_status payload_fail(struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum age_status payload_fail(struct err *e, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	err_set(e, "payload corrupt or truncated: %s", what);
	return AGE_ERR_PAYLOAD;
}

/* A full chunk with more input after it: it must open as a middle chunk. */
static enum age_status middle_chunk(struct decrypt *d, struct err *e)
{
	const unsigned char *c = d->c + d->pos, *key = d->ks->payload_key;
	unsigned char *m = d->pbuf + d->pused;

	if (age_chunk_open(key, d->counter, 0, c, AGE_CHUNK_ENC, m) != 0) {
		if (age_chunk_open(key, d->counter, 1, c, AGE_CHUNK_ENC, m) == 0) {
			sodium_memzero(m, AGE_CHUNK);
			return payload_fail(e, "trailing data after the final chunk (%llu)",
					    d->counter);
		}
		return payload_fail(e, "chunk %llu failed to authenticate", d->counter);
	}
	d->pos += AGE_CHUNK_ENC;
	d->pused += AGE_CHUNK;
	d->counter++;
	return d->pused == AGE_PLAIN_BUF ? flush_plain(d, e) : AGE_OK;
}

/* What is left once the input ended is the final chunk. */
static enum age_status final_chunk(struct decrypt *d, struct err *e)
{
	size_t left = d->used - d->pos;
	const unsigned char *c = d->c + d->pos, *key = d->ks->payload_key;
	unsigned char *m = d->pbuf + d->pused;

	if (left == 0) {
		if (d->counter == 0)
			return payload_fail(e, "no chunk after the nonce");
		return payload_fail(e, "truncated after chunk %llu (no final chunk)",
				    d->counter - 1);
	}
	if (left < 16)
		return payload_fail(e, "chunk %llu is truncated", d->counter);
	if (left == 16 && d->counter > 0)
		return payload_fail(e, "empty final chunk %llu", d->counter);
	if (age_chunk_open(key, d->counter, 1, c, left, m) != 0) {
		if (left == AGE_CHUNK_ENC && age_chunk_open(key, d->counter, 0, c, left, m) == 0) {
			sodium_memzero(m, AGE_CHUNK);
			return payload_fail(e, "truncated after chunk %llu (no final chunk)",
					    d->counter);
		}
		return payload_fail(e, "chunk %llu failed to authenticate", d->counter);
	}
	d->pused += left - 16;
	return flush_plain(d, e);
}

static enum age_status decrypt_payload(struct decrypt *d, struct err *e)
{
	enum age_status st;

	for (;;) {
		while (d->used - d->pos > AGE_CHUNK_ENC)
			if ((st = middle_chunk(d, e)) != AGE_OK)
				return st;
		if (d->in.eof)
			return final_chunk(d, e);
		/* Read up to the next chunk and one byte more (which tells whether
		 * it is the last); move the partial chunk to the front when the
		 * room behind it runs out. */
		if (d->pos + AGE_CHUNK_ENC + 1 > AGE_CIPHER_BUF) {
			memmove(d->cbuf, d->cbuf + d->pos, d->used - d->pos);
			d->used -= d->pos;
			d->pos = 0;
		}
		if ((st = fill(d, d->pos + AGE_CHUNK_ENC + 1, e)) != AGE_OK)
			return st;
	}
}

enum age_status age_decrypt(const struct age_source *src, age_write_fn write, void *wctx,
			    const struct age_identities *ids, struct err *e)
{
	struct decrypt d = {.write = write, .wctx = wctx};
	enum age_status st;

	if (sodium_init() < 0) {
		err_set(e, "libsodium failed to initialize");
		return AGE_ERR_IO;
	}
	d.ks = sodium_malloc(sizeof(*d.ks));
	if (!d.ks) {
		st = out_of_memory(e);
		goto out;
	}
	st = open_input(&d, src, e);
	if (st == AGE_OK)
		st = open_header(&d, ids, e);
	if (st != AGE_OK)
		goto out;
	/* Locked memory for the plaintext, only once the header checked out. */
	d.pbuf = sodium_malloc(AGE_PLAIN_BUF);
	st = d.pbuf ? decrypt_payload(&d, e) : out_of_memory(e);
out:
	age_input_release(&d.in);
	free(d.cbuf);
	if (d.pbuf)
		sodium_free(d.pbuf);
	if (d.ks)
		sodium_free(d.ks);
	return st;
}
