/* A counting allocator for libgit2, so that a fetch can cap what a remote
 * makes it allocate: libgit2 reads a whole ref advertisement into memory
 * before any ref can be counted. Meant for the fetch child (pull/isolate.h):
 * the count covers libgit2's allocations from gitmem_limit on. */
#ifndef CIM_GITMEM_H
#define CIM_GITMEM_H

#include <stdbool.h>
#include <stddef.h>

/* Routes libgit2's allocations through the counter and fails those that
 * would take its net growth from now past cap bytes. */
int gitmem_limit(size_t cap);

/* Back to libgit2's standard allocator. */
void gitmem_unlimit(void);

/* Whether an allocation was refused since gitmem_limit. */
bool gitmem_cap_hit(void);

#endif
