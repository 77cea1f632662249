/* A bounded list of strings, for settings that may be given more than once. */
#ifndef CIM_STRLIST_H
#define CIM_STRLIST_H

#include <stddef.h>

#define STRLIST_MAX 32

struct strlist {
	char *v[STRLIST_MAX];
	size_t n;
};

#endif
