/* agent/fleet_round.h: candidates, their plans, their views. */
#include "agent/fleet_round.h"

#include "agent/config.h"
#include "base/err.h"
#include "fleet/assign.h"
#include "fleet/hosts.h"
#include "fleet/plan.h"
#include "pull/pull.h"
#include "pull/walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* path of t into *text, or NULL when absent; -1 on a read error. */
static int read_file(struct pull_tree *t, const char *path, char **text, size_t *len, struct err *e)
{
	int sym = 0, has = pull_tree_has(t, path, e);

	*text = NULL;
	if (has <= 0)
		return has;
	if (pull_tree_read(t, path, text, len, &sym, e) < 0)
		return -1;
	if (sym)
		return err_set(e,
			       "%s is a symlink (or under one); the plan is read from the "
			       "tree as a regular file",
			       path);
	return 1;
}

/* Parses the plan and hosts file of c (c->plan_text set); on a plan error,
 * c->error says why and c->ok stays false. */
static void parse_plan(struct fleet_round_commit *c, const char *plan_path)
{
	struct err e = {{0}};

	if (fleet_plan_parse(&c->plan, plan_path, c->plan_text, strlen(c->plan_text), &e) < 0)
		goto fail;
	if (!c->hosts_text) {
		err_set(&e, "%s: [rollout] hosts names %s, which is not in commit %.12s; add it",
			plan_path, c->plan.hosts_path, c->commit);
		goto fail;
	}
	if (fleet_hosts_parse(&c->hosts, c->plan.hosts_path, c->hosts_text, strlen(c->hosts_text),
			      &e) < 0 ||
	    fleet_assign(&c->assign, &c->plan, &c->hosts, &e) < 0)
		goto fail;
	c->ok = true;
	return;
fail:
	snprintf(c->error, sizeof(c->error), "%s", e.msg);
}

/* Reads commit's plan and hosts texts. 0, or -1 on a read error (in e). */
static int read_texts(struct fleet_round_commit *c, const char *mirror, const char *plan_path,
		      struct err *e)
{
	struct pull_tree *t = NULL;
	struct fleet_plan probe = {0};
	struct err pe = {{0}};
	size_t len;
	int rc;

	if (pull_tree_open(&t, mirror, c->commit, FLEET_HOSTS_MAX_BYTES + 1, e) < 0)
		return -1;
	rc = read_file(t, plan_path, &c->plan_text, &len, e);
	if (rc > 0 && memchr(c->plan_text, 0, len))
		rc = 1; /* the parser refuses it, with its line */
	/* The hosts path comes from the plan; a plan that does not parse needs none. */
	if (rc > 0 && fleet_plan_parse(&probe, plan_path, c->plan_text, len, &pe) == 0) {
		rc = read_file(t, probe.hosts_path, &c->hosts_text, &len, e);
		if (rc > 0 && memchr(c->hosts_text, 0, len)) {
			free(c->hosts_text);
			c->hosts_text = strdup("\1"); /* refused by the parser, with its line */
		}
		if (rc == 0)
			rc = 1;
		fleet_plan_release(&probe);
	}
	pull_tree_close(t);
	return rc < 0 ? -1 : 0;
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int load_one(struct fleet_round *r, size_t i, const struct config *cfg, const char *mirror,
		    const struct fleet_entry *entries, size_t nentries,
		    const struct fleet_seen *seen, int64_t now, struct err *e)
{
	struct fleet_round_commit *c = &r->v[i], *prev = i ? &r->v[r->v[i - 1].model] : NULL;

	c->model = (int)i;
	if (read_texts(c, mirror, cfg->fleet.plan, e) < 0)
		return -1;
	if (prev && same_text(prev->plan_text, c->plan_text) &&
	    same_text(prev->hosts_text, c->hosts_text)) {
		c->model = prev->model;
		return 0;
	}
	if (!c->plan_text)
		snprintf(c->error, sizeof(c->error),
			 "commit %.12s has no %s; a commit without a plan is not rolled out in "
			 "waves after one with a plan",
			 c->commit, cfg->fleet.plan);
	else
		parse_plan(c, cfg->fleet.plan);
	if (c->ok && entries) {
		if (fleet_view_build(&c->view, &c->hosts, entries, nentries, seen, now,
				     c->plan.stale_after, e) < 0)
			return -1;
		c->have_view = true;
	}
	return 0;
}

static void fill_candidates(struct fleet_round *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct fleet_round_commit *m = &r->v[r->v[i].model];
		r->candidates[i] = (struct fleet_candidate){
		    .commit = r->v[i].commit,
		    .assign = m->ok ? &m->assign : NULL,
		    .plan_error = m->ok ? NULL : (r->v[i].error[0] ? r->v[i].error : m->error),
		    .view = m->have_view ? &m->view : NULL,
		};
	}
}

int fleet_round_load(struct fleet_round *r, const struct config *cfg, const char *mirror,
		     const char *tip, const char *stop, const struct fleet_entry *entries,
		     size_t nentries, const struct fleet_seen *seen, int64_t now, struct err *e)
{
	char(*chain)[PULL_COMMIT_HEX] = NULL;
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	if (pull_graph_open(&r->graph, mirror, e) < 0 ||
	    pull_graph_first_parents(r->graph, tip, stop, FLEET_ROUND_MAX, &chain, &n, e) < 0)
		goto fail;
	r->v = calloc(n, sizeof(*r->v));
	r->candidates = calloc(n, sizeof(*r->candidates));
	if (!r->v || !r->candidates) {
		err_set(e, "out of memory");
		goto fail;
	}
	r->n = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(r->v[i].commit, sizeof(r->v[i].commit), "%s", chain[i]);
		if (load_one(r, i, cfg, mirror, entries, nentries, seen, now, e) < 0)
			goto fail;
	}
	free(chain);
	r->no_plan = !r->v[0].plan_text;
	fill_candidates(r);
	return 0;
fail:
	free(chain);
	fleet_round_release(r);
	return -1;
}

void fleet_round_refuse(struct fleet_round *r, size_t i, const char *why)
{
	snprintf(r->v[i].error, sizeof(r->v[i].error), "%s", why);
	r->candidates[i].assign = NULL;
	r->candidates[i].plan_error = r->v[i].error;
}

void fleet_round_release(struct fleet_round *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct fleet_round_commit *c = &r->v[i];
		if (c->have_view)
			fleet_view_release(&c->view);
		fleet_assign_release(&c->assign);
		fleet_hosts_release(&c->hosts);
		fleet_plan_release(&c->plan);
		free(c->plan_text);
		free(c->hosts_text);
	}
	free(r->v);
	free(r->candidates);
	pull_graph_close(r->graph);
	memset(r, 0, sizeof(*r));
}
