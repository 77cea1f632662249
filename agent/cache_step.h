/* [nix] source = cache inside the cycle: in place of a build, the build step
 * takes the system the verified commit's deployment file names for this host
 * and substitutes it from the host's binary caches (README, "Deploying
 * prebuilt systems"). Part of the cycle (agent/cycle_steps.h). */
#ifndef CIM_CACHE_STEP_H
#define CIM_CACHE_STEP_H

#include <stdbool.h>
#include <stddef.h>

struct cycle;

/* Reads the deployment file from the verified commit's tree (never a work
 * tree), finds this host and realises its path with signatures required,
 * rooted at gc_root. Returns 0 with path set when it is realised; otherwise
 * the build step's result: STEP_DONE with c->res set, as
 *   failed (the commit marked failed): no or a malformed deployment file,
 *       another system type, a path missing from the caches or not signed by
 *       a key the host trusts;
 *   error (tried again next cycle): nix, the mirror or a cache failing;
 *   up-to-date: the file does not name this host, which keeps what it runs
 *       (state "unlisted"). */
int cache_step_realise(struct cycle *c, const char *gc_root, char *path, size_t size);

/* True when the tip is the commit that was found not to name this host:
 * the fetch step then ends the cycle as up-to-date without reading it again. */
bool cache_step_still_unlisted(struct cycle *c);

#endif
