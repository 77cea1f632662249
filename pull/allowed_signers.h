/* The allowed_signers file (ssh-keygen(1) "ALLOWED SIGNERS", git's
 * gpg.ssh.allowedSignersFile): which keys may sign, for which principals and
 * namespaces, and when. A line that cannot be parsed rejects the whole file,
 * naming its line: a typo must never silently drop or widen trust. Lines with
 * key types libsodium cannot verify (RSA, ECDSA) are kept but never match. */
#ifndef CIM_ALLOWED_SIGNERS_H
#define CIM_ALLOWED_SIGNERS_H

#include "pull/settings.h"
#include "pull/sshsig.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct err;

#define ALLOWED_SIGNERS_MAX_BYTES (1024 * 1024)
#define ALLOWED_SIGNERS_MAX_LINE  8192

struct allowed_signer {
	int line;
	char *principals;  /* comma-separated patterns, '!' negates */
	char *namespaces;  /* comma-separated patterns; NULL means any */
	bool cert_authority;
	bool has_valid_after, has_valid_before;
	time_t valid_after, valid_before;
	bool supported;    /* false for key types we cannot verify */
	char keytype[48];  /* as written in the file */
	struct sshkey key; /* meaningful only when supported */
};

struct allowed_signers {
	char *name; /* file name, for messages */
	/* SIGNER_ANY: a key's principals are not compared with the identity
	 * (git verify-commit's rule); set by the caller after loading. */
	enum signer_policy signer;
	struct allowed_signer *v;
	size_t n;
};

int allowed_signers_load(struct allowed_signers *as, const char *path, struct err *e);
int allowed_signers_parse(struct allowed_signers *as, const char *name, const char *text,
			  size_t len, struct err *e);

/* Finds the entry that lets key sign for identity in namespace at time now:
 * same key, not a cert-authority line, identity matched by the principals
 * (and by no negated pattern), namespace allowed, now within valid-after/
 * valid-before. Returns NULL and a reason in e when none does; the reason
 * names the closest miss (unknown key, principal mismatch, expired, ...). */
const struct allowed_signer *allowed_signers_match(const struct allowed_signers *as,
						   const struct sshkey *key, const char *identity,
						   const char *namespace, time_t now, struct err *e);

/* Matches s against a comma-separated pattern list with '*', '?' and '!'
 * negation: 1 on a positive match, -1 when a negated pattern matches, 0 when
 * nothing matches. */
int pattern_list_match(const char *s, const char *patterns);

void allowed_signers_release(struct allowed_signers *as);

#endif
