/* Is a commit complete in the mirror: the commit, every commit of its
 * history, and every tree and blob those commits name (submodule commits
 * excepted)? An incomplete tip must never be trusted or built, and the
 * objects it does have must not make a later fetch skip what is missing. */
#ifndef CIM_INTEGRITY_H
#define CIM_INTEGRITY_H

#include <git2.h>
#include <stddef.h>

struct err;

#define INTEGRITY_MAX_OBJECTS (4u << 20) /* objects one check may visit */

/* Checks everything reachable from tip but not from the commits in hide
 * (known complete). Returns 0 when complete, 1 when something is missing (e
 * names it: "tree X of commit Y is missing"), -1 on any other error. */
int integrity_check(git_repository *repo, const git_oid *tip, const git_oid *hide, size_t nhide,
		    struct err *e);

/* What the refs of repo point at, for hide. Returns 1 when a ref names an
 * object that is not there (e says which), 0 with *out for the caller to
 * free, -1 on other errors. */
int integrity_ref_tips(git_repository *repo, git_oid **out, size_t *n, struct err *e);

#endif
