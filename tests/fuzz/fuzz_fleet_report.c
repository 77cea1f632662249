/* libFuzzer target: signed host reports. The first byte chooses what the rest
 * is: an envelope as stored in the bucket (0), or a payload that is signed
 * here with the member's key first (1), so that the payload decoder is
 * reached as well as the envelope parser. */
#include "base/err.h"
#include "fleet/hosts.h"
#include "fleet/report.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char pk[32], sk[64];

/* An envelope for payload, signed as fleet/report.h documents. */
static char *envelope(const uint8_t *payload, size_t len)
{
	size_t ctx = sizeof(FLEET_SIGN_CONTEXT),
	       n64 = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	unsigned char *m = malloc(ctx + len), sig[64];
	char *p64 = malloc(n64), s64[100], *env = malloc(n64 + 200);

	if (!m || !p64 || !env)
		__builtin_trap();
	memcpy(m, FLEET_SIGN_CONTEXT, ctx);
	memcpy(m + ctx, payload, len);
	crypto_sign_detached(sig, NULL, m, ctx + len, sk);
	sodium_bin2base64(p64, n64, payload, len, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(s64, sizeof(s64), sig, 64, sodium_base64_VARIANT_ORIGINAL);
	strcpy(env, "{\"payload\":\"");
	strcat(env, p64);
	strcat(env, "\",\"sig\":\"");
	strcat(env, s64);
	strcat(env, "\"}");
	free(m);
	free(p64);
	return env;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct fleet_report r, again;
	struct err e = {{0}};
	char *env = NULL, *resigned = NULL;
	size_t len = 0;

	if (!ready) {
		unsigned char seed[32] = {42};
		if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, sk, seed) != 0)
			__builtin_trap();
		ready = 1;
	}
	if (size < 1)
		return 0;
	if (data[0] & 1)
		env = envelope(data + 1, size - 1);
	if (fleet_report_open_key("web-01", env ? env : (const char *)data + 1,
				  env ? strlen(env) : size - 1, pk, &r, &e) == FLEET_OPEN_OK) {
		/* what was accepted can be signed again, and reads back the same */
		if (strcmp(r.host, "web-01") != 0 || r.seq == 0 ||
		    fleet_report_sign(&r, sk, &resigned, &len, &e) != 0 ||
		    fleet_report_open_key("web-01", resigned, len, pk, &again, &e) !=
			FLEET_OPEN_OK ||
		    again.seq != r.seq || again.nlineage != r.nlineage ||
		    again.nfailures != r.nfailures)
			__builtin_trap();
		fleet_report_release(&again);
		fleet_report_release(&r);
		free(resigned);
	}
	free(env);
	return 0;
}
