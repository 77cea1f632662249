#include "secrets/age_stanza.h"

#include "base/err.h"
#include "secrets/age_b64.h"
#include "secrets/age_header.h"
#include "secrets/age_hkdf.h"
#include "secrets/identity.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

static const char x25519_label[] = "age-encryption.org/v1/X25519";
static const char ssh_label[] = "age-encryption.org/v1/ssh-ed25519";
static const char scrypt_label[] = "age-encryption.org/v1/scrypt";

/* The secrets of one unwrap, kept together in locked memory. */
struct scratch {
	unsigned char shared[32];
	unsigned char shared2[32];
	unsigned char wrap[32];
	unsigned char salt[64];
	unsigned char file_key[16];
};

static int open_body(const unsigned char wrap[32], const struct age_stanza *s,
		     unsigned char file_key[16])
{
	static const unsigned char zero_nonce[12];

	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
	    file_key, NULL, s->body, 16, s->body + 16, NULL, 0, zero_nonce, wrap);
}

/* 0 when s opened, -1 when it is not for k, -2 for a low-order share. */
static int unwrap_x25519(const struct age_stanza *s, const struct age_key *k, struct scratch *ks)
{
	unsigned char share[32];

	age_b64_exact(s->args[1], s->arglen[1], share, 32);
	if (crypto_scalarmult(ks->shared, k->x_secret, share) != 0)
		return -2; /* a low-order share: the header is bad, whoever it is for */
	memcpy(ks->salt, share, 32);
	memcpy(ks->salt + 32, k->x_public, 32);
	age_hkdf_sha256(ks->salt, 64, ks->shared, 32, (const unsigned char *)x25519_label,
			sizeof(x25519_label) - 1, ks->wrap, 32);
	return open_body(ks->wrap, s, ks->file_key);
}

static int unwrap_ssh(const struct age_stanza *s, const struct age_key *k, struct scratch *ks)
{
	unsigned char tag[4], share[32];

	age_b64_exact(s->args[1], s->arglen[1], tag, 4);
	age_b64_exact(s->args[2], s->arglen[2], share, 32);
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
				     struct scratch *ks, struct err *e)
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
	age_b64_exact(s->args[1], s->arglen[1], ks->salt + sizeof(scrypt_label) - 1, 16);
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

/* Tries every key of ids on s: 0 opened, -1 none did, -2 low-order share. */
static int try_keys(const struct age_stanza *s, const struct age_identities *ids,
		    struct scratch *ks)
{
	for (size_t j = 0; j < ids->n; j++) {
		const struct age_key *k = ids->keys[j];
		int rc = -1;

		if (age_stanza_arg_is(s, 0, "X25519") && k->type == AGE_KEY_X25519)
			rc = unwrap_x25519(s, k, ks);
		else if (age_stanza_arg_is(s, 0, "ssh-ed25519") && k->type == AGE_KEY_SSH_ED25519)
			rc = unwrap_ssh(s, k, ks);
		if (rc != -1)
			return rc;
	}
	return -1;
}

/* Why no stanza opened. */
static enum age_status none_opened(const struct age_header *h, const struct age_identities *ids,
				   int saw_rsa, int saw_scrypt, struct err *e)
{
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

static enum age_status find_file_key(const struct age_header *h, const struct age_identities *ids,
				     struct scratch *ks, struct err *e)
{
	int saw_rsa = 0, saw_scrypt = 0;

	for (size_t i = 0; i < h->nstanzas; i++) {
		const struct age_stanza *s = &h->stanzas[i];
		int rc;

		if (age_stanza_arg_is(s, 0, "scrypt")) {
			saw_scrypt = 1;
			if (ids->passphrase)
				return unwrap_scrypt(s, ids, ks, e);
			continue;
		}
		if (age_stanza_arg_is(s, 0, "ssh-rsa")) {
			saw_rsa = 1;
			continue;
		}
		rc = try_keys(s, ids, ks);
		if (rc == 0)
			return AGE_OK;
		if (rc == -2) {
			err_set(e,
				"malformed age header: the %.*s stanza's share is a low-order "
				"point",
				(int)s->arglen[0], s->args[0]);
			return AGE_ERR_HEADER;
		}
	}
	return none_opened(h, ids, saw_rsa, saw_scrypt, e);
}

enum age_status age_stanza_unwrap(const struct age_header *h, const struct age_identities *ids,
				  unsigned char file_key[16], struct err *e)
{
	struct scratch *ks = sodium_malloc(sizeof(*ks));
	enum age_status st;

	if (!ks) {
		err_set(e, "out of memory");
		return AGE_ERR_IO;
	}
	st = find_file_key(h, ids, ks, e);
	if (st == AGE_OK)
		memcpy(file_key, ks->file_key, 16);
	sodium_free(ks); /* wipes */
	return st;
}
