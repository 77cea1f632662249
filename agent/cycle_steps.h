/* Inside the cycle: what agent/cycle.c (the table and the loop) and
 * agent/cycle_steps.c (the steps) share. Not for other modules. */
#ifndef CIM_CYCLE_STEPS_H
#define CIM_CYCLE_STEPS_H

#include "agent/cycle.h"
#include "agent/state.h"
#include "pull/pull.h"

#include <limits.h>
#include <stddef.h>

/* How an activation is being run. */
enum activation {
	ACTIVATION_FIRST,      /* the deployment's own */
	ACTIVATION_AGAIN,      /* again to its end: the agent died during it */
	ACTIVATION_BOOT_AGAIN, /* mode = boot: profile and boot entry, again */
};

struct cycle {
	const struct config *cfg;
	struct agent_state st;
	struct cycle_result *res;
	struct err *e;
	char mirror[PATH_MAX];
	char gcroots[PATH_MAX];
	double wall_start;	/* monotonic seconds when this process's cycle began */
	double child_start;	/* spawn_total_seconds() then */
	enum cycle_phase phase; /* the phase being run */
	struct pull_outcome po; /* the fetch's verdict on the tip */
	char running[PATH_MAX]; /* the system that ran before the activation */
	enum activation activation;
	char why[1024];	  /* rollback: why */
	bool mark_failed; /* rollback: the commit is not tried again */
};

/* What a step returns: the phase to run next (an enum cycle_phase), or: */
enum {
	STEP_DONE = PHASE_COUNT, /* the cycle has its outcome (c->res) */
	STEP_ABORT,		 /* a local failure (c->e); nothing more is written */
};

/* The parts of a phase (see the table in agent/cycle.c). prepare records in
 * the state what the step needs, which is saved with the phase, and says
 * what the step is about to do in what; step runs it. */
void step_fetch_prepare(struct cycle *c, char *what, size_t size);
int step_fetch(struct cycle *c);
void step_build_prepare(struct cycle *c, char *what, size_t size);
int step_build(struct cycle *c);
void step_secrets_prepare(struct cycle *c, char *what, size_t size);
int step_secrets(struct cycle *c);
void step_activate_prepare(struct cycle *c, char *what, size_t size);
int step_activate(struct cycle *c);
void step_health_prepare(struct cycle *c, char *what, size_t size);
int step_health(struct cycle *c);
void step_commit_prepare(struct cycle *c, char *what, size_t size);
int step_commit(struct cycle *c);
void step_rollback_prepare(struct cycle *c, char *what, size_t size);
int step_rollback(struct cycle *c);

/* The next phase when the deployment must be undone: why, and whether the
 * commit is to blame (mark_failed: it is not tried again). */
int cycle_to_rollback(struct cycle *c, const char *why, bool mark_failed);

/* The end of a cycle that a stop request cut short before what (a phase,
 * or "the build finished"): no verdict; the state is left as it is, and its
 * phase resumes the cycle on the next start. */
int cycle_stopped(struct cycle *c, const char *before);

/* The daemon's hooks (cycle_set_hooks), safe to call without them. */
bool cycle_stop_requested(void);
void cycle_tick(void);

/* Sets the outcome and its message. */
void cycle_set_result(struct cycle *c, enum cycle_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs with the commit and the phase being run. */
void cycle_log(struct cycle *c, int priority, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Ends the cycle as skipped: its commit failed before (failure). */
int cycle_skipped(struct cycle *c, const struct state_failure *failure);

/* Remembers that commit failed, with the digest of its signed content so
 * that a re-encoded copy of it is known too. */
void cycle_remember_failed(struct cycle *c, const char *commit, const char *reason);

/* Appends the deployment attempt to history.json. */
void cycle_record_history(struct cycle *c, const char *outcome, const char *reason);

/* Decrypts commit's secrets again (a manual rollback to it), unless system
 * declares its own (a rendered manifest: its activation installs them). */
void cycle_reinstall_secrets(struct cycle *c, const char *commit, const char *system);

/* Switches back the secrets generation an interrupted install made current. */
void cycle_undo_interrupted_secrets(struct cycle *c);

#endif
