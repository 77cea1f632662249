#include "agent/secrets_step.h"

#include "agent/config.h"
#include "base/err.h"
#include "pull/pull.h"
#include "secrets/identity.h"
#include "secrets/install.h"
#include "secrets/manifest.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The one installer, for the cycle and for `secrets install`. */
int secrets_step_install_from(const struct config *cfg, secrets_read_blob_fn read_blob, void *ctx,
			      bool have_manifest, bool drop_leftovers, unsigned *generation,
			      size_t *installed, struct err *e)
{
	struct age_identities ids = {0};
	struct manifest *m = NULL;
	unsigned current = 0;
	int rc = -1;

	*generation = 0;
	*installed = 0;
	if ((drop_leftovers || !have_manifest) &&
	    secrets_current(cfg->secrets.dir, &current, e) < 0)
		return -1;
	if (!have_manifest && !current)
		return 0; /* no secrets now, none before: nothing to do */
	/* Only the running generation may stay: a leftover from an interrupted
	 * install or rollback must never become a rollback target. */
	if (drop_leftovers && current && secrets_commit(cfg->secrets.dir, e) < 0)
		return -1;
	m = calloc(1, sizeof(*m));
	if (!m) {
		err_set(e, "out of memory");
		return -1;
	}
	/* Without a manifest the new generation is empty: removing the manifest
	 * revokes the secrets, and a rollback brings them back. */
	if (have_manifest) {
		if (identity_sodium_init(e) < 0 ||
		    secrets_load_manifest(m, cfg->secrets.manifest, read_blob, ctx, e) < 0)
			goto out;
		for (size_t i = 0; i < cfg->secrets.identity.n; i++)
			if (identity_load_file(&ids, cfg->secrets.identity.v[i], e) < 0) {
				err_prefix(e, "[secrets] identity");
				goto out;
			}
	}
	const struct secrets_install_opts o = {
	    .dir = cfg->secrets.dir,
	    .hostname = cfg->agent.hostname,
	    .allow_persistent = cfg->secrets.allow_persistent,
	    .ids = &ids,
	    .read_blob = read_blob,
	    .read_ctx = ctx,
	};
	rc = secrets_install(m, &o, generation, installed, e);
out:
	identities_release(&ids);
	manifest_release(m);
	free(m);
	return rc;
}

int secrets_step_install(const struct config *cfg, const char *mirror, const char *commit,
			 unsigned *generation, size_t *installed, struct err *e)
{
	struct pull_tree *tree = NULL;
	int rc = -1, found;

	*generation = 0;
	*installed = 0;
	if (pull_tree_open(&tree, mirror, commit, SECRETS_MAX_FILE, e) < 0)
		return -1;
	found = pull_tree_has(tree, cfg->secrets.manifest, e);
	if (found >= 0)
		rc = secrets_step_install_from(cfg, pull_tree_read, tree, found == 1, true,
					       generation, installed, e);
	pull_tree_close(tree);
	return rc;
}
