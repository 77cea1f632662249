#include "agent/metrics.h"

#include "agent/config.h"
#include "agent/fleet_status.h"
#include "base/err.h"
#include "base/fileio.h"
#include "agent/history.h"
#include "agent/report.h"
#include "agent/state.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void metrics_note_outcome(struct agent_state *st, enum cycle_outcome outcome)
{
	struct state_metrics *m = &st->metrics;
	int64_t now = (int64_t)time(NULL);

	m->cycles[outcome]++;
	switch (outcome) {
	case CYCLE_ERROR:
		/* Only an error in the fetch phase is the fetch's (or verification's) fault. */
		if (st->phase_known && st->phase == PHASE_FETCH)
			m->failed[METRIC_FETCH] = now;
		break;
	case CYCLE_REFUSED:
		m->failed[METRIC_VERIFY] = now;
		break;
	case CYCLE_ROLLED_BACK:
		m->failed[METRIC_DEPLOY] = now;
		break;
	default:
		m->ok[METRIC_VERIFY] = now;
		if (outcome == CYCLE_FAILED) {
			m->failed[METRIC_BUILD] = now;
			m->failed[METRIC_DEPLOY] = now;
		} else if (outcome == CYCLE_BUILT) {
			m->ok[METRIC_BUILD] = now;
		} else if (outcome == CYCLE_DEPLOYED) {
			m->ok[METRIC_BUILD] = now;
			m->ok[METRIC_DEPLOY] = now;
		}
	}
}

char *metrics_escape_label(const char *value)
{
	size_t n = 1;
	char *out, *p;

	for (const char *s = value; *s; s++)
		n += (*s == '\\' || *s == '"' || *s == '\n') ? 2 : 1;
	out = malloc(n);
	if (!out)
		return NULL;
	p = out;
	for (const char *s = value; *s; s++) {
		if (*s == '\\' || *s == '"') {
			*p++ = '\\';
			*p++ = *s;
		} else if (*s == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else {
			*p++ = *s;
		}
	}
	*p = '\0';
	return out;
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP cim_agent_%s %s\n# TYPE cim_agent_%s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const char *type, const char *help, int64_t v)
{
	header(f, name, type, help);
	fprintf(f, "cim_agent_%s %lld\n", name, (long long)v);
}

/* An info metric: labels are name/value pairs, NULL values become "". */
static bool info(FILE *f, const char *name, const char *help, const char *const labels[],
		 size_t nlabels)
{
	header(f, name, "gauge", help);
	fprintf(f, "cim_agent_%s{", name);
	for (size_t i = 0; i < nlabels; i += 2) {
		char *v = metrics_escape_label(labels[i + 1] ? labels[i + 1] : "");
		if (!v)
			return false;
		fprintf(f, "%s%s=\"%s\"", i ? "," : "", labels[i], v);
		free(v);
	}
	fprintf(f, "} 1\n");
	return true;
}

/* A step's success gauge and timestamp: 1 when its last success is not older
 * than its last failure; nothing before the first attempt. */
static void step(FILE *f, const char *name, const char *what, int64_t ok, int64_t failed)
{
	char metric[96], help[256];

	if (!ok && !failed)
		return;
	snprintf(metric, sizeof(metric), "last_%s_success", name);
	snprintf(help, sizeof(help), "1 when the last %s succeeded, 0 when it failed.", what);
	sample(f, metric, "gauge", help, ok && ok >= failed);
	if (!ok)
		return;
	snprintf(metric, sizeof(metric), "last_%s_success_timestamp_seconds", name);
	snprintf(help, sizeof(help), "Unix time of the last successful %s.", what);
	sample(f, metric, "gauge", help, ok);
}

/* What runs and what the agent is doing. */
static bool write_info(FILE *f, const struct config *cfg, const struct agent_state *st)
{
	const char *const build[] = {"version",	 CIM_VERSION,
				     "host",	 cfg->agent.hostname,
				     "platform", config_platform_name(cfg->nix.platform),
				     "mode",	 config_mode_name(cfg->agent.mode)};
	const char *const deployed[] = {"commit", st->deployed, "signer", st->deployed_signer};
	const char *const phase[] = {"phase", cycle_phase_name(st->phase)};

	return info(f, "build_info", "The agent's version and configuration; always 1.", build,
		    8) &&
	       (!st->deployed ||
		info(f, "deployed_info", "The commit running now and who signed it; always 1.",
		     deployed, 4)) &&
	       info(f, "phase_info", "The phase the agent is in (idle between cycles); always 1.",
		    phase, 2);
}

/* Each step's last success and failure, and the health of what runs. */
static void write_steps(FILE *f, const struct agent_state *st)
{
	const struct state_metrics *m = &st->metrics;
	int64_t deploy_ok = m->ok[METRIC_DEPLOY];

	step(f, state_metric_step_name(METRIC_FETCH), "fetch and verification of the remote branch",
	     st->fetched_at, m->failed[METRIC_FETCH]);
	step(f, state_metric_step_name(METRIC_VERIFY),
	     "verification of the remote tip (0: refused)", m->ok[METRIC_VERIFY],
	     m->failed[METRIC_VERIFY]);
	step(f, state_metric_step_name(METRIC_BUILD), "build", m->ok[METRIC_BUILD],
	     m->failed[METRIC_BUILD]);
	/* The deployment time in the state counts for a state from before these metrics. */
	if (st->deployed_at > deploy_ok)
		deploy_ok = st->deployed_at;
	step(f, state_metric_step_name(METRIC_DEPLOY), "deployment", deploy_ok,
	     m->failed[METRIC_DEPLOY]);
	if (st->health)
		sample(f, "health_ok", "gauge",
		       "1 when the health checks of the running deployment passed (or none are "
		       "configured), 0 when the last deployment was rolled back.",
		       deploy_ok && deploy_ok >= m->failed[METRIC_DEPLOY] &&
			   (strcmp(st->health, "passed") == 0 ||
			    strcmp(st->health, "no checks configured") == 0));
	sample(f, "reboot_needed", "gauge",
	       "1 when the deployed system needs a reboot to take full effect.", st->reboot_needed);
}

static void write_counters(FILE *f, const struct agent_state *st)
{
	const int64_t *cycles = st->metrics.cycles;
	bool any = false;

	sample(f, "rollbacks_total", "counter",
	       "Deployments rolled back (activation or health checks failed, or by hand).",
	       cycles[CYCLE_ROLLED_BACK]);
	sample(f, "build_failures_total", "counter",
	       "Cycles that failed before switching anything (the build failed).",
	       cycles[CYCLE_FAILED]);
	for (int o = 0; o < CYCLE_OUTCOME_COUNT; o++)
		any |= cycles[o] != 0;
	if (any)
		header(f, "cycles_total", "counter", "Finished cycles by outcome.");
	for (int o = 0; o < CYCLE_OUTCOME_COUNT; o++)
		if (cycles[o])
			fprintf(f, "cim_agent_cycles_total{outcome=\"%s\"} %lld\n",
				cycle_outcome_name(o), (long long)cycles[o]);
}

static bool write_all_metrics(FILE *f, const struct config *cfg, const struct agent_state *st,
			      const json_t *history)
{
	struct history_entry last = {0};

	if (!write_info(f, cfg, st))
		return false;
	if (st->last_cycle_at)
		sample(f, "last_cycle_timestamp_seconds", "gauge",
		       "Unix time at which the last cycle ended.", st->last_cycle_at);
	write_steps(f, st);
	write_counters(f, st);
	if (json_array_size(history))
		history_entry_read(json_array_get(history, json_array_size(history) - 1), &last);
	if (last.started_at > 0 && last.finished_at >= last.started_at)
		sample(f, "last_deploy_duration_seconds", "gauge",
		       "Seconds the latest deployment attempt took, from the start of its build to "
		       "its commit or rollback.",
		       last.finished_at - last.started_at);
	if (cfg->report.url)
		sample(f, "report_queued", "gauge", "State reports waiting in the webhook outbox.",
		       (int64_t)report_queued(cfg));
	fleet_status_metrics(f, cfg);
	return true;
}

int metrics_write(const struct config *cfg, const struct agent_state *state, const json_t *history,
		  struct err *e)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	bool good;
	int rc;

	if (!cfg->report.metrics_file)
		return 0;
	f = open_memstream(&text, &len);
	if (!f)
		return err_set(e, "out of memory");
	good = write_all_metrics(f, cfg, state, history);
	if (fclose(f) != 0 || !good) {
		free(text);
		return err_set(e, "metrics: out of memory");
	}
	rc = file_write_atomic(cfg->report.metrics_file, text, len, 0644, e);
	free(text);
	return rc < 0 ? err_prefix(e, "metrics_file") : 0;
}
