#include "base/ini_lines.h"

#include <stdio.h>
#include <string.h>

char *ini_lines_next(struct ini_lines *l, char *str, int num, char *why, size_t whylen)
{
	const char *start = l->text + l->pos, *nl;
	size_t avail = l->len - l->pos, linelen;

	why[0] = '\0';
	if (avail == 0)
		return NULL;
	nl = memchr(start, '\n', avail);
	linelen = nl ? (size_t)(nl - start) + 1 : avail;
	l->pos += linelen;
	l->lineno++;
	if (memchr(start, '\0', linelen))
		snprintf(why, whylen, "contains a NUL byte");
	else if (linelen > (size_t)num - 2)
		snprintf(why, whylen, "line is longer than %d characters", num - 3);
	if (why[0]) {
		snprintf(str, (size_t)num, "\n");
		return str;
	}
	memcpy(str, start, linelen);
	str[linelen] = '\0';
	return str;
}
