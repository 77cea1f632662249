#include "pull/sshsig.h"

#include "base/err.h"
#include "base/sshwire.h"

#include <sodium.h>
#include <string.h>

#define SSHSIG_MAGIC	  "SSHSIG"
#define SSHSIG_MAGIC_LEN  6
#define SSHSIG_BEGIN	  "-----BEGIN SSH SIGNATURE-----"
#define SSHSIG_END	  "-----END SSH SIGNATURE-----"
#define ED25519_TYPE	  "ssh-ed25519"
#define SK_ED25519_TYPE	  "sk-ssh-ed25519@openssh.com"
#define SK_FLAG_USER_SEEN 0x01
/* Longest base64 key text accepted (an RSA-16384 key is about 2.8 KB). */
#define SSHKEY_TEXT_MAX 8192

void sshsig_printable(const void *s, size_t len, char *out, size_t outsz)
{
	const unsigned char *c = s;
	size_t o = 0;

	if (outsz == 0)
		return;
	for (size_t i = 0; i < len && o + 1 < outsz; i++) {
		if (c[i] >= 0x20 && c[i] < 0x7f) {
			out[o++] = (char)c[i];
		} else if (o + 4 < outsz) {
			static const char hex[] = "0123456789abcdef";
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c[i] >> 4];
			out[o++] = hex[c[i] & 15];
		} else {
			break;
		}
	}
	out[o] = '\0';
}

const char *sshkey_type_name(enum sshkey_type type)
{
	return type == SSHKEY_SK_ED25519 ? SK_ED25519_TYPE : ED25519_TYPE;
}

static int type_from_name(const uint8_t *s, size_t len, enum sshkey_type *type)
{
	if (sshwire_eq(s, len, ED25519_TYPE))
		*type = SSHKEY_ED25519;
	else if (sshwire_eq(s, len, SK_ED25519_TYPE))
		*type = SSHKEY_SK_ED25519;
	else
		return -1;
	return 0;
}

bool sshkey_type_known(const char *name)
{
	static const char *const known[] = {
	    ED25519_TYPE,
	    SK_ED25519_TYPE,
	    "ssh-rsa",
	    "ssh-dss",
	    "ecdsa-sha2-nistp256",
	    "ecdsa-sha2-nistp384",
	    "ecdsa-sha2-nistp521",
	    "sk-ecdsa-sha2-nistp256@openssh.com",
	};
	static const char cert[] = "-cert-v01@openssh.com";
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(name, known[i]) == 0)
			return true;
	return len > strlen(cert) && strcmp(name + len - strlen(cert), cert) == 0;
}

/* Explains why a key type found in a signature or key cannot be used. */
static int refuse_type(const uint8_t *s, size_t len, struct err *e)
{
	static const char cert[] = "-cert-v01@openssh.com";
	char name[96];

	sshsig_printable(s, len, name, sizeof(name));
	if (len > strlen(cert) && memcmp(s + len - strlen(cert), cert, strlen(cert)) == 0)
		return err_set(e,
			       "signed with an %s certificate; cim-agent can verify only plain "
			       "ssh-ed25519 and sk-ssh-ed25519@openssh.com keys",
			       name);
	if (len == 0)
		return err_set(e, "key has an empty type name");
	return err_set(e,
		       "signed with an %s key; cim-agent can verify only ssh-ed25519 and "
		       "sk-ssh-ed25519@openssh.com keys",
		       name);
}

int sshkey_parse_blob(const uint8_t *blob, size_t len, struct sshkey *out, struct err *e)
{
	struct sshwire r = sshwire_init(blob, len);
	const uint8_t *type, *pk, *app;
	size_t type_len, pk_len, app_len;
	struct sshkey key;

	memset(&key, 0, sizeof(key));
	if (sshwire_string(&r, &type, &type_len) < 0)
		return err_set(e, "public key blob is truncated (no key type)");
	if (type_from_name(type, type_len, &key.type) < 0)
		return refuse_type(type, type_len, e);
	if (sshwire_string(&r, &pk, &pk_len) < 0)
		return err_set(e, "%s public key blob is truncated", sshkey_type_name(key.type));
	if (pk_len != sizeof(key.pk))
		return err_set(e, "%s public key is %zu bytes, expected 32",
			       sshkey_type_name(key.type), pk_len);
	memcpy(key.pk, pk, sizeof(key.pk));
	if (key.type == SSHKEY_SK_ED25519) {
		if (sshwire_string(&r, &app, &app_len) < 0)
			return err_set(e, "%s public key blob has no application", SK_ED25519_TYPE);
		if (app_len == 0 || app_len > SSHKEY_APP_MAX || memchr(app, '\0', app_len))
			return err_set(e, "%s public key has a bad application (%zu bytes)",
				       SK_ED25519_TYPE, app_len);
		memcpy(key.application, app, app_len);
		key.application[app_len] = '\0';
	}
	if (sshwire_left(&r) != 0)
		return err_set(e, "%s public key blob has %zu bytes of trailing data",
			       sshkey_type_name(key.type), sshwire_left(&r));
	*out = key;
	return 0;
}

size_t sshkey_blob(const struct sshkey *key, uint8_t *out)
{
	const char *type = sshkey_type_name(key->type);
	uint8_t *p = out;

	p = sshwire_put_string(p, type, strlen(type));
	p = sshwire_put_string(p, key->pk, sizeof(key->pk));
	if (key->type == SSHKEY_SK_ED25519)
		p = sshwire_put_string(p, key->application,
				       strnlen(key->application, SSHKEY_APP_MAX));
	return (size_t)(p - out);
}

static int decode_key_text(const char *type, const char *base64, uint8_t *blob, size_t blobsz,
			   size_t *bloblen, struct err *e)
{
	struct sshwire r;
	const uint8_t *embedded;
	size_t elen, b64len = strlen(base64);
	char name[96];

	if (b64len > SSHKEY_TEXT_MAX)
		return err_set(e, "%s key is longer than %d characters", type, SSHKEY_TEXT_MAX);
	if (sodium_base642bin(blob, blobsz, base64, b64len, NULL, bloblen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return err_set(e, "%s key is not valid base64", type);
	r = sshwire_init(blob, *bloblen);
	if (sshwire_string(&r, &embedded, &elen) < 0)
		return err_set(e, "%s key blob is truncated (no key type)", type);
	if (!sshwire_eq(embedded, elen, type)) {
		sshsig_printable(embedded, elen, name, sizeof(name));
		return err_set(e, "key is labelled %s but its blob says %s", type, name);
	}
	return 0;
}

int sshkey_parse_text_any(const char *type, const char *base64, struct sshkey *out, bool *supported,
			  struct err *e)
{
	uint8_t blob[SSHKEY_TEXT_MAX / 4 * 3 + 3];
	size_t bloblen;
	enum sshkey_type t;

	if (decode_key_text(type, base64, blob, sizeof(blob), &bloblen, e) < 0)
		return -1;
	*supported = type_from_name((const uint8_t *)type, strlen(type), &t) == 0;
	if (!*supported)
		return 0;
	return sshkey_parse_blob(blob, bloblen, out, e);
}

int sshkey_parse_text(const char *type, const char *base64, struct sshkey *out, struct err *e)
{
	enum sshkey_type t;
	bool supported;

	if (type_from_name((const uint8_t *)type, strlen(type), &t) < 0)
		return refuse_type((const uint8_t *)type, strlen(type), e);
	return sshkey_parse_text_any(type, base64, out, &supported, e);
}

void sshkey_fingerprint(const struct sshkey *key, char out[SSHKEY_FP_SIZE])
{
	uint8_t blob[SSHKEY_BLOB_MAX], digest[crypto_hash_sha256_BYTES];
	size_t len = sshkey_blob(key, blob);

	crypto_hash_sha256(digest, blob, len);
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, SSHKEY_FP_SIZE - 7, digest, sizeof(digest),
			  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

bool sshkey_equal(const struct sshkey *a, const struct sshkey *b)
{
	if (a->type != b->type || memcmp(a->pk, b->pk, sizeof(a->pk)) != 0)
		return false;
	return a->type != SSHKEY_SK_ED25519 || strcmp(a->application, b->application) == 0;
}

static const void *find(const char *hay, size_t len, const char *needle)
{
	return memmem(hay, len, needle, strlen(needle));
}

/* Names the kind of signature when it is not an SSH one. */
static int refuse_armor(const char *text, size_t len, struct err *e)
{
	if (find(text, len, "-----BEGIN PGP SIGNATURE-----") ||
	    find(text, len, "-----BEGIN PGP MESSAGE-----"))
		return err_set(e, "signature is a GPG (OpenPGP) signature; cim-agent only "
				  "accepts SSH signatures");
	if (find(text, len, "-----BEGIN SIGNED MESSAGE-----") ||
	    find(text, len, "-----BEGIN PKCS7-----") || find(text, len, "-----BEGIN CMS-----"))
		return err_set(e, "signature is an X.509 (S/MIME) signature; cim-agent only "
				  "accepts SSH signatures");
	return err_set(e, "not an SSH signature (no '" SSHSIG_BEGIN "' line)");
}

static bool only_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", s[i]) || s[i] == '\0')
			return false;
	return true;
}

/* Decodes the armored text into blob; whitespace in the body is ignored. */
static int dearmor(const char *text, size_t len, uint8_t *blob, size_t blobsz, size_t *bloblen,
		   struct err *e)
{
	const char *begin, *body, *end;
	size_t blen = strlen(SSHSIG_BEGIN);

	begin = find(text, len, SSHSIG_BEGIN);
	if (!begin)
		return refuse_armor(text, len, e);
	if (!only_space(text, (size_t)(begin - text)))
		return err_set(e, "SSH signature has text before the '" SSHSIG_BEGIN "' line");
	body = begin + blen;
	end = find(body, len - (size_t)(body - text), SSHSIG_END);
	if (!end)
		return err_set(e, "SSH signature has no '" SSHSIG_END "' line");
	if (!only_space(end + strlen(SSHSIG_END), len - (size_t)(end + strlen(SSHSIG_END) - text)))
		return err_set(e, "SSH signature has text after the '" SSHSIG_END "' line");
	if (sodium_base642bin(blob, blobsz, body, (size_t)(end - body), " \t\r\n", bloblen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return err_set(e, "SSH signature body is not valid base64");
	return 0;
}

static int parse_sig_blob(const uint8_t *s, size_t len, struct sshsig *out, struct err *e)
{
	struct sshwire r = sshwire_init(s, len);
	const uint8_t *type, *sig;
	size_t type_len, sig_len;
	const char *want = sshkey_type_name(out->key.type);
	char name[96];

	if (sshwire_string(&r, &type, &type_len) < 0)
		return err_set(e, "signature blob is truncated (no signature type)");
	if (!sshwire_eq(type, type_len, want)) {
		sshsig_printable(type, type_len, name, sizeof(name));
		return err_set(e, "signature type is %s but the key is %s", name, want);
	}
	if (sshwire_string(&r, &sig, &sig_len) < 0)
		return err_set(e, "signature blob is truncated");
	if (sig_len != sizeof(out->sig))
		return err_set(e, "%s signature is %zu bytes, expected 64", want, sig_len);
	memcpy(out->sig, sig, sizeof(out->sig));
	if (out->key.type == SSHKEY_SK_ED25519 &&
	    (sshwire_u8(&r, &out->flags) < 0 || sshwire_u32(&r, &out->counter) < 0))
		return err_set(e, "%s signature has no flags and counter", want);
	if (sshwire_left(&r) != 0)
		return err_set(e, "signature blob has %zu bytes of trailing data",
			       sshwire_left(&r));
	return 0;
}

int sshsig_parse(const char *armored, size_t len, struct sshsig *out, struct err *e)
{
	uint8_t blob[SSHSIG_MAX_ARMORED / 4 * 3 + 3];
	size_t bloblen;
	struct sshwire r;
	struct sshsig sig;
	uint32_t version;
	const uint8_t *magic, *pk, *ns, *reserved, *hash, *sigblob;
	size_t pk_len, ns_len, reserved_len, hash_len, sigblob_len;
	char name[96];

	if (len > SSHSIG_MAX_ARMORED)
		return err_set(e, "signature is %zu bytes, more than the limit of %d", len,
			       SSHSIG_MAX_ARMORED);
	if (dearmor(armored, len, blob, sizeof(blob), &bloblen, e) < 0)
		return -1;
	memset(&sig, 0, sizeof(sig));
	r = sshwire_init(blob, bloblen);
	if (sshwire_bytes(&r, SSHSIG_MAGIC_LEN, &magic) < 0 ||
	    memcmp(magic, SSHSIG_MAGIC, SSHSIG_MAGIC_LEN) != 0)
		return err_set(e, "SSH signature does not start with SSHSIG");
	if (sshwire_u32(&r, &version) < 0)
		return err_set(e, "SSH signature is truncated (no version)");
	if (version != 1)
		return err_set(e, "SSH signature has version %u; only version 1 is supported",
			       (unsigned)version);
	if (sshwire_string(&r, &pk, &pk_len) < 0)
		return err_set(e, "SSH signature is truncated (public key)");
	if (sshkey_parse_blob(pk, pk_len, &sig.key, e) < 0)
		return -1;
	if (sshwire_string(&r, &ns, &ns_len) < 0)
		return err_set(e, "SSH signature is truncated (namespace)");
	if (ns_len == 0)
		return err_set(e, "SSH signature has an empty namespace");
	if (ns_len >= sizeof(sig.namespace) || memchr(ns, '\0', ns_len)) {
		sshsig_printable(ns, ns_len, name, sizeof(name));
		return err_set(e, "SSH signature has a bad namespace '%s' (%zu bytes)", name,
			       ns_len);
	}
	memcpy(sig.namespace, ns, ns_len);
	/* reserved is not covered by the signed data (the verifier uses ""). */
	if (sshwire_string(&r, &reserved, &reserved_len) < 0)
		return err_set(e, "SSH signature is truncated (reserved)");
	if (sshwire_string(&r, &hash, &hash_len) < 0)
		return err_set(e, "SSH signature is truncated (hash algorithm)");
	if (!sshwire_eq(hash, hash_len, "sha256") && !sshwire_eq(hash, hash_len, "sha512")) {
		sshsig_printable(hash, hash_len, name, sizeof(name));
		return err_set(e, "SSH signature uses unknown hash algorithm '%s'", name);
	}
	memcpy(sig.hash_alg, hash, hash_len);
	if (sshwire_string(&r, &sigblob, &sigblob_len) < 0)
		return err_set(e, "SSH signature is truncated (signature)");
	if (parse_sig_blob(sigblob, sigblob_len, &sig, e) < 0)
		return -1;
	if (sshwire_left(&r) != 0)
		return err_set(e, "SSH signature has %zu bytes of trailing data", sshwire_left(&r));
	*out = sig;
	return 0;
}

int sshsig_verify(const struct sshsig *sig, const char *namespace, const void *msg, size_t len,
		  struct err *e)
{
	uint8_t digest[crypto_hash_sha512_BYTES], data[256], *p = data;
	size_t dlen = strcmp(sig->hash_alg, "sha256") == 0 ? crypto_hash_sha256_BYTES
							   : crypto_hash_sha512_BYTES;
	char fp[SSHKEY_FP_SIZE];

	if (sodium_init() < 0)
		return err_set(e, "libsodium could not be initialised");
	if (strcmp(sig->namespace, namespace) != 0)
		return err_set(e, "signature namespace is '%s', expected '%s'", sig->namespace,
			       namespace);
	if (strcmp(sig->hash_alg, "sha256") == 0)
		crypto_hash_sha256(digest, msg, len);
	else if (strcmp(sig->hash_alg, "sha512") == 0)
		crypto_hash_sha512(digest, msg, len);
	else
		return err_set(e, "unknown hash algorithm '%s'", sig->hash_alg);

	/* The namespace is at most 63 bytes, so data always fits. */
	memcpy(p, SSHSIG_MAGIC, SSHSIG_MAGIC_LEN);
	p += SSHSIG_MAGIC_LEN;
	p = sshwire_put_string(p, sig->namespace, strlen(sig->namespace));
	p = sshwire_put_string(p, "", 0);
	p = sshwire_put_string(p, sig->hash_alg, strlen(sig->hash_alg));
	p = sshwire_put_string(p, digest, dlen);

	sshkey_fingerprint(&sig->key, fp);
	if (sig->key.type == SSHKEY_SK_ED25519) {
		uint8_t sk[32 + 1 + 4 + 32];

		if (!(sig->flags & SK_FLAG_USER_SEEN))
			return err_set(e,
				       "signature by %s key %s was made without user presence "
				       "(flags 0x%02x)",
				       SK_ED25519_TYPE, fp, sig->flags);
		crypto_hash_sha256(sk, (const uint8_t *)sig->key.application,
				   strlen(sig->key.application));
		sk[32] = sig->flags;
		sshwire_put_u32(sk + 33, sig->counter);
		crypto_hash_sha256(sk + 37, data, (size_t)(p - data));
		if (crypto_sign_verify_detached(sig->sig, sk, sizeof(sk), sig->key.pk) != 0)
			return err_set(e, "bad signature by %s key %s", SK_ED25519_TYPE, fp);
		return 0;
	}
	if (crypto_sign_verify_detached(sig->sig, data, (size_t)(p - data), sig->key.pk) != 0)
		return err_set(e, "bad signature by %s key %s", ED25519_TYPE, fp);
	return 0;
}
