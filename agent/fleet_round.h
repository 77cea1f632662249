/* The input of one gate decision, read from the mirror and the bucket: the
 * verified tip and the commits under it (first parents, down to what is
 * deployed), each with the plan, hosts file and waves of that very commit
 * (or the plan error that halts it) and the bucket's view against that
 * commit's hosts file. Commits with the same plan and hosts file share one
 * assignment and one view, so a long chain costs one verification pass. */
#ifndef CIM_FLEET_ROUND_H
#define CIM_FLEET_ROUND_H

#include "fleet/gate.h"
#include "fleet/view.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct err;
struct fleet_entry;
struct pull_graph;

#define FLEET_ROUND_MAX 512 /* candidates looked at, newest first */

struct fleet_round_commit {
	char commit[FLEET_COMMIT_MAX + 1];
	int model; /* the index whose plan it shares; its own index when it owns one */
	char *plan_text, *hosts_text;
	struct fleet_plan plan;
	struct fleet_hosts hosts;
	struct fleet_assignment assign;
	bool ok;	  /* plan, hosts and assign hold */
	char error[1024]; /* else: the plan error */
	struct fleet_view view;
	bool have_view;
};

struct fleet_round {
	struct pull_graph *graph;
	struct fleet_round_commit *v; /* newest first */
	struct fleet_candidate *candidates;
	size_t n;
	bool no_plan; /* the tip has no plan: the agent deploys alone */
};

/* Loads the candidates from tip down to stop (what is deployed; NULL: as far
 * as FLEET_ROUND_MAX). entries NULL: no reports (NATS unreachable). */
int fleet_round_load(struct fleet_round *r, const struct config *cfg, const char *mirror,
		     const char *tip, const char *stop, const struct fleet_entry *entries,
		     size_t nentries, const struct fleet_seen *seen, int64_t now, struct err *e);

/* Takes candidate i out of the decision (it did not verify): its plan error. */
void fleet_round_refuse(struct fleet_round *r, size_t i, const char *why);

void fleet_round_release(struct fleet_round *r);

#endif
