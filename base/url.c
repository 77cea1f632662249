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
	snprintf(buf, size, "%.*s<redacted>%s", (int)(scheme + 3 - url), url, at);
}
