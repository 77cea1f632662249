/* Feeding inih (ini_parse_stream) one line at a time from a buffer, so that
 * handlers know the line number, and refusing NUL bytes and lines longer than
 * inih's line buffer instead of letting inih split them silently. Shared by
 * the config parser and the secrets manifest parser. */
#ifndef CIM_INI_LINES_H
#define CIM_INI_LINES_H

#include <stddef.h>

struct ini_lines {
	const char *text;
	size_t len;
	size_t pos;
	int lineno; /* of the line last returned */
};

/* Copies the next line into str (num bytes, as inih's reader callback
 * receives them) and returns str, or NULL at the end of the text. When the
 * line cannot be given to inih, str holds an empty line and why (whylen
 * bytes) the reason; otherwise why is "". */
char *ini_lines_next(struct ini_lines *l, char *str, int num, char *why, size_t whylen);

#endif
