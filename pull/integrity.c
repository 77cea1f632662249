#include "pull/integrity.h"

#include "base/err.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* An open-addressing set of object ids: each tree or blob is checked once,
 * however many commits share it. */
struct oidset {
	git_oid *slots;
	size_t cap, used;
};

static size_t slot_of(const struct oidset *s, const git_oid *id)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h)); /* object ids are uniformly distributed */
	return h & (s->cap - 1);
}

static bool is_empty(const git_oid *slot)
{
	static const git_oid zero;
	return memcmp(slot, &zero, sizeof(zero)) == 0;
}

/* Returns 1 when id was added, 0 when it was there, -1 out of memory or room. */
static int oidset_add(struct oidset *s, const git_oid *id)
{
	if ((s->used + 1) * 2 > s->cap) {
		struct oidset bigger = {.cap = s->cap ? s->cap * 2 : 4096};
		if (s->used >= INTEGRITY_MAX_OBJECTS)
			return -1;
		bigger.slots = calloc(bigger.cap, sizeof(git_oid));
		if (!bigger.slots)
			return -1;
		for (size_t i = 0; i < s->cap; i++)
			if (!is_empty(&s->slots[i]))
				oidset_add(&bigger, &s->slots[i]);
		free(s->slots);
		*s = bigger;
	}
	for (size_t i = slot_of(s, id);; i = (i + 1) & (s->cap - 1)) {
		if (is_empty(&s->slots[i])) {
			git_oid_cpy(&s->slots[i], id);
			s->used++;
			return 1;
		}
		if (git_oid_equal(&s->slots[i], id))
			return 0;
	}
}

struct walk {
	git_repository *repo;
	git_odb *odb;
	struct oidset seen;
	git_oid *stack; /* trees still to read */
	size_t depth, stack_cap;
	char commit[GIT_OID_HEXSZ + 1];
	struct err *e;
};

static int missing(struct walk *w, const char *what, const git_oid *id)
{
	char hex[GIT_OID_HEXSZ + 1];

	err_set(w->e, "%s %s of commit %s is missing", what, git_oid_tostr(hex, sizeof(hex), id),
		w->commit);
	return 1;
}

/* Queues id when it is new; blobs are only looked up. */
static int visit(struct walk *w, const git_tree_entry *entry)
{
	const git_oid *id = git_tree_entry_id(entry);
	git_object_t type = git_tree_entry_type(entry);
	int added;

	if (type != GIT_OBJECT_TREE && type != GIT_OBJECT_BLOB)
		return 0; /* a submodule's commit lives in another repository */
	added = oidset_add(&w->seen, id);
	if (added < 0)
		return err_set(w->e, "more than %u objects to check, or out of memory",
			       INTEGRITY_MAX_OBJECTS);
	if (!added)
		return 0;
	if (type == GIT_OBJECT_BLOB)
		return git_odb_exists(w->odb, id) ? 0 : missing(w, "blob", id);
	if (w->depth == w->stack_cap) {
		size_t cap = w->stack_cap ? w->stack_cap * 2 : 256;
		git_oid *grown = realloc(w->stack, cap * sizeof(git_oid));
		if (!grown)
			return err_set(w->e, "out of memory");
		w->stack = grown;
		w->stack_cap = cap;
	}
	git_oid_cpy(&w->stack[w->depth++], id);
	return 0;
}

static int check_tree(struct walk *w, const git_oid *root)
{
	int rc = 0;

	if (oidset_add(&w->seen, root) == 0)
		return 0;
	w->depth = 0;
	git_oid_cpy(&w->stack[w->depth++], root);
	while (rc == 0 && w->depth) {
		git_oid id = w->stack[--w->depth];
		git_tree *tree = NULL;
		if (git_tree_lookup(&tree, w->repo, &id) < 0)
			return missing(w, "tree", &id);
		for (size_t i = 0; rc == 0 && i < git_tree_entrycount(tree); i++)
			rc = visit(w, git_tree_entry_byindex(tree, i));
		git_tree_free(tree);
	}
	return rc;
}

static int walk_history(struct walk *w, git_revwalk *walk)
{
	git_oid id;
	int rc;

	while ((rc = git_revwalk_next(&id, walk)) == 0) {
		git_commit *commit = NULL;
		git_oid_tostr(w->commit, sizeof(w->commit), &id);
		if (git_commit_lookup(&commit, w->repo, &id) < 0) {
			err_set(w->e, "commit %s is missing", w->commit);
			return 1;
		}
		rc = check_tree(w, git_commit_tree_id(commit));
		git_commit_free(commit);
		if (rc)
			return rc;
	}
	if (rc == GIT_ITEROVER)
		return 0;
	/* A parent that is not there ends the walk with "not found". */
	err_set(w->e, "the history of commit %s is incomplete: %s", w->commit,
		git_error_last()->message);
	return rc == GIT_ENOTFOUND ? 1 : -1;
}

int integrity_check(git_repository *repo, const git_oid *tip, const git_oid *hide, size_t nhide,
		    struct err *e)
{
	struct walk w = {.repo = repo, .e = e};
	git_revwalk *walk = NULL;
	int rc = -1;

	git_oid_tostr(w.commit, sizeof(w.commit), tip);
	w.stack = malloc(256 * sizeof(git_oid));
	w.stack_cap = 256;
	if (!w.stack || git_repository_odb(&w.odb, repo) < 0 || git_revwalk_new(&walk, repo) < 0) {
		err_set(e, "checking %s: %s", w.commit, git_error_last()->message);
		goto out;
	}
	if (git_revwalk_push(walk, tip) < 0) {
		rc = git_error_last()->klass == GIT_ERROR_INVALID ? -1 : 1;
		err_set(e, "commit %s is missing", w.commit);
		goto out;
	}
	for (size_t i = 0; i < nhide; i++)
		if (git_revwalk_hide(walk, &hide[i]) < 0) {
			err_set(e, "checking %s: %s", w.commit, git_error_last()->message);
			goto out;
		}
	rc = walk_history(&w, walk);
out:
	git_revwalk_free(walk);
	git_odb_free(w.odb);
	free(w.seen.slots);
	free(w.stack);
	return rc;
}

struct tips {
	git_oid *ids;
	size_t n, cap;
	git_odb *odb;
	char missing[GIT_OID_HEXSZ + 1];
};

static int add_tip(git_reference *ref, void *payload)
{
	struct tips *acc = payload;
	git_reference *direct = NULL;
	const git_oid *id;
	int rc = 0;

	if (git_reference_resolve(&direct, ref) < 0 || !(id = git_reference_target(direct))) {
		rc = -1;
	} else if (!git_odb_exists(acc->odb, id)) {
		git_oid_tostr(acc->missing, sizeof(acc->missing), id);
		rc = 1;
	} else if (acc->n == acc->cap) {
		size_t cap = acc->cap ? acc->cap * 2 : 8;
		git_oid *grown = realloc(acc->ids, cap * sizeof(git_oid));
		if (!grown)
			rc = -1;
		acc->ids = grown ? grown : acc->ids;
		acc->cap = grown ? cap : acc->cap;
	}
	if (rc == 0)
		git_oid_cpy(&acc->ids[acc->n++], id);
	git_reference_free(direct);
	git_reference_free(ref);
	return rc;
}

int integrity_ref_tips(git_repository *repo, git_oid **out, size_t *n, struct err *e)
{
	struct tips acc = {0};
	int rc = git_repository_odb(&acc.odb, repo);

	if (rc == 0)
		rc = git_reference_foreach(repo, add_tip, &acc);
	git_odb_free(acc.odb);
	if (rc != 0) {
		free(acc.ids);
		if (rc == 1)
			err_set(e, "commit %s, which a ref of the mirror names, is missing",
				acc.missing);
		else
			err_set(e, "listing the mirror's refs: %s",
				git_error_last() ? git_error_last()->message : "out of memory");
		return rc == 1 ? 1 : -1;
	}
	*out = acc.ids;
	*n = acc.n;
	return 0;
}
