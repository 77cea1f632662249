/* age identities: the keys cim-agent decrypts with.
 *
 * Two kinds are understood:
 *   - native X25519 identities, "AGE-SECRET-KEY-1..." (Bech32, BIP173 checksum),
 *     one per line in an identity file, '#' comments and blank lines allowed;
 *   - OpenSSH ed25519 private keys ("openssh-key-v1", unencrypted), such as the
 *     host key /etc/ssh/ssh_host_ed25519_key.
 * A passphrase (for scrypt stanzas) may be attached as well.
 *
 * Every secret byte lives in sodium_malloc'd memory (locked, guard pages) and is
 * wiped by identities_release(). Nothing here prints. */
#ifndef CIM_SECRETS_IDENTITY_H
#define CIM_SECRETS_IDENTITY_H

#include <stddef.h>

struct err;

#define AGE_MAX_IDENTITIES	64
#define IDENTITY_FILE_MAX	(64 * 1024)
#define IDENTITY_PASSPHRASE_MAX 1024
#define SSH_ED25519_BLOB_LEN	51 /* string "ssh-ed25519" + string pk[32] */

enum age_key_type { AGE_KEY_X25519, AGE_KEY_SSH_ED25519 };

/* One identity, allocated with sodium_malloc. For an ssh-ed25519 key, x_secret
 * is the X25519 form of the ed25519 secret and x_public its public point. */
struct age_key {
	enum age_key_type type;
	unsigned char x_secret[32];
	unsigned char x_public[32];
	/* ssh-ed25519 only */
	unsigned char ed_public[32];
	unsigned char ssh_blob[SSH_ED25519_BLOB_LEN];
	unsigned char ssh_tag[4]; /* first 4 bytes of SHA-256(ssh_blob) */
	unsigned char ssh_tweak[32];
	/* libsodium's Ed25519 secret key (seed then public key): what signs
	 * this host's fleet reports when the key is its host key. */
	unsigned char ed_secret[64];
};

struct age_identities {
	struct age_key *keys[AGE_MAX_IDENTITIES];
	size_t n;
	char *passphrase; /* sodium_malloc'd, NUL-terminated; NULL when none */
	size_t passphrase_len;
};

/* Initializes libsodium (idempotent); returns -1 with e filled on failure. */
int identity_sodium_init(struct err *e);

/* Appends the identities found in text (an identity file's content, len bytes
 * followed by a NUL as file_read_capped() leaves it; name is for messages) to ids. An OpenSSH
 * ed25519 private key or AGE-SECRET-KEY-1 lines. Encrypted OpenSSH keys and non-ed25519 keys are
 * refused with a clear message. */
int identity_parse(struct age_identities *ids, const char *name, const char *text, size_t len,
		   struct err *e);

/* Reads path (capped at IDENTITY_FILE_MAX) and appends its identities; the file
 * content is wiped from memory afterwards. */
int identity_load_file(struct age_identities *ids, const char *path, struct err *e);

/* Reads a passphrase from path: its first line, without the line ending. */
int identity_load_passphrase(struct age_identities *ids, const char *path, struct err *e);

/* Wipes and frees everything in ids; ids may then be reused. */
void identities_release(struct age_identities *ids);

/* Recipient strings for k: for X25519, "age1..." into age1 (and "" into ssh);
 * for ssh-ed25519, "ssh-ed25519 AAAA..." into ssh (and "" into age1: such a key
 * has no age1 form). Buffers of at least 128 bytes. */
int identity_recipient(const struct age_key *k, char *age1, size_t age1_size, char *ssh,
		       size_t ssh_size, struct err *e);

/* Bech32 (BIP173 checksum; no 90-character limit, as age uses it). Encodes data
 * with the lowercase hrp into out; returns -1 when out is too small. */
int bech32_encode(const char *hrp, const unsigned char *data, size_t len, char *out,
		  size_t out_size);

/* Decodes a Bech32 string; mixed case, a bad checksum or padding are errors. The
 * lowercased hrp goes to hrp (hrp_size bytes), the data to data (at most
 * data_size bytes, *data_len set). Returns 0 or -1. */
int bech32_decode(const char *str, char *hrp, size_t hrp_size, unsigned char *data,
		  size_t data_size, size_t *data_len);

#endif
