/* The cycle as a table: one row per phase, and one loop that runs them. */
#include "agent/cycle.h"

#include "agent/config.h"
#include "agent/cycle_steps.h"
#include "agent/failed.h"
#include "agent/fleet_step.h"
#include "agent/history.h"
#include "agent/hook.h"
#include "agent/lock.h"
#include "agent/log.h"
#include "agent/metrics.h"
#include "agent/orphan.h"
#include "agent/pull_step.h"
#include "agent/report.h"
#include "agent/state.h"
#include "apply/activate.h"
#include "apply/spawn.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/fileio.h"
#include "base/sdcompat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What a start does when the agent died in a phase (the phase on disk). */
enum resume_rule {
	RESUME_NOTHING,	     /* nothing was in flight */
	RESUME_START_OVER,   /* nothing was switched: a new cycle, from the fetch */
	RESUME_UNDO_SECRETS, /* start over, once the interrupted install is switched back */
	RESUME_ACTIVATION,   /* per platform and mode: see resume_activation() */
	RESUME_CHECK_AGAIN,  /* the checks decide again, if the target still runs */
	RESUME_RUN_AGAIN,    /* the step runs again, to its end */
};

/* When a stop request (SIGTERM) ends the cycle before the phase's step. */
enum stop_rule {
	STOP_BEFORE, /* before the phase is saved: the one before it resumes */
	STOP_SAVED,  /* once the phase is saved: it resumes */
	STOP_NEVER,  /* it runs to its end */
};

struct phase_row {
	const char *name;
	void (*prepare)(struct cycle *c, char *what, size_t size);
	int (*step)(struct cycle *c);
	enum resume_rule resume;
	enum stop_rule stop;
	/* Past the switch the step runs even when its phase cannot be saved:
	 * stopping would leave what runs now running, maybe a bad commit. */
	bool runs_unsaved;
};

#define STEP(n) step_##n##_prepare, step_##n

/* The cycle. The comment after each row says where its step goes next (its code
 * decides): the next phase, or done (the outcome is recorded in finish()). */
// clang-format off
static const struct phase_row phases[PHASE_COUNT] = {
	/*                  name        prepare, step   resume               stop     runs_unsaved */
	[PHASE_IDLE]     = {"idle",     NULL, NULL,     RESUME_NOTHING,      STOP_NEVER,  false},
	/* between cycles; a start begins with the fetch */
	[PHASE_FETCH]    = {"fetch",    STEP(fetch),    RESUME_START_OVER,   STOP_BEFORE, false},
	/* -> gate; an error, a refused tip, one up to date or failed before: done */
	[PHASE_GATE]     = {"gate",     STEP(gate),     RESUME_START_OVER,   STOP_BEFORE, false},
	/* -> build (the tip, or the commit the plan lets this wave deploy);
	 * waiting for an earlier wave, or halted: done */
	[PHASE_BUILD]    = {"build",    STEP(build),    RESUME_START_OVER,   STOP_BEFORE, false},
	/* -> secrets; mode = build: done; a failed build: done, the commit marked failed */
	[PHASE_SECRETS]  = {"secrets",  STEP(secrets),  RESUME_UNDO_SECRETS, STOP_BEFORE, false},
	/* -> activate; a failure: done, the commit marked failed */
	[PHASE_ACTIVATE] = {"activate", STEP(activate), RESUME_ACTIVATION,   STOP_BEFORE, false},
	/* -> health (mode = boot: -> commit); a failure -> rollback */
	[PHASE_HEALTH]   = {"health",   STEP(health),   RESUME_CHECK_AGAIN,  STOP_SAVED,  true},
	/* -> commit; failing checks -> rollback */
	[PHASE_COMMIT]   = {"commit",   STEP(commit),   RESUME_RUN_AGAIN,    STOP_NEVER,  true},
	/* done: deployed; a failure -> rollback */
	[PHASE_ROLLBACK] = {"rollback", STEP(rollback), RESUME_RUN_AGAIN,    STOP_NEVER,  true},
	/* done: rolled back to the system that ran before; the commit is marked
	 * failed unless an interruption that was not its fault led here */
};
// clang-format on

static const char *const outcome_names[CYCLE_OUTCOME_COUNT] = {
    [CYCLE_UP_TO_DATE] = "up-to-date",	 [CYCLE_DEPLOYED] = "deployed", [CYCLE_BUILT] = "built",
    [CYCLE_ROLLED_BACK] = "rolled-back", [CYCLE_FAILED] = "failed",	[CYCLE_SKIPPED] = "skipped",
    [CYCLE_REFUSED] = "refused",	 [CYCLE_ERROR] = "error",	[CYCLE_STOPPED] = "stopped",
    [CYCLE_WAITING] = "waiting",	 [CYCLE_HALTED] = "halted",
};

#define SAVE_PATIENCE 60 /* seconds a switched system's outcome is retried to disk */

static struct cycle_hooks hooks;

/* The daemon's state that could not be written after a switch: saved before
 * anything else when the next cycle starts. */
static struct {
	char *path, *text;
} unsaved;

static void unsaved_forget(void)
{
	free(unsaved.path);
	free(unsaved.text);
	unsaved.path = unsaved.text = NULL;
}

const char *cycle_phase_name(enum cycle_phase p)
{
	return phases[p].name;
}

int cycle_phase_parse(const char *name)
{
	for (int p = 0; p < PHASE_COUNT; p++)
		if (strcmp(phases[p].name, name) == 0)
			return p;
	return -1;
}

const char *cycle_outcome_name(enum cycle_outcome o)
{
	return outcome_names[o];
}

int cycle_outcome_parse(const char *name)
{
	for (int o = 0; o < CYCLE_OUTCOME_COUNT; o++)
		if (strcmp(outcome_names[o], name) == 0)
			return o;
	return -1;
}

void cycle_set_hooks(const struct cycle_hooks *h)
{
	hooks = *h;
	spawn_set_tick(h->tick);
	pull_set_hooks(h->should_stop, h->tick);
}

bool cycle_stop_requested(void)
{
	return hooks.should_stop && hooks.should_stop();
}

void cycle_tick(void)
{
	if (hooks.tick)
		hooks.tick();
}

int cycle_stopped(struct cycle *c, const char *before)
{
	cycle_set_result(c, CYCLE_STOPPED,
			 "stopped before %s; the next start resumes from the state file", before);
	cycle_log(c, LOG_NOTICE, "%s", c->res->message);
	return STEP_DONE;
}

/* Saves the phase before its step starts, so a crash leaves it for the
 * resume, and says what the step is about to do. */
static int enter_phase(struct cycle *c)
{
	const struct phase_row *row = &phases[c->phase];
	char what[1024];
	struct err e = {{0}};

	row->prepare(c, what, sizeof(what));
	c->st.phase = c->phase;
	c->st.phase_known = true;
	c->st.phase_since = (int64_t)time(NULL);
	sdc_notify("STATUS=%s", what);
	sdc_watchdog_kick(); /* a step (a fetch) may block for up to half the watchdog */
	if (state_save(&c->st, &e) < 0) {
		if (!row->runs_unsaved)
			return err_set(c->e, "%s", e.msg);
		cycle_log(c, LOG_CRIT, "cannot save the state, going on with %s regardless: %s",
			  row->name, e.msg);
	}
	cycle_log(c, LOG_INFO, "%s", what);
	return 0;
}

/* Tells the world about the state the cycle ended in: webhook, metrics file,
 * deployment hook. Reporting failures are logged and change no outcome. */
/* The history's newest entry, into entry; NULL when there is none. */
static const struct history_entry *last_entry(const json_t *history, struct history_entry *entry)
{
	if (!json_array_size(history))
		return NULL;
	history_entry_read(json_array_get(history, json_array_size(history) - 1), entry);
	return entry;
}

static void report_outcome(struct cycle *c, bool changed)
{
	enum cycle_outcome o = c->res->outcome;
	const char *commit = c->res->commit[0] ? c->res->commit : NULL;
	struct history_entry entry;
	json_t *history = NULL;
	struct err e = {{0}};

	/* A poll that finds nothing new is not a state change: only retry the outbox. */
	if ((changed ? report_state(c->cfg, &c->st, &e) : report_flush(c->cfg, &e)) < 0)
		log_msg(LOG_WARNING, commit, "report", "webhook: %s", e.msg);
	if (c->cfg->report.metrics_file || c->cfg->report.command) {
		history = history_load(c->cfg->agent.state_dir, &e);
		if (!history)
			log_msg(LOG_WARNING, commit, "report", "reading history: %s", e.msg);
	}
	if (metrics_write(c->cfg, &c->st, history, &e) < 0)
		log_msg(LOG_WARNING, commit, "report", "%s", e.msg);
	if ((o == CYCLE_DEPLOYED || o == CYCLE_ROLLED_BACK || o == CYCLE_FAILED) &&
	    hook_run(c->cfg, outcome_names[o], &c->st, last_entry(history, &entry), &e) < 0)
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
	unsaved_forget();
	unsaved.path = strdup(c->st.path);
	unsaved.text = state_text(&c->st);
	log_msg(LOG_CRIT, c->res->commit, NULL,
		"the state is still not saved (%s); a daemon retries before its next cycle",
		c->e->msg);
	return -1;
}

static bool is_failure(enum cycle_outcome o)
{
	return o == CYCLE_ERROR || o == CYCLE_REFUSED || o == CYCLE_FAILED ||
	       o == CYCLE_ROLLED_BACK;
}

/* Ends the cycle: the outcome is persisted with phase idle, then reported. */
static int finish(struct cycle *c)
{
	enum cycle_outcome o = c->res->outcome;
	/* Deployments always count; a refusal, error or idle poll only when the
	 * outcome differs from the last one. */
	bool changed = o == CYCLE_DEPLOYED || o == CYCLE_ROLLED_BACK || o == CYCLE_FAILED ||
		       o == CYCLE_BUILT || c->st.last_outcome != (int)o;
	int rc;

	state_clear_target(&c->st);
	metrics_note_outcome(&c->st, o);
	c->st.phase = PHASE_IDLE;
	c->st.last_outcome = (int)o;
	state_set_str(&c->st.last_error, is_failure(o) ? c->res->message : NULL);
	c->st.last_cycle_at = (int64_t)time(NULL);
	if (hooks.next_delay)
		c->st.next_poll_at = (int64_t)time(NULL) + hooks.next_delay(o);
	rc = save_outcome(c);
	report_outcome(c, changed);
	return rc;
}

/* The one loop: for each phase, the stop rule, the phase saved with what its
 * step needs, the step; then the outcome, in one place. */
static int run_phases(struct cycle *c, int next)
{
	while (next < PHASE_COUNT) {
		const struct phase_row *row = &phases[next];

		c->phase = (enum cycle_phase)next;
		if (row->stop == STOP_BEFORE && cycle_stop_requested())
			next = cycle_stopped(c, row->name);
		else if (enter_phase(c) < 0)
			next = STEP_ABORT;
		else if (row->stop == STOP_SAVED && cycle_stop_requested())
			next = cycle_stopped(c, row->name);
		else
			next = row->step(c);
	}
	if (next == STEP_ABORT)
		return -1;
	return c->res->outcome == CYCLE_STOPPED ? 0 : finish(c);
}

/* The agent died during an activation. */
static int resume_activation(struct cycle *c, const char *target)
{
	enum platform platform = c->cfg->nix.platform;
	bool again = c->st.attempt >= 2;
	char running[PATH_MAX];

	/* mode = boot: only the profile and boot entry were being set: again. */
	if (c->cfg->agent.mode == MODE_BOOT && target) {
		c->activation = ACTIVATION_BOOT_AGAIN;
		return PHASE_ACTIVATE;
	}
	/* The profile moved before the activation program ran, so it says
	 * nothing about how far that got: undo, and try again next cycle. A
	 * second interruption counts against the commit: it may be what kills
	 * the agent. */
	if (platform == PLATFORM_SYSTEM_MANAGER || platform == PLATFORM_PROFILE)
		return cycle_to_rollback(c, "the agent was interrupted during activation", again);
	/* The switch had begun (the running system's link moved), and under
	 * systemd the agent died with it, maybe half-way: run it again to its
	 * end (switch-to-configuration is idempotent), then the checks decide. */
	activate_current(&c->cfg->nix, running, sizeof(running));
	if (!target || strcmp(running, target) != 0 || again)
		return cycle_to_rollback(c, "the agent was interrupted during activation", again);
	c->activation = ACTIVATION_AGAIN;
	return PHASE_ACTIVATE;
}

/* Where a cycle starts: what the phase on disk says (its resume rule). */
static int first_phase(struct cycle *c)
{
	enum cycle_phase at = c->st.phase;
	const char *name = phases[at].name, *target = c->st.target.path;
	char running[PATH_MAX];

	c->phase = at;
	switch (phases[at].resume) {
	case RESUME_NOTHING:
		return PHASE_FETCH;
	case RESUME_START_OVER:
	case RESUME_UNDO_SECRETS:
		cycle_log(c, LOG_WARNING,
			  "the previous cycle was interrupted during %s; starting over", name);
		if (phases[at].resume == RESUME_UNDO_SECRETS)
			cycle_undo_interrupted_secrets(c);
		state_clear_target(&c->st);
		return PHASE_FETCH;
	default:
		break;
	}
	snprintf(c->res->commit, sizeof(c->res->commit), "%s", c->st.target.commit ?: "");
	cycle_log(c, LOG_WARNING, "resuming a deployment interrupted during %s", name);
	if (phases[at].resume == RESUME_ACTIVATION)
		return resume_activation(c, target);
	if (phases[at].resume == RESUME_RUN_AGAIN) {
		/* A rollback goes on for the reason it began with. */
		snprintf(c->why, sizeof(c->why), "%s",
			 c->st.target.rollback_reason ?: "interrupted");
		c->mark_failed = true;
		return at;
	}
	/* Checks of another system say nothing about the target: a rollback
	 * that could not be recorded left the previous one running. */
	activate_current(&c->cfg->nix, running, sizeof(running));
	if (!target || strcmp(running, target) != 0)
		return cycle_to_rollback(c, "the system running is not the one being checked",
					 true);
	return at;
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
	    (unsaved.text && state_write_text(unsaved.path, unsaved.text, e) < 0 &&
	     err_prefix(e, "the outcome of the last cycle is still not saved") < 0) ||
	    state_load(&c->st, cfg->agent.state_dir, e) < 0) {
		lock_release(*lock_fd);
		return -1;
	}
	unsaved_forget();
	orphan_track(cfg->agent.state_dir);
	state_set_str(&c->st.host, cfg->agent.hostname);
	state_set_str(&c->st.platform, config_platform_name(cfg->nix.platform));
	state_set_str(&c->st.mode, config_mode_name(cfg->agent.mode));
	state_set_str(&c->st.agent_version, CIM_VERSION);
	log_set_generation(hook_profile_generation(cfg->nix.profile));
	return 0;
}

static void cycle_close(struct cycle *c, int lock_fd)
{
	state_release(&c->st);
	lock_release(lock_fd);
}

int cycle_run_once(const struct config *cfg, struct cycle_result *res, struct err *e)
{
	struct cycle c;
	int lock_fd, rc;

	if (cycle_open(&c, cfg, res, e, &lock_fd) < 0)
		return -1;
	rc = run_phases(&c, first_phase(&c));
	cycle_close(&c, lock_fd);
	return rc;
}

int cycle_retry(const struct config *cfg, const char *commit, struct err *e)
{
	struct cycle_result res;
	struct cycle c;
	int lock_fd, forgotten;

	if (cycle_open(&c, cfg, &res, e, &lock_fd) < 0)
		return -1;
	forgotten = failed_forget(&c.st, commit);
	if (state_save(&c.st, e) < 0)
		forgotten = -1;
	cycle_close(&c, lock_fd);
	return forgotten;
}

int cycle_manual_rollback(const struct config *cfg, struct cycle_result *res, struct err *e)
{
	struct cycle c;
	const char *good, *good_commit, *deployed;
	char reason[256];
	int lock_fd, rc = -1;

	if (cycle_open(&c, cfg, res, e, &lock_fd) < 0)
		return -1;
	good = c.st.last_good_path;
	good_commit = c.st.last_good_commit;
	deployed = c.st.deployed;
	if (!good || !deployed) {
		err_set(e, "no earlier known-good deployment is recorded to roll back to");
		goto out;
	}
	snprintf(res->commit, sizeof(res->commit), "%s", deployed);
	state_set_str(&c.st.target.commit, deployed);
	state_set_str(&c.st.target.path, c.st.deployed_path);
	state_set_str(&c.st.target.previous_path, good);
	snprintf(reason, sizeof(reason), "rolled back by the operator to %.12s",
		 good_commit ? good_commit : "?");
	/* The secrets of the known-good commit come back with it: decrypted anew,
	 * since older generations were dropped when the current one was committed. */
	if (good_commit)
		cycle_reinstall_secrets(&c, good_commit, good);
	/* Now the known-good one is what runs. */
	state_set_str(&c.st.deployed, good_commit);
	state_set_str(&c.st.deployed_path, good);
	state_set_str(&c.st.last_good_path, NULL);
	state_set_str(&c.st.last_good_commit, NULL);
	rc = run_phases(&c, cycle_to_rollback(&c, reason, true));
out:
	cycle_close(&c, lock_fd);
	return rc;
}
