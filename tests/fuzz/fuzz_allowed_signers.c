/* libFuzzer target: allowed_signers_parse, and a match against each
 * supported key found, then allowed_signers_release. */
#include "base/err.h"
#include "pull/allowed_signers.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct allowed_signers as;
	struct err e;

	if (allowed_signers_parse(&as, "fuzz", (const char *)data, size, &e) != 0)
		return 0;
	for (size_t i = 0; i < as.n; i++)
		if (as.v[i].supported)
			allowed_signers_match(&as, &as.v[i].key, "ada@example.com", "git",
					      1700000000, &e);
	allowed_signers_release(&as);
	return 0;
}
