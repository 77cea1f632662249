/* "Is a an ancestor of b?" asked of the caller (the git mirror), remembered
 * for the length of one decision: the gate asks the same few pairs once per
 * host report, and a git walk is not free. */
#ifndef CIM_FLEET_ANCESTRY_H
#define CIM_FLEET_ANCESTRY_H

#include <stddef.h>

struct err;

/* 1 when ancestor is an ancestor of descendant (equal commits are not asked),
 * 0 when not or when either commit is unknown (a host may report a commit the
 * mirror has not fetched, or made up), -1 on an error that must stop the
 * decision. */
typedef int (*fleet_is_ancestor_fn)(void *ctx, const char *ancestor, const char *descendant);

struct fleet_ancestry {
	fleet_is_ancestor_fn fn;
	void *ctx;
	struct fleet_ancestry_slot {
		char *a, *b; /* NULL when free */
		int answer;
	} * slots;
	size_t nslots, used;
};

void fleet_ancestry_init(struct fleet_ancestry *an, fleet_is_ancestor_fn fn, void *ctx);

/* 1 when a == b or a is an ancestor of b, 0 when not, -1 (e filled) when the
 * callback failed or memory ran out. */
int fleet_ancestry_is_or_descends(struct fleet_ancestry *an, const char *a, const char *b,
				  struct err *e);

void fleet_ancestry_release(struct fleet_ancestry *an);

#endif
