#include "agent/config.h"

#include <stdlib.h>
#include <string.h>

char *config_expand_host(const char *tmpl, const char *host)
{
	size_t cap = strlen(tmpl) + 1, hlen = strlen(host);
	char *out, *o;

	for (const char *p = strstr(tmpl, "{host}"); p; p = strstr(p + 6, "{host}"))
		cap += hlen;
	out = o = malloc(cap);
	if (!out)
		return NULL;
	while (*tmpl) {
		if (strncmp(tmpl, "{host}", 6) == 0) {
			memcpy(o, host, hlen);
			o += hlen;
			tmpl += 6;
		} else {
			*o++ = *tmpl++;
		}
	}
	*o = '\0';
	return out;
}
