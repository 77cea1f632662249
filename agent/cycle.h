/* One sync cycle: a walk through the phases of the table in agent/cycle.c
 * (fetch and verify, build, secrets, activate, health, then commit or roll
 * back). That table says, for each phase, what runs, what a restart does
 * when the agent died in it, and whether a stop may interrupt it; the phase
 * is saved in the state file before its step starts, so that a crash at any
 * point resumes on the next start. */
#ifndef CIM_CYCLE_H
#define CIM_CYCLE_H

#include <stdbool.h>

struct config;
struct err;

enum cycle_phase {
	PHASE_IDLE,
	PHASE_FETCH,
	PHASE_GATE, /* the fleet's rollout gate (agent/fleet_step.c) */
	PHASE_BUILD,
	PHASE_SECRETS,
	PHASE_ACTIVATE,
	PHASE_HEALTH,
	PHASE_COMMIT,
	PHASE_ROLLBACK,
	PHASE_COUNT
};

/* The phase's name, as the state file, the logs and the metrics say it. */
const char *cycle_phase_name(enum cycle_phase p);

/* The phase named name; -1 when there is none. */
int cycle_phase_parse(const char *name);

enum cycle_outcome {
	CYCLE_UP_TO_DATE,  /* nothing new */
	CYCLE_DEPLOYED,	   /* a new commit is running and healthy */
	CYCLE_BUILT,	   /* mode = build: built, not activated */
	CYCLE_ROLLED_BACK, /* activation or health failed; previous system restored */
	CYCLE_FAILED,	   /* build or secrets failed; nothing was switched */
	CYCLE_SKIPPED,	   /* the tip failed before; waiting for a newer commit */
	CYCLE_REFUSED,	   /* the tip did not pass verification */
	CYCLE_ERROR,	   /* fetch or local failure; nothing changed */
	CYCLE_STOPPED,	   /* asked to stop between steps; the state resumes it */
	CYCLE_WAITING,	   /* the rollout gate holds what is new: an earlier wave soaks */
	CYCLE_HALTED,	   /* the rollout of what is new is halted (failures, a bad plan) */
	CYCLE_UNCHANGED,   /* a new commit builds the system that runs (or, source = cache,
			    * does not name this host): recorded, not activated */
	CYCLE_OUTCOME_COUNT
};

struct cycle_result {
	enum cycle_outcome outcome;
	char commit[41];
	char message[1536];
	bool reboot_needed;
	bool config_error; /* CYCLE_ERROR: the configuration is wrong (exit 2) */
};

const char *cycle_outcome_name(enum cycle_outcome o);

/* The outcome named name; -1 when there is none. */
int cycle_outcome_parse(const char *name);

/* Set by the daemon: should_stop() asks the cycle to stop at the next step
 * boundary (the state file then resumes it); tick() runs while waiting. */
struct cycle_hooks {
	bool (*should_stop)(void);
	void (*tick)(void);
	/* Seconds until the next cycle, given how this one ended; saved as
	 * next_poll_at with the cycle's outcome. May be NULL. */
	unsigned (*next_delay)(enum cycle_outcome outcome);
};
void cycle_set_hooks(const struct cycle_hooks *hooks);

/* Runs one cycle under the state_dir lock. Returns 0 when the cycle ran
 * (see res->outcome), -1 when it could not (lock held, state unreadable). */
int cycle_run_once(const struct config *cfg, struct cycle_result *res, struct err *e);

/* Forgets that commit (or, when NULL, every commit) failed, so the next cycle
 * tries it again. Returns the number forgotten. */
int cycle_retry(const struct config *cfg, const char *commit, struct err *e);

/* Re-activates the last known-good system before the current deployment and
 * marks the current commit failed so it is not redeployed. */
int cycle_manual_rollback(const struct config *cfg, struct cycle_result *res, struct err *e);

#endif
