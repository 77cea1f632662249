/* The agent's state, state_dir/state.json, as a typed struct. Its JSON keys
 * appear in agent/state.c only (the table there); README.md ("State files")
 * documents each. The file is written atomically (temp file, fsync, rename),
 * so a crash leaves the old or the new state, never a mix.
 *
 * One owner reads and writes it: the command that holds the state_dir lock
 * loads it once and passes it down. */
#ifndef CIM_STATE_H
#define CIM_STATE_H

#include "agent/cycle.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct state_written;

#define STATE_SCHEMA	 1
#define STATE_MAX_BYTES	 (4 * 1024 * 1024)
#define STATE_FAILED_MAX 20 /* failed commits remembered, the oldest dropped */

/* Strings are heap copies (NULL: unset); set them with state_set_str(). */

/* A commit that failed to build, decrypt, activate or pass its checks. */
struct state_failure {
	char *commit;
	char *signed_digest; /* SHA-256 of what its signature covers; NULL when unknown */
	char *reason;
	int64_t at;
};

/* The deployment in flight; all unset between deployments. */
struct state_target {
	char *commit;
	char *path; /* its built system */
	char *signer;
	char *key;
	char *previous_path; /* the system that ran before it */
	int64_t started_at;
	int64_t health_deadline;
	char *rollback_reason;
	char *closure_diff;
	int64_t secrets_before;	    /* the generation current before it */
	int64_t secrets_generation; /* the one it installed, 0: none */
	char *failed_units_before;
};

/* The Prometheus counters and step times (agent/metrics.h). */
enum metric_step {
	METRIC_FETCH,
	METRIC_VERIFY,
	METRIC_BUILD,
	METRIC_DEPLOY,
	METRIC_SECRETS,
	METRIC_STEPS
};
struct state_metrics {
	int64_t cycles[CYCLE_OUTCOME_COUNT]; /* finished cycles by outcome */
	int64_t failures[METRIC_STEPS];	     /* failures counted by step */
	int64_t ok[METRIC_STEPS];	     /* unix time of the last success, 0: none */
	int64_t failed[METRIC_STEPS];	     /* of the last failure */
};

struct agent_state {
	char *path; /* the file */

	/* who writes it */
	char *host, *platform, *mode, *agent_version;

	/* the cycle */
	enum cycle_phase phase; /* PHASE_IDLE when no cycle ran yet */
	bool phase_known;	/* false: no cycle has run (no "phase" key) */
	int64_t phase_since;
	int last_outcome; /* an enum cycle_outcome, -1: none yet */
	char *last_error;
	int64_t last_cycle_at;
	int64_t next_poll_at;

	/* the remote and the trust baseline */
	char *remote_url, *branch, *remote_tip;
	int64_t fetched_at;
	char *verified, *verified_signer, *verified_key;
	char *refused, *refused_reason;
	char *baseline;

	/* what runs */
	char *deployed, *deployed_path, *deployed_signer, *deployed_key;
	int64_t deployed_at;
	char *last_good_commit, *last_good_path;
	char *built, *built_path; /* mode = build */
	bool reboot_needed;
	char *health; /* "passed" or "no checks configured" */
	/* source = cache: the last verified commit whose deployment file does
	 * not name this host, which keeps what it runs */
	char *unlisted;

	struct state_target target;
	int64_t attempt; /* activations of attempt_commit, across interruptions */
	char *attempt_commit;

	struct state_failure failed[STATE_FAILED_MAX]; /* oldest first */
	size_t nfailed;

	struct state_metrics metrics;

	/* Keys this version does not know (a newer agent wrote them): kept as
	 * they are and written back. */
	json_t *unknown;

	/* Not in the file: what the file last held, so that state_save() can
	 * leave a poll that changed nothing unwritten (see state_save()). */
	struct state_written *written;
};

/* Loads state_dir/state.json into st (zeroed by the caller), or starts an
 * empty state when there is none. A file that does not parse, or whose key
 * has the wrong type, is an error naming it (never silently reset: it holds
 * the trust baseline); st then holds nothing to release. */
int state_load(struct agent_state *st, const char *state_dir, struct err *e);
/* state_load() on the text of state_dir/state.json (len bytes, no NUL
 * needed), read elsewhere; the same errors. */
int state_parse(struct agent_state *st, const char *state_dir, const char *text, size_t len,
		struct err *e);
/* Writes st to its file, unless it differs from what the file holds only in
 * the traces of a quiet poll (phase fetch, gate or idle, phase_since,
 * fetched_at, last_cycle_at, next_poll_at, the up-to-date and waiting counts,
 * the steps' success times): then a fetch or gate phase is not written at all
 * (a start after a crash in it starts over, as from idle) and the rest only
 * when the file is STATE_QUIET_SECONDS old. What is left unwritten is what the
 * next state_load() in this process reads, as long as the file is still the
 * one this process wrote or read. */
#define STATE_QUIET_SECONDS 60
int state_save(const struct agent_state *st, struct err *e);

/* The file's text for st, for state_write_text(); the caller frees it. NULL
 * when out of memory. */
char *state_text(const struct agent_state *st);
int state_write_text(const char *path, const char *text, struct err *e);

/* The name of a metric step in the file ("fetch", "verify", ...). */
const char *state_metric_step_name(enum metric_step s);

/* For a state that must reach the disk: state_save() again every second,
 * for up to patience seconds or until stop() (may be NULL) says to stop;
 * tick() (may be NULL) runs meanwhile. */
int state_save_retrying(const struct agent_state *st, unsigned patience, bool (*stop)(void),
			void (*tick)(void), struct err *e);

/* The file's JSON for st; the caller json_decref()s it. NULL when out of
 * memory. with_unknown: with the keys this version does not know (the file
 * and the webhook have them; status --json, whose keys are documented, not). */
json_t *state_to_json(const struct agent_state *st, bool with_unknown);

/* Replaces *field with a copy of value (NULL unsets it). -1 when out of memory. */
int state_set_str(char **field, const char *value);

/* Unsets everything of the deployment in flight. */
void state_clear_target(struct agent_state *st);

void state_release(struct agent_state *st);

#endif
