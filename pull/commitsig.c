#include "pull/commitsig.h"

#include "base/err.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool starts_with(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(line, prefix, n) == 0;
}

static void append(char *dst, size_t *dst_len, const char *src, size_t len)
{
	memcpy(dst + *dst_len, src, len);
	*dst_len += len;
}

int commitsig_split(const char *obj, size_t len, struct commitsig *out, struct err *e)
{
	bool in_signature = false, in_other = false;
	const char *line = obj, *end = obj + len;
	char *sig;

	memset(out, 0, sizeof(*out));
	if (len > COMMITSIG_MAX_BYTES)
		return err_set(e, "is larger than %d bytes", COMMITSIG_MAX_BYTES);
	if (memchr(obj, '\0', len))
		return err_set(e, "holds a NUL byte (git refuses such a commit)");
	out->payload = malloc(len + 1);
	sig = malloc(len + 1);
	if (!out->payload || !sig) {
		free(sig);
		return err_set(e, "out of memory");
	}
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *next = nl ? nl + 1 : end;
		size_t n = (size_t)(next - line);

		if (*line == '\n') {
			/* The header ends here: the rest is message, whatever it says. */
			append(out->payload, &out->payload_len, line, (size_t)(end - line));
			break;
		}
		if (in_signature && *line == ' ') {
			append(sig, &out->signature_len, line + 1, n - 1);
		} else if (starts_with(line, n, "gpgsig ")) {
			if (out->signature) {
				free(sig);
				out->signature = NULL;
				return err_set(e, "has two gpgsig headers");
			}
			out->signature = sig;
			append(sig, &out->signature_len, line + 7, n - 7);
			in_signature = true;
			in_other = false;
		} else if (starts_with(line, n, "gpgsig")) {
			/* gpgsig-sha256 and the like: not ours, and not signed either. */
			in_signature = false;
			in_other = true;
		} else if (!(in_other && *line == ' ')) {
			in_signature = in_other = false;
			append(out->payload, &out->payload_len, line, n);
		}
		line = next;
	}
	out->payload[out->payload_len] = '\0';
	if (!out->signature)
		free(sig);
	else
		sig[out->signature_len] = '\0';
	return 0;
}

void commitsig_release(struct commitsig *s)
{
	free(s->signature);
	free(s->payload);
	memset(s, 0, sizeof(*s));
}

void commitsig_digest(const struct commitsig *s, char out[COMMITSIG_DIGEST_HEX])
{
	unsigned char hash[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(hash, (const unsigned char *)s->payload, s->payload_len);
	sodium_bin2hex(out, COMMITSIG_DIGEST_HEX, hash, sizeof(hash));
}
