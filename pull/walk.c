/* pull/walk.h: first parents and ancestry, read from the mirror. */
#include "pull/walk.h"

#include "base/err.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>

struct pull_graph {
	git_repository *repo;
};

int pull_graph_open(struct pull_graph **out, const char *mirror, struct err *e)
{
	struct pull_graph *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return err_set(e, "out of memory");
	if (git_repository_open_ext(&g->repo, mirror, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		err_set(e, "%s: %s", mirror, git_error_last()->message);
		free(g);
		return -1;
	}
	*out = g;
	return 0;
}

void pull_graph_close(struct pull_graph *g)
{
	if (!g)
		return;
	git_repository_free(g->repo);
	free(g);
}

static bool known(git_repository *repo, const char *hex, git_oid *id)
{
	git_commit *c = NULL;

	if (strlen(hex) != 40 || git_oid_fromstr(id, hex) < 0 ||
	    git_commit_lookup(&c, repo, id) < 0)
		return false;
	git_commit_free(c);
	return true;
}

int pull_graph_is_ancestor(void *ctx, const char *ancestor, const char *descendant)
{
	struct pull_graph *g = ctx;
	git_oid a, d;
	int rc;

	if (!known(g->repo, ancestor, &a) || !known(g->repo, descendant, &d))
		return 0;
	rc = git_graph_descendant_of(g->repo, &d, &a);
	return rc < 0 ? -1 : rc;
}

static int append(char (**v)[PULL_COMMIT_HEX], size_t *n, size_t *cap, const git_oid *id)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 32;
		char(*more)[PULL_COMMIT_HEX] = realloc(*v, c * sizeof(*more));
		if (!more)
			return -1;
		*v = more;
		*cap = c;
	}
	git_oid_tostr((*v)[*n], PULL_COMMIT_HEX, id);
	(*n)++;
	return 0;
}

int pull_graph_first_parents(struct pull_graph *g, const char *tip, const char *stop, size_t max,
			     char (**out)[PULL_COMMIT_HEX], size_t *n, struct err *e)
{
	git_oid id, stop_id;
	bool have_stop = stop && known(g->repo, stop, &stop_id);
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!known(g->repo, tip, &id))
		return err_set(e, "%.40s is not a commit of the mirror", tip);
	while (*n < max) {
		git_commit *c = NULL;
		int reached = 0;

		if (append(out, n, &cap, &id) < 0)
			goto oom;
		if (have_stop)
			reached = git_oid_equal(&id, &stop_id)
				      ? 1
				      : git_graph_descendant_of(g->repo, &stop_id, &id);
		if (reached < 0)
			goto git_error;
		if (reached)
			return 0;
		if (git_commit_lookup(&c, g->repo, &id) < 0)
			goto git_error;
		if (git_commit_parentcount(c) == 0) {
			git_commit_free(c);
			return 0;
		}
		git_oid_cpy(&id, git_commit_parent_id(c, 0));
		git_commit_free(c);
	}
	return 0;
git_error:
	err_set(e, "walking the history of %.12s: %s", tip, git_error_last()->message);
	free(*out);
	*out = NULL;
	*n = 0;
	return -1;
oom:
	free(*out);
	*out = NULL;
	*n = 0;
	return err_set(e, "out of memory");
}
