#include "secrets/age.h"

#include "base/err.h"
#include "base/fileio.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define AGE_MAGIC     "age-encryption.org/v1\n"
#define AGE_CHUNK_ENC (AGE_CHUNK + 16)
#define AGE_PLAIN_BUF ((size_t)AGE_BATCH_CHUNKS * AGE_CHUNK)
/* Room for the header, the nonce, a full batch and a partial chunk. */
#define AGE_CIPHER_BUF                                                                             \
	((size_t)AGE_MAX_HEADER + 16 + ((size_t)AGE_BATCH_CHUNKS + 1) * AGE_CHUNK_ENC)
#define ARMOR_BEGIN "-----BEGIN AGE ENCRYPTED FILE-----"
#define ARMOR_END   "-----END AGE ENCRYPTED FILE-----"

static const char x25519_label[] = "age-encryption.org/v1/X25519";
static const char ssh_label[] = "age-encryption.org/v1/ssh-ed25519";
static const char scrypt_label[] = "age-encryption.org/v1/scrypt";

/* --- HKDF-SHA-256 ---------------------------------------------------------- */

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

/* --- strict base64 --------------------------------------------------------- */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes unpadded canonical base64 (newlines skipped); returns the decoded
 * length or -1 (bad character, impossible length, non-zero trailing bits, or
 * more than out_size bytes). */
static long b64_decode(const char *s, size_t len, unsigned char *out, size_t out_size)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0, chars = 0;

	for (size_t i = 0; i < len; i++) {
		int v;
		if (s[i] == '\n')
			continue;
		v = b64_value((unsigned char)s[i]);
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

static int b64_exact(const char *s, size_t len, unsigned char *out, size_t want)
{
	unsigned char tmp[64];
	long n;

	if (want > sizeof(tmp))
		return -1;
	n = b64_decode(s, len, tmp, sizeof(tmp));
	if (n != (long)want)
		return -1;
	memcpy(out, tmp, want);
	return 0;
}

/* --- header ---------------------------------------------------------------- */

static int arg_is(const struct age_stanza *s, size_t i, const char *want)
{
	return s->arglen[i] == strlen(want) && memcmp(s->args[i], want, s->arglen[i]) == 0;
}

static int header_fail(struct err *e, size_t line, const char *what)
{
	err_set(e, "malformed age header (line %zu): %s", line, what);
	return AGE_ERR_HEADER;
}

/* Checks the shapes of the stanza types we implement. */
static int check_stanza(const struct age_stanza *s, size_t line, struct err *e)
{
	unsigned char tmp[32];

	if (arg_is(s, 0, "X25519")) {
		if (s->nargs != 2 || b64_exact(s->args[1], s->arglen[1], tmp, 32) < 0 ||
		    s->body_len != 32)
			return header_fail(e, line, "invalid X25519 stanza");
	} else if (arg_is(s, 0, "ssh-ed25519")) {
		if (s->nargs != 3 || b64_exact(s->args[1], s->arglen[1], tmp, 4) < 0 ||
		    b64_exact(s->args[2], s->arglen[2], tmp, 32) < 0 || s->body_len != 32)
			return header_fail(e, line, "invalid ssh-ed25519 stanza");
	} else if (arg_is(s, 0, "scrypt")) {
		const char *d = s->nargs == 3 ? s->args[2] : NULL;
		if (s->nargs != 3 || b64_exact(s->args[1], s->arglen[1], tmp, 16) < 0 ||
		    s->body_len != 32 || s->arglen[2] > 2 || d[0] < '1' || d[0] > '9' ||
		    (s->arglen[2] == 2 && (d[1] < '0' || d[1] > '9')))
			return header_fail(e, line, "invalid scrypt stanza");
	}
	return 0;
}

enum age_status age_header_parse(const unsigned char *buf, size_t len, struct age_header *h,
				 struct err *e)
{
	const char *text = (const char *)buf;
	size_t limit = len < AGE_MAX_HEADER ? len : AGE_MAX_HEADER;
	size_t pos = sizeof(AGE_MAGIC) - 1, line = 1, store_used = 0;
	int rc = AGE_ERR_HEADER;
	int has_scrypt = 0;

	memset(h, 0, sizeof(*h));
	if (len < pos || memcmp(buf, AGE_MAGIC, pos) != 0) {
		err_set(e, "not an age file (no age-encryption.org/v1 header)");
		return AGE_ERR_HEADER;
	}
	h->bodies = malloc(limit);
	if (!h->bodies) {
		err_set(e, "out of memory");
		return AGE_ERR_IO;
	}
	for (;;) {
		const char *l = text + pos, *nl = memchr(l, '\n', limit - pos);
		size_t ll;

		line++;
		if (!nl) {
			rc = header_fail(e, line,
					 len > AGE_MAX_HEADER ? "header larger than 64 KiB"
							      : "header is truncated");
			goto fail;
		}
		ll = (size_t)(nl - l);
		if (ll >= 3 && memcmp(l, "---", 3) == 0) {
			if (ll != 4 + 43 || l[3] != ' ' || b64_exact(l + 4, 43, h->mac, 32) < 0) {
				rc = header_fail(e, line, "invalid MAC line");
				goto fail;
			}
			if (h->nstanzas == 0) {
				rc = header_fail(e, line, "no recipient stanza");
				goto fail;
			}
			if (has_scrypt && h->nstanzas != 1) {
				rc =
				    header_fail(e, line, "a scrypt stanza must be the only stanza");
				goto fail;
			}
			h->mac_input_len = pos + 3;
			h->len = pos + ll + 1;
			return AGE_OK;
		}
		if (ll < 3 || memcmp(l, "-> ", 3) != 0) {
			rc = header_fail(e, line, "expected a stanza or the MAC line");
			goto fail;
		}
		if (h->nstanzas == AGE_MAX_STANZAS) {
			rc = header_fail(e, line, "too many stanzas");
			goto fail;
		}
		struct age_stanza *s = &h->stanzas[h->nstanzas++];
		size_t stanza_line = line;
		/* Arguments: non-empty runs of visible ASCII separated by single spaces. */
		for (size_t i = 3; i <= ll;) {
			size_t start = i;
			while (i < ll && l[i] != ' ') {
				if ((unsigned char)l[i] < 0x21 || (unsigned char)l[i] > 0x7e) {
					rc = header_fail(e, line, "invalid character in stanza");
					goto fail;
				}
				i++;
			}
			if (i == start) {
				rc = header_fail(e, line, "empty stanza argument");
				goto fail;
			}
			if (s->nargs == AGE_MAX_ARGS) {
				rc = header_fail(e, line, "too many stanza arguments");
				goto fail;
			}
			s->args[s->nargs] = l + start;
			s->arglen[s->nargs++] = i - start;
			i++; /* past the space, or past the end */
		}
		pos += ll + 1;
		/* Body: full 64-column lines, ended by a shorter (maybe empty) one. */
		size_t body_start = pos;
		for (;;) {
			const char *bl = text + pos, *bnl;
			size_t bll;

			line++;
			bnl = memchr(bl, '\n', limit - pos);
			if (!bnl) {
				rc = header_fail(e, line,
						 len > AGE_MAX_HEADER ? "header larger than 64 KiB"
								      : "header is truncated");
				goto fail;
			}
			bll = (size_t)(bnl - bl);
			if (bll > 64) {
				rc =
				    header_fail(e, line, "stanza body line longer than 64 columns");
				goto fail;
			}
			for (size_t i = 0; i < bll; i++) {
				if (b64_value((unsigned char)bl[i]) < 0) {
					rc = header_fail(e, line, "invalid base64 in stanza body");
					goto fail;
				}
			}
			pos += bll + 1;
			if (bll < 64)
				break;
		}
		long n = b64_decode(text + body_start, pos - body_start, h->bodies + store_used,
				    limit - store_used);
		if (n < 0) {
			rc = header_fail(e, line, "non-canonical base64 in stanza body");
			goto fail;
		}
		s->body = h->bodies + store_used;
		s->body_len = (size_t)n;
		store_used += (size_t)n;
		if (arg_is(s, 0, "scrypt"))
			has_scrypt = 1;
		if ((rc = check_stanza(s, stanza_line, e)) != 0)
			goto fail;
	}
fail:
	age_header_release(h);
	return rc;
}

void age_header_release(struct age_header *h)
{
	free(h->bodies);
	h->bodies = NULL;
}

/* --- unwrapping the file key ----------------------------------------------- */

/* Secrets of one decryption, kept together in locked memory. */
struct age_keys {
	unsigned char file_key[16];
	unsigned char shared[32];
	unsigned char shared2[32];
	unsigned char wrap[32];
	unsigned char salt[64];
	unsigned char mac_key[32];
	unsigned char mac[32];
	unsigned char payload_key[32];
};

static int open_body(const unsigned char wrap[32], const struct age_stanza *s,
		     unsigned char file_key[16])
{
	static const unsigned char zero_nonce[12];

	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
	    file_key, NULL, s->body, 16, s->body + 16, NULL, 0, zero_nonce, wrap);
}

static int unwrap_x25519(const struct age_stanza *s, const struct age_key *k, struct age_keys *ks)
{
	unsigned char share[32];

	b64_exact(s->args[1], s->arglen[1], share, 32);
	if (crypto_scalarmult(ks->shared, k->x_secret, share) != 0)
		return -2; /* a low-order share: the header is bad, whoever it is for */
	memcpy(ks->salt, share, 32);
	memcpy(ks->salt + 32, k->x_public, 32);
	age_hkdf_sha256(ks->salt, 64, ks->shared, 32, (const unsigned char *)x25519_label,
			sizeof(x25519_label) - 1, ks->wrap, 32);
	return open_body(ks->wrap, s, ks->file_key);
}

static int unwrap_ssh(const struct age_stanza *s, const struct age_key *k, struct age_keys *ks)
{
	unsigned char tag[4], share[32];

	b64_exact(s->args[1], s->arglen[1], tag, 4);
	b64_exact(s->args[2], s->arglen[2], share, 32);
	if (memcmp(tag, k->ssh_tag, 4) != 0)
		return -1;
	if (crypto_scalarmult(ks->shared, k->x_secret, share) != 0 ||
	    crypto_scalarmult(ks->shared2, k->ssh_tweak, ks->shared) != 0)
		return -2;
	memcpy(ks->salt, share, 32);
	memcpy(ks->salt + 32, k->x_public, 32);
	age_hkdf_sha256(ks->salt, 64, ks->shared2, 32, (const unsigned char *)ssh_label,
			sizeof(ssh_label) - 1, ks->wrap, 32);
	return open_body(ks->wrap, s, ks->file_key);
}

static enum age_status unwrap_scrypt(const struct age_stanza *s, const struct age_identities *ids,
				     struct age_keys *ks, struct err *e)
{
	unsigned log_n = 0;

	for (size_t i = 0; i < s->arglen[2]; i++)
		log_n = log_n * 10 + (unsigned)(s->args[2][i] - '0');
	if (log_n > AGE_MAX_LOG_N) {
		err_set(e, "scrypt work factor 2^%u exceeds the limit of 2^%d", log_n,
			AGE_MAX_LOG_N);
		return AGE_ERR_UNSUPPORTED;
	}
	memcpy(ks->salt, scrypt_label, sizeof(scrypt_label) - 1);
	b64_exact(s->args[1], s->arglen[1], ks->salt + sizeof(scrypt_label) - 1, 16);
	if (crypto_pwhash_scryptsalsa208sha256_ll(
		(const uint8_t *)ids->passphrase, ids->passphrase_len, ks->salt,
		sizeof(scrypt_label) - 1 + 16, (uint64_t)1 << log_n, 8, 1, ks->wrap, 32) != 0) {
		err_set(e, "scrypt failed (out of memory?)");
		return AGE_ERR_IO;
	}
	if (open_body(ks->wrap, s, ks->file_key) != 0) {
		err_set(e, "the passphrase is incorrect");
		return AGE_ERR_NO_IDENTITY;
	}
	return AGE_OK;
}

static enum age_status find_file_key(const struct age_header *h, const struct age_identities *ids,
				     struct age_keys *ks, struct err *e)
{
	int saw_rsa = 0, saw_scrypt = 0;

	for (size_t i = 0; i < h->nstanzas; i++) {
		const struct age_stanza *s = &h->stanzas[i];

		if (arg_is(s, 0, "scrypt")) {
			saw_scrypt = 1;
			if (ids->passphrase)
				return unwrap_scrypt(s, ids, ks, e);
			continue;
		}
		if (arg_is(s, 0, "ssh-rsa")) {
			saw_rsa = 1;
			continue;
		}
		for (size_t j = 0; j < ids->n; j++) {
			const struct age_key *k = ids->keys[j];
			int rc = -1;

			if (arg_is(s, 0, "X25519") && k->type == AGE_KEY_X25519)
				rc = unwrap_x25519(s, k, ks);
			else if (arg_is(s, 0, "ssh-ed25519") && k->type == AGE_KEY_SSH_ED25519)
				rc = unwrap_ssh(s, k, ks);
			if (rc == 0)
				return AGE_OK;
			if (rc == -2) {
				err_set(e,
					"malformed age header: the %.*s stanza's share is a "
					"low-order point",
					(int)s->arglen[0], s->args[0]);
				return AGE_ERR_HEADER;
			}
		}
	}
	if (saw_scrypt) {
		err_set(e, "the file is encrypted with a passphrase; none was given");
		return AGE_ERR_NO_IDENTITY;
	}
	if (saw_rsa) {
		err_set(e, "the file is encrypted to an ssh-rsa key, which is unsupported, and "
			   "to none of our identities");
		return AGE_ERR_UNSUPPORTED;
	}
	err_set(e,
		"the file is not encrypted to any of our identities (%zu stanza%s, %zu "
		"identit%s tried)",
		h->nstanzas, h->nstanzas == 1 ? "" : "s", ids->n, ids->n == 1 ? "y" : "ies");
	return AGE_ERR_NO_IDENTITY;
}

/* --- payload --------------------------------------------------------------- */

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

/* Input: reads from an fd or copies from memory. */
struct reader {
	int fd;
	const unsigned char *data;
	size_t len, pos;
	int eof;
};

/* Reads into buf (cap bytes, *used of them filled) until at least want bytes
 * are there or the input ends (r->eof); each read asks for all the room left. */
static int reader_fill(struct reader *r, unsigned char *buf, size_t cap, size_t want, size_t *used,
		       struct err *e)
{
	while (*used < want && !r->eof) {
		if (r->fd < 0) {
			size_t n = r->len - r->pos < cap - *used ? r->len - r->pos : cap - *used;
			memcpy(buf + *used, r->data + r->pos, n);
			r->pos += n;
			*used += n;
			if (r->pos == r->len)
				r->eof = 1;
			continue;
		}
		ssize_t n = read(r->fd, buf + *used, cap - *used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(e, "reading the age file: %s", strerror(errno));
		if (n == 0)
			r->eof = 1;
		*used += (size_t)n;
	}
	return 0;
}

static int is_armored(const unsigned char *buf, size_t len)
{
	size_t i = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	return len - i >= sizeof(ARMOR_BEGIN) - 1 &&
	       memcmp(buf + i, ARMOR_BEGIN, sizeof(ARMOR_BEGIN) - 1) == 0;
}

/* Decodes an ASCII-armored file: the BEGIN line, padded base64 in lines of 64
 * columns (the last one shorter or equal), the END line, then only whitespace. */
static enum age_status armor_decode(const unsigned char *in, size_t len, unsigned char **out,
				    size_t *out_len, struct err *e)
{
	const char *t = (const char *)in, *end = t + len, *p = t, *body;
	size_t body_len = 0, dec = 0;
	int last_short = 0;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	p += sizeof(ARMOR_BEGIN) - 1;
	if (p < end && *p == '\r')
		p++;
	if (p >= end || *p != '\n')
		goto bad;
	body = ++p;
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll;

		if (!nl)
			nl = end; /* the END line may lack its newline */
		ll = (size_t)(nl - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll == sizeof(ARMOR_END) - 1 && memcmp(p, ARMOR_END, ll) == 0) {
			p = nl < end ? nl + 1 : end;
			break;
		}
		if (nl == end || last_short || ll == 0 || ll > 64)
			goto bad;
		if (ll < 64)
			last_short = 1;
		body_len = (size_t)(nl + 1 - body);
		p = nl + 1;
	}
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			err_set(e, "payload corrupt or truncated: trailing data after the armor");
			return AGE_ERR_PAYLOAD;
		}
	*out = malloc(body_len / 4 * 3 + 3);
	if (!*out) {
		err_set(e, "out of memory");
		return AGE_ERR_IO;
	}
	if (sodium_base642bin(*out, body_len / 4 * 3 + 3, body, body_len, "\r\n", &dec, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(*out);
		*out = NULL;
		goto bad;
	}
	*out_len = dec;
	return AGE_OK;
bad:
	err_set(e, "malformed age header: invalid ASCII armor");
	return AGE_ERR_HEADER;
}

/* Reads the rest of an armored input into memory, then decodes it. */
static enum age_status read_armored(struct reader *r, const unsigned char *first, size_t first_len,
				    unsigned char **decoded, size_t *decoded_len, struct err *e)
{
	size_t cap = first_len + (1u << 20), used = first_len;
	unsigned char *all = malloc(cap);
	enum age_status st;

	if (!all) {
		err_set(e, "out of memory");
		return AGE_ERR_IO;
	}
	memcpy(all, first, first_len);
	while (!r->eof) {
		if (used == cap) {
			unsigned char *bigger;
			if (cap >= AGE_MAX_ARMORED) {
				free(all);
				err_set(e, "armored age file larger than %d MiB",
					AGE_MAX_ARMORED >> 20);
				return AGE_ERR_IO;
			}
			cap *= 2;
			bigger = realloc(all, cap);
			if (!bigger) {
				free(all);
				err_set(e, "out of memory");
				return AGE_ERR_IO;
			}
			all = bigger;
		}
		if (reader_fill(r, all, cap, cap, &used, e) < 0) {
			free(all);
			return AGE_ERR_IO;
		}
	}
	st = armor_decode(all, used, decoded, decoded_len, e);
	free(all);
	return st;
}

struct decrypt {
	struct reader r;
	const unsigned char *in; /* ciphertext: cbuf, or the whole input in memory */
	unsigned char *cbuf;	 /* read buffer when streaming from an fd */
	size_t used, pos;
	unsigned char *pbuf; /* plaintext, locked */
	size_t pused;
	unsigned long long counter;
	struct age_keys *ks;
	age_write_fn write;
	void *wctx;
};

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

static enum age_status decrypt_payload(struct decrypt *d, struct err *e)
{
	const unsigned char *key = d->ks->payload_key;
	enum age_status st;

	for (;;) {
		/* A full chunk with more input after it is not the final one. */
		while (d->used - d->pos > AGE_CHUNK_ENC) {
			const unsigned char *c = d->in + d->pos;
			if (age_chunk_open(key, d->counter, 0, c, AGE_CHUNK_ENC,
					   d->pbuf + d->pused) != 0) {
				if (age_chunk_open(key, d->counter, 1, c, AGE_CHUNK_ENC,
						   d->pbuf + d->pused) == 0) {
					sodium_memzero(d->pbuf + d->pused, AGE_CHUNK);
					return payload_fail(
					    e, "trailing data after the final chunk (%llu)",
					    d->counter);
				}
				return payload_fail(e, "chunk %llu failed to authenticate",
						    d->counter);
			}
			d->pos += AGE_CHUNK_ENC;
			d->pused += AGE_CHUNK;
			d->counter++;
			if (d->pused == AGE_PLAIN_BUF && (st = flush_plain(d, e)) != AGE_OK)
				return st;
		}
		if (d->r.eof)
			break;
		/* Streaming (in memory, r.eof is set from the start): read until the
		 * next chunk and one byte more are there, so that decryption keeps
		 * pace with a pipe; move the partial chunk to the front only when
		 * the room behind it runs out. */
		if (d->pos + AGE_CHUNK_ENC + 1 > AGE_CIPHER_BUF) {
			memmove(d->cbuf, d->cbuf + d->pos, d->used - d->pos);
			d->used -= d->pos;
			d->pos = 0;
		}
		if (reader_fill(&d->r, d->cbuf, AGE_CIPHER_BUF, d->pos + AGE_CHUNK_ENC + 1,
				&d->used, e) < 0)
			return AGE_ERR_IO;
	}
	/* What is left is the final chunk. */
	size_t left = d->used - d->pos;
	const unsigned char *c = d->in + d->pos;
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
	if (age_chunk_open(key, d->counter, 1, c, left, d->pbuf + d->pused) != 0) {
		if (left == AGE_CHUNK_ENC &&
		    age_chunk_open(key, d->counter, 0, c, left, d->pbuf + d->pused) == 0) {
			sodium_memzero(d->pbuf + d->pused, AGE_CHUNK);
			return payload_fail(e, "truncated after chunk %llu (no final chunk)",
					    d->counter);
		}
		return payload_fail(e, "chunk %llu failed to authenticate", d->counter);
	}
	d->pused += left - 16;
	return flush_plain(d, e);
}

/* Regular files are mapped rather than read: one copy less. */
static const unsigned char *map_input(int fd, size_t *len)
{
	struct stat st;
	void *p;

	/* Only from the start: a caller may hand over an fd already read into. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    lseek(fd, 0, SEEK_CUR) != 0 ||
	    (unsigned long long)st.st_size > SIZE_MAX)
		return NULL;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	*len = (size_t)st.st_size;
	return p;
}

enum age_status age_decrypt(const struct age_source *src, age_write_fn write, void *wctx,
			    const struct age_identities *ids, struct err *e)
{
	struct decrypt d = {
	    .r = {.fd = src->fd, .data = src->data, .len = src->len}, .write = write, .wctx = wctx};
	struct age_header h = {0};
	unsigned char *armored = NULL;
	const unsigned char *mapped = NULL;
	size_t mapped_len = 0;
	enum age_status st;

	if (sodium_init() < 0) {
		err_set(e, "libsodium failed to initialize");
		return AGE_ERR_IO;
	}
	if (src->fd >= 0)
		mapped = map_input(src->fd, &mapped_len);
	d.ks = sodium_malloc(sizeof(*d.ks));
	if (!d.ks) {
		err_set(e, "out of memory");
		st = AGE_ERR_IO;
		goto out;
	}
	if (src->fd < 0 || mapped) {
		/* Everything is in memory already: work on it in place. */
		d.in = mapped ? mapped : src->data;
		d.used = mapped ? mapped_len : src->len;
		d.r.eof = 1;
	} else {
		d.cbuf = malloc(AGE_CIPHER_BUF);
		if (!d.cbuf) {
			err_set(e, "out of memory");
			st = AGE_ERR_IO;
			goto out;
		}
		d.in = d.cbuf;
		/* Enough for the largest header, the nonce and a lookahead byte. */
		if (reader_fill(&d.r, d.cbuf, AGE_CIPHER_BUF, AGE_MAX_HEADER + 17, &d.used, e) <
		    0) {
			st = AGE_ERR_IO;
			goto out;
		}
	}
	if (is_armored(d.in, d.used)) {
		size_t alen = 0;
		st = read_armored(&d.r, d.in, d.used, &armored, &alen, e);
		if (st != AGE_OK)
			goto out;
		d.r = (struct reader){.fd = -1, .eof = 1};
		d.in = armored;
		d.used = alen;
	}
	st = age_header_parse(d.in, d.used, &h, e);
	if (st != AGE_OK)
		goto out;
	st = find_file_key(&h, ids, d.ks, e);
	if (st != AGE_OK)
		goto out;
	/* The header MAC, checked only once a stanza yielded the file key. */
	age_hkdf_sha256(NULL, 0, d.ks->file_key, 16, (const unsigned char *)"header", 6,
			d.ks->mac_key, 32);
	crypto_auth_hmacsha256(d.ks->mac, d.in, h.mac_input_len, d.ks->mac_key);
	if (crypto_verify_32(d.ks->mac, h.mac) != 0) {
		err_set(e, "header MAC mismatch: the file header was tampered with");
		st = AGE_ERR_MAC;
		goto out;
	}
	d.pos = h.len;
	if (d.used - d.pos < 16) {
		err_set(e, "payload corrupt or truncated: no payload nonce");
		st = AGE_ERR_PAYLOAD;
		goto out;
	}
	age_hkdf_sha256(d.in + d.pos, 16, d.ks->file_key, 16, (const unsigned char *)"payload", 7,
			d.ks->payload_key, 32);
	d.pos += 16;
	/* Locked memory for the plaintext, only once the header checked out. */
	d.pbuf = sodium_malloc(AGE_PLAIN_BUF);
	if (!d.pbuf) {
		err_set(e, "out of memory");
		st = AGE_ERR_IO;
		goto out;
	}
	st = decrypt_payload(&d, e);
out:
	age_header_release(&h);
	free(armored);
	free(d.cbuf);
	if (mapped)
		munmap((void *)(uintptr_t)mapped, mapped_len);
	if (d.pbuf)
		sodium_free(d.pbuf);
	if (d.ks)
		sodium_free(d.ks);
	return st;
}
