#include "base/duration.h"

#include <ctype.h>
#include <string.h>

static unsigned long long unit_seconds(char unit)
{
	switch (unit) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	default:
		return 0;
	}
}

int duration_parse(const char *text, unsigned max, unsigned *seconds)
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
			if (n > max)
				return -1;
		}
		if (*p == '\0') {
			/* A bare number means seconds, but only on its own: "1h30" is a typo. */
			if (p != text + strspn(text, "0123456789"))
				return -1;
			unit = 1;
		} else if (!(unit = unit_seconds(*p++))) {
			return -1;
		}
		total += n * unit;
		if (total > max)
			return -1;
	}
	*seconds = (unsigned)total;
	return 0;
}
