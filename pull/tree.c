/* pull/pull.h: the files of a commit, read from its tree in the mirror. */
#include "pull/pull.h"

#include "base/err.h"
#include "pull/mirror.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>

struct pull_tree {
	git_repository *repo;
	git_commit *commit;
	git_tree *root;
	size_t max_blob;
};

int pull_tree_open(struct pull_tree **out, const char *mirror, const char *commit, size_t max_blob,
		   struct err *e)
{
	struct pull_tree *t = calloc(1, sizeof(*t));
	git_oid id;

	*out = NULL;
	if (!t)
		return err_set(e, "out of memory");
	t->max_blob = max_blob;
	if (git_oid_fromstr(&id, commit) < 0) {
		free(t);
		return err_set(e, "bad commit id %s", commit);
	}
	if (mirror_open(&t->repo, mirror, e) < 0) {
		pull_tree_close(t);
		return -1;
	}
	if (git_commit_lookup(&t->commit, t->repo, &id) < 0 ||
	    git_commit_tree(&t->root, t->commit) < 0) {
		err_set(e, "reading the commit: %s", git_error_last()->message);
		pull_tree_close(t);
		return -1;
	}
	*out = t;
	return 0;
}

int pull_tree_has(struct pull_tree *t, const char *path, struct err *e)
{
	git_tree_entry *entry = NULL;
	int found = git_tree_entry_bypath(&entry, t->root, path);

	git_tree_entry_free(entry);
	if (found == 0)
		return 1;
	if (found == GIT_ENOTFOUND)
		return 0;
	return err_set(e, "%s: %s", path, git_error_last()->message);
}

/* The entry at path, or 1 with *entry NULL when a directory on the way (or
 * path itself) is a symlink. */
static int walk(git_tree *root, const char *path, git_tree_entry **entry, struct err *e)
{
	char prefix[1024];
	const char *slash;

	*entry = NULL;
	if (strlen(path) >= sizeof(prefix))
		return err_set(e, "%s: path too long", path);
	/* Every directory on the way must be a tree: a symlink there is refused. */
	for (slash = strchr(path, '/');; slash = strchr(slash + 1, '/')) {
		size_t n = slash ? (size_t)(slash - path) : strlen(path);
		memcpy(prefix, path, n);
		prefix[n] = '\0';
		if (git_tree_entry_bypath(entry, root, prefix) < 0)
			return err_set(e, "%s: not in the commit", prefix);
		if (git_tree_entry_filemode(*entry) == GIT_FILEMODE_LINK) {
			git_tree_entry_free(*entry);
			*entry = NULL;
			return 1;
		}
		if (!slash)
			return 0;
		git_tree_entry_free(*entry);
	}
}

int pull_tree_read(void *ctx, const char *path, char **data, size_t *len, int *is_symlink,
		   struct err *e)
{
	struct pull_tree *t = ctx;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	int rc;

	*data = NULL;
	*is_symlink = 0;
	rc = walk(t->root, path, &entry, e);
	if (rc != 0) {
		*is_symlink = rc == 1;
		return rc < 0 ? -1 : 0;
	}
	rc = -1;
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB)
		err_set(e, "%s: not a file", path);
	else if (git_blob_lookup(&blob, t->repo, git_tree_entry_id(entry)) < 0)
		err_set(e, "%s: %s", path, git_error_last()->message);
	else if ((size_t)git_blob_rawsize(blob) > t->max_blob)
		err_set(e, "%s: larger than %zu bytes", path, t->max_blob);
	else if (!(*data = malloc((size_t)git_blob_rawsize(blob) + 1)))
		err_set(e, "out of memory");
	else
		rc = 0;
	if (rc == 0) {
		*len = (size_t)git_blob_rawsize(blob);
		memcpy(*data, git_blob_rawcontent(blob), *len);
		(*data)[*len] = '\0';
	}
	git_blob_free(blob);
	git_tree_entry_free(entry);
	return rc;
}

void pull_tree_close(struct pull_tree *t)
{
	if (!t)
		return;
	git_tree_free(t->root);
	git_commit_free(t->commit);
	git_repository_free(t->repo);
	free(t);
}
