/* [nix] source = cache inside the cycle: in place of a build, the build step
 * takes the system the verified commit's deployment file names for this host
 * and substitutes it from the host's binary caches (README, "Deploying
 * prebuilt systems"). Part of the cycle (agent/cycle_steps.h). */
#ifndef CIM_CACHE_STEP_H
#define CIM_CACHE_STEP_H

#include <stdbool.h>
#include <stddef.h>

struct cycle;

/* What the build step is about to do, into what: the build, or, with
 * source = cache, taking the system the deployment file names. */
void cache_step_describe(struct cycle *c, char *what, size_t size);

/* With source = build: false, and nothing done (the build step builds).
 * With source = cache: reads the deployment file from the verified commit's
 * tree (never a work tree), finds this host and realises its path with
 * signatures required, rooted at gc_root. Returns false with path set when
 * it is realised; true when the cycle ends there, with c->res set:
 *   failed (the commit marked failed): no or a malformed deployment file,
 *       another system type, a path missing from the caches or not signed by
 *       a key the host trusts;
 *   error (tried again next cycle): nix, the mirror or a cache failing;
 *   up-to-date: the file does not name this host, which has nothing
 *       deployed yet (state "unlisted");
 *   stopped: a stop request cut the substitution short.
 * When the file does not name a host that has a deployed system, it returns
 * false with path set to that system (state "unlisted"): the commit keeps it. */
bool cache_step_realise(struct cycle *c, const char *gc_root, char *path, size_t size);

/* next, unless the tip is the commit found not to name this host: then
 * STEP_DONE, c->res saying so (up-to-date), without reading the file again.
 * With source = build, next, and that note is cleared. */
int cache_step_unless_unlisted(struct cycle *c, int next);

/* The tip is the commit found not to name this host (source = cache). */
bool cache_step_is_unlisted(const struct cycle *c);

#endif
