/* config_parse_duration: "90s", "5m", "1h30m" as seconds. */
#include "agent/config.h"

#include <ctype.h>
#include <string.h>

int config_parse_duration(const char *text, unsigned *seconds)
{
	unsigned long long total = 0;
	const char *p = text;

	if (!*p)
		return -1;
	while (*p) {
		unsigned long long n = 0, unit;

		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			n = n * 10 + (unsigned)(*p++ - '0');
			if (n > 10u * 365 * 24 * 3600)
				return -1;
		}
		switch (*p) {
		case '\0':
			/* A bare number means seconds, but only on its own: "1h30" is a typo. */
			if (p != text + strspn(text, "0123456789"))
				return -1;
			unit = 1;
			break;
		case 's':
			unit = 1;
			p++;
			break;
		case 'm':
			unit = 60;
			p++;
			break;
		case 'h':
			unit = 3600;
			p++;
			break;
		default:
			return -1;
		}
		total += n * unit;
		if (total > 10ull * 365 * 24 * 3600)
			return -1;
	}
	*seconds = (unsigned)total;
	return 0;
}
