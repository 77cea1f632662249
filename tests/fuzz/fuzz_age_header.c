/* libFuzzer target: the age header parser, and the whole decryptor (armor,
 * stanza handling) with a fixed identity the input is not encrypted to. */
#include "base/err.h"
#include "secrets/age.h"
#include "secrets/age_header.h"
#include "secrets/identity.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int discard(void *ctx, const void *buf, size_t len, struct err *e)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct age_identities ids;
	static int ready;
	static const char key[] =
	    "AGE-SECRET-KEY-1WNE5PRCKSQL5V88SQ4GZ8Z8PKPRPG402WSNTQM0D0CZS3D7YDPQSVMQ9PH";
	struct age_header h;
	struct err e = {{0}};
	struct age_source src = {.fd = -1, .data = data, .len = size};

	if (!ready) {
		if (identity_sodium_init(&e) < 0 ||
		    identity_parse(&ids, "fuzz", key, strlen(key), &e) < 0)
			__builtin_trap();
		ready = 1;
	}
	if (age_header_parse(data, size, &h, &e) == AGE_OK) {
		if (h.len > size || h.mac_input_len > h.len || h.nstanzas == 0)
			__builtin_trap();
		age_header_release(&h);
	}
	age_decrypt(&src, discard, NULL, &ids, &e);
	return 0;
}
