/* Shared helpers of the fleet unit tests: hosts files with throwaway keys. */
#ifndef CIM_TEST_FLEET_FIXTURES_H
#define CIM_TEST_FLEET_FIXTURES_H

#include "fleet/hosts.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A deterministic Ed25519 key pair for name (the seed is SHA-256 of it). */
static inline void fx_keypair(const char *name, unsigned char pk[32], unsigned char sk[64])
{
	unsigned char seed[32];

	crypto_hash_sha256(seed, (const unsigned char *)name, strlen(name));
	crypto_sign_seed_keypair(pk, sk, seed);
}

/* "name ssh-ed25519 AAAA... comment\n" for every name of the NULL-terminated
 * list, into a heap buffer the caller frees. */
static inline char *fx_hosts_text(const char *const *names)
{
	size_t cap = 1, len = 0;
	char *text;

	for (size_t i = 0; names[i]; i++)
		cap += strlen(names[i]) + 140;
	text = malloc(cap);
	if (!text)
		abort();
	text[0] = '\0';
	for (size_t i = 0; names[i]; i++) {
		unsigned char pk[32], sk[64];
		char key[128];

		fx_keypair(names[i], pk, sk);
		if (fleet_key_format(pk, key, sizeof(key)) < 0)
			abort();
		len += (size_t)snprintf(text + len, cap - len, "%s %s test key\n", names[i], key);
	}
	return text;
}

#endif
