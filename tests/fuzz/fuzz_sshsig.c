/* libFuzzer target: sshsig_parse on arbitrary bytes, then sshsig_verify over
 * a fixed message when it parses. */
#include "base/err.h"
#include "pull/sshsig.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char msg[] = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\ninitial\n";
	struct sshsig sig;
	struct err e;
	char fp[SSHKEY_FP_SIZE];

	if (sshsig_parse((const char *)data, size, &sig, &e) != 0)
		return 0;
	sshkey_fingerprint(&sig.key, fp);
	sshsig_verify(&sig, "git", msg, strlen(msg), &e);
	sshsig_verify(&sig, sig.namespace, data, size, &e);
	return 0;
}
