#include "agent/secrets_step.h"

#include "agent/config.h"
#include "base/err.h"
#include "pull/pull.h"
#include "secrets/activate.h"
#include "secrets/identity.h"
#include "secrets/install.h"
#include "secrets/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An owner or group the activation is yet to create (a commit that adds a
 * user and its secret): the secret is installed root-only (root, 0400) now,
 * and secrets_step_apply_owners() gives it its owner after the activation. */
static int defer_missing_owners(struct manifest *m, struct err *e)
{
	for (size_t i = 0; i < m->n; i++) {
		struct manifest_secret *s = &m->v[i];
		if (getpwnam(s->owner) && (!s->group || getgrnam(s->group)))
			continue;
		char *root = strdup("root");
		if (!root)
			return err_set(e, "out of memory");
		free(s->owner);
		free(s->group);
		s->owner = root;
		s->group = NULL;
		s->mode = 0400;
	}
	return 0;
}

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
		/* Only the cycle (drop_leftovers) applies owners after its
		 * activation; `secrets install` refuses an unknown owner. */
		if (drop_leftovers && defer_missing_owners(m, e) < 0)
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

/* Gives one installed secret its manifest owner, group and mode. */
static int apply_owner(const struct manifest *m, const struct manifest_secret *s, const char *dir,
		       struct err *e)
{
	size_t dlen = strlen(dir);
	const char *rel = s->path;
	struct passwd *pw = getpwnam(s->owner);
	struct group *gr = s->group ? getgrnam(s->group) : NULL;
	char path[4096];
	int fd;

	if (!pw)
		return err_set(e,
			       "%s:%d: [%s] owner: no user '%s' on this host, after the "
			       "activation",
			       m->source, s->line, s->name, s->owner);
	if (s->group && !gr)
		return err_set(e,
			       "%s:%d: [%s] group: no group '%s' on this host, after the "
			       "activation",
			       m->source, s->line, s->name, s->group);
	if (rel[0] == '/' && strncmp(rel, dir, dlen) == 0 && rel[dlen] == '/')
		rel += dlen + 1;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return err_set(e, "%s: %s", path, strerror(errno));
	if (fchown(fd, pw->pw_uid, gr ? gr->gr_gid : pw->pw_gid) < 0 || fchmod(fd, s->mode) < 0) {
		int saved = errno;
		close(fd);
		return err_set(e, "%s: %s", path, strerror(saved));
	}
	close(fd);
	return 0;
}

int secrets_step_apply_owners(const struct config *cfg, const char *mirror, const char *commit,
			      struct err *e)
{
	struct manifest *m = NULL;
	struct pull_tree *tree = NULL;
	int rc = -1, found;

	if (pull_tree_open(&tree, mirror, commit, SECRETS_MAX_FILE, e) < 0)
		goto out;
	found = pull_tree_has(tree, cfg->secrets.manifest, e);
	if (found <= 0) {
		rc = found;
		goto out;
	}
	if (!(m = calloc(1, sizeof(*m)))) {
		err_set(e, "out of memory");
		goto out;
	}
	if (secrets_load_manifest(m, cfg->secrets.manifest, pull_tree_read, tree, e) < 0)
		goto out;
	for (size_t i = 0; i < m->n; i++)
		if (manifest_applies(&m->v[i], cfg->agent.hostname) &&
		    apply_owner(m, &m->v[i], cfg->secrets.dir, e) < 0)
			goto out;
	rc = 0;
out:
	if (m)
		manifest_release(m);
	free(m);
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
