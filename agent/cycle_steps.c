/* The steps of the cycle, one pair of functions per row of the table in
 * agent/cycle.c: step_X_prepare() records what step_X() needs, and the loop
 * saves it with the phase; step_X() runs and names the next phase. */
#include "agent/cycle_steps.h"

#include "agent/cache_step.h"
#include "agent/config.h"
#include "agent/failed.h"
#include "agent/history.h"
#include "agent/hook.h"
#include "agent/host_check.h"
#include "agent/log.h"
#include "agent/pull_step.h"
#include "agent/secrets_step.h"
#include "apply/activate.h"
#include "apply/build.h"
#include "apply/health.h"
#include "apply/spawn.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/fileio.h"
#include "base/url.h"
#include "secrets/activate.h"
#include "secrets/install.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cycle_set_result(struct cycle *c, enum cycle_outcome o, const char *fmt, ...)
{
	va_list ap;

	c->res->outcome = o;
	va_start(ap, fmt);
	vsnprintf(c->res->message, sizeof(c->res->message), fmt, ap);
	va_end(ap);
}

void cycle_log(struct cycle *c, int priority, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(priority, c->res->commit[0] ? c->res->commit : NULL, cycle_phase_name(c->phase),
		"%s", msg);
}

int cycle_to_rollback(struct cycle *c, const char *why, bool mark_failed)
{
	snprintf(c->why, sizeof(c->why), "%s", why);
	c->mark_failed = mark_failed;
	return PHASE_ROLLBACK;
}

void cycle_remember_failed(struct cycle *c, const char *commit, const char *reason)
{
	char digest[COMMITSIG_DIGEST_HEX] = "";
	struct err e = {{0}};

	if (pull_signed_digest(c->mirror, commit, digest, &e) < 0)
		log_msg(LOG_WARNING, commit, NULL,
			"the signed content of %.12s is unknown (%s): only its id is remembered",
			commit, e.msg);
	failed_remember(&c->st, commit, digest, reason);
}

void cycle_record_history(struct cycle *c, const char *outcome, const char *reason)
{
	const struct state_target *t = &c->st.target;
	/* Where this process's time went: the agent's own work vs nix and activation. */
	double wall = clock_monotonic() - c->wall_start;
	double child = spawn_total_seconds() - c->child_start;
	const struct history_entry entry = {
	    .commit = c->res->commit,
	    .outcome = outcome,
	    .reason = reason,
	    .signer = t->signer,
	    .key = t->key,
	    .store_path = t->path,
	    .previous_path = t->previous_path,
	    .closure_diff = t->closure_diff,
	    .started_at = t->started_at,
	    .finished_at = (int64_t)time(NULL),
	    .cycle_ms = (int64_t)(wall * 1000),
	    .children_ms = (int64_t)(child * 1000),
	};
	struct err e = {{0}};

	if (history_append(c->cfg->agent.state_dir, &entry, &e) < 0)
		log_msg(LOG_WARNING, c->res->commit, NULL, "recording history: %s", e.msg);
}

/* A failure before anything was switched: the commit is not tried again. */
static int failed(struct cycle *c, const char *history, const char *prefix, const char *why)
{
	cycle_set_result(c, CYCLE_FAILED, "%s%s", prefix, why);
	cycle_log(c, LOG_ERR, "%s", why); /* the log names the phase already */
	cycle_remember_failed(c, c->res->commit, c->res->message);
	cycle_record_history(c, history, c->res->message);
	return STEP_DONE;
}

/* A fault of the host, not of the commit (agent/host_check.h): an error,
 * retried with backoff; the commit is not marked. */
static int host_error(struct cycle *c, const char *why)
{
	cycle_set_result(c, CYCLE_ERROR, "%s; the commit is not blamed and is tried again", why);
	cycle_log(c, LOG_ERR, "%s", c->res->message);
	return STEP_DONE;
}

/* --- fetch: the tip, verified ------------------------------------------- */

void step_fetch_prepare(struct cycle *c, char *what, size_t size)
{
	char shown_url[1024];

	url_redact(c->cfg->repo.url, shown_url, sizeof(shown_url));
	snprintf(what, size, "fetching %s from %s", c->cfg->repo.branch, shown_url);
}

/* The tip failed before, under this id or as the same signed content. */
int cycle_skipped(struct cycle *c, const struct state_failure *failure)
{
	char as[96] = "";

	if (strcmp(failure->commit, c->res->commit) != 0)
		snprintf(as, sizeof(as), " as %.41s, the same signed content", failure->commit);
	cycle_set_result(c, CYCLE_SKIPPED,
			 "%s failed before%s (%s); waiting for a newer commit or 'cim-agent retry'",
			 c->res->commit, as, failure->reason ?: "unknown reason");
	return STEP_DONE;
}

int step_fetch(struct cycle *c)
{
	bool build_only = c->cfg->agent.mode == MODE_BUILD;
	int rc = pull_step(c->cfg, &c->st, false, &c->po, c->e);

	/* What the fetch learned is kept, whatever comes next. */
	if (rc != PULL_ERROR && state_save(&c->st, c->e) < 0)
		rc = PULL_ERROR;
	if (rc == PULL_ERROR) {
		/* A fetch cut short by SIGTERM: the next start fetches again. */
		if (cycle_stop_requested())
			return cycle_stopped(c, "the fetch finished");
		cycle_set_result(c, CYCLE_ERROR, "%s", c->e->msg);
		c->res->config_error = c->po.config_error;
		cycle_log(c, LOG_ERR, "%s", c->e->msg);
		return STEP_DONE;
	}
	snprintf(c->res->commit, sizeof(c->res->commit), "%s", c->po.result.commit);
	if (rc == PULL_REFUSED) {
		cycle_set_result(c, CYCLE_REFUSED, "%s", c->po.result.reason);
		log_msg(LOG_ERR, c->res->commit, "verify", "refused: %s", c->po.result.reason);
		return STEP_DONE;
	}
	const char *deployed = build_only ? c->st.built : c->st.deployed;
	if (deployed && strcmp(deployed, c->res->commit) == 0) {
		cycle_set_result(c, CYCLE_UP_TO_DATE, "%s is already %s", c->res->commit,
				 build_only ? "built" : "deployed");
		return STEP_DONE;
	}
	const struct state_failure *failure =
	    failed_find(&c->st, c->res->commit, c->po.result.signed_digest);
	/* With a rollout plan the gate says first whether the rollout halted. */
	return failure && !config_fleet_enabled(c->cfg) ? cycle_skipped(c, failure)
							: cache_step_unless_unlisted(c, PHASE_GATE);
}

/* --- build: nix builds exactly the verified commit ------------------------ */

void step_build_prepare(struct cycle *c, char *what, size_t size)
{
	state_set_str(&c->st.target.commit, c->res->commit);
	state_set_str(&c->st.target.signer, c->po.result.identity);
	state_set_str(&c->st.target.key, c->po.result.fingerprint);
	c->st.target.started_at = (int64_t)time(NULL);
	cache_step_describe(c, what, size);
}

/* What runs now gets a GC root, and the closure diff says what changes. */
static void note_running(struct cycle *c, const char *path)
{
	char link[PATH_MAX + 16], *diff = NULL;
	struct err e = {{0}};

	activate_current(&c->cfg->nix, c->running, sizeof(c->running));
	if (!c->running[0])
		return;
	snprintf(link, sizeof(link), "%s/previous", c->gcroots);
	if (build_add_root(&c->cfg->nix, c->running, link, &e) < 0)
		cycle_log(c, LOG_WARNING, "GC root: %s", e.msg);
	if (strcmp(c->running, path) != 0 &&
	    build_diff_closures(&c->cfg->nix, c->running, path, &diff, &e) == 0) {
		state_set_str(&c->st.target.closure_diff, diff);
		free(diff);
	}
}

/* The commit builds the system that runs already: nothing to activate when
 * its secrets for this host are the same too. */
static bool is_unchanged(struct cycle *c, const char *path)
{
	const struct agent_state *st = &c->st;
	struct err e = {{0}};
	int same;

	if (!st->deployed || !st->deployed_path || strcmp(st->deployed_path, path) != 0)
		return false;
	/* mode = boot: what runs waits for a reboot; the profile says it. */
	if (c->cfg->agent.mode != MODE_BOOT && strcmp(c->running, path) != 0)
		return false;
	same = secrets_step_same_inputs(c->cfg, c->mirror, st->deployed, c->res->commit, &e);
	if (same < 0)
		cycle_log(c, LOG_WARNING, "comparing the secrets with %.12s: %s; activating",
			  st->deployed, e.msg);
	return same == 1;
}

static void record_commit(struct cycle *c, const char *path);

static int unchanged(struct cycle *c, const char *path)
{
	if (cache_step_is_unlisted(c))
		cycle_set_result(c, CYCLE_UNCHANGED,
				 "%s does not name this host in %s: it keeps %s, recorded as "
				 "deployed, nothing activated",
				 c->res->commit, c->cfg->nix.deploy_file, path);
	else
		cycle_set_result(
		    c, CYCLE_UNCHANGED,
		    "%s builds %s, which already runs: recorded as deployed, nothing activated",
		    c->res->commit, path);
	record_commit(c, path);
	cycle_record_history(c, "unchanged", NULL);
	cycle_log(c, LOG_NOTICE, "%s", c->res->message);
	return STEP_DONE;
}

int step_build(struct cycle *c)
{
	char out_link[PATH_MAX + 16], path[PATH_MAX] = "", why[1024];
	struct err e = {{0}};

	if (host_check_cycle(c->cfg, why, sizeof(why)))
		return host_error(c, why);
	if (dir_create(c->gcroots, 0700, c->e) < 0)
		return STEP_ABORT;
	snprintf(out_link, sizeof(out_link), "%s/candidate", c->gcroots);
	if (pull_pin(c->mirror, c->res->commit, BUILD_REF, &e) < 0)
		return host_error(c, e.msg);
	if (cache_step_realise(c, out_link, path, sizeof(path)))
		return STEP_DONE;
	if (!path[0] && build_system(&c->cfg->nix, c->mirror, c->res->commit, out_link, path,
				     sizeof(path), &e) < 0) {
		/* A build killed because the agent is stopping is not the commit's fault. */
		if (cycle_stop_requested())
			return cycle_stopped(c, "the build finished");
		if (host_check_failure(c->cfg, PHASE_BUILD, why, sizeof(why)))
			return host_error(c, why);
		return failed(c, "build-failed", "", e.msg);
	}
	state_set_str(&c->st.target.path, path);
	note_running(c, path);
	if (c->cfg->agent.mode != MODE_BUILD)
		return is_unchanged(c, path) ? unchanged(c, path) : PHASE_SECRETS;
	state_set_str(&c->st.built, c->res->commit);
	state_set_str(&c->st.built_path, path);
	if (cache_step_is_unlisted(c))
		cycle_set_result(c, CYCLE_BUILT,
				 "%s does not name this host in %s: it keeps %s; mode = build, "
				 "nothing taken",
				 c->res->commit, c->cfg->nix.deploy_file, path);
	else
		cycle_set_result(c, CYCLE_BUILT, "built %s (%s); mode = build, not activated",
				 c->res->commit, path);
	cycle_record_history(c, "built", NULL);
	return STEP_DONE;
}

/* --- secrets: a new generation, before the activation -------------------- */

void step_secrets_prepare(struct cycle *c, char *what, size_t size)
{
	unsigned before = 0;
	struct err e = {{0}};

	if (secrets_current(c->cfg->secrets.dir, &before, &e) < 0)
		before = 0;
	c->st.target.secrets_before = before;
	snprintf(what, size, "decrypting the secrets of %.12s", c->res->commit);
}

int step_secrets(struct cycle *c)
{
	unsigned generation = 0;
	size_t count = 0;
	char why[1024];
	struct err e = {{0}};

	/* A system that declares its secrets installs them in its activation;
	 * they are decrypted here in memory only, so that one this host cannot
	 * decrypt fails before anything changes. */
	int declared = secrets_step_check_system(c->cfg, c->st.target.path, &count, &e);
	if (declared < 0)
		return failed(c, "secrets-failed", "secrets: ", e.msg);
	if (declared) {
		cycle_log(c, LOG_INFO, "%zu declared secret%s decrypt for this host", count,
			  count == 1 ? "" : "s");
		return PHASE_ACTIVATE;
	}
	/* On failure nothing was switched: the running system keeps its secrets. */
	if (secrets_step_install(c->cfg, c->mirror, c->res->commit, &generation, &count, &e) < 0) {
		if (host_check_failure(c->cfg, PHASE_SECRETS, why, sizeof(why)))
			return host_error(c, why);
		return failed(c, "secrets-failed", "secrets: ", e.msg);
	}
	c->st.target.secrets_generation = generation;
	if (generation)
		cycle_log(c, LOG_INFO, "%zu secret%s in generation %u", count,
			  count == 1 ? "" : "s", generation);
	return PHASE_ACTIVATE;
}

/* --- activate: the new system runs --------------------------------------- */

/* Units that had failed before the activation are not held against it. */
static void record_failed_baseline(struct cycle *c)
{
	char units[HEALTH_UNITS_MAX];
	struct err e = {{0}};

	if (health_failed_baseline(&c->cfg->health, units, sizeof(units), &e) < 0) {
		cycle_log(c, LOG_WARNING, "%s", e.msg);
		units[0] = '\0';
	}
	state_set_str(&c->st.target.failed_units_before, units[0] ? units : NULL);
	if (units[0])
		cycle_log(c, LOG_NOTICE,
			  "already failed before the activation, not counted against it: %s",
			  units);
}

/* A failed switch is undone; the commit is blamed unless the host explains it. */
static int to_rollback_blaming(struct cycle *c, enum cycle_phase phase, const char *msg)
{
	char why[1024], both[2048];

	if (!host_check_failure(c->cfg, phase, why, sizeof(why)))
		return cycle_to_rollback(c, msg, true);
	snprintf(both, sizeof(both), "%s; the host, not the commit: %s", msg, why);
	return cycle_to_rollback(c, both, false);
}

void step_activate_prepare(struct cycle *c, char *what, size_t size)
{
	const char *path = c->st.target.path;

	snprintf(what, size, "activating %s", path);
	if (c->activation == ACTIVATION_BOOT_AGAIN)
		return;
	if (c->activation == ACTIVATION_AGAIN) {
		c->st.attempt = c->st.attempt + 1;
		snprintf(what, size, "activating %s again: the agent was interrupted during it",
			 path);
		return;
	}
	state_set_str(&c->st.target.previous_path, c->running[0] ? c->running : NULL);
	/* Attempts count per commit and survive a rollback after an interruption. */
	if (strcmp(c->st.attempt_commit ?: "", c->res->commit) != 0)
		c->st.attempt = 0;
	state_set_str(&c->st.attempt_commit, c->res->commit);
	c->st.attempt = c->st.attempt + 1;
	c->st.reboot_needed = false;
	record_failed_baseline(c);
}

int step_activate(struct cycle *c)
{
	bool boot = c->cfg->agent.mode == MODE_BOOT;
	struct activate_result ar;
	struct err e = {{0}};

	if (activate(&c->cfg->nix, c->st.target.path, boot ? ACTIVATE_BOOT : ACTIVATE_TRY, &ar,
		     &e) < 0) {
		/* Killed along with us (systemctl stop): the resume decides, not a verdict. */
		if (cycle_stop_requested())
			return cycle_stopped(c, "the activation finished");
		return to_rollback_blaming(c, PHASE_ACTIVATE, e.msg);
	}
	/* mode = boot: nothing runs yet, so there is nothing to check: the
	 * next boot picks it up. */
	if (ar.reboot_needed || boot)
		c->st.reboot_needed = true;
	return boot ? PHASE_COMMIT : PHASE_HEALTH;
}

/* --- health: the checks decide, before a deadline that survives restarts -- */

void step_health_prepare(struct cycle *c, char *what, size_t size)
{
	time_t deadline = (time_t)c->st.target.health_deadline;

	if (!deadline) {
		deadline = time(NULL) + (time_t)c->cfg->health.timeout;
		c->st.target.health_deadline = (int64_t)deadline;
	}
	snprintf(what, size, "checking health until %lds from now", (long)(deadline - time(NULL)));
}

static int probe_remote(void *settings, struct err *e)
{
	return pull_probe(settings, e);
}

int step_health(struct cycle *c)
{
	const struct health_settings *health = &c->cfg->health;
	struct health_plan plan = {.health = health,
				   .remote_reachable = probe_remote,
				   .remote_ctx = (void *)(uintptr_t)&c->cfg->repo,
				   .should_stop = cycle_stop_requested,
				   .tick = cycle_tick,
				   .failed_before = c->st.target.failed_units_before};
	time_t deadline = (time_t)c->st.target.health_deadline;
	char why[1024] = "";
	enum health_verdict verdict = HEALTH_PASSED;
	struct err e = {{0}};

	/* Owners the activation has just created (secrets_step.h). */
	if (c->st.target.secrets_generation &&
	    secrets_step_apply_owners(c->cfg, c->mirror, c->st.target.commit, &e) < 0)
		return cycle_to_rollback(c, e.msg, true);
	if (health_configured(health))
		verdict = health_wait(&plan, deadline, why, sizeof(why));
	if (verdict == HEALTH_STOPPED)
		return cycle_stopped(c, "the health verdict");
	if (verdict == HEALTH_FAILED)
		return cycle_to_rollback(c, why, true);
	state_set_str(&c->st.health, health_configured(health) ? "passed" : "no checks configured");
	return PHASE_COMMIT;
}

/* --- commit: the deployment passed; it becomes permanent ----------------- */

void step_commit_prepare(struct cycle *c, char *what, size_t size)
{
	bool boot_default =
	    c->cfg->agent.mode == MODE_SWITCH && c->cfg->nix.platform == PLATFORM_NIXOS;

	snprintf(what, size, "healthy; making %s the %s", c->st.target.path,
		 boot_default ? "boot default" : "deployed system");
}

/* The deployed commit moves, and the trust baseline with it. */
static void record_commit(struct cycle *c, const char *path)
{
	state_set_str(&c->st.deployed, c->res->commit);
	state_set_str(&c->st.deployed_path, path);
	state_set_str(&c->st.deployed_signer, c->st.target.signer);
	state_set_str(&c->st.deployed_key, c->st.target.key);
	c->st.deployed_at = (int64_t)time(NULL);
	state_set_str(&c->st.baseline, c->res->commit);
	c->st.attempt = 0;
	state_set_str(&c->st.attempt_commit, NULL);
}

/* What ran before becomes the known-good one a manual rollback goes to. */
static void record_deployed(struct cycle *c, const char *path)
{
	state_set_str(&c->st.last_good_path, c->st.deployed_path);
	state_set_str(&c->st.last_good_commit, c->st.deployed);
	record_commit(c, path);
}

int step_commit(struct cycle *c)
{
	const char *path = c->st.target.path;
	bool boot_default = c->cfg->agent.mode == MODE_SWITCH;
	struct activate_result ar;
	char link[PATH_MAX + 16];
	struct err e = {{0}};

	if (boot_default && activate(&c->cfg->nix, path, ACTIVATE_COMMIT, &ar, &e) < 0) {
		if (cycle_stop_requested())
			return cycle_stopped(c, "the commit step finished");
		return to_rollback_blaming(c, PHASE_COMMIT, e.msg);
	}
	if (boot_default && ar.reboot_needed)
		c->st.reboot_needed = true;
	if (c->st.target.secrets_generation && secrets_commit(c->cfg->secrets.dir, &e) < 0)
		cycle_log(c, LOG_WARNING, "secrets: %s", e.msg);
	snprintf(link, sizeof(link), "%s/current", c->gcroots);
	if (build_add_root(&c->cfg->nix, path, link, &e) < 0)
		cycle_log(c, LOG_WARNING, "GC root: %s", e.msg);
	c->res->reboot_needed = c->st.reboot_needed;
	cycle_set_result(c, CYCLE_DEPLOYED, "deployed %s (%s)%s", c->res->commit, path,
			 c->res->reboot_needed ? "; a reboot is needed to finish" : "");
	record_deployed(c, path);
	cycle_record_history(c, "deployed", NULL);
	log_set_generation(hook_profile_generation(c->cfg->nix.profile));
	cycle_log(c, LOG_NOTICE, "%s", c->res->message);
	return STEP_DONE;
}

/* --- rollback: exactly the previous system runs again --------------------- */

void step_rollback_prepare(struct cycle *c, char *what, size_t size)
{
	const char *previous = c->st.target.previous_path;

	state_set_str(&c->st.target.rollback_reason, c->why);
	if (!previous || !*previous)
		snprintf(what, size, "nothing ran before to roll back to: %s", c->why);
	else
		snprintf(what, size, "rolling back to %s: %s", previous, c->why);
}

/* Switches the secrets back to the generation before this deployment, once:
 * only while the one this deployment installed is current. */
static void restore_secrets(struct cycle *c)
{
	unsigned installed = (unsigned)c->st.target.secrets_generation, current = 0;
	struct err e = {{0}};

	if (!installed || secrets_current(c->cfg->secrets.dir, &current, &e) < 0 ||
	    current != installed)
		return;
	if (secrets_rollback(c->cfg->secrets.dir, &current, &e) < 0)
		cycle_log(c, LOG_ERR, "secrets: %s", e.msg);
	else
		cycle_log(c, LOG_NOTICE, "secrets back to generation %u", current);
}

/* Nothing ran before this deployment: there is no system to go back to. */
static int first_deployment_failed(struct cycle *c)
{
	cycle_set_result(
	    c, CYCLE_FAILED,
	    "%s; this was the first deployment on this host: nothing ran before it, so "
	    "there is nothing to roll back to, and %s stays in place; %s",
	    c->why, c->st.target.path ? c->st.target.path : "the new system",
	    c->mark_failed ? "push a commit that fixes it" : "the commit is tried again");
	cycle_log(c, LOG_ERR, "%s", c->res->message);
	if (c->mark_failed)
		cycle_remember_failed(c, c->res->commit, c->why);
	cycle_record_history(c, "deploy-failed", c->res->message);
	return STEP_DONE;
}

int step_rollback(struct cycle *c)
{
	const char *previous = c->st.target.previous_path;
	struct err e = {{0}};

	restore_secrets(c);
	if (!previous || !*previous)
		return first_deployment_failed(c);
	if (activate_rollback(&c->cfg->nix, previous, &e) < 0) {
		cycle_set_result(c, CYCLE_ROLLED_BACK, "%s; ROLLBACK FAILED: %s", c->why, e.msg);
		cycle_log(c, LOG_CRIT, "rollback failed: %s", e.msg);
	} else {
		cycle_set_result(c, CYCLE_ROLLED_BACK, "rolled back to %s: %s", previous, c->why);
	}
	/* An interruption that was not the commit's fault does not count. */
	if (c->mark_failed)
		cycle_remember_failed(c, c->res->commit, c->why);
	cycle_record_history(c, "rolled-back", c->res->message);
	return STEP_DONE;
}
