/* Paths inside a repository, as manifests and plans name them. */
#ifndef CIM_RELPATH_H
#define CIM_RELPATH_H

#include <stdbool.h>
#include <stddef.h>

/* A relative path of at most max bytes, with no empty, "." or ".."
 * component and no control character: it cannot leave the tree. */
bool relpath_ok(const char *path, size_t max);

#endif
