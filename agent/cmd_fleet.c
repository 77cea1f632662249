/* cim-agent fleet status|trigger, cim-agent rollout status: the fleet as the
 * bucket and the plan of a commit show it. */
#include "agent/cli.h"
#include "agent/config.h"
#include "agent/fleet_link.h"
#include "agent/fleet_local.h"
#include "agent/fleet_round.h"
#include "agent/log.h"
#include "agent/pull_step.h"
#include "agent/state.h"
#include "base/err.h"
#include "pull/walk.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *short_id(const char *c)
{
	static char ring[4][13];
	static int next;
	char *out = ring[next++ % 4];

	snprintf(out, 13, "%.12s", c && *c ? c : "-");
	return out;
}

static void when(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t) {
		snprintf(buf, size, "-");
		return;
	}
	/* a time past what struct tm holds has no date */
	if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "%lld", (long long)t);
}

/* The commit whose plan is shown: rev when given (40 hex digits), else the
 * last verified tip, else what is deployed. */
static int pick_commit(const struct config *cfg, const char *rev, char *out, size_t size)
{
	struct agent_state st;
	struct err e = {{0}};
	const char *c;

	if (rev) {
		if (strlen(rev) != 40 || strspn(rev, "0123456789abcdef") != 40) {
			fprintf(stderr, "cim-agent: '%s' is not a commit id (40 hex digits)\n",
				rev);
			return EXIT_USAGE;
		}
		snprintf(out, size, "%s", rev);
		return 0;
	}
	if (state_load(&st, cfg->agent.state_dir, &e) < 0) {
		fprintf(stderr, "cim-agent: %s\n", e.msg);
		return EXIT_REFUSED;
	}
	c = st.verified ? st.verified : st.deployed;
	snprintf(out, size, "%s", c ? c : "");
	state_release(&st);
	if (!*out) {
		fprintf(stderr,
			"cim-agent: nothing was verified yet: no plan to show (run 'cim-agent "
			"fetch')\n");
		return EXIT_REFUSED;
	}
	return 0;
}

/* The round of commit alone: its plan, and the bucket against its hosts. */
static int load_round(const struct config *cfg, const char *commit, struct fleet_round *r,
		      char *nats_error, size_t size)
{
	const struct fleet_entry *entries = NULL;
	struct fleet_local l;
	char mirror[4096];
	size_t n = 0;
	struct err e = {{0}};
	int rc;

	pull_mirror_path(cfg, mirror, sizeof(mirror));
	nats_error[0] = '\0';
	if (fleet_link_entries(cfg, &entries, &n, &e) < 0) {
		snprintf(nats_error, size, "%s", e.msg);
		entries = NULL;
	}
	memset(&e, 0, sizeof(e));
	if (fleet_local_load(&l, cfg->agent.state_dir, cfg->fleet.name, NULL, &e) < 0)
		log_msg(LOG_WARNING, NULL, NULL, "%s", e.msg);
	rc = fleet_round_load(r, cfg, mirror, commit, commit, entries, n, &l.seen,
			      (int64_t)time(NULL), &e);
	fleet_local_release(&l);
	if (rc < 0) {
		fprintf(stderr, "cim-agent: %s\n", e.msg);
		return EXIT_REFUSED;
	}
	if (r->no_plan) {
		fprintf(stderr, "cim-agent: commit %.12s has no %s: it deploys without a plan\n",
			commit, cfg->fleet.plan);
		fleet_round_release(r);
		return EXIT_REFUSED;
	}
	return 0;
}

static json_t *member_json(const struct fleet_round_commit *c, size_t i, int64_t now)
{
	const struct fleet_host *h = &c->hosts.v[i];
	const struct fleet_member_view *m = c->have_view ? &c->view.v[i] : NULL;
	const struct fleet_report *r = m && m->have ? &m->report : NULL;
	const struct fleet_wave *w = &c->assign.waves[c->assign.wave_of[i]];
	json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "host", h->name, "wave", w->name, "verdict",
			      fleet_verdict_name(m ? m->verdict : FLEET_SILENT), "forged",
			      (json_int_t)(m ? m->forged : 0));

	if (r) {
		json_object_set_new(o, "deployed",
				    r->deployed[0] ? json_string(r->deployed) : json_null());
		json_object_set_new(o, "target",
				    r->target[0] ? json_string(r->target) : json_null());
		json_object_set_new(o, "healthy", json_boolean(r->healthy));
		json_object_set_new(o, "healthy_since",
				    r->healthy && r->nlineage ? json_integer(r->lineage[0].since)
							      : json_null());
		json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
		json_object_set_new(o, "time", json_integer(r->time));
		json_object_set_new(o, "age", json_integer(now - r->time));
	}
	return o;
}

static json_t *fleet_json(const struct config *cfg, const struct fleet_round_commit *c,
			  const char *nats_error)
{
	int64_t now = (int64_t)time(NULL);
	json_t *hosts = json_array();

	for (size_t i = 0; c->ok && i < c->hosts.n; i++)
		json_array_append_new(hosts, member_json(c, i, now));
	return json_pack("{s:s, s:s, s:s?, s:s?, s:b, s:s?, s:I, s:I, s:o}", "bucket",
			 cfg->fleet.bucket, "commit", c->commit, "plan_error",
			 c->ok ? NULL : c->error, "self", cfg->fleet.name, "nats_ok",
			 !nats_error[0], "nats_error", nats_error[0] ? nats_error : NULL, "forged",
			 (json_int_t)(c->have_view ? c->view.forged : 0), "outsiders",
			 (json_int_t)(c->have_view ? c->view.outsiders : 0), "hosts", hosts);
}

static void print_fleet(json_t *o)
{
	size_t i;
	json_t *h;
	char since[32];

	/* Absent and null both mean "none". */
	const char *nats_error = json_string_value(json_object_get(o, "nats_error"));
	const char *plan_error = json_string_value(json_object_get(o, "plan_error"));

	log_print(stdout, "fleet bucket %s, plan of %.12s%s%s\n",
		  json_string_value(json_object_get(o, "bucket")),
		  json_string_value(json_object_get(o, "commit")),
		  nats_error ? "; NATS unreachable: " : "", nats_error ? nats_error : "");
	if (plan_error)
		log_print(stdout, "plan error: %s\n", plan_error);
	printf("%-20s %-12s %-8s %-12s %-20s %-12s %s\n", "HOST", "WAVE", "VERDICT", "DEPLOYED",
	       "HEALTHY SINCE", "TARGET", "AGE");
	json_array_foreach(json_object_get(o, "hosts"), i, h)
	{
		json_t *age = json_object_get(h, "age");
		char age_text[32] = "-";
		if (age)
			snprintf(age_text, sizeof(age_text), "%llds",
				 (long long)json_integer_value(age));
		when(json_integer_value(json_object_get(h, "healthy_since")), since, sizeof(since));
		log_print(stdout, "%-20s %-12s %-8s %-12s %-20s %-12s %s\n",
			  json_string_value(json_object_get(h, "host")),
			  json_string_value(json_object_get(h, "wave")),
			  json_string_value(json_object_get(h, "verdict")),
			  short_id(json_string_value(json_object_get(h, "deployed"))), since,
			  short_id(json_string_value(json_object_get(h, "target"))), age_text);
	}
	printf("forged reports: %lld\n",
	       (long long)json_integer_value(json_object_get(o, "forged")));
}

static int parse_json_flag(int *argc, char ***argv, bool *json)
{
	int out = 0;

	for (int i = 0; i < *argc; i++) {
		if (strcmp((*argv)[i], "--json") == 0)
			*json = true;
		else if ((*argv)[i][0] == '-' && (*argv)[i][1])
			return -1;
		else
			(*argv)[out++] = (*argv)[i];
	}
	*argc = out;
	return 0;
}

static int fleet_status(const struct config *cfg, bool json)
{
	struct fleet_round r;
	char commit[FLEET_COMMIT_MAX + 1], nats_error[512];
	int rc = pick_commit(cfg, NULL, commit, sizeof(commit));
	json_t *o;

	if (rc || (rc = load_round(cfg, commit, &r, nats_error, sizeof(nats_error))))
		return rc;
	o = fleet_json(cfg, &r.v[0], nats_error);
	if (json) {
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		print_fleet(o);
	}
	json_decref(o);
	fleet_round_release(&r);
	return nats_error[0] ? EXIT_REFUSED : 0;
}

static int fleet_trigger(const struct config *cfg, const char *commit)
{
	struct err e = {{0}};

	if (commit &&
	    (strlen(commit) > 64 || strspn(commit, "0123456789abcdef") != strlen(commit))) {
		fprintf(stderr, "cim-agent: '%s' is not a commit id (hex digits)\n", commit);
		return EXIT_USAGE;
	}
	if (fleet_link_publish(cfg, commit ? commit : "", &e) < 0) {
		fprintf(stderr, "cim-agent: fleet trigger: %s\n", e.msg);
		return EXIT_REFUSED;
	}
	printf("published a trigger%s%s on %s: every agent fetches now\n", commit ? " for " : "",
	       commit ? commit : "", cfg->fleet.trigger_subject);
	return 0;
}

static bool fleet_configured(const struct config *cfg)
{
	if (config_fleet_enabled(cfg))
		return true;
	fprintf(stderr, "cim-agent: %s has no [fleet] nats_url: this host is in no fleet\n",
		cfg->path);
	return false;
}

int cmd_fleet(struct cli_call *call)
{
	bool json = false;
	int argc = call->argc - 1;
	char **argv = call->argv + 1;

	if (parse_json_flag(&argc, &argv, &json) < 0 || argc < 1)
		goto usage;
	if (!fleet_configured(call->cfg))
		return EXIT_REFUSED;
	if (strcmp(argv[0], "status") == 0 && argc == 1)
		return fleet_status(call->cfg, json);
	if (strcmp(argv[0], "trigger") == 0 && argc <= 2 && !json)
		return fleet_trigger(call->cfg, argc == 2 ? argv[1] : NULL);
usage:
	fprintf(stderr,
		"usage: cim-agent [-c FILE] fleet status [--json] | fleet trigger [COMMIT]\n");
	return EXIT_USAGE;
}

static json_t *progress_json(const struct fleet_progress *p)
{
	json_t *waves = json_array();

	for (size_t i = 0; i < p->nwaves; i++) {
		const struct fleet_wave_progress *w = &p->waves[i];
		json_array_append_new(
		    waves,
		    json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:I, "
			      "s:b}",
			      "name", w->name, "total", (json_int_t)w->total, "done",
			      (json_int_t)w->done, "soaked", (json_int_t)w->soaked, "waiting",
			      (json_int_t)w->waiting, "failed", (json_int_t)w->failed, "excluded",
			      (json_int_t)w->excluded, "min_healthy", (json_int_t)w->min_healthy,
			      "soak", (json_int_t)w->soak, "soaked_wave", w->is_soaked, "open",
			      w->open, "soaking_until", (json_int_t)w->soaking_until, "halted",
			      w->halted));
	}
	return json_pack("{s:s, s:b, s:s?, s:o}", "commit", p->commit, "halted", p->halted,
			 "halted_reason", p->halted ? p->halted_reason : NULL, "waves", waves);
}

static void print_progress(const struct fleet_progress *p, const char *nats_error)
{
	char until[32];

	printf("rollout of %.12s\n", p->commit);
	if (nats_error[0])
		log_print(stdout, "NATS unreachable (%s): every other host counts as silent\n",
			  nats_error);
	for (size_t i = 0; i < p->nwaves; i++) {
		const struct fleet_wave_progress *w = &p->waves[i];
		when(w->soaking_until, until, sizeof(until));
		log_print(
		    stdout,
		    "wave %-12s %zu/%zu done, %zu soaked (min_healthy %zu, soak %us)%s%s%s%s\n",
		    w->name, w->done, w->total, w->soaked, w->min_healthy, w->soak,
		    w->halted	   ? ", HALTED"
		    : w->is_soaked ? ", soaked"
				   : "",
		    w->soaking_until ? ", soaking until " : "", w->soaking_until ? until : "",
		    !w->open ? ", closed: an earlier wave has not soaked" : "");
	}
	if (p->halted)
		log_print(stdout, "%s\n", p->halted_reason);
}

int cmd_rollout(struct cli_call *call)
{
	bool json = false;
	int argc = call->argc - 1, rc;
	char **argv = call->argv + 1;
	char commit[FLEET_COMMIT_MAX + 1], nats_error[512];
	struct fleet_round r;
	struct fleet_progress p;
	struct err e = {{0}};

	if (parse_json_flag(&argc, &argv, &json) < 0 || argc < 1 || argc > 2 ||
	    strcmp(argv[0], "status") != 0) {
		fprintf(stderr, "usage: cim-agent [-c FILE] rollout status [--json] [COMMIT]\n");
		return EXIT_USAGE;
	}
	if (!fleet_configured(call->cfg))
		return EXIT_REFUSED;
	if ((rc = pick_commit(call->cfg, argc == 2 ? argv[1] : NULL, commit, sizeof(commit))) ||
	    (rc = load_round(call->cfg, commit, &r, nats_error, sizeof(nats_error))))
		return rc;
	if (fleet_gate_progress(&r.candidates[0], pull_graph_is_ancestor, r.graph,
				(int64_t)time(NULL), &p, &e) < 0) {
		fprintf(stderr, "cim-agent: %s\n", e.msg);
		fleet_round_release(&r);
		return EXIT_REFUSED;
	}
	if (json) {
		json_t *o = progress_json(&p);
		json_object_set_new(o, "nats_error",
				    nats_error[0] ? json_string(nats_error) : json_null());
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(o);
	} else {
		print_progress(&p, nats_error);
	}
	fleet_round_release(&r);
	return 0;
}
