/* The secrets step of the cycle: decrypt the verified commit's secrets (its
 * manifest and .age files are read from the commit's tree in the mirror,
 * never from a work tree) into a new generation before activation. */
#ifndef CIM_SECRETS_STEP_H
#define CIM_SECRETS_STEP_H

#include <git2.h>
#include <stddef.h>

struct config;
struct err;

/* Installs the secrets of commit for this host as a new generation, after
 * deleting every generation but the running one. A commit without a manifest
 * gets an empty generation when secrets were installed before (removing the
 * manifest revokes them); *generation is 0 when there was nothing to do. */
int secrets_step_install(const struct config *cfg, git_repository *repo, const git_oid *commit,
			 unsigned *generation, size_t *installed, struct err *e);

/* Reads a file of a git tree for secrets_install(); ctx is a git_tree *. */
int secrets_tree_read_blob(void *ctx, const char *path, char **data, size_t *len,
			   int *is_symlink, struct err *e);

#endif
