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

/* 1 when path is absent from both trees or holds the same bytes in both; 0
 * when it differs (a symlink counts as a difference); -1 on error. */
static int same_file(struct pull_tree *a, struct pull_tree *b, const char *path, struct err *e)
{
	char *da = NULL, *db = NULL;
	size_t la = 0, lb = 0;
	int ha = pull_tree_has(a, path, e), hb = ha < 0 ? -1 : pull_tree_has(b, path, e);
	int sa = 0, sb = 0, rc = -1;

	if (ha < 0 || hb < 0)
		return -1;
	if (ha != hb || !ha)
		return ha == hb;
	if (pull_tree_read(a, path, &da, &la, &sa, e) == 0 &&
	    pull_tree_read(b, path, &db, &lb, &sb, e) == 0)
		rc = !sa && !sb && la == lb && memcmp(da, db, la) == 0;
	free(da);
	free(db);
	return rc;
}

/* Compares the manifest and the files of this host's secrets. */
static int same_secrets(const struct config *cfg, struct pull_tree *a, struct pull_tree *b,
			struct err *e)
{
	struct manifest *m;
	int rc = same_file(a, b, cfg->secrets.manifest, e);

	if (rc != 1 || pull_tree_has(b, cfg->secrets.manifest, e) != 1)
		return rc;
	m = calloc(1, sizeof(*m));
	if (!m)
		return err_set(e, "out of memory");
	rc = secrets_load_manifest(m, cfg->secrets.manifest, pull_tree_read, b, e) < 0 ? -1 : 1;
	for (size_t i = 0; rc == 1 && i < m->n; i++)
		if (manifest_applies(&m->v[i], cfg->agent.hostname))
			rc = same_file(a, b, m->v[i].file, e);
	manifest_release(m);
	free(m);
	return rc;
}

int secrets_step_same_inputs(const struct config *cfg, const char *mirror, const char *before,
			     const char *commit, struct err *e)
{
	struct pull_tree *a = NULL, *b = NULL;
	int rc = -1;

	if (pull_tree_open(&a, mirror, before, SECRETS_MAX_FILE, e) == 0 &&
	    pull_tree_open(&b, mirror, commit, SECRETS_MAX_FILE, e) == 0)
		rc = same_secrets(cfg, a, b, e);
	if (a)
		pull_tree_close(a);
	if (b)
		pull_tree_close(b);
	return rc;
}
