#include "base/relpath.h"

#include <string.h>

bool relpath_ok(const char *path, size_t max)
{
	const char *p = path;

	if (!*path || path[0] == '/' || strlen(path) > max)
		return false;
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	for (;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}
