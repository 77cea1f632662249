#include "base/url.h"

#include <stdio.h>
#include <string.h>

void url_redact(const char *url, char *buf, size_t size)
{
	const char *scheme = strstr(url, "://");
	const char *at, *slash;

	if (!scheme) {
		snprintf(buf, size, "%s", url);
		return;
	}
	slash = strchr(scheme + 3, '/');
	at = strchr(scheme + 3, '@');
	if (!at || (slash && at > slash)) {
		snprintf(buf, size, "%s", url);
		return;
	}
	/* An ssh user name ("git") is no secret; over http the user part may
	 * be a token (https://TOKEN@host), so all of it goes. */
	if (strncmp(url, "ssh://", 6) == 0 || strncmp(url, "git+ssh://", 10) == 0) {
		const char *colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3));
		if (!colon) {
			snprintf(buf, size, "%s", url);
			return;
		}
		snprintf(buf, size, "%.*s:<redacted>%s", (int)(colon - url), url, at);
		return;
	}
	snprintf(buf, size, "%.*s<redacted>%s", (int)(scheme + 3 - url), url, at);
}
