#include "agent/secrets_step.h"

#include "agent/config.h"
#include "base/err.h"
#include "pull/pull.h"
#include "secrets/activate.h"
#include "secrets/identity.h"
#include "secrets/install.h"
#include "secrets/manifest.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int secrets_step_install(const struct config *cfg, const char *mirror, const char *commit,
			 unsigned *generation, size_t *installed, struct err *e)
{
	struct age_identities ids = {0};
	struct manifest *m = NULL;
	struct pull_tree *tree = NULL;
	unsigned current = 0;
	bool have_manifest;
	int rc = -1, found;

	*generation = 0;
	*installed = 0;
	if (pull_tree_open(&tree, mirror, commit, SECRETS_MAX_FILE, e) < 0)
		goto out;
	found = pull_tree_has(tree, cfg->secrets.manifest, e);
	if (found < 0)
		goto out;
	have_manifest = found == 1;
	if (secrets_current(cfg->secrets.dir, &current, e) < 0)
		goto out;
	if (!have_manifest && !current) {
		rc = 0; /* no secrets now, none before: nothing to do */
		goto out;
	}
	/* Only the running generation may stay: a leftover from an interrupted
	 * install or rollback must never become a rollback target. */
	if (current && secrets_commit(cfg->secrets.dir, e) < 0)
		goto out;
	m = calloc(1, sizeof(*m));
	if (!m) {
		err_set(e, "out of memory");
		goto out;
	}
	/* Without a manifest the new generation is empty: removing the manifest
	 * revokes the secrets, and a rollback brings them back. */
	if (have_manifest) {
		if (secrets_load_manifest(m, cfg->secrets.manifest, pull_tree_read, tree, e) <
		    0)
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
		.read_blob = pull_tree_read,
		.read_ctx = tree,
	};
	rc = secrets_install(m, &o, generation, installed, e);
out:
	identities_release(&ids);
	if (m)
		manifest_release(m);
	free(m);
	pull_tree_close(tree);
	return rc;
}

int secrets_step_check_system(const struct config *cfg, const char *system, size_t *count,
			      struct err *e)
{
	struct age_identities ids = {0};
	char path[4096];
	int rc = -1;

	*count = 0;
	snprintf(path, sizeof(path), "%s/%s", system, SECRETS_SYSTEM_MANIFEST);
	if (access(path, F_OK) < 0)
		return 0; /* the repository manifest, if any, applies */
	for (size_t i = 0; i < cfg->secrets.identity.n; i++)
		if (identity_load_file(&ids, cfg->secrets.identity.v[i], e) < 0) {
			err_prefix(e, "[secrets] identity");
			goto out;
		}
	rc = secrets_check_system(system, &ids, count, e);
out:
	identities_release(&ids);
	return rc;
}
