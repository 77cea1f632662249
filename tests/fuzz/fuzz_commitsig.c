/* libFuzzer target: commitsig_split on arbitrary commit objects, then the
 * digest and the armored signature parser on what it found. */
#include "base/err.h"
#include "pull/commitsig.h"
#include "pull/sshsig.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char digest[COMMITSIG_DIGEST_HEX];
	struct commitsig cs;
	struct sshsig sig;
	struct err e;

	if (commitsig_split((const char *)data, size, &cs, &e) == 0) {
		if (cs.payload_len > size || cs.signature_len > size)
			__builtin_trap();
		commitsig_digest(&cs, digest);
		if (cs.signature && sshsig_parse(cs.signature, cs.signature_len, &sig, &e) == 0)
			sshsig_verify(&sig, "git", cs.payload, cs.payload_len, &e);
	}
	commitsig_release(&cs);
	return 0;
}
