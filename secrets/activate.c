#include "secrets/activate.h"

#include "base/err.h"
#include "base/fileio.h"
#include "secrets/age.h"
#include "secrets/install.h"
#include "secrets/manifest.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int secrets_abs_read_blob(void *ctx, const char *path, char **data, size_t *len, int *is_symlink,
			  struct err *e)
{
	struct stat st;

	(void)ctx;
	*data = NULL;
	*len = 0;
	*is_symlink = 0;
	if (path[0] != '/')
		return err_set(e, "'%s' is not an absolute path", path);
	if (lstat(path, &st) < 0)
		return err_set(e, "%s: %s", path, strerror(errno));
	if (S_ISLNK(st.st_mode)) {
		*is_symlink = 1;
		return 0;
	}
	return file_read_capped(path, SECRETS_MAX_FILE, data, len, e);
}

static int load_rendered(struct manifest *m, const char *path, struct err *e)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (file_read_capped(path, MANIFEST_MAX_BYTES, &text, &len, e) < 0)
		return err_prefix(e, "reading the rendered secrets manifest");
	rc = manifest_parse_rendered(m, path, text, len, e);
	free(text);
	return rc;
}

/* Makes link a symlink to target, replacing a symlink there but never a file. */
static int make_symlink(const char *link, const char *target, struct err *e)
{
	char tmp[PATH_MAX], parent[PATH_MAX];
	const char *slash = strrchr(link, '/');
	struct stat st;

	if (lstat(link, &st) == 0 && !S_ISLNK(st.st_mode))
		return err_set(e, "%s exists and is not a symlink; refusing to replace it", link);
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - link), link);
	if (*parent && dir_create(parent, 0755, e) < 0)
		return -1;
	if (snprintf(tmp, sizeof(tmp), "%s.cim-new", link) >= (int)sizeof(tmp))
		return err_set(e, "%s: path too long", link);
	if ((unlink(tmp) < 0 && errno != ENOENT) || symlink(target, tmp) < 0)
		return err_set(e, "%s: %s", tmp, strerror(errno));
	if (rename(tmp, link) < 0) {
		int saved = errno;
		unlink(tmp);
		return err_set(e, "%s: %s", link, strerror(saved));
	}
	return 0;
}

/* Before anything is installed: a symlink may only replace a symlink. */
static int check_symlinks(const struct manifest *m, struct err *e)
{
	struct stat st;

	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].symlink && lstat(m->v[i].symlink, &st) == 0 && !S_ISLNK(st.st_mode))
			return err_set(e,
				       "%s:%d: [%s] symlink: %s exists and is not a symlink; "
				       "refusing to replace it",
				       m->source, m->v[i].line, m->v[i].name, m->v[i].symlink);
	return 0;
}

static int make_symlinks(const struct manifest *m, const char *dir, struct err *e)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct manifest_secret *s = &m->v[i];
		char target[PATH_MAX];

		if (!s->symlink)
			continue;
		if (snprintf(target, sizeof(target), "%s/%s", dir, s->path) >= (int)sizeof(target)) {
			err_set(e, "%s/%s: path too long", dir, s->path);
			return err_prefix(e, "[%s] symlink", s->name);
		}
		if (make_symlink(s->symlink, target, e) < 0)
			return err_prefix(e, "[%s] symlink", s->name);
	}
	return 0;
}

int secrets_activate(const char *manifest_path, const struct secrets_activate_opts *o,
		     unsigned *generation, size_t *count, struct err *e)
{
	struct manifest *m = calloc(1, sizeof(*m));
	int rc = -1;
	const struct secrets_install_opts io = {
	    .dir = o->dir,
	    .hostname = "", /* a rendered manifest has no hosts patterns */
	    .allow_persistent = o->allow_persistent,
	    .ids = o->ids,
	    .read_blob = secrets_abs_read_blob,
	    .read_ctx = NULL,
	};

	if (!m)
		return err_set(e, "out of memory");
	if (load_rendered(m, manifest_path, e) < 0 || check_symlinks(m, e) < 0 ||
	    secrets_install(m, &io, generation, count, e) < 0)
		goto out;
	/* The new generation runs: the symlinks point into it through dir, and
	 * an older system brings its own secrets back by its own activation. */
	if (make_symlinks(m, o->dir, e) < 0 || secrets_commit(o->dir, e) < 0)
		goto out;
	rc = 0;
out:
	manifest_release(m);
	free(m);
	return rc;
}

/* A writer that drops authenticated plaintext (wiped where it came from). */
static int discard(void *ctx, const void *buf, size_t len, struct err *e)
{
	(void)ctx, (void)buf, (void)len, (void)e;
	return 0;
}

static int check_one(const struct manifest *m, const struct manifest_secret *s,
		     const struct age_identities *ids, struct err *e)
{
	char *blob = NULL;
	size_t len = 0;
	int is_symlink = 0;
	struct age_source src = {.fd = -1};

	if (secrets_abs_read_blob(NULL, s->file, &blob, &len, &is_symlink, e) < 0)
		return err_prefix(e, "%s:%d: [%s] file", m->source, s->line, s->name);
	if (is_symlink)
		return err_set(e, "%s:%d: [%s] file: %s is a symlink", m->source, s->line, s->name,
			       s->file);
	src.data = (const unsigned char *)blob;
	src.len = len;
	enum age_status st = age_decrypt(&src, discard, NULL, ids, e);
	free(blob);
	if (st != AGE_OK)
		return err_prefix(e, "%s:%d: [%s] %s", m->source, s->line, s->name, s->file);
	return 0;
}

int secrets_check_system(const char *system, const struct age_identities *ids, size_t *count,
			 struct err *e)
{
	char path[PATH_MAX];
	struct manifest *m;
	struct stat st;
	int rc = -1;

	*count = 0;
	if (snprintf(path, sizeof(path), "%s/%s", system, SECRETS_SYSTEM_MANIFEST) >=
	    (int)sizeof(path))
		return err_set(e, "%s: path too long", system);
	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : err_set(e, "%s: %s", path, strerror(errno));
	if (!(m = calloc(1, sizeof(*m))))
		return err_set(e, "out of memory");
	if (load_rendered(m, path, e) < 0)
		goto out;
	for (size_t i = 0; i < m->n; i++)
		if (check_one(m, &m->v[i], ids, e) < 0)
			goto out;
	*count = m->n;
	rc = 1;
out:
	manifest_release(m);
	free(m);
	return rc;
}
