/* libFuzzer target: identity files (AGE-SECRET-KEY-1 lines, OpenSSH keys). */
#include "base/err.h"
#include "secrets/identity.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct age_identities ids = {0};
	struct err e = {{0}};
	char *text = malloc(size + 1);
	char age1[128], ssh[128];

	if (!text || identity_sodium_init(&e) < 0)
		__builtin_trap();
	memcpy(text, data, size);
	text[size] = '\0';
	if (identity_parse(&ids, "fuzz", text, size, &e) == 0) {
		for (size_t i = 0; i < ids.n; i++)
			if (identity_recipient(ids.keys[i], age1, sizeof(age1), ssh, sizeof(ssh),
					       &e) < 0)
				__builtin_trap();
	}
	identities_release(&ids);
	free(text);
	return 0;
}
