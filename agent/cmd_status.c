/* cim-agent status / history: what the agent is doing and did, read from the
 * state files alone, so they work when the daemon is stopped. */
#include "agent/cli.h"
#include "agent/config.h"
#include "base/err.h"
#include "agent/history.h"
#include "agent/cycle.h"
#include "agent/fleet_status.h"
#include "agent/log.h"
#include "agent/state.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATUS_SCHEMA 1

static const char *ago(time_t then, char *buf, size_t size)
{
	long d = (long)(time(NULL) - then);

	if (!then)
		snprintf(buf, size, "never");
	else if (d < 120)
		snprintf(buf, size, "%lds ago", d);
	else if (d < 7200)
		snprintf(buf, size, "%ldm ago", d / 60);
	else if (d < 172800)
		snprintf(buf, size, "%ldh ago", d / 3600);
	else
		snprintf(buf, size, "%ldd ago", d / 86400);
	return buf;
}

static const char *str(const char *v)
{
	return v ? v : "-";
}

/* Stale: no cycle for three poll intervals (plus jitter) while one was due. */
static bool is_stale(const struct config *cfg, const struct agent_state *st)
{
	time_t last = (time_t)st->last_cycle_at;
	time_t limit = 3 * (time_t)(cfg->agent.poll_interval + cfg->agent.poll_jitter) + 60;

	return last && time(NULL) - last > limit;
}

/* The newest failure is about the tip: it is the situation now, not history. */
static bool tip_failed(const struct agent_state *st)
{
	return st->nfailed && st->remote_tip &&
	       strcmp(st->failed[st->nfailed - 1].commit, st->remote_tip) == 0;
}

static bool succeeded(int outcome)
{
	return outcome == CYCLE_DEPLOYED || outcome == CYCLE_UP_TO_DATE ||
	       outcome == CYCLE_UNCHANGED || outcome == CYCLE_BUILT;
}

/* One line for the situation now, before the details. */
static void print_situation(const struct agent_state *st)
{
	const char *tip = str(st->remote_tip), *branch = str(st->branch);
	int o = st->last_outcome;

	if (st->phase != PHASE_IDLE)
		log_print(stdout, "now        deploying %.12s (%s)\n", str(st->target.commit),
			  cycle_phase_name(st->phase));
	else if (o == CYCLE_SKIPPED || (o == CYCLE_UP_TO_DATE && tip_failed(st)))
		log_print(stdout,
			  "now        waiting: the tip %.12s failed before; push a newer commit or "
			  "run 'cim-agent retry'\n",
			  tip);
	else if (succeeded(o) && st->deployed && st->remote_tip &&
		 strcmp(st->deployed, st->remote_tip) == 0)
		log_print(stdout, "now        healthy: %.12s runs, the tip of %s\n", st->deployed,
			  branch);
	else if (succeeded(o))
		log_print(stdout, "now        healthy: %.12s runs\n",
			  str(st->deployed ?: st->built));
	else if (o >= 0)
		log_print(stdout, "now        FAILING: %.12s %s (details below)\n", tip,
			  cycle_outcome_name(o));
}

/* Failures that are not the situation now: history, last. */
static void print_past_failures(const struct agent_state *st)
{
	const struct state_failure *last;
	char a[64];

	if (!st->nfailed || tip_failed(st))
		return;
	last = &st->failed[st->nfailed - 1];
	log_print(stdout,
		  "history    %zu earlier failed commit%s, latest %.12s %s: %s ('cim-agent "
		  "history' has more)\n",
		  st->nfailed, st->nfailed == 1 ? "" : "s", last->commit,
		  ago((time_t)last->at, a, sizeof(a)), str(last->reason));
}

/* What runs, what failed and what comes next. */
static void print_deployment(const struct config *cfg, const struct agent_state *st, long pid)
{
	char a[64], b[64];

	if (st->deployed)
		log_print(stdout, "deployed   %.12s signed by %s (%s), %s\n           %s\n",
			  st->deployed, str(st->deployed_signer), str(st->deployed_key),
			  ago((time_t)st->deployed_at, a, sizeof(a)), str(st->deployed_path));
	else
		log_print(stdout, "deployed   nothing yet\n");
	log_print(stdout, "last cycle %s: %s%s%s\n", ago((time_t)st->last_cycle_at, a, sizeof(a)),
		  st->last_outcome >= 0 ? cycle_outcome_name(st->last_outcome) : "-",
		  st->last_error ? ": " : "", st->last_error ? st->last_error : "");
	log_print(stdout, "remote     %s %s, tip %.12s fetched %s\n", str(st->remote_url),
		  str(st->branch), str(st->remote_tip), ago((time_t)st->fetched_at, b, sizeof(b)));
	log_print(stdout, "baseline   %.12s\n", str(st->baseline));
	if (tip_failed(st)) {
		const struct state_failure *last = &st->failed[st->nfailed - 1];
		log_print(stdout, "failed     %zu commit%s; latest %.12s: %s\n", st->nfailed,
			  st->nfailed == 1 ? "" : "s", last->commit, str(last->reason));
	}
	if (st->reboot_needed)
		log_print(stdout, "reboot     needed to finish the deployment\n");
	if (st->unlisted && cfg->nix.source == SOURCE_CACHE)
		log_print(stdout, "unlisted   %s of %.12s does not name this host: %s%s\n",
			  cfg->nix.deploy_file, st->unlisted,
			  st->deployed_path ? "it keeps " : "it has nothing deployed",
			  st->deployed_path ? st->deployed_path : "");
	if (pid && st->next_poll_at) {
		long in = (long)(st->next_poll_at - time(NULL));
		log_print(stdout, "next poll  in %lds\n", in > 0 ? in : 0);
	}
	if (is_stale(cfg, st))
		log_print(stdout,
			  "WARNING    the state is stale: no cycle for %s (poll interval %us)\n",
			  ago((time_t)st->last_cycle_at, a, sizeof(a)), cfg->agent.poll_interval);
}

static void print_human(const struct config *cfg, const struct agent_state *st, long pid)
{
	char a[64];

	log_print(stdout, "cim-agent on %s (%s, mode %s)\n", cfg->agent.hostname,
		  config_platform_name(cfg->nix.platform), config_mode_name(cfg->agent.mode));
	if (pid)
		log_print(stdout, "daemon     running (pid %ld)\n", pid);
	else
		log_print(stdout, "daemon     NOT running\n");
	if (!st->phase_known) {
		log_print(stdout, "state      no cycle has run yet (%s/state.json is absent)\n",
			  cfg->agent.state_dir);
		return;
	}
	print_situation(st);
	log_print(stdout, "phase      %s (since %s)\n", cycle_phase_name(st->phase),
		  ago((time_t)st->phase_since, a, sizeof(a)));
	if (st->phase != PHASE_IDLE && st->target.commit)
		log_print(stdout, "           deploying %.12s\n", st->target.commit);
	print_deployment(cfg, st, pid);
	print_past_failures(st);
}

/* The status --json document: every key, its type and meaning are in
 * agent/status-schema.json (t0520 checks the output against it); a change to
 * them is a new STATUS_SCHEMA there and here. */
static json_t *status_json(const struct config *cfg, const struct agent_state *st, long pid)
{
	json_t *o = json_pack("{s:i, s:{s:b, s:I}, s:b, s:o}", "status_schema", STATUS_SCHEMA,
			      "daemon", "running", pid != 0, "pid", (json_int_t)pid, "stale",
			      is_stale(cfg, st), "state", state_to_json(st, false));
	json_t *fleet = fleet_status_json(cfg);

	if (o && fleet)
		json_object_set_new(o, "fleet", fleet);
	else
		json_decref(fleet);
	return o;
}

int cmd_status_parse(int argc, char **argv, struct cli_call *call)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return -1;
		call->json = true;
	}
	call->argc = argc - optind;
	call->argv = argv + optind;
	return 0;
}

int cmd_status(struct cli_call *call)
{
	const struct config *cfg = call->cfg;
	struct agent_state st;
	struct err e = {{0}};
	long pid;

	if (state_load(&st, cfg->agent.state_dir, &e) < 0) {
		fprintf(stderr, "cim-agent: %s\n", e.msg);
		state_release(&st);
		return EXIT_REFUSED;
	}
	pid = daemon_running_pid(cfg);
	if (call->json) {
		json_t *out = status_json(cfg, &st, pid);
		json_dumpf(out, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(out);
	} else {
		print_human(cfg, &st, pid);
		fleet_status_print(cfg, stdout);
	}
	state_release(&st);
	return 0;
}

int cmd_history_parse(int argc, char **argv, struct cli_call *call)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		if (c == 'j') {
			call->json = true;
		} else if (c == 'n') {
			call->limit = strtol(optarg, &end, 10);
			if (*end || call->limit <= 0)
				return -1;
		} else {
			return -1;
		}
	}
	call->argc = argc - optind;
	call->argv = argv + optind;
	return 0;
}

static void print_history(json_t *hist, size_t start)
{
	if (json_array_size(hist) == 0)
		printf("no deployments yet\n");
	for (size_t i = start; i < json_array_size(hist); i++) {
		struct history_entry h;
		char when[32];
		struct tm *tm;
		time_t t;
		history_entry_read(json_array_get(hist, i), &h);
		t = (time_t)h.finished_at;
		/* a time past what struct tm holds has no date */
		if (!(tm = localtime(&t)) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", tm))
			snprintf(when, sizeof(when), "%lld", (long long)h.finished_at);
		log_print(stdout, "%s  %-12s %.12s  %s  %s%s%s\n", when, h.outcome, h.commit,
			  str(h.signer), str(h.store_path),
			  h.reason ? "\n                     " : "", h.reason ?: "");
	}
}

int cmd_history(struct cli_call *call)
{
	size_t limit = (size_t)call->limit, start;
	struct err e = {{0}};
	json_t *hist = history_load(call->cfg->agent.state_dir, &e);

	if (!hist) {
		fprintf(stderr, "cim-agent: %s\n", e.msg);
		return EXIT_REFUSED;
	}
	start = json_array_size(hist) > limit ? json_array_size(hist) - limit : 0;
	if (call->json) {
		json_t *tail = json_array();
		for (size_t i = start; i < json_array_size(hist); i++)
			json_array_append(tail, json_array_get(hist, i));
		json_dumpf(tail, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(tail);
	} else {
		print_history(hist, start);
	}
	json_decref(hist);
	return 0;
}
