/* agent/fleet_publish.h: the report out, and back after a state loss. */
#include "agent/fleet_publish.h"

#include "agent/config.h"
#include "agent/fleet_link.h"
#include "agent/fleet_local.h"
#include "agent/lock.h"
#include "agent/log.h"
#include "agent/state.h"
#include "base/err.h"
#include "fleet/plan.h"
#include "fleet/report.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Why commit failed, as the cycle remembered it (the health check's words). */
static const char *failure_reason(const struct agent_state *st, const struct cycle_result *res)
{
	for (size_t i = st->nfailed; i-- > 0;)
		if (strcmp(st->failed[i].commit, res->commit) == 0 && st->failed[i].reason)
			return st->failed[i].reason;
	return res->message;
}

static void restart_streak(struct fleet_report *r, const struct agent_state *st, int64_t now)
{
	fleet_report_lineage_reset(r);
	if (st->deployed && fleet_commit_ok(st->deployed))
		fleet_report_lineage_add(r, st->deployed, now, NULL);
}

void fleet_publish_update_streak(struct fleet_report *r, const struct agent_state *st,
				 const struct cycle_result *res, int64_t now)
{
	enum cycle_outcome o = res ? res->outcome : CYCLE_OUTCOME_COUNT;
	bool failed = o == CYCLE_ROLLED_BACK || o == CYCLE_FAILED;

	if (failed && fleet_commit_ok(res->commit)) {
		fleet_report_add_failure(r, res->commit, now, o == CYCLE_ROLLED_BACK,
					 failure_reason(st, res), NULL);
		restart_streak(r, st, now);
		return;
	}
	if (!st->deployed || !fleet_commit_ok(st->deployed)) {
		fleet_report_lineage_reset(r);
		return;
	}
	if (o == CYCLE_DEPLOYED) {
		fleet_report_lineage_add(r, st->deployed, now, NULL);
		return;
	}
	/* What runs is not the streak's end (a manual rollback, a restored
	 * state): a new streak, healthy from now on. */
	if (!r->nlineage || strcmp(r->lineage[r->nlineage - 1].commit, st->deployed) != 0)
		restart_streak(r, st,
			       r->nlineage ? now : (st->deployed_at ? st->deployed_at : now));
}

/* The facts of status --json, without what is large or in flight. */
static json_t *status_facts(const struct agent_state *st)
{
	json_t *o = state_to_json(st, false);
	const char *drop[] = {"target",	      "target_path", "target_signer",  "target_key",
			      "closure_diff", "metrics",     "failed_commits", "last_error"};

	for (size_t i = 0; o && i < sizeof(drop) / sizeof(drop[0]); i++)
		json_object_del(o, drop[i]);
	return o;
}

static void fill_report(struct fleet_report *r, const struct config *cfg,
			const struct fleet_local *l, const struct agent_state *st, int64_t now)
{
	const struct fleet_gate_record *g = &l->gate;
	const char *target = g->active && g->deploy[0] ? g->deploy : g->active ? g->tip : "";

	snprintf(r->host, sizeof(r->host), "%s", cfg->fleet.name);
	r->seq = l->seq + 1;
	r->time = now;
	snprintf(r->wave, sizeof(r->wave), "%s", g->active && g->wave >= 0 ? g->wave_name : "");
	snprintf(r->deployed, sizeof(r->deployed), "%s",
		 st->deployed && fleet_commit_ok(st->deployed) ? st->deployed : "");
	if (st->deployed && strcmp(target, st->deployed) == 0)
		target = "";
	snprintf(r->target, sizeof(r->target), "%s", fleet_commit_ok(target) ? target : "");
	r->healthy = r->deployed[0] != '\0';
	if (r->status)
		json_decref(r->status);
	r->status = status_facts(st);
}

/* Signs and puts r; l takes the new seq and envelope (saved before the put,
 * so that a seq is never used twice). */
static int sign_and_put(const struct config *cfg, struct fleet_local *l, struct fleet_report *r,
			const unsigned char *sk, struct err *e)
{
	char *env = NULL;
	size_t len = 0;
	struct fleet_nats *n;

	if (fleet_report_sign(r, sk, &env, &len, e) < 0) {
		json_decref(r->status); /* too large: the facts go first */
		r->status = NULL;
		if (fleet_report_sign(r, sk, &env, &len, e) < 0)
			return -1;
	}
	l->seq = r->seq;
	free(l->envelope);
	l->envelope = env;
	fleet_report_release(&l->self);
	if (fleet_report_copy(&l->self, r, e) < 0 ||
	    fleet_local_save(l, cfg->agent.state_dir, e) < 0)
		return -1;
	if (!(n = fleet_link_nats(cfg, e)) ||
	    fleet_nats_put(n, cfg->fleet.name, env, len, NULL, e) < 0)
		return -1;
	l->published_at = r->time;
	return 0;
}

/* Another report saying the same as the last one put is only worth its
 * bandwidth as a heartbeat, before readers would call this host stale. */
static bool worth_putting(const struct fleet_local *l, const struct fleet_report *r,
			  unsigned stale_after)
{
	const struct fleet_report *o = &l->self;
	unsigned heartbeat = (stale_after ? stale_after : FLEET_DEFAULT_STALE_AFTER) / 3;

	if (!l->have_self || !l->published_at || !l->nats_ok ||
	    r->time - l->published_at >= (int64_t)(heartbeat > 5 ? heartbeat : 5))
		return true;
	if (strcmp(o->wave, r->wave) || strcmp(o->deployed, r->deployed) ||
	    strcmp(o->target, r->target) || o->healthy != r->healthy ||
	    o->nlineage != r->nlineage || o->nfailures != r->nfailures)
		return true;
	for (size_t i = 0; i < r->nlineage; i++)
		if (strcmp(o->lineage[i].commit, r->lineage[i].commit) ||
		    o->lineage[i].since != r->lineage[i].since)
			return true;
	return false;
}

static void publish_locked(const struct config *cfg, const struct cycle_result *res)
{
	struct agent_state st = {0};
	struct fleet_local l;
	struct fleet_report r = {0};
	unsigned char pk[32], *sk = NULL;
	int64_t now = (int64_t)time(NULL);
	struct err e = {{0}};

	if (fleet_link_host_key(cfg, pk, &sk, &e) < 0 ||
	    state_load(&st, cfg->agent.state_dir, &e) < 0) {
		log_msg(LOG_WARNING, NULL, "report", "fleet report: %s", e.msg);
		sodium_free(sk);
		state_release(&st);
		return;
	}
	/* A wiped state_dir: what this host last said comes back before it says
	 * anything new (a lower seq would not count). */
	if (fleet_restore_baseline(cfg, &st) == 1 && state_save(&st, &e) < 0)
		log_msg(LOG_WARNING, NULL, "report", "%s", e.msg);
	if (fleet_local_load(&l, cfg->agent.state_dir, cfg->fleet.name, pk, &e) < 0 ||
	    fleet_report_copy(&r, &l.self, &e) < 0) {
		log_msg(LOG_WARNING, NULL, "report", "fleet report: %s", e.msg);
		goto out;
	}
	fleet_publish_update_streak(&r, &st, res, now);
	fill_report(&r, cfg, &l, &st, now);
	if (!worth_putting(&l, &r, l.gate.stale_after))
		goto out;
	l.nats_ok = sign_and_put(cfg, &l, &r, sk, &e) == 0;
	l.nats_at = now;
	snprintf(l.nats_error, sizeof(l.nats_error), "%s", l.nats_ok ? "" : e.msg);
	if (!l.nats_ok)
		log_msg(LOG_WARNING, NULL, "report", "fleet report %llu not put: %s",
			(unsigned long long)r.seq, e.msg);
	memset(&e, 0, sizeof(e));
	if (fleet_local_save(&l, cfg->agent.state_dir, &e) < 0)
		log_msg(LOG_WARNING, NULL, "report", "%s", e.msg);
out:
	fleet_report_release(&r);
	fleet_local_release(&l);
	state_release(&st);
	sodium_free(sk);
}

void fleet_publish(const struct config *cfg, const struct cycle_result *res)
{
	struct err e = {{0}};
	int fd;

	if (!config_fleet_enabled(cfg))
		return;
	fd = lock_acquire(cfg->agent.state_dir, LOCK_WAIT_SECONDS, &e);
	if (fd < 0) {
		log_msg(LOG_WARNING, NULL, "report", "fleet report: %s", e.msg);
		return;
	}
	publish_locked(cfg, res);
	lock_release(fd);
}

/* This host's newest report that verifies with its own key, into best. */
static int own_newest(const struct config *cfg, const unsigned char pk[32],
		      struct fleet_report *best, struct err *e)
{
	struct fleet_nats *n = fleet_link_nats(cfg, e);
	struct fleet_entry *v = NULL;
	size_t count = 0;
	int found = 0;

	if (!n || fleet_nats_read_all(n, cfg->fleet.name, &v, &count, e) < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		struct fleet_report r = {0};
		struct err ignored = {{0}};
		if (v[i].deleted || fleet_report_open_key(cfg->fleet.name, v[i].value, v[i].len, pk,
							  &r, &ignored) != FLEET_OPEN_OK)
			continue;
		if (!found || r.seq > best->seq) {
			fleet_report_release(best);
			*best = r;
			found = 1;
		} else {
			fleet_report_release(&r);
		}
	}
	fleet_entries_free(v, count);
	return found;
}

int fleet_restore_baseline(const struct config *cfg, struct agent_state *st)
{
	struct fleet_report best = {0};
	struct fleet_local l;
	unsigned char pk[32];
	struct err e = {{0}};
	int found;

	if (!config_fleet_enabled(cfg) || st->baseline || st->deployed)
		return 0;
	if (fleet_link_host_key(cfg, pk, NULL, &e) < 0 ||
	    (found = own_newest(cfg, pk, &best, &e)) < 0) {
		log_msg(LOG_WARNING, NULL, "fetch",
			"no trust baseline, and this host's last report cannot be read (%s): the "
			"first verified tip becomes the baseline",
			e.msg);
		return 0;
	}
	if (!found || !best.deployed[0]) {
		fleet_report_release(&best);
		return 0;
	}
	state_set_str(&st->baseline, best.deployed);
	log_msg(LOG_NOTICE, best.deployed, "fetch",
		"the state holds no baseline: restored %.12s from this host's report %llu in the "
		"bucket; nothing older is accepted",
		best.deployed, (unsigned long long)best.seq);
	if (fleet_local_load(&l, cfg->agent.state_dir, cfg->fleet.name, pk, &e) == 0) {
		if (best.seq > l.seq) {
			l.seq = best.seq;
			fleet_report_release(&l.self);
			l.self = best;
			memset(&best, 0, sizeof(best));
		}
		if (fleet_local_save(&l, cfg->agent.state_dir, &e) < 0)
			log_msg(LOG_WARNING, NULL, "fetch", "%s", e.msg);
		fleet_local_release(&l);
	}
	fleet_report_release(&best);
	return 1;
}
