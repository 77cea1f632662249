/* libFuzzer target: state_dir/fleet.json, as fleet_local_load() reads it
 * (fleet_local_parse), with the key the seed corpus's reports are signed
 * with, so that the report kept in the file is opened as well. */
#include "agent/fleet_local.h"
#include "base/err.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char pk[32], sk[64];
	static int ready;
	struct fleet_local l;
	struct err e = {{0}};

	if (!ready) {
		unsigned char seed[32] = {42};
		if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, sk, seed) != 0)
			__builtin_trap();
		ready = 1;
	}
	if (fleet_local_parse(&l, "fleet.json", (const char *)data, size, "web-01", pk, &e) < 0) {
		if (!e.msg[0])
			__builtin_trap(); /* an error always says why */
		return 0;
	}
	/* a report kept is this host's, and its seq is never ahead of the file's */
	if (l.have_self &&
	    (!l.envelope || strcmp(l.self.host, "web-01") != 0 || l.self.seq > l.seq))
		__builtin_trap();
	for (size_t i = 1; i < l.seen.n; i++)
		if (strcmp(l.seen.v[i - 1].host, l.seen.v[i].host) >= 0)
			__builtin_trap();
	fleet_local_release(&l);
	return 0;
}
