#include "agent/cycle.h"

#include "agent/config.h"
#include "agent/failed.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/url.h"
#include "base/fileio.h"
#include "agent/history.h"
#include "agent/hook.h"
#include "agent/lock.h"
#include "agent/log.h"
#include "agent/metrics.h"
#include "agent/orphan.h"
#include "agent/pull_step.h"
#include "agent/report.h"
#include "base/sdcompat.h"
#include "agent/state.h"
#include "apply/activate.h"
#include "apply/build.h"
#include "apply/health.h"
#include "apply/spawn.h"
#include "agent/secrets_step.h"
#include "secrets/install.h"
#include "pull/pull.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SAVE_PATIENCE 60 /* seconds a switched system's outcome is retried to disk */

static const char *const outcome_names[] = {
	[CYCLE_UP_TO_DATE] = "up-to-date", [CYCLE_DEPLOYED] = "deployed",
	[CYCLE_BUILT] = "built",	   [CYCLE_ROLLED_BACK] = "rolled-back",
	[CYCLE_FAILED] = "failed",	   [CYCLE_SKIPPED] = "skipped",
	[CYCLE_REFUSED] = "refused",	   [CYCLE_ERROR] = "error",
	[CYCLE_STOPPED] = "stopped",
};

static struct cycle_hooks hooks;

/* The daemon's state that could not be written after a switch: saved before
 * anything else when the next cycle starts. */
static struct state unsaved;

void cycle_set_hooks(const struct cycle_hooks *h)
{
	hooks = *h;
	spawn_set_tick(h->tick);
	pull_set_hooks(h->should_stop, h->tick);
}

static bool stop_requested(void)
{
	return hooks.should_stop && hooks.should_stop();
}

const char *cycle_outcome_name(enum cycle_outcome o)
{
	return outcome_names[o];
}

struct cycle {
	const struct config *cfg;
	struct state st;
	struct cycle_result *res;
	struct err *e;
	char mirror[PATH_MAX];
	char gcroots[PATH_MAX];
	double wall_start;  /* monotonic seconds when this process's cycle began */
	double child_start; /* spawn_total_seconds() then */
};

static void set_result(struct cycle *c, enum cycle_outcome o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_result(struct cycle *c, enum cycle_outcome o, const char *fmt, ...)
{
	va_list ap;

	c->res->outcome = o;
	va_start(ap, fmt);
	vsnprintf(c->res->message, sizeof(c->res->message), fmt, ap);
	va_end(ap);
}

/* Records the phase before the step starts, so a crash leaves it for resume,
 * and says what the step is about to do. */
static int enter_phase(struct cycle *c, const char *phase, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int enter_phase(struct cycle *c, const char *phase, const char *fmt, ...)
{
	char what[1024];
	struct err e = {{0}};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	state_set(&c->st, "phase", phase);
	state_set_int(&c->st, "phase_since", (int64_t)time(NULL));
	sdc_notify("STATUS=%s", what);
	sdc_watchdog_kick(); /* a step (a fetch) may block for up to half the watchdog */
	if (state_save(&c->st, &e) < 0) {
		/* Past the switch, stopping would leave whatever runs now running:
		 * a full state_dir must not keep a bad commit up. */
		if (strcmp(phase, "health") != 0 && strcmp(phase, "commit") != 0 &&
		    strcmp(phase, "rollback") != 0)
			return err_set(c->e, "%s", e.msg);
		log_msg(LOG_CRIT, c->res->commit[0] ? c->res->commit : NULL, phase,
			"cannot save the state, going on with %s regardless: %s", phase, e.msg);
	}
	log_msg(LOG_INFO, c->res->commit[0] ? c->res->commit : NULL, phase, "%s", what);
	return 0;
}

/* Leaves the state as it is: its phase resumes the cycle on the next start. */
static int stopped(struct cycle *c, const char *before)
{
	set_result(c, CYCLE_STOPPED, "stopped before %s; the next start resumes from the state file",
		   before);
	log_msg(LOG_NOTICE, c->res->commit[0] ? c->res->commit : NULL, before, "%s",
		c->res->message);
	return 0;
}

static void clear_target(struct cycle *c)
{
	static const char *const keys[] = {"target", "target_path", "previous_path",
					   "health_deadline", "target_signer",
					   "target_key", "rollback_reason", "closure_diff",
					   "started_at", "secrets_before", "secrets_generation",
					   "failed_units_before"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		json_object_del(c->st.root, keys[i]);
}

/* Remembers that the commit failed, with the digest of its signed content
 * so that a re-encoded copy of it is known too. */
static void remember_failed(struct cycle *c, const char *commit, const char *reason)
{
	char digest[COMMITSIG_DIGEST_HEX] = "";
	struct err e = {{0}};

	if (pull_signed_digest(c->mirror, commit, digest, &e) < 0)
		log_msg(LOG_WARNING, commit, NULL,
			"the signed content of %.12s is unknown (%s): only its id is remembered",
			commit, e.msg);
	failed_remember(c->st.root, commit, digest, reason);
}

static void record_history(struct cycle *c, const char *outcome, const char *reason)
{
	json_t *entry = json_pack(
		"{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:I, s:I, s:s?}", "commit",
		c->res->commit, "outcome", outcome, "reason", reason, "signer",
		state_get(&c->st, "target_signer"), "key", state_get(&c->st, "target_key"),
		"store_path", state_get(&c->st, "target_path"), "previous_path",
		state_get(&c->st, "previous_path"), "started_at",
		(json_int_t)state_get_int(&c->st, "started_at"), "finished_at",
		(json_int_t)time(NULL), "closure_diff", state_get(&c->st, "closure_diff"));
	struct err e = {{0}};

	/* Where this process's time went: the agent's own work vs nix and activation. */
	if (entry) {
		double wall = clock_monotonic() - c->wall_start;
		double child = spawn_total_seconds() - c->child_start;
		json_object_set_new(entry, "cycle_ms", json_integer((json_int_t)(wall * 1000)));
		json_object_set_new(entry, "children_ms", json_integer((json_int_t)(child * 1000)));
	}

	if (entry && history_append(c->cfg->agent.state_dir, entry, &e) < 0)
		log_msg(LOG_WARNING, c->res->commit, NULL, "recording history: %s", e.msg);
}

/* Tells the world about the state the cycle ended in: webhook, metrics file,
 * deployment hook. Reporting failures are logged and change no outcome. */
static void report_outcome(struct cycle *c, bool changed)
{
	enum cycle_outcome o = c->res->outcome;
	const char *commit = c->res->commit[0] ? c->res->commit : NULL;
	json_t *history = NULL;
	struct err e = {{0}};

	/* A poll that finds nothing new is not a state change: only retry the outbox. */
	if ((changed ? report_state(c->cfg, c->st.root, &e) : report_flush(c->cfg, &e)) < 0)
		log_msg(LOG_WARNING, commit, "report", "webhook: %s", e.msg);
	if (c->cfg->report.metrics_file || c->cfg->report.command) {
		history = history_load(c->cfg->agent.state_dir, &e);
		if (!history)
			log_msg(LOG_WARNING, commit, "report", "reading history: %s", e.msg);
	}
	if (metrics_write(c->cfg, c->st.root, history, &e) < 0)
		log_msg(LOG_WARNING, commit, "report", "%s", e.msg);
	if ((o == CYCLE_DEPLOYED || o == CYCLE_ROLLED_BACK || o == CYCLE_FAILED) &&
	    hook_run(c->cfg, outcome_names[o], c->st.root,
		     json_array_get(history, json_array_size(history) - 1), &e) < 0)
		log_msg(LOG_WARNING, commit, "report", "%s", e.msg);
	json_decref(history);
}

/* After a switch the outcome must reach the disk: a state that still says
 * "health" would have the next start judge a system that no longer runs.
 * Retries every second for SAVE_PATIENCE; the daemon then keeps the state in
 * memory and saves it before its next cycle. */
static int save_outcome(struct cycle *c)
{
	enum cycle_outcome o = c->res->outcome;

	if (state_save(&c->st, c->e) == 0)
		return 0;
	if (o != CYCLE_DEPLOYED && o != CYCLE_ROLLED_BACK)
		return -1;
	log_msg(LOG_CRIT, c->res->commit, NULL, "cannot save the state (%s): retrying for %ds",
		c->e->msg, SAVE_PATIENCE);
	if (state_save_retrying(&c->st, SAVE_PATIENCE, hooks.should_stop, hooks.tick, c->e) == 0) {
		log_msg(LOG_NOTICE, c->res->commit, NULL, "the state is saved again");
		return 0;
	}
	state_release(&unsaved);
	unsaved.path = strdup(c->st.path);
	unsaved.root = json_incref(c->st.root);
	log_msg(LOG_CRIT, c->res->commit, NULL,
		"the state is still not saved (%s); a daemon retries before its next cycle",
		c->e->msg);
	return -1;
}

/* Ends the cycle: the outcome is persisted with phase idle, then reported. */
static int finish(struct cycle *c, const char *error)
{
	enum cycle_outcome o = c->res->outcome;
	const char *prev = state_get(&c->st, "last_outcome");
	/* Deployments always count; a refusal, error or idle poll only when the
	 * outcome differs from the last one. */
	bool changed = o == CYCLE_DEPLOYED || o == CYCLE_ROLLED_BACK || o == CYCLE_FAILED ||
		       o == CYCLE_BUILT || !prev || strcmp(prev, outcome_names[o]) != 0;
	int rc;

	metrics_note_outcome(c->st.root, outcome_names[c->res->outcome]);
	state_set(&c->st, "phase", "idle");
	state_set(&c->st, "last_outcome", outcome_names[c->res->outcome]);
	state_set(&c->st, "last_error", error);
	state_set_int(&c->st, "last_cycle_at", (int64_t)time(NULL));
	if (hooks.next_delay)
		state_set_int(&c->st, "next_poll_at", (int64_t)time(NULL) + hooks.next_delay(o));
	rc = save_outcome(c);
	report_outcome(c, changed);
	return rc;
}

/* Switches the secrets back to the generation before this deployment, once:
 * only while the one this deployment installed is current. */
static void restore_secrets(struct cycle *c)
{
	unsigned installed = (unsigned)state_get_int(&c->st, "secrets_generation"), current = 0;
	struct err e = {{0}};

	if (!installed || secrets_current(c->cfg->secrets.dir, &current, &e) < 0 ||
	    current != installed)
		return;
	if (secrets_rollback(c->cfg->secrets.dir, &current, &e) < 0)
		log_msg(LOG_ERR, c->res->commit, "rollback", "secrets: %s", e.msg);
	else
		log_msg(LOG_NOTICE, c->res->commit, "rollback", "secrets back to generation %u",
			current);
}

/* Re-activates previous_path. mark_failed keeps the commit from being tried
 * again; an interruption that was not the commit's fault does not. */
static int roll_back(struct cycle *c, const char *reason, bool mark_failed)
{
	const char *previous = state_get(&c->st, "previous_path");
	char why[1024];
	struct err e = {{0}};

	snprintf(why, sizeof(why), "%s", reason);
	state_set(&c->st, "rollback_reason", why);
	if (enter_phase(c, "rollback", "rolling back to %s: %s", previous ? previous : "(none)",
			why) < 0)
		return -1;
	restore_secrets(c);
	if (activate_rollback(&c->cfg->nix, previous, &e) < 0) {
		set_result(c, CYCLE_ROLLED_BACK, "%s; ROLLBACK FAILED: %s", why, e.msg);
		log_msg(LOG_CRIT, c->res->commit, "rollback", "rollback failed: %s", e.msg);
	} else {
		set_result(c, CYCLE_ROLLED_BACK, "rolled back to %s: %s", previous, why);
	}
	if (mark_failed)
		remember_failed(c, c->res->commit, why);
	record_history(c, "rolled-back", c->res->message);
	clear_target(c);
	return finish(c, c->res->message);
}

/* The deployment passed: make it permanent and move the trust baseline. */
static int commit_deployment(struct cycle *c)
{
	const char *path = state_get(&c->st, "target_path");
	struct activate_result ar;
	char link[PATH_MAX + 16];
	struct err e = {{0}};

	if (enter_phase(c, "commit", "healthy; making %s the %s", path,
			c->cfg->agent.mode == MODE_SWITCH ? "boot default" : "deployed system") < 0)
		return -1;
	if (c->cfg->agent.mode == MODE_SWITCH && activate(&c->cfg->nix, path, ACTIVATE_COMMIT, &ar, &e) < 0) {
		if (stop_requested())
			return stopped(c, "the commit step finished");
		return roll_back(c, e.msg, true);
	}
	if (c->cfg->agent.mode == MODE_SWITCH && ar.reboot_needed)
		state_set(&c->st, "reboot_needed", "yes");
	if (state_get_int(&c->st, "secrets_generation") &&
	    secrets_commit(c->cfg->secrets.dir, &e) < 0)
		log_msg(LOG_WARNING, c->res->commit, "commit", "secrets: %s", e.msg);
	snprintf(link, sizeof(link), "%s/current", c->gcroots);
	if (build_add_root(&c->cfg->nix, path, link, &e) < 0)
		log_msg(LOG_WARNING, c->res->commit, "commit", "GC root: %s", e.msg);
	state_set(&c->st, "last_good_path", state_get(&c->st, "deployed_path"));
	state_set(&c->st, "last_good_commit", state_get(&c->st, "deployed"));
	state_set(&c->st, "deployed", c->res->commit);
	state_set(&c->st, "deployed_path", path);
	state_set(&c->st, "deployed_signer", state_get(&c->st, "target_signer"));
	state_set(&c->st, "deployed_key", state_get(&c->st, "target_key"));
	state_set_int(&c->st, "deployed_at", (int64_t)time(NULL));
	state_set(&c->st, "baseline", c->res->commit);
	c->res->reboot_needed = state_get(&c->st, "reboot_needed") != NULL;
	set_result(c, CYCLE_DEPLOYED, "deployed %s (%s)%s", c->res->commit, path,
		   c->res->reboot_needed ? "; a reboot is needed to finish" : "");
	record_history(c, "deployed", NULL);
	clear_target(c);
	state_set(&c->st, "attempt", NULL);
	state_set(&c->st, "attempt_commit", NULL);
	log_set_generation(hook_profile_generation(c->cfg->nix.profile));
	log_msg(LOG_NOTICE, c->res->commit, "commit", "%s", c->res->message);
	return finish(c, NULL);
}

static int probe_remote(void *remote, struct err *e)
{
	return pull_probe(remote, e);
}

static int run_health(struct cycle *c)
{
	struct health_plan plan = {.health = &c->cfg->health,
				   .remote_reachable = probe_remote,
				   .remote_ctx = (void *)(uintptr_t)&c->cfg->repo,
				   .failed_before = state_get(&c->st, "failed_units_before")};
	time_t deadline = (time_t)state_get_int(&c->st, "health_deadline");
	char why[1024] = "";

	if (!deadline) {
		deadline = time(NULL) + (time_t)c->cfg->health.timeout;
		state_set_int(&c->st, "health_deadline", (int64_t)deadline);
	}
	/* The phase is saved first: a stop now resumes at the checks, not the
	 * activation that has ended. */
	if (enter_phase(c, "health", "checking health until %lds from now",
			(long)(deadline - time(NULL))) < 0)
		return -1;
	if (stop_requested())
		return stopped(c, "health");
	plan.should_stop = hooks.should_stop;
	plan.tick = hooks.tick;
	int verdict = health_configured(&c->cfg->health) ? health_wait(&plan, deadline, why, sizeof(why)) : 0;
	if (verdict == 2)
		return stopped(c, "the health verdict");
	if (verdict != 0)
		return roll_back(c, why, true);
	state_set(&c->st, "health", health_configured(&c->cfg->health) ? "passed" : "no checks configured");
	return commit_deployment(c);
}

/* The switch had begun (the running system's link moved) when the agent
 * died, and under systemd it died with it, maybe half-way: run it again to
 * its end (switch-to-configuration is idempotent), then the checks decide. */
static int reactivate(struct cycle *c, const char *target_path)
{
	struct activate_result ar;
	struct err e = {{0}};

	state_set_int(&c->st, "attempt", state_get_int(&c->st, "attempt") + 1);
	if (enter_phase(c, "activate", "activating %s again: the agent was interrupted during it",
			target_path) < 0)
		return -1;
	if (activate(&c->cfg->nix, target_path, ACTIVATE_TRY, &ar, &e) < 0) {
		if (stop_requested())
			return stopped(c, "the activation finished");
		return roll_back(c, e.msg, true);
	}
	if (ar.reboot_needed)
		state_set(&c->st, "reboot_needed", "yes");
	return run_health(c);
}

/* The agent died with a deployment in flight: finish it. What had ended is
 * not run again; an interrupted activation is (see reactivate). */
static int resume(struct cycle *c, const char *phase)
{
	const char *target_path = state_get(&c->st, "target_path");
	char current[PATH_MAX];

	snprintf(c->res->commit, sizeof(c->res->commit), "%s", state_get(&c->st, "target") ?: "");
	log_msg(LOG_WARNING, c->res->commit, phase, "resuming a deployment interrupted during %s",
		phase);
	if (strcmp(phase, "rollback") == 0)
		return roll_back(c, state_get(&c->st, "rollback_reason") ?: "interrupted", true);
	if (strcmp(phase, "commit") == 0)
		return commit_deployment(c);
	if (strcmp(phase, "activate") == 0 && c->cfg->agent.mode == MODE_BOOT && target_path) {
		/* Only the profile and boot entry were being set: do it again. */
		struct activate_result ar;
		struct err e = {{0}};
		if (activate(&c->cfg->nix, target_path, ACTIVATE_BOOT, &ar, &e) < 0)
			return roll_back(c, e.msg, true);
		state_set(&c->st, "reboot_needed", "yes");
		return commit_deployment(c);
	}
	if (strcmp(phase, "activate") == 0 && (c->cfg->nix.platform == PLATFORM_SYSTEM_MANAGER ||
						 c->cfg->nix.platform == PLATFORM_PROFILE)) {
		/* The profile moved before the activation program ran, so it says
		 * nothing about how far that got: undo, and try again next cycle. */
		return roll_back(c, "the agent was interrupted during activation",
				 state_get_int(&c->st, "attempt") >= 2);
	}
	activate_current(&c->cfg->nix, current, sizeof(current));
	if (strcmp(phase, "activate") == 0) {
		/* A second interruption counts against the commit: it may be what
		 * kills the agent. */
		if (!target_path || strcmp(current, target_path) != 0 ||
		    state_get_int(&c->st, "attempt") >= 2)
			return roll_back(c, "the agent was interrupted during activation",
					 state_get_int(&c->st, "attempt") >= 2);
		return reactivate(c, target_path);
	}
	/* Checks of another system say nothing about the target: a rollback
	 * that could not be recorded left the previous one running. */
	if (!target_path || strcmp(current, target_path) != 0)
		return roll_back(c, "the system running is not the one being checked", true);
	/* In health checks: they decide, against the old deadline. */
	return run_health(c);
}

/* Decrypts the commit's secrets into a new generation before activation.
 * Returns 0 to go on; otherwise the cycle has ended (res says how) or -1. */
static int install_secrets(struct cycle *c)
{
	unsigned before = 0, generation = 0;
	size_t count = 0;
	struct err e = {{0}};
	int rc;

	if (stop_requested()) {
		stopped(c, "secrets");
		return 1;
	}
	if (secrets_current(c->cfg->secrets.dir, &before, &e) < 0)
		before = 0;
	state_set_int(&c->st, "secrets_before", before);
	if (enter_phase(c, "secrets", "decrypting the secrets of %.12s", c->res->commit) < 0)
		return -1;
	rc = secrets_step_install(c->cfg, c->mirror, c->res->commit, &generation, &count, &e);
	if (rc < 0) {
		/* Nothing was switched: the running system keeps its secrets. */
		set_result(c, CYCLE_FAILED, "secrets: %s", e.msg);
		log_msg(LOG_ERR, c->res->commit, "secrets", "%s", c->res->message);
		remember_failed(c, c->res->commit, c->res->message);
		record_history(c, "secrets-failed", c->res->message);
		clear_target(c);
		return finish(c, c->res->message) < 0 ? -1 : 1;
	}
	state_set_int(&c->st, "secrets_generation", generation);
	if (generation)
		log_msg(LOG_INFO, c->res->commit, "secrets", "%zu secret%s in generation %u", count,
			count == 1 ? "" : "s", generation);
	return 0;
}

/* Units that had failed before the activation are not held against it. */
static void record_failed_baseline(struct cycle *c)
{
	char units[HEALTH_UNITS_MAX];
	struct err e = {{0}};

	if (health_failed_baseline(&c->cfg->health, units, sizeof(units), &e) < 0) {
		log_msg(LOG_WARNING, c->res->commit, "activate", "%s", e.msg);
		units[0] = '\0';
	}
	state_set(&c->st, "failed_units_before", units[0] ? units : NULL);
	if (units[0])
		log_msg(LOG_NOTICE, c->res->commit, "activate",
			"already failed before the activation, not counted against it: %s", units);
}

static int deploy(struct cycle *c, const struct pull_outcome *po)
{
	char out_link[PATH_MAX + 16], prev_link[PATH_MAX + 16], path[PATH_MAX], current[PATH_MAX];
	struct activate_result ar;
	struct err e = {{0}};
	char *diff = NULL;

	state_set(&c->st, "target", c->res->commit);
	state_set(&c->st, "target_signer", po->result.identity);
	state_set(&c->st, "target_key", po->result.fingerprint);
	state_set_int(&c->st, "started_at", (int64_t)time(NULL));
	if (stop_requested())
		return stopped(c, "build");
	if (enter_phase(c, "build", "building %.12s (%s)", c->res->commit, c->cfg->nix.attr) < 0)
		return -1;
	if (dir_create(c->gcroots, 0700, c->e) < 0)
		return -1;
	snprintf(out_link, sizeof(out_link), "%s/candidate", c->gcroots);
	if (pull_pin(c->mirror, c->res->commit, BUILD_REF, &e) < 0) {
		set_result(c, CYCLE_ERROR, "%s", e.msg);
		clear_target(c);
		return finish(c, c->res->message);
	}
	if (build_system(&c->cfg->nix, c->mirror, c->res->commit, out_link, path, sizeof(path), &e) < 0) {
		/* A build killed because the agent is stopping is not the commit's fault. */
		if (stop_requested())
			return stopped(c, "the build finished");
		set_result(c, CYCLE_FAILED, "%s", e.msg);
		log_msg(LOG_ERR, c->res->commit, "build", "%s", e.msg);
		remember_failed(c, c->res->commit, c->res->message);
		record_history(c, "build-failed", c->res->message);
		clear_target(c);
		return finish(c, c->res->message);
	}
	state_set(&c->st, "target_path", path);
	activate_current(&c->cfg->nix, current, sizeof(current));
	if (current[0]) {
		snprintf(prev_link, sizeof(prev_link), "%s/previous", c->gcroots);
		if (build_add_root(&c->cfg->nix, current, prev_link, &e) < 0)
			log_msg(LOG_WARNING, c->res->commit, "build", "GC root: %s", e.msg);
		if (strcmp(current, path) != 0 &&
		    build_diff_closures(&c->cfg->nix, current, path, &diff, &e) == 0) {
			state_set(&c->st, "closure_diff", diff);
			free(diff);
		}
	}
	if (c->cfg->agent.mode == MODE_BUILD) {
		state_set(&c->st, "built", c->res->commit);
		state_set(&c->st, "built_path", path);
		set_result(c, CYCLE_BUILT, "built %s (%s); mode = build, not activated",
			   c->res->commit, path);
		record_history(c, "built", NULL);
		clear_target(c);
		return finish(c, NULL);
	}
	int ended = install_secrets(c);
	if (ended)
		return ended < 0 ? -1 : 0;
	state_set(&c->st, "previous_path", current[0] ? current : NULL);
	/* Attempts count per commit and survive a rollback after an interruption. */
	if (strcmp(state_get(&c->st, "attempt_commit") ?: "", c->res->commit) != 0)
		state_set_int(&c->st, "attempt", 0);
	state_set(&c->st, "attempt_commit", c->res->commit);
	state_set_int(&c->st, "attempt", state_get_int(&c->st, "attempt") + 1);
	state_set(&c->st, "reboot_needed", NULL);
	record_failed_baseline(c);
	if (stop_requested())
		return stopped(c, "activate");
	if (enter_phase(c, "activate", "activating %s", path) < 0)
		return -1;
	if (activate(&c->cfg->nix, path,
		     c->cfg->agent.mode == MODE_BOOT ? ACTIVATE_BOOT : ACTIVATE_TRY, &ar, &e) < 0) {
		/* Killed along with us (systemctl stop): the resume decides, not a verdict. */
		if (stop_requested())
			return stopped(c, "the activation finished");
		return roll_back(c, e.msg, true);
	}
	if (ar.reboot_needed)
		state_set(&c->st, "reboot_needed", "yes");
	if (c->cfg->agent.mode == MODE_BOOT) {
		/* Nothing runs yet, so there is nothing to check: the next boot picks it up. */
		state_set(&c->st, "reboot_needed", "yes");
		return commit_deployment(c);
	}
	return run_health(c);
}

/* An install interrupted after its symlink switch leaves a generation the
 * running system never saw: switch back to the one from before. */
static void undo_interrupted_secrets(struct cycle *c)
{
	unsigned before = (unsigned)state_get_int(&c->st, "secrets_before"), current = 0;
	struct err e = {{0}};

	if (secrets_current(c->cfg->secrets.dir, &current, &e) == 0 && current > before &&
	    secrets_rollback(c->cfg->secrets.dir, &current, &e) < 0)
		log_msg(LOG_ERR, NULL, "secrets", "%s", e.msg);
}

static int cycle_body(struct cycle *c)
{
	const char *phase = state_get(&c->st, "phase");
	struct pull_outcome po;
	int rc;

	if (phase && (strcmp(phase, "activate") == 0 || strcmp(phase, "health") == 0 ||
		      strcmp(phase, "commit") == 0 || strcmp(phase, "rollback") == 0))
		return resume(c, phase);
	if (phase && strcmp(phase, "idle") != 0) {
		log_msg(LOG_WARNING, NULL, phase,
			"the previous cycle was interrupted during %s; starting over", phase);
		if (strcmp(phase, "secrets") == 0)
			undo_interrupted_secrets(c);
		clear_target(c);
	}
	if (stop_requested())
		return stopped(c, "fetch");
	char shown_url[1024];
	url_redact(c->cfg->repo.url, shown_url, sizeof(shown_url));
	if (enter_phase(c, "fetch", "fetching %s from %s", c->cfg->repo.branch, shown_url) < 0)
		return -1;
	/* pull_step reads and writes the state file itself: hand it over. */
	rc = pull_step(c->cfg, false, &po, c->e);
	state_release(&c->st);
	if (state_load(&c->st, c->cfg->agent.state_dir, c->e) < 0)
		return -1;
	if (rc == PULL_ERROR) {
		/* A fetch cut short by SIGTERM: the next start fetches again. */
		if (stop_requested())
			return stopped(c, "the fetch finished");
		set_result(c, CYCLE_ERROR, "%s", c->e->msg);
		log_msg(LOG_ERR, NULL, "fetch", "%s", c->e->msg);
		return finish(c, c->res->message);
	}
	snprintf(c->res->commit, sizeof(c->res->commit), "%s", po.result.commit);
	if (rc == PULL_REFUSED) {
		set_result(c, CYCLE_REFUSED, "%s", po.result.reason);
		log_msg(LOG_ERR, c->res->commit, "verify", "refused: %s", po.result.reason);
		return finish(c, c->res->message);
	}
	const char *deployed = c->cfg->agent.mode == MODE_BUILD ? state_get(&c->st, "built")
								 : state_get(&c->st, "deployed");
	if (deployed && strcmp(deployed, c->res->commit) == 0) {
		set_result(c, CYCLE_UP_TO_DATE, "%s is already %s", c->res->commit,
			   c->cfg->agent.mode == MODE_BUILD ? "built" : "deployed");
		return finish(c, NULL);
	}
	json_t *failed = failed_find(c->st.root, c->res->commit, po.result.signed_digest);
	if (failed) {
		const char *first = json_string_value(json_object_get(failed, "commit")) ?: "";
		const char *reason = json_string_value(json_object_get(failed, "reason"));
		char as[96] = "";
		if (strcmp(first, c->res->commit) != 0)
			snprintf(as, sizeof(as), " as %.41s, the same signed content", first);
		set_result(
		    c, CYCLE_SKIPPED,
		    "%s failed before%s (%s); waiting for a newer commit or 'cim-agent retry'",
		    c->res->commit, as, reason ?: "unknown reason");
		return finish(c, NULL);
	}
	return deploy(c, &po);
}

static int cycle_open(struct cycle *c, const struct config *cfg, struct cycle_result *res,
		      struct err *e, int *lock_fd)
{
	memset(c, 0, sizeof(*c));
	memset(res, 0, sizeof(*res));
	c->cfg = cfg;
	c->res = res;
	c->e = e;
	c->wall_start = clock_monotonic();
	c->child_start = spawn_total_seconds();
	if (dir_create(cfg->agent.state_dir, 0700, e) < 0)
		return -1;
	*lock_fd = lock_acquire(cfg->agent.state_dir, LOCK_WAIT_SECONDS, e);
	if (*lock_fd < 0)
		return -1;
	pull_mirror_path(cfg, c->mirror, sizeof(c->mirror));
	snprintf(c->gcroots, sizeof(c->gcroots), "%s/gcroots", cfg->agent.state_dir);
	orphan_sweep_temps(cfg);
	/* Nothing is decided while a child of a dead agent may still switch. */
	if (orphan_settle(cfg->agent.state_dir, hooks.should_stop, hooks.tick, e) < 0 ||
	    (unsaved.root && state_save(&unsaved, e) < 0 &&
	     err_prefix(e, "the outcome of the last cycle is still not saved") < 0) ||
	    state_load(&c->st, cfg->agent.state_dir, e) < 0) {
		lock_release(*lock_fd);
		return -1;
	}
	state_release(&unsaved);
	orphan_track(cfg->agent.state_dir);
	state_set(&c->st, "host", cfg->agent.hostname);
	state_set(&c->st, "platform", config_platform_name(cfg->nix.platform));
	state_set(&c->st, "mode", config_mode_name(cfg->agent.mode));
	state_set(&c->st, "agent_version", CIM_VERSION);
	log_set_generation(hook_profile_generation(cfg->nix.profile));
	return 0;
}

int cycle_run_once(const struct config *cfg, struct cycle_result *res, struct err *e)
{
	struct cycle c;
	int lock_fd, rc;

	if (cycle_open(&c, cfg, res, e, &lock_fd) < 0)
		return -1;
	rc = cycle_body(&c);
	state_release(&c.st);
	lock_release(lock_fd);
	return rc;
}

int cycle_retry(const struct config *cfg, const char *commit, struct err *e)
{
	struct cycle_result res;
	struct cycle c;
	int lock_fd, forgotten;

	if (cycle_open(&c, cfg, &res, e, &lock_fd) < 0)
		return -1;
	forgotten = failed_forget(c.st.root, commit);
	if (state_save(&c.st, e) < 0)
		forgotten = -1;
	state_release(&c.st);
	lock_release(lock_fd);
	return forgotten;
}

static void reinstall_secrets(struct cycle *c, const char *commit)
{
	unsigned generation = 0;
	size_t count = 0;
	struct err e = {{0}};

	if (secrets_step_install(c->cfg, c->mirror, commit, &generation, &count, &e) < 0)
		log_msg(LOG_WARNING, commit, "rollback",
			"the secrets of %.12s could not be installed again, the current ones stay: "
			"%s",
			commit, e.msg);
	else if (generation)
		log_msg(LOG_NOTICE, commit, "rollback", "%zu secret%s of %.12s in generation %u",
			count, count == 1 ? "" : "s", commit, generation);
}

int cycle_manual_rollback(const struct config *cfg, struct cycle_result *res, struct err *e)
{
	struct cycle c;
	const char *good, *good_commit, *deployed;
	int lock_fd, rc = -1;

	if (cycle_open(&c, cfg, res, e, &lock_fd) < 0)
		return -1;
	good = state_get(&c.st, "last_good_path");
	good_commit = state_get(&c.st, "last_good_commit");
	deployed = state_get(&c.st, "deployed");
	if (!good || !deployed) {
		err_set(e, "no earlier known-good deployment is recorded to roll back to");
		goto out;
	}
	snprintf(res->commit, sizeof(res->commit), "%s", deployed);
	state_set(&c.st, "target", deployed);
	state_set(&c.st, "target_path", state_get(&c.st, "deployed_path"));
	state_set(&c.st, "previous_path", good);
	char reason[256];
	snprintf(reason, sizeof(reason), "rolled back by the operator to %.12s",
		 good_commit ? good_commit : "?");
	/* The secrets of the known-good commit come back with it: decrypted anew,
	 * since older generations were dropped when the current one was committed. */
	if (good_commit)
		reinstall_secrets(&c, good_commit);
	/* Now the known-good one is what runs. */
	state_set(&c.st, "deployed", good_commit);
	state_set(&c.st, "deployed_path", good);
	state_set(&c.st, "last_good_path", NULL);
	state_set(&c.st, "last_good_commit", NULL);
	rc = roll_back(&c, reason, true);
out:
	state_release(&c.st);
	lock_release(lock_fd);
	return rc;
}
