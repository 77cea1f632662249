/* The gate step: see agent/fleet_step.h. */
#include "agent/fleet_step.h"

#include "agent/config.h"
#include "agent/cycle_steps.h"
#include "agent/failed.h"
#include "agent/fleet_link.h"
#include "agent/fleet_local.h"
#include "agent/fleet_round.h"
#include "agent/log.h"
#include "base/err.h"
#include "fleet/gate.h"
#include "pull/walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GATE_RETRIES 8 /* candidates that fail their own verification, per decision */

void step_gate_prepare(struct cycle *c, char *what, size_t size)
{
	if (config_fleet_enabled(c->cfg))
		snprintf(what, size, "asking the rollout plan (%s) whether %.12s may deploy here",
			 c->cfg->fleet.plan, c->res->commit);
	else
		snprintf(what, size, "no [fleet]: %.12s deploys without a rollout plan",
			 c->res->commit);
}

/* The commit the gate chose, verified as the tip was (signature, policy,
 * descending from the baseline): 1 trusted, 0 not (why), -1 unreadable. */
static int verify_choice(struct cycle *c, const char *commit, struct verify_result *r, char *why,
			 size_t size)
{
	const struct pull_verify_request rq = {.repo = c->mirror,
					       .allowed_signers = c->cfg->repo.allowed_signers,
					       .rev = commit,
					       .branch = c->cfg->repo.branch,
					       .policy = true,
					       .mode = c->cfg->repo.verify,
					       .baseline = c->st.baseline};
	struct err e = {{0}};

	if (pull_verify(&rq, r, &e) != PULL_VERIFY_JUDGED) {
		snprintf(why, size, "%.12s cannot be verified: %s", commit, e.msg);
		return 0;
	}
	if (!r->trusted)
		snprintf(why, size, "%.12s is not trusted: %s", commit, r->reason);
	return r->trusted ? 1 : 0;
}

/* Decides, dropping chosen candidates that do not verify themselves. */
static int decide(struct cycle *c, struct fleet_round *r, const char *deployed,
		  struct fleet_gate *g, struct verify_result *chosen)
{
	const char *tip = r->v[0].commit;

	for (int tries = 0; tries < GATE_RETRIES; tries++) {
		struct fleet_gate_input in = {
		    c->cfg->fleet.name,	    deployed, r->candidates,	  r->n,
		    pull_graph_is_ancestor, r->graph, (int64_t)time(NULL)};
		char why[1100];
		size_t i;

		if (fleet_gate_decide(&in, g, c->e) < 0)
			return -1;
		if (!g->deploy || strcmp(g->deploy, tip) == 0)
			return 0;
		if (verify_choice(c, g->deploy, chosen, why, sizeof(why)))
			return 0;
		cycle_log(c, LOG_WARNING, "the plan allows %.12s, but %s", g->deploy, why);
		for (i = 0; i < r->n && strcmp(r->v[i].commit, g->deploy) != 0; i++)
			;
		if (i < r->n)
			fleet_round_refuse(r, i, why);
	}
	g->deploy = NULL;
	return 0;
}

static void record(struct fleet_local *l, const struct fleet_round *r, const struct fleet_gate *g)
{
	struct fleet_gate_record *rec = &l->gate;
	const struct fleet_round_commit *tip = &r->v[r->v[0].model];

	memset(rec, 0, sizeof(*rec));
	rec->active = true;
	rec->at = (int64_t)time(NULL);
	snprintf(rec->tip, sizeof(rec->tip), "%s", r->v[0].commit);
	snprintf(rec->deploy, sizeof(rec->deploy), "%s", g->deploy ? g->deploy : "");
	rec->wave = g->wave;
	snprintf(rec->wave_name, sizeof(rec->wave_name), "%s", g->wave_name);
	rec->waiting = g->waiting;
	snprintf(rec->waits_for, sizeof(rec->waits_for), "%s", g->waits_for);
	rec->wait_until = g->wait_until;
	snprintf(rec->halted, sizeof(rec->halted), "%s", g->halted);
	snprintf(rec->note, sizeof(rec->note), "%s", g->note);
	rec->forged = tip->have_view ? tip->view.forged : 0;
	rec->stale_after = tip->ok ? tip->plan.stale_after : 0;
	if (tip->have_view && fleet_seen_merge(&l->seen, &tip->view, NULL) < 0)
		log_msg(LOG_WARNING, NULL, "gate", "out of memory noting the seqs seen");
}

/* No deployment now: why, as the cycle's outcome. */
static int hold(struct cycle *c, const struct fleet_gate *g, const char *nats_error)
{
	char nats[600] = "";

	if (nats_error[0])
		snprintf(nats, sizeof(nats),
			 " (NATS unreachable, so every other host counts as "
			 "silent: %.400s)",
			 nats_error);
	if (g->waiting)
		cycle_set_result(c, CYCLE_WAITING, "%s%s%s%s", g->waits_for, nats,
				 g->nhalted ? "; " : "", g->nhalted ? g->halted : "");
	else if (g->nhalted)
		cycle_set_result(c, CYCLE_HALTED, "%s", g->halted);
	else if (g->note[0])
		cycle_set_result(c, CYCLE_SKIPPED, "%s", g->note);
	else
		cycle_set_result(c, CYCLE_UP_TO_DATE, "nothing newer than %.12s may deploy here",
				 c->st.deployed ? c->st.deployed : "-");
	cycle_log(c, c->res->outcome == CYCLE_HALTED ? LOG_WARNING : LOG_INFO, "%s",
		  c->res->message);
	return STEP_DONE;
}

/* The gate let deploy through: it becomes the cycle's commit. */
static int let_through(struct cycle *c, const char *deploy, const struct verify_result *chosen)
{
	if (strcmp(deploy, c->res->commit) != 0) {
		cycle_log(c, LOG_NOTICE, "the plan lets %.12s through to this wave (the tip waits)",
			  deploy);
		snprintf(c->res->commit, sizeof(c->res->commit), "%s", deploy);
		c->po.result = *chosen;
	}
	return PHASE_BUILD;
}

static int gate_with(struct cycle *c, struct fleet_local *l)
{
	const char *deployed = c->cfg->agent.mode == MODE_BUILD ? c->st.built : c->st.deployed;
	const struct fleet_entry *entries = NULL;
	struct fleet_round r;
	struct fleet_gate g;
	struct verify_result chosen;
	char nats_error[512] = "";
	size_t n = 0;
	struct err e = {{0}};
	int next;

	l->nats_ok = fleet_link_entries(c->cfg, &entries, &n, &e) == 0;
	l->nats_at = (int64_t)time(NULL);
	if (!l->nats_ok)
		snprintf(nats_error, sizeof(nats_error), "%s", e.msg);
	snprintf(l->nats_error, sizeof(l->nats_error), "%s", nats_error);
	if (fleet_round_load(&r, c->cfg, c->mirror, c->res->commit,
			     deployed ? deployed : c->st.baseline, l->nats_ok ? entries : NULL, n,
			     &l->seen, (int64_t)time(NULL), c->e) < 0) {
		cycle_set_result(c, CYCLE_ERROR, "rollout gate: %s", c->e->msg);
		return STEP_DONE;
	}
	if (r.no_plan) {
		memset(&l->gate, 0, sizeof(l->gate));
		l->gate.wave = -1;
		fleet_round_release(&r);
		return PHASE_BUILD;
	}
	if (decide(c, &r, deployed, &g, &chosen) < 0) {
		fleet_round_release(&r);
		cycle_set_result(c, CYCLE_ERROR, "rollout gate: %s", c->e->msg);
		return STEP_DONE;
	}
	record(l, &r, &g);
	next = g.deploy ? let_through(c, g.deploy, &chosen) : hold(c, &g, nats_error);
	if (g.deploy && g.nhalted)
		cycle_log(c, LOG_WARNING, "%s", g.halted);
	fleet_round_release(&r);
	return next;
}

int step_gate(struct cycle *c)
{
	const struct state_failure *failure;
	struct fleet_local l;
	unsigned char pk[32];
	struct err e = {{0}};
	int next;

	if (!config_fleet_enabled(c->cfg))
		return PHASE_BUILD;
	if (fleet_link_host_key(c->cfg, pk, NULL, &e) < 0)
		cycle_log(c, LOG_WARNING, "%s", e.msg);
	if (fleet_local_load(&l, c->cfg->agent.state_dir, c->cfg->fleet.name, e.msg[0] ? NULL : pk,
			     c->e) < 0) {
		cycle_set_result(c, CYCLE_ERROR, "%s", c->e->msg);
		return STEP_DONE;
	}
	next = gate_with(c, &l);
	if (fleet_local_save(&l, c->cfg->agent.state_dir, &e) < 0)
		cycle_log(c, LOG_WARNING, "%s", e.msg);
	fleet_local_release(&l);
	/* What the gate lets through may have failed here before (the tip, or
	 * the older commit this wave may deploy): then it is skipped. */
	if (next == PHASE_BUILD &&
	    (failure = failed_find(&c->st, c->res->commit, c->po.result.signed_digest)))
		return cycle_skipped(c, failure);
	return next;
}
