#include "agent/secrets_step.h"

#include "agent/config.h"
#include "base/err.h"
#include "secrets/identity.h"
#include "secrets/install.h"
#include "secrets/manifest.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int secrets_tree_read_blob(void *ctx, const char *path, char **data, size_t *len,
			   int *is_symlink, struct err *e)
{
	git_tree *root = ctx;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	char prefix[1024];
	const char *slash;
	int rc = -1;

	*data = NULL;
	*is_symlink = 0;
	if (strlen(path) >= sizeof(prefix))
		return err_set(e, "%s: path too long", path);
	/* Every directory on the way must be a tree: a symlink there is refused. */
	for (slash = strchr(path, '/');; slash = strchr(slash + 1, '/')) {
		size_t n = slash ? (size_t)(slash - path) : strlen(path);
		memcpy(prefix, path, n);
		prefix[n] = '\0';
		if (git_tree_entry_bypath(&entry, root, prefix) < 0)
			return err_set(e, "%s: not in the commit", prefix);
		if (git_tree_entry_filemode(entry) == GIT_FILEMODE_LINK) {
			*is_symlink = 1;
			git_tree_entry_free(entry);
			return 0;
		}
		if (!slash)
			break;
		git_tree_entry_free(entry);
	}
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB) {
		err_set(e, "%s: not a file", path);
		goto out;
	}
	if (git_blob_lookup(&blob, git_tree_owner(root), git_tree_entry_id(entry)) < 0) {
		err_set(e, "%s: %s", path, git_error_last()->message);
		goto out;
	}
	if ((size_t)git_blob_rawsize(blob) > SECRETS_MAX_FILE) {
		err_set(e, "%s: larger than %d bytes", path, SECRETS_MAX_FILE);
		goto out;
	}
	*len = (size_t)git_blob_rawsize(blob);
	*data = malloc(*len + 1);
	if (!*data) {
		err_set(e, "out of memory");
		goto out;
	}
	memcpy(*data, git_blob_rawcontent(blob), *len);
	(*data)[*len] = '\0';
	rc = 0;
out:
	git_blob_free(blob);
	git_tree_entry_free(entry);
	return rc;
}

int secrets_step_install(const struct config *cfg, git_repository *repo, const git_oid *commit,
			 unsigned *generation, size_t *installed, struct err *e)
{
	struct age_identities ids = {0};
	struct manifest *m = NULL;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *probe = NULL;
	unsigned current = 0;
	bool have_manifest;
	int rc = -1, found;

	*generation = 0;
	*installed = 0;
	if (git_commit_lookup(&c, repo, commit) < 0 || git_commit_tree(&tree, c) < 0) {
		err_set(e, "reading the commit: %s", git_error_last()->message);
		goto out;
	}
	found = git_tree_entry_bypath(&probe, tree, cfg->secrets.manifest);
	if (found < 0 && found != GIT_ENOTFOUND) {
		err_set(e, "%s: %s", cfg->secrets.manifest, git_error_last()->message);
		goto out;
	}
	have_manifest = found == 0;
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
		if (secrets_load_manifest(m, cfg->secrets.manifest, secrets_tree_read_blob, tree, e) <
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
		.read_blob = secrets_tree_read_blob,
		.read_ctx = tree,
	};
	rc = secrets_install(m, &o, generation, installed, e);
out:
	identities_release(&ids);
	if (m)
		manifest_release(m);
	free(m);
	git_tree_entry_free(probe);
	git_tree_free(tree);
	git_commit_free(c);
	return rc;
}
