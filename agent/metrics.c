#include "agent/metrics.h"

#include "agent/config.h"
#include "base/err.h"
#include "base/fileio.h"
#include "agent/report.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *child_object(json_t *parent, const char *key)
{
	json_t *o = json_object_get(parent, key);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(parent, key, o);
	}
	return o;
}

void metrics_note_outcome(json_t *state, const char *outcome)
{
	json_t *m = child_object(state, "metrics");
	json_t *cycles = child_object(m, "cycles"), *ok = child_object(m, "ok");
	json_t *failed = child_object(m, "failed");
	const char *phase = json_string_value(json_object_get(state, "phase"));
	json_t *now = json_integer((json_int_t)time(NULL));

	json_object_set_new(cycles, outcome,
			    json_integer(json_integer_value(json_object_get(cycles, outcome)) + 1));
	if (strcmp(outcome, "error") == 0) {
		/* Only an error in the fetch phase is the fetch's (or verification's) fault. */
		if (phase && strcmp(phase, "fetch") == 0)
			json_object_set(failed, "fetch", now);
	} else if (strcmp(outcome, "refused") == 0) {
		json_object_set(failed, "verify", now);
	} else if (strcmp(outcome, "rolled-back") == 0) {
		json_object_set(failed, "deploy", now);
	} else {
		json_object_set(ok, "verify", now);
		if (strcmp(outcome, "failed") == 0) {
			json_object_set(failed, "build", now);
			json_object_set(failed, "deploy", now);
		} else if (strcmp(outcome, "built") == 0) {
			json_object_set(ok, "build", now);
		} else if (strcmp(outcome, "deployed") == 0) {
			json_object_set(ok, "build", now);
			json_object_set(ok, "deploy", now);
		}
	}
	json_decref(now);
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

static int64_t get_int(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *get_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
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

static bool write_all_metrics(FILE *f, const struct config *cfg, const json_t *state,
			      const json_t *history)
{
	const json_t *m = json_object_get(state, "metrics");
	const json_t *ok = json_object_get(m, "ok"), *failed = json_object_get(m, "failed");
	const json_t *cycles = json_object_get(m, "cycles"), *count, *last;
	const char *outcome, *health = get_str(state, "health");
	int64_t deploy_ok = get_int(ok, "deploy"), deployed_at = get_int(state, "deployed_at");
	bool deploy_good;

	const char *const build[] = {"version", CIM_VERSION, "host", cfg->agent.hostname,
				     "platform", config_platform_name(cfg->nix.platform),
				     "mode", config_mode_name(cfg->agent.mode)};
	if (!info(f, "build_info", "The agent's version and configuration; always 1.", build, 8))
		return false;
	if (get_str(state, "deployed")) {
		const char *const dep[] = {"commit", get_str(state, "deployed"), "signer",
					   get_str(state, "deployed_signer")};
		if (!info(f, "deployed_info", "The commit running now and who signed it; always 1.",
			  dep, 4))
			return false;
	}
	const char *const ph[] = {"phase", get_str(state, "phase") ? get_str(state, "phase")
								   : "idle"};
	if (!info(f, "phase_info", "The phase the agent is in (idle between cycles); always 1.",
		  ph, 2))
		return false;
	if (get_int(state, "last_cycle_at"))
		sample(f, "last_cycle_timestamp_seconds", "gauge",
		       "Unix time at which the last cycle ended.", get_int(state, "last_cycle_at"));

	step(f, "fetch", "fetch and verification of the remote branch",
	     get_int(state, "fetched_at"), get_int(failed, "fetch"));
	step(f, "verify", "verification of the remote tip (0: refused)", get_int(ok, "verify"),
	     get_int(failed, "verify"));
	step(f, "build", "build", get_int(ok, "build"), get_int(failed, "build"));
	/* The deployment time in the state counts for a state from before these metrics. */
	if (deployed_at > deploy_ok)
		deploy_ok = deployed_at;
	step(f, "deploy", "deployment", deploy_ok, get_int(failed, "deploy"));
	deploy_good = deploy_ok && deploy_ok >= get_int(failed, "deploy");
	if (health)
		sample(f, "health_ok", "gauge",
		       "1 when the health checks of the running deployment passed (or none are "
		       "configured), 0 when the last deployment was rolled back.",
		       deploy_good && (strcmp(health, "passed") == 0 ||
				       strcmp(health, "no checks configured") == 0));
	sample(f, "reboot_needed", "gauge",
	       "1 when the deployed system needs a reboot to take full effect.",
	       get_str(state, "reboot_needed") != NULL);

	sample(f, "rollbacks_total", "counter",
	       "Deployments rolled back (activation or health checks failed, or by hand).",
	       get_int(cycles, "rolled-back"));
	sample(f, "build_failures_total", "counter",
	       "Cycles that failed before switching anything (the build failed).",
	       get_int(cycles, "failed"));
	if (json_object_size(cycles)) {
		header(f, "cycles_total", "counter", "Finished cycles by outcome.");
		json_object_foreach((json_t *)(uintptr_t)cycles, outcome, count)
		{
			char *v = metrics_escape_label(outcome);
			if (!v)
				return false;
			fprintf(f, "cim_agent_cycles_total{outcome=\"%s\"} %lld\n", v,
				(long long)json_integer_value(count));
			free(v);
		}
	}

	last = json_array_get(history, json_array_size(history) - 1);
	if (last && get_int(last, "started_at") > 0 &&
	    get_int(last, "finished_at") >= get_int(last, "started_at"))
		sample(f, "last_deploy_duration_seconds", "gauge",
		       "Seconds the latest deployment attempt took, from the start of its build to "
		       "its commit or rollback.",
		       get_int(last, "finished_at") - get_int(last, "started_at"));
	if (cfg->report.url)
		sample(f, "report_queued", "gauge", "State reports waiting in the webhook outbox.",
		       (int64_t)report_queued(cfg));
	return true;
}

int metrics_write(const struct config *cfg, const json_t *state, const json_t *history,
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
