/* The pull step of the cycle: fetch the tracked branch into the mirror, apply
 * the verification policy to its tip (pull/pull.h), and record what it
 * learned in the state. Nothing from the repository is used before this says
 * PULL_TRUSTED. */
#ifndef CIM_PULL_STEP_H
#define CIM_PULL_STEP_H

#include "pull/pull.h"

#include <stdbool.h>
#include <stddef.h>

struct agent_state;
struct config;
struct err;

/* Fetches and verifies against st's baseline; unless PULL_ERROR, records
 * the tip, the verdict and a new baseline in st (which the caller saves). */
int pull_step(const struct config *cfg, struct agent_state *st, bool allow_rewind,
	      struct pull_outcome *po, struct err *e);

/* While offline, pull_step() judges the tip the mirror already has, without a
 * fetch (the daemon, when only the fleet's bucket changed). */
void pull_step_set_offline(bool offline);

/* state_dir/mirror.git */
int pull_mirror_path(const struct config *cfg, char *buf, size_t size);

#endif
