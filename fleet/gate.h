/* The rollout gate: whether this host may deploy a commit now, decided by
 * every agent for itself from the hosts' signed reports (no controller). Pure:
 * the caller gives the clock, the reports and git ancestry.
 *
 * Input. The candidates are the verified commits this host could deploy,
 * newest first (the tip first). Each comes with the plan, hosts file and wave
 * assignment of that very commit, or the plan error that stopped them, and
 * with the view of the bucket taken against that commit's hosts file
 * (fleet/view.h; NULL when NATS is unreachable: every host silent). A plan is
 * never combined with another commit.
 *
 * A host h of wave w, for commit C, at time now, from its report r:
 *   EXCLUDED  r is SILENT, FORGED or REPLAYED, or STALE and lists no failure of C
 *   FAILED    r (OK or STALE) lists a failure of C itself
 *   WAITING   r is OK but not healthy, or it runs neither C nor a descendant of C
 *   SOAKING   r is OK, healthy, and C's soak clock on h has run less than w's soak
 *   SOAKED    r is OK, healthy, and C's soak clock on h has run at least w's soak
 * C's soak clock on h starts at the since of the first lineage entry that is
 * C or a descendant of C (the lineage is a chain, so every later one is too):
 * when h began to run C, or something built on C, and has been healthy since.
 * A clock in the future has not run.
 *
 * Wave w is soaked on C when none of its hosts is WAITING or SOAKING and at
 * least min_healthy of them are SOAKED. Excluded and failed hosts are left out
 * of "every host" but never count toward min_healthy: a wave whose hosts are
 * all silent, stale or overwritten by forged reports holds the next wave for
 * ever, and says so. Each wave soaks with its own soak.
 *
 * C is halted when its plan has an error (a malformed plan, a host in two
 * waves, a wave that selects nobody, a pattern naming no member, ...), or when
 * a wave has more FAILED hosts than its max_failures.
 *
 * The decision goes through the candidates newest first:
 *   1. the first that is deployed, or an ancestor of deployed, ends the search:
 *      nothing older is worth deploying (a halt of the deployed commit itself
 *      is still reported: the host keeps it, and says it is halted);
 *   2. a halted candidate is skipped, and so is one whose hosts file does not
 *      list this host;
 *   3. in the first wave, the candidate is deployed;
 *   4. in wave k > 1, it is deployed when every wave before k is soaked on it;
 *      otherwise what it waits for is noted (for the newest such candidate)
 *      and the search goes on with older candidates.
 * So wave 1 deploys the newest verified tip at once; a later wave deploys the
 * newest commit that has soaked in every wave before, never one that has not
 * (with a push every minute and a 10-minute soak, it moves, ten minutes
 * behind); no host that lacks a halted commit deploys it; and a newer commit
 * starts its own rollout from wave 1.
 *
 * The caller gives as candidates every verified commit newer than deployed
 * (the first-parent chain from the tip), not just the last few: with a push
 * every few seconds and a long soak, the commit a later wave may take lies
 * soak / push interval commits back. A decision costs, per candidate looked
 * at, one look at every host of the earlier waves, with log2(lineage)
 * ancestry questions each, asked once per pair (fleet/ancestry.h). */
#ifndef CIM_FLEET_GATE_H
#define CIM_FLEET_GATE_H

#include "fleet/ancestry.h"
#include "fleet/assign.h"
#include "fleet/plan.h"
#include "fleet/report.h"
#include "fleet/view.h"

#include <stdbool.h>
#include <stdint.h>

struct err;

#define FLEET_GATE_TEXT_MAX 1024

struct fleet_candidate {
	const char *commit;		       /* 40 or 64 hex digits */
	const struct fleet_assignment *assign; /* NULL when the plan of commit is bad */
	const char *plan_error;		       /* then: why, with file:line */
	const struct fleet_view *view;	       /* against assign->hosts; NULL: no reports */
};

struct fleet_gate_input {
	const char *self;			  /* this host's name */
	const char *deployed;			  /* the commit it runs, or NULL */
	const struct fleet_candidate *candidates; /* newest first */
	size_t ncandidates;
	fleet_is_ancestor_fn is_ancestor;
	void *ctx;
	int64_t now; /* wall clock, seconds since the epoch */
};

struct fleet_gate {
	const char *deploy; /* the candidate's commit to deploy now, or NULL */
	long wave;	    /* this host's wave (0-based) in the tip's plan; -1: none */
	char wave_name[FLEET_REPORT_WAVE_MAX + 1];
	/* The newest candidate newer than deploy that waits for an earlier wave. */
	bool waiting;
	char wait_commit[FLEET_COMMIT_MAX + 1];
	char wait_wave[FLEET_REPORT_WAVE_MAX + 1];
	int64_t wait_until; /* when that wave will have soaked if nothing changes; 0: unknown */
	char waits_for[FLEET_GATE_TEXT_MAX]; /* e.g. "1a2b3c4 waits for wave canary: web-02 runs
					      * 9f8e7d6; 0 of 2 hosts soaked (min_healthy 1)" */
	/* Candidates newer than what is deployed whose rollout is halted, "; "-joined:
	 * "rollout of 1a2b3c4 halted: web-01 rolled back: http://.../healthz answered 500" */
	size_t nhalted;
	char halted[FLEET_GATE_TEXT_MAX];
	char note[FLEET_GATE_TEXT_MAX]; /* candidates skipped because this host is no member */
};

/* Decides (see above). Returns 0, or -1 with e filled when ancestry could not
 * be told; then nothing may be deployed. */
int fleet_gate_decide(const struct fleet_gate_input *in, struct fleet_gate *out, struct err *e);

struct fleet_wave_progress {
	char name[FLEET_REPORT_WAVE_MAX + 1];
	size_t total; /* hosts in the wave */
	size_t done;  /* healthy on the commit or a descendant: soaking or soaked */
	size_t soaked, waiting, failed, excluded;
	size_t min_healthy;
	unsigned soak;
	bool is_soaked;
	bool open;	       /* its hosts may deploy the commit: every wave before is soaked */
	int64_t soaking_until; /* when it will have soaked if nothing changes; 0: unknown/done */
	bool halted;	       /* more failures than its max_failures */
};

/* What rollout status shows for one commit. */
struct fleet_progress {
	char commit[FLEET_COMMIT_MAX + 1];
	bool halted;
	char halted_reason[FLEET_GATE_TEXT_MAX]; /* "rollout of ... halted: ..." */
	size_t nwaves;
	struct fleet_wave_progress waves[FLEET_PLAN_MAX_WAVES + 1];
};

/* The progress of candidate c's rollout, wave by wave. */
int fleet_gate_progress(const struct fleet_candidate *c, fleet_is_ancestor_fn is_ancestor,
			void *ctx, int64_t now, struct fleet_progress *out, struct err *e);

#endif
