/* The secrets step of the cycle: decrypt the verified commit's secrets (its
 * manifest and .age files are read from the commit's tree in the mirror,
 * never from a work tree) into a new generation before activation. */
#ifndef CIM_SECRETS_STEP_H
#define CIM_SECRETS_STEP_H

#include "secrets/install.h"

#include <stdbool.h>
#include <stddef.h>

struct config;
struct err;

/* Installs the secrets of commit (in the mirror) for this host as a new
 * generation, after deleting every generation but the running one. A commit
 * without a manifest gets an empty generation when secrets were installed
 * before (removing the manifest revokes them); *generation is 0 when there
 * was nothing to do. */
int secrets_step_install(const struct config *cfg, const char *mirror, const char *commit,
			 unsigned *generation, size_t *installed, struct err *e);

/* After the activation, before the health checks: gives every installed
 * secret of commit's manifest its owner, group and mode. secrets_step_install()
 * installs a secret whose owner or group does not exist yet root-only (root,
 * 0400), so a commit that adds a user and that user's secret deploys in one
 * step. Idempotent (a resumed health phase runs it again). A user that still
 * does not exist fails, naming the secret. */
int secrets_step_apply_owners(const struct config *cfg, const char *mirror, const char *commit,
			      struct err *e);

/* For a system that declares its secrets (services.cim-agent.secrets: a
 * rendered manifest in the built system, which its activation installs):
 * decrypts every one of them in memory with [secrets] identity and discards
 * the plaintext, so a secret this host cannot decrypt fails the deployment
 * before anything changes. Returns 1 (all decrypted, *count of them), 0 when
 * system has no rendered manifest, -1 with e naming the secret. */
int secrets_step_check_system(const struct config *cfg, const char *system, size_t *count,
			      struct err *e);

/* The same from any source of the manifest and its files (the cycle reads
 * the commit's tree, `secrets install --repo` a directory); have_manifest:
 * the manifest exists there; drop_leftovers: delete every generation but the
 * running one first, as the cycle does (`secrets install` keeps them, so that
 * `secrets rollback` can go back more than one). */
int secrets_step_install_from(const struct config *cfg, secrets_read_blob_fn read_blob, void *ctx,
			      bool have_manifest, bool drop_leftovers, unsigned *generation,
			      size_t *installed, struct err *e);

/* 1 when this host's secrets are the same in both commits of the mirror
 * (the manifest and the .age files of the secrets meant for it, byte for
 * byte, or no manifest in either); 0 when they differ; -1 on error. */
int secrets_step_same_inputs(const struct config *cfg, const char *mirror, const char *before,
			     const char *commit, struct err *e);

#endif
