/* Files for the unit tests of the loaders of state_dir's files. */
#ifndef CIM_TEST_FILES_H
#define CIM_TEST_FILES_H

#include <stdlib.h>
#include <string.h>

/* A JSON text of exactly n bytes: open, spaces, close (a file one byte over
 * a loader's limit that would parse if it were let through). Freed by the
 * caller; NULL when out of memory. */
static inline char *fx_oversize_json(size_t n, char open, char close)
{
	char *text = malloc(n + 1);

	if (!text)
		return NULL;
	memset(text, ' ', n);
	text[0] = open;
	text[n - 1] = close;
	text[n] = '\0';
	return text;
}

#endif
