/* SSH signatures (openssh PROTOCOL.sshsig) as git writes them with
 * gpg.format=ssh, and the public keys they carry. Verification uses libsodium
 * only, so just Ed25519 keys (plain and FIDO "sk-") are supported; everything
 * else is refused with a message that names what was found. */
#ifndef CIM_SSHSIG_H
#define CIM_SSHSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define SSHSIG_MAX_ARMORED 16384 /* bytes of armored text accepted */
#define SSHKEY_APP_MAX	   128	 /* FIDO application string, e.g. "ssh:" */
#define SSHKEY_FP_SIZE	   64	 /* "SHA256:" + 43 base64 chars + NUL fits */
#define SSHKEY_BLOB_MAX	   (4 + 32 + 4 + 32 + 4 + SSHKEY_APP_MAX)

enum sshkey_type { SSHKEY_ED25519, SSHKEY_SK_ED25519 };

struct sshkey {
	enum sshkey_type type;
	uint8_t pk[32];
	char application[SSHKEY_APP_MAX + 1]; /* sk keys only */
};

struct sshsig {
	struct sshkey key;
	char namespace[64];
	char hash_alg[8]; /* "sha256" or "sha512" */
	uint8_t sig[64];
	uint8_t flags;	  /* sk only */
	uint32_t counter; /* sk only */
};

/* Parses an armored signature ("-----BEGIN SSH SIGNATURE-----" ...).
 * A GPG or X.509 signature, an unsupported key type, a wrong version, bad
 * base64 or trailing data are errors whose message says which. */
int sshsig_parse(const char *armored, size_t len, struct sshsig *out, struct err *e);

/* Checks the signature over msg with the embedded key; fails unless the
 * signature's namespace equals namespace. For sk keys the user-presence flag
 * must be set. Returns 0 when the signature is good. */
int sshsig_verify(const struct sshsig *sig, const char *namespace, const void *msg, size_t len,
		  struct err *e);

/* Parses a key from its type name and base64 blob, as in an allowed_signers
 * or authorized_keys line. */
int sshkey_parse_text(const char *type, const char *base64, struct sshkey *out, struct err *e);

/* Like sshkey_parse_text, but a key type we cannot verify (ssh-rsa, ecdsa-...) is
 * not an error: its base64 must still decode to a blob naming that type, and
 * *supported is set to false with out left untouched. */
int sshkey_parse_text_any(const char *type, const char *base64, struct sshkey *out, bool *supported,
			  struct err *e);

/* True for the key type names OpenSSH defines, supported or not. */
bool sshkey_type_known(const char *name);

/* Copies s into out (NUL-terminated, truncated), escaping control and
 * non-ASCII bytes as \xNN so untrusted names are safe in messages. */
void sshsig_printable(const void *s, size_t len, char *out, size_t outsz);

/* Parses a key from its wire blob (string type, string pk[, string app]). */
int sshkey_parse_blob(const uint8_t *blob, size_t len, struct sshkey *out, struct err *e);

/* Serialises the wire blob; returns its length (at most SSHKEY_BLOB_MAX). */
size_t sshkey_blob(const struct sshkey *key, uint8_t *out);

/* "SHA256:<unpadded base64 of SHA-256(blob)>", as ssh-keygen -l prints it. */
void sshkey_fingerprint(const struct sshkey *key, char out[SSHKEY_FP_SIZE]);

const char *sshkey_type_name(enum sshkey_type type);

bool sshkey_equal(const struct sshkey *a, const struct sshkey *b);

#endif
