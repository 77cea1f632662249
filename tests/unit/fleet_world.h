/* A small fleet for the gate and view tests: a plan, a hosts file with
 * throwaway keys, signed reports in a bucket-like list of entries, and a
 * linear history of commits. */
#ifndef CIM_TEST_FLEET_WORLD_H
#define CIM_TEST_FLEET_WORLD_H

#include "base/err.h"
#include "fleet/assign.h"
#include "fleet/entry.h"
#include "fleet/gate.h"
#include "fleet/hosts.h"
#include "fleet/plan.h"
#include "fleet/report.h"
#include "fleet/view.h"
#include "fleet_fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORLD_MAX_HOSTS 64

struct world {
	struct fleet_plan plan;
	struct fleet_hosts hosts;
	struct fleet_assignment assign;
	struct fleet_entry *entries;
	size_t n, cap;
	uint64_t revision;
	struct fleet_seen seen;
	struct fleet_view view;
	bool have_view;
	uint64_t seq[WORLD_MAX_HOSTS];
	/* what each host failed, kept in its later reports as an agent does */
	struct fleet_report failures[WORLD_MAX_HOSTS];
	int64_t now;
	int ancestry_calls;
	bool ancestry_fails;
};

/* Commit i of the linear history: "a" then i in 6 hex digits, padded to 40.
 * A negative i is a commit outside it ("b..."), that nobody knows. */
static inline const char *commit(int i)
{
	static char ring[64][41];
	static int next;
	char *c = ring[next++ % 64];

	snprintf(c, 41, "%c%06x000000000000000000000000000000000", i < 0 ? 'b' : 'a',
		 i < 0 ? -i : i);
	return c;
}

/* The history is linear: a00000i is an ancestor of a00000j when i < j.
 * Anything else is unknown: neither ancestor nor descendant. */
static inline int world_is_ancestor(void *ctx, const char *a, const char *b)
{
	struct world *w = ctx;

	w->ancestry_calls++;
	if (w->ancestry_fails)
		return -1;
	if (a[0] != 'a' || b[0] != 'a')
		return 0;
	return strtol((char[7]){a[1], a[2], a[3], a[4], a[5], a[6], 0}, NULL, 16) <
	       strtol((char[7]){b[1], b[2], b[3], b[4], b[5], b[6], 0}, NULL, 16);
}

static inline void world_load(struct world *w, const char *plan, const char *const *names)
{
	struct err e = {{0}};
	char *text = fx_hosts_text(names);

	memset(w, 0, sizeof(*w));
	if (fleet_plan_parse(&w->plan, "rollout.conf", plan, strlen(plan), &e) != 0 ||
	    fleet_hosts_parse(&w->hosts, "fleet/hosts", text, strlen(text), &e) != 0 ||
	    fleet_assign(&w->assign, &w->plan, &w->hosts, &e) != 0)
		fail_msg("%s", e.msg);
	free(text);
	w->now = 1700000000;
}

static inline void world_release(struct world *w)
{
	if (w->have_view)
		fleet_view_release(&w->view);
	fleet_entries_free(w->entries, w->n);
	fleet_seen_release(&w->seen);
	for (size_t i = 0; i < WORLD_MAX_HOSTS; i++)
		fleet_report_release(&w->failures[i]);
	fleet_assign_release(&w->assign);
	fleet_hosts_release(&w->hosts);
	fleet_plan_release(&w->plan);
}

/* Stores value under key as the bucket's next revision. */
static inline void world_store(struct world *w, const char *key, const char *value)
{
	struct fleet_entry *x;

	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->entries = realloc(w->entries, w->cap * sizeof(*w->entries));
		assert_non_null(w->entries);
	}
	x = &w->entries[w->n++];
	memset(x, 0, sizeof(*x));
	x->key = strdup(key);
	x->value = strdup(value);
	x->len = strlen(value);
	x->revision = ++w->revision;
}

/* Signs r with signer's key and stores it under key. */
static inline void world_put_as(struct world *w, const char *key, struct fleet_report *r,
				const char *signer)
{
	unsigned char pk[32], sk[64];
	struct err e = {{0}};
	char *env;
	size_t len;

	fx_keypair(signer, pk, sk);
	if (fleet_report_sign(r, sk, &env, &len, &e) != 0)
		fail_msg("%s", e.msg);
	world_store(w, key, env);
	free(env);
}

/* A fresh report of host at the world's time, with the next seq. */
static inline void world_report(struct world *w, const char *host, struct fleet_report *r)
{
	long i = fleet_hosts_index(&w->hosts, host);

	assert_true(i >= 0);
	memset(r, 0, sizeof(*r));
	snprintf(r->host, sizeof(r->host), "%s", host);
	r->seq = ++w->seq[i];
	r->time = w->now;
	for (size_t k = 0; k < w->failures[i].nfailures; k++) {
		const struct fleet_failure *f = &w->failures[i].failures[k];
		assert_int_equal(fleet_report_add_failure(r, f->commit, f->time, f->rolled_back,
							  f->reason, NULL),
				 0);
	}
}

/* host reports healthy on a lineage of n (commit index, since) pairs. */
static inline void world_healthy(struct world *w, const char *host, int n, const int *commits,
				 const int64_t *since)
{
	struct fleet_report r;
	struct err e = {{0}};

	world_report(w, host, &r);
	r.healthy = true;
	for (int i = 0; i < n; i++)
		assert_int_equal(fleet_report_lineage_add(&r, commit(commits[i]), since[i], &e), 0);
	snprintf(r.deployed, sizeof(r.deployed), "%s", commit(commits[n - 1]));
	world_put_as(w, host, &r, host);
	fleet_report_release(&r);
}

/* host reports healthy on commit c since since. */
static inline void world_on(struct world *w, const char *host, int c, int64_t since)
{
	world_healthy(w, host, 1, &c, &since);
}

/* host failed commit bad and rolled back to good (healthy since now). */
static inline void world_failed(struct world *w, const char *host, int bad, int good,
				const char *reason)
{
	struct fleet_report r;
	struct err e = {{0}};

	assert_int_equal(fleet_report_add_failure(&w->failures[fleet_hosts_index(&w->hosts, host)],
						  commit(bad), w->now, true, reason, &e),
			 0);
	world_report(w, host, &r);
	r.healthy = true;
	assert_int_equal(fleet_report_lineage_add(&r, commit(good), w->now, &e), 0);
	snprintf(r.deployed, sizeof(r.deployed), "%s", commit(good));
	world_put_as(w, host, &r, host);
	fleet_report_release(&r);
}

/* Re-reads the bucket as an agent would at the world's time. */
static inline const struct fleet_view *world_view(struct world *w)
{
	struct err e = {{0}};

	if (w->have_view)
		fleet_view_release(&w->view);
	if (fleet_view_build(&w->view, &w->hosts, w->entries, w->n, &w->seen, w->now,
			     w->plan.stale_after, &e) != 0)
		fail_msg("%s", e.msg);
	w->have_view = true;
	return &w->view;
}

/* The gate of self (running deployed, a commit index or -1) over the
 * candidates tip, tip-1, ..., oldest. */
static inline struct fleet_gate world_gate(struct world *w, const char *self, int deployed, int tip,
					   int oldest)
{
	struct fleet_candidate c[64];
	static char commits[64][41];
	struct fleet_gate g;
	struct err e = {{0}};
	const struct fleet_view *view = world_view(w);
	size_t n = 0;
	char dep[41];

	for (int i = tip; i >= oldest; i--) {
		snprintf(commits[n], sizeof(commits[n]), "%s", commit(i));
		c[n] = (struct fleet_candidate){commits[n], &w->assign, NULL, view};
		n++;
	}
	snprintf(dep, sizeof(dep), "%s", deployed >= 0 ? commit(deployed) : "");
	struct fleet_gate_input in = {self,  deployed >= 0 ? dep : NULL, c, n, world_is_ancestor, w,
				      w->now};
	if (fleet_gate_decide(&in, &g, &e) != 0)
		fail_msg("%s", e.msg);
	return g; /* deploy points into commits[], valid until the next call */
}

/* The index of the commit the gate deploys, or -1. */
static inline int deploys(const struct fleet_gate *g)
{
	if (!g->deploy)
		return -1;
	return (int)strtol((char[7]){g->deploy[1], g->deploy[2], g->deploy[3], g->deploy[4],
				     g->deploy[5], g->deploy[6], 0},
			   NULL, 16);
}

#endif
