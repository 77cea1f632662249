#include "pull/known_hosts.h"

#include "base/err.h"
#include "pull/allowed_signers.h"

#include <ctype.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define LINE_MAX_LEN 8192

/* Splits off the next space-separated field of *p. */
static char *next_field(char **p)
{
	char *s = *p, *start;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return NULL;
	start = s;
	while (*s && *s != ' ' && *s != '\t')
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return start;
}

int known_hosts_check(const char *text, size_t len, const char *name, const char *host, int port,
		      const unsigned char *key, size_t keylen, struct err *e)
{
	char target[300], line[LINE_MAX_LEN];
	unsigned char blob[4096];
	bool host_seen = false;
	size_t pos = 0;
	int lineno = 0;

	if (len > KNOWN_HOSTS_MAX_BYTES)
		return err_set(e, "%s: larger than %d bytes", name, KNOWN_HOSTS_MAX_BYTES);
	if (port == 22)
		snprintf(target, sizeof(target), "%s", host);
	else
		snprintf(target, sizeof(target), "[%s]:%d", host, port);
	for (char *c = target; *c; c++)
		*c = (char)tolower((unsigned char)*c);

	while (pos < len) {
		const char *start = text + pos, *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		char *p = line, *marker = NULL, *hosts, *type, *b64;
		size_t bloblen;

		pos += n + (nl ? 1 : 0);
		lineno++;
		if (n >= sizeof(line))
			return err_set(e, "%s:%d: line too long", name, lineno);
		memcpy(line, start, n);
		line[n] = '\0';
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		hosts = next_field(&p);
		if (!hosts || hosts[0] == '#')
			continue;
		if (hosts[0] == '@') {
			marker = hosts;
			hosts = next_field(&p);
		}
		type = next_field(&p);
		b64 = next_field(&p);
		if (!hosts || !type || !b64)
			return err_set(e, "%s:%d: expected 'hosts keytype key'", name, lineno);
		if (hosts[0] == '|' || (marker && strcmp(marker, "@cert-authority") == 0))
			continue; /* hashed names and CA lines are not supported: never match */
		for (char *c = hosts; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (pattern_list_match(target, hosts) != 1)
			continue;
		if (sodium_base642bin(blob, sizeof(blob), b64, strlen(b64), NULL, &bloblen, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0)
			return err_set(e, "%s:%d: key is not valid base64", name, lineno);
		bool same = bloblen == keylen && memcmp(blob, key, keylen) == 0;
		if (marker && strcmp(marker, "@revoked") == 0) {
			if (same)
				return err_set(e, "host key of %s is marked @revoked in %s:%d",
					       target, name, lineno);
			continue;
		}
		if (marker)
			return err_set(e, "%s:%d: unknown marker '%s'", name, lineno, marker);
		host_seen = true;
		if (same)
			return 0;
	}
	if (host_seen)
		return err_set(e,
			       "host key of %s does not match %s: the server's key changed, or "
			       "this is not the server you expect",
			       target, name);
	return err_set(e, "%s is not listed in %s; add its key (ssh-keyscan -p %d %s >> %s)",
		       target, name, port, host, name);
}
