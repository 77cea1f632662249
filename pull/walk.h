/* History questions the fleet gate asks of the mirror: the first-parent
 * chain from a tip, and whether one commit is an ancestor of another. Read
 * only; libgit2 stays behind this header. */
#ifndef CIM_PULL_WALK_H
#define CIM_PULL_WALK_H

#include "pull/pull.h"

#include <stddef.h>

struct err;

/* An open mirror for many questions in a row. */
struct pull_graph;

int pull_graph_open(struct pull_graph **g, const char *mirror, struct err *e);
void pull_graph_close(struct pull_graph *g);

/* 1 when ancestor is an ancestor of descendant, 0 when not or when either
 * is unknown or malformed, -1 when the mirror could not answer. The shape of
 * fleet_is_ancestor_fn (ctx is the graph). */
int pull_graph_is_ancestor(void *ctx, const char *ancestor, const char *descendant);

/* The first-parent chain from tip, newest first, into a heap array the
 * caller frees (*out, *n ids of PULL_COMMIT_HEX bytes): it ends with the
 * first commit that is stop or an ancestor of stop (included), at a root,
 * or after max commits. stop may be NULL. */
int pull_graph_first_parents(struct pull_graph *g, const char *tip, const char *stop, size_t max,
			     char (**out)[PULL_COMMIT_HEX], size_t *n, struct err *e);

#endif
