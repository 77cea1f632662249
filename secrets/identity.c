#include "secrets/identity.h"

#include "secrets/age_hkdf.h"
#include "base/err.h"
#include "base/fileio.h"
#include "base/sshwire.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char bech32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

int identity_sodium_init(struct err *e)
{
	if (sodium_init() < 0)
		return err_set(e, "libsodium failed to initialize");
	return 0;
}

static uint32_t bech32_polymod_step(uint32_t chk, unsigned v)
{
	static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
	uint32_t top = chk >> 25;

	chk = ((chk & 0x1ffffff) << 5) ^ v;
	for (int i = 0; i < 5; i++)
		if ((top >> i) & 1)
			chk ^= gen[i];
	return chk;
}

static uint32_t bech32_hrp_chk(const char *hrp, size_t hrp_len)
{
	uint32_t chk = 1;

	for (size_t i = 0; i < hrp_len; i++)
		chk = bech32_polymod_step(chk, (unsigned char)hrp[i] >> 5);
	chk = bech32_polymod_step(chk, 0);
	for (size_t i = 0; i < hrp_len; i++)
		chk = bech32_polymod_step(chk, (unsigned char)hrp[i] & 31);
	return chk;
}

int bech32_encode(const char *hrp, const unsigned char *data, size_t len, char *out,
		  size_t out_size)
{
	size_t hrp_len = strlen(hrp), pos = 0, nvals = (len * 8 + 4) / 5;
	uint32_t chk, acc = 0;
	unsigned bits = 0;

	if (hrp_len + 1 + nvals + 6 + 1 > out_size)
		return -1;
	chk = bech32_hrp_chk(hrp, hrp_len);
	memcpy(out, hrp, hrp_len);
	pos = hrp_len;
	out[pos++] = '1';
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | data[i];
		bits += 8;
		while (bits >= 5) {
			unsigned v = (acc >> (bits - 5)) & 31;
			bits -= 5;
			chk = bech32_polymod_step(chk, v);
			out[pos++] = bech32_charset[v];
		}
	}
	if (bits > 0) {
		unsigned v = (acc << (5 - bits)) & 31;
		chk = bech32_polymod_step(chk, v);
		out[pos++] = bech32_charset[v];
	}
	for (int i = 0; i < 6; i++)
		chk = bech32_polymod_step(chk, 0);
	chk ^= 1;
	for (int i = 0; i < 6; i++)
		out[pos++] = bech32_charset[(chk >> (5 * (5 - i))) & 31];
	out[pos] = '\0';
	return 0;
}

int bech32_decode(const char *str, char *hrp, size_t hrp_size, unsigned char *data,
		  size_t data_size, size_t *data_len)
{
	size_t len = strlen(str), sep = 0, out = 0;
	int has_lower = 0, has_upper = 0;
	uint32_t chk, acc = 0;
	unsigned bits = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c < 33 || c > 126)
			return -1;
		if (islower(c))
			has_lower = 1;
		if (isupper(c))
			has_upper = 1;
		if (c == '1')
			sep = i;
	}
	if (has_lower && has_upper)
		return -1;
	if (sep == 0 || sep + 7 > len || sep + 1 > hrp_size)
		return -1;
	for (size_t i = 0; i < sep; i++)
		hrp[i] = (char)tolower((unsigned char)str[i]);
	hrp[sep] = '\0';
	chk = bech32_hrp_chk(hrp, sep);
	for (size_t i = sep + 1; i < len; i++) {
		const char *p = strchr(bech32_charset, tolower((unsigned char)str[i]));
		unsigned v;
		if (!p || !*p)
			return -1;
		v = (unsigned)(p - bech32_charset);
		chk = bech32_polymod_step(chk, v);
		if (i >= len - 6)
			continue; /* checksum characters */
		acc = (acc << 5) | v;
		bits += 5;
		if (bits >= 8) {
			if (out == data_size)
				return -1;
			data[out++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	if (chk != 1)
		return -1;
	/* At most 4 bits of zero padding. */
	if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
		return -1;
	*data_len = out;
	return 0;
}

static int add_key(struct age_identities *ids, struct age_key **out, struct err *e)
{
	struct age_key *k;

	if (ids->n == AGE_MAX_IDENTITIES)
		return err_set(e, "more than %d identities", AGE_MAX_IDENTITIES);
	k = sodium_malloc(sizeof(*k));
	if (!k)
		return err_set(e, "out of memory for a key");
	sodium_memzero(k, sizeof(*k));
	ids->keys[ids->n++] = k;
	*out = k;
	return 0;
}

/* Builds the 51-byte SSH wire form of an ed25519 public key. */
static void ssh_ed25519_blob(const unsigned char pk[32], unsigned char blob[SSH_ED25519_BLOB_LEN])
{
	sshwire_put_string(sshwire_put_string(blob, "ssh-ed25519", 11), pk, 32);
}

static int parse_age_secret_key(struct age_identities *ids, const char *name, int lineno,
				const char *line, struct err *e)
{
	char hrp[32];
	unsigned char sk[32];
	size_t n = 0;
	struct age_key *k;

	if (bech32_decode(line, hrp, sizeof(hrp), sk, sizeof(sk), &n) < 0 ||
	    strcmp(hrp, "age-secret-key-") != 0 || n != 32) {
		sodium_memzero(sk, sizeof(sk));
		return err_set(e, "%s:%d: not a valid AGE-SECRET-KEY-1 identity", name, lineno);
	}
	if (add_key(ids, &k, e) < 0) {
		sodium_memzero(sk, sizeof(sk));
		return -1;
	}
	k->type = AGE_KEY_X25519;
	memcpy(k->x_secret, sk, 32);
	sodium_memzero(sk, sizeof(sk));
	if (crypto_scalarmult_base(k->x_public, k->x_secret) != 0)
		return err_set(e, "%s:%d: unusable X25519 key", name, lineno);
	return 0;
}

#define OPENSSH_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define OPENSSH_END   "-----END OPENSSH PRIVATE KEY-----"

/* The outer layer of an openssh-key-v1 blob: unencrypted, one key; *priv is
 * set to the private section. */
static int openssh_outer(const char *name, const unsigned char *bin, size_t binlen,
			 struct sshwire *priv, struct err *e)
{
	static const char magic[] = "openssh-key-v1"; /* with its NUL */
	struct sshwire w = sshwire_init(bin, binlen);
	const uint8_t *m, *cipher, *kdf, *kdfopts, *pub, *privsec;
	size_t cipher_len, kdf_len, kdfopts_len, pub_len, privsec_len;
	uint32_t nkeys;

	if (sshwire_bytes(&w, sizeof(magic), &m) < 0 || memcmp(m, magic, sizeof(magic)) != 0)
		return err_set(e, "%s: not an openssh-key-v1 private key", name);
	if (sshwire_string(&w, &cipher, &cipher_len) < 0 ||
	    sshwire_string(&w, &kdf, &kdf_len) < 0 ||
	    sshwire_string(&w, &kdfopts, &kdfopts_len) < 0 || sshwire_u32(&w, &nkeys) < 0)
		return err_set(e, "%s: malformed OpenSSH private key", name);
	if (!sshwire_eq(cipher, cipher_len, "none") || !sshwire_eq(kdf, kdf_len, "none"))
		return err_set(e,
			       "%s: the key is encrypted with a passphrase, which is not supported "
			       "(remove it with ssh-keygen -p)",
			       name);
	if (kdfopts_len != 0 || nkeys != 1)
		return err_set(e, "%s: malformed OpenSSH private key (expected one key)", name);
	if (sshwire_string(&w, &pub, &pub_len) < 0 ||
	    sshwire_string(&w, &privsec, &privsec_len) < 0 || sshwire_left(&w) != 0)
		return err_set(e, "%s: malformed OpenSSH private key", name);
	*priv = sshwire_init(privsec, privsec_len);
	return 0;
}

/* The private section: check ints, one ssh-ed25519 key, comment, padding
 * 1, 2, 3...; *pk and *sk point into it. */
static int openssh_private(const char *name, struct sshwire *priv, const uint8_t **pk,
			   const uint8_t **sk, struct err *e)
{
	const uint8_t *type, *comment, *pad;
	size_t type_len, pk_len, sk_len, comment_len, pad_len;
	uint32_t check1, check2;

	if (priv->len % 8 != 0 || sshwire_u32(priv, &check1) < 0 ||
	    sshwire_u32(priv, &check2) < 0 || check1 != check2 ||
	    sshwire_string(priv, &type, &type_len) < 0)
		return err_set(e, "%s: malformed OpenSSH private key", name);
	if (!sshwire_eq(type, type_len, "ssh-ed25519"))
		return err_set(e, "%s: %.*s keys are unsupported (only ssh-ed25519)", name,
			       (int)(type_len > 40 ? 40 : type_len), (const char *)type);
	if (sshwire_string(priv, pk, &pk_len) < 0 || pk_len != 32 ||
	    sshwire_string(priv, sk, &sk_len) < 0 || sk_len != 64 ||
	    sshwire_string(priv, &comment, &comment_len) < 0)
		return err_set(e, "%s: malformed ssh-ed25519 private key", name);
	pad_len = sshwire_left(priv);
	sshwire_bytes(priv, pad_len, &pad);
	for (size_t i = 0; i < pad_len; i++)
		if (pad[i] != (unsigned char)(i + 1))
			return err_set(e, "%s: malformed OpenSSH private key (bad padding)", name);
	return 0;
}

static int parse_openssh_blob(struct age_identities *ids, const char *name,
			      const unsigned char *bin, size_t binlen, struct err *e)
{
	struct sshwire priv;
	const uint8_t *pk, *sk;
	unsigned char derived_pk[32], seed_sk[64];
	struct age_key *k;

	if (openssh_outer(name, bin, binlen, &priv, e) < 0 ||
	    openssh_private(name, &priv, &pk, &sk, e) < 0)
		return -1;
	/* The secret must match the public key it claims. */
	if (crypto_sign_seed_keypair(derived_pk, seed_sk, sk) != 0 ||
	    sodium_memcmp(derived_pk, pk, 32) != 0 || sodium_memcmp(sk + 32, pk, 32) != 0) {
		sodium_memzero(seed_sk, sizeof(seed_sk));
		return err_set(e, "%s: the private key does not match its public key", name);
	}
	sodium_memzero(seed_sk, sizeof(seed_sk));
	if (add_key(ids, &k, e) < 0)
		return -1;
	k->type = AGE_KEY_SSH_ED25519;
	memcpy(k->ed_public, pk, 32);
	memcpy(k->ed_secret, sk, 64);
	ssh_ed25519_blob(pk, k->ssh_blob);
	{
		unsigned char h[32];
		crypto_hash_sha256(h, k->ssh_blob, sizeof(k->ssh_blob));
		memcpy(k->ssh_tag, h, 4);
	}
	if (crypto_sign_ed25519_sk_to_curve25519(k->x_secret, sk) != 0 ||
	    crypto_scalarmult_base(k->x_public, k->x_secret) != 0)
		return err_set(e, "%s: unusable ssh-ed25519 key", name);
	age_hkdf_sha256(k->ssh_blob, sizeof(k->ssh_blob), NULL, 0,
			(const unsigned char *)"age-encryption.org/v1/ssh-ed25519", 33,
			k->ssh_tweak, 32);
	return 0;
}

static int parse_openssh(struct age_identities *ids, const char *name, const char *text, size_t len,
			 struct err *e)
{
	const char *begin = strstr(text, OPENSSH_BEGIN), *end;
	unsigned char *bin;
	size_t binlen = 0;
	int rc;

	begin += strlen(OPENSSH_BEGIN);
	end = strstr(begin, OPENSSH_END);
	if (!end)
		return err_set(e, "%s: OpenSSH private key without its END line", name);
	bin = sodium_malloc(len);
	if (!bin)
		return err_set(e, "out of memory");
	if (sodium_base642bin(bin, len, begin, (size_t)(end - begin), " \t\r\n", &binlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0) {
		sodium_free(bin);
		return err_set(e, "%s: OpenSSH private key is not valid base64", name);
	}
	rc = parse_openssh_blob(ids, name, bin, binlen, e);
	sodium_free(bin); /* wipes */
	return rc;
}

/* A public key where a private one belongs is the usual mistake: say so. */
static int not_an_identity(const char *name, int lineno, const char *line, size_t linelen,
			   struct err *e)
{
	if (linelen > 12 && strncmp(line, "ssh-ed25519 ", 12) == 0)
		return err_set(e,
			       "%s:%d: this is an ssh public key (a .pub file); an identity is "
			       "the private key: give the file without .pub "
			       "(e.g. /etc/ssh/ssh_host_ed25519_key)",
			       name, lineno);
	if (linelen > 8 && strncmp(line, "ssh-rsa ", 8) == 0)
		return err_set(e, "%s:%d: ssh-rsa keys are unsupported", name, lineno);
	if (linelen > 4 && strncmp(line, "age1", 4) == 0)
		return err_set(e,
			       "%s:%d: this is an age recipient (a public key); an identity is the "
			       "AGE-SECRET-KEY-1 line that age-keygen wrote",
			       name, lineno);
	return err_set(e, "%s:%d: not an AGE-SECRET-KEY-1 identity", name, lineno);
}

int identity_parse(struct age_identities *ids, const char *name, const char *text, size_t len,
		   struct err *e)
{
	size_t pos = 0, before = ids->n;
	int lineno = 0;

	if (memchr(text, '\0', len))
		return err_set(e, "%s: contains a NUL byte", name);
	if (strstr(text, OPENSSH_BEGIN))
		return parse_openssh(ids, name, text, len, e);
	if (strstr(text, "-----BEGIN RSA PRIVATE KEY-----") ||
	    strstr(text, "-----BEGIN PRIVATE KEY-----") ||
	    strstr(text, "-----BEGIN EC PRIVATE KEY-----"))
		return err_set(e,
			       "%s: PEM private keys are unsupported (only ssh-ed25519 "
			       "OpenSSH keys and AGE-SECRET-KEY-1 identities)",
			       name);
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t linelen = nl ? (size_t)(nl - line) : len - pos;
		char buf[256];

		pos += linelen + (nl ? 1 : 0);
		lineno++;
		while (linelen > 0 && (line[linelen - 1] == '\r' || line[linelen - 1] == ' ' ||
				       line[linelen - 1] == '\t'))
			linelen--;
		if (linelen == 0 || line[0] == '#')
			continue;
		if (linelen >= sizeof(buf) || strncmp(line, "AGE-SECRET-KEY-1", 16) != 0)
			return not_an_identity(name, lineno, line, linelen, e);
		memcpy(buf, line, linelen);
		buf[linelen] = '\0';
		if (parse_age_secret_key(ids, name, lineno, buf, e) < 0) {
			sodium_memzero(buf, sizeof(buf));
			return -1;
		}
		sodium_memzero(buf, sizeof(buf));
	}
	if (ids->n == before)
		return err_set(e, "%s: no identity found", name);
	return 0;
}

int identity_load_file(struct age_identities *ids, const char *path, struct err *e)
{
	char *text;
	size_t len;
	int rc;

	if (identity_sodium_init(e) < 0)
		return -1;
	if (file_read_capped(path, IDENTITY_FILE_MAX, &text, &len, e) < 0)
		return -1;
	rc = identity_parse(ids, path, text, len, e);
	sodium_memzero(text, len);
	free(text);
	return rc;
}

int identity_load_passphrase(struct age_identities *ids, const char *path, struct err *e)
{
	char *text;
	size_t len, n;

	if (identity_sodium_init(e) < 0)
		return -1;
	if (file_read_capped(path, IDENTITY_PASSPHRASE_MAX, &text, &len, e) < 0)
		return -1;
	n = strcspn(text, "\r\n");
	if (n == 0) {
		sodium_memzero(text, len);
		free(text);
		return err_set(e, "%s: the passphrase is empty", path);
	}
	if (ids->passphrase)
		sodium_free(ids->passphrase);
	ids->passphrase = sodium_malloc(n + 1);
	if (!ids->passphrase) {
		sodium_memzero(text, len);
		free(text);
		return err_set(e, "out of memory");
	}
	memcpy(ids->passphrase, text, n);
	ids->passphrase[n] = '\0';
	ids->passphrase_len = n;
	sodium_memzero(text, len);
	free(text);
	return 0;
}

void identities_release(struct age_identities *ids)
{
	for (size_t i = 0; i < ids->n; i++) {
		sodium_free(ids->keys[i]); /* sodium_free wipes before freeing */
		ids->keys[i] = NULL;
	}
	ids->n = 0;
	if (ids->passphrase)
		sodium_free(ids->passphrase);
	ids->passphrase = NULL;
	ids->passphrase_len = 0;
}

int identity_recipient(const struct age_key *k, char *age1, size_t age1_size, char *ssh,
		       size_t ssh_size, struct err *e)
{
	if (age1_size)
		age1[0] = '\0';
	if (ssh_size)
		ssh[0] = '\0';
	if (k->type == AGE_KEY_X25519) {
		if (bech32_encode("age", k->x_public, 32, age1, age1_size) < 0)
			return err_set(e, "recipient buffer too small");
		return 0;
	}
	if (ssh_size <
	    12 + sodium_base64_ENCODED_LEN(SSH_ED25519_BLOB_LEN, sodium_base64_VARIANT_ORIGINAL))
		return err_set(e, "recipient buffer too small");
	memcpy(ssh, "ssh-ed25519 ", 12);
	sodium_bin2base64(ssh + 12, ssh_size - 12, k->ssh_blob, sizeof(k->ssh_blob),
			  sodium_base64_VARIANT_ORIGINAL);
	return 0;
}
