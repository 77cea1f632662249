/* What an agent that died leaves behind: children still running, and the
 * temporary files of atomic writes it was killed in.
 *
 * Children: every child runs in its own process
 * group (apply/spawn.c); state_dir/child.json names the last one started.
 * When the agent dies (kill -9, the OOM killer), the group lives on, and
 * the next start settles it before it decides anything: an activation is
 * waited for, up to its timeout, anything else (a build, a health check) is
 * killed. */
#ifndef CIM_ORPHAN_H
#define CIM_ORPHAN_H

#include <stdbool.h>

struct config;
struct err;

/* Records every child started from now on in state_dir/child.json. */
void orphan_track(const char *state_dir);

/* Waits for or kills the group a dead agent left, then forgets it. Returns
 * 0 once none is left, -1 when should_stop() said to stop first or the
 * group would not go. tick() runs while it waits. Call with the lock held. */
int orphan_settle(const char *state_dir, bool (*should_stop)(void), void (*tick)(void),
		  struct err *e);

/* Removes the temporary files ("<name>.tmp.<pid>" of a pid no longer alive)
 * in state_dir, its outbox, and those of metrics_file beside it; logs how
 * many. Call with the lock held. */
void orphan_sweep_temps(const struct config *cfg);

#endif
