/* The pull step of the cycle: fetch the tracked branch into the mirror, apply
 * the verification policy to its tip, and record the outcome in the state
 * file. Nothing from the repository is used before this says PULL_TRUSTED. */
#ifndef CIM_PULL_STEP_H
#define CIM_PULL_STEP_H

#include "pull/verify.h"

#include <stdbool.h>

struct config;
struct err;

enum { PULL_ERROR = -1, PULL_TRUSTED = 0, PULL_REFUSED = 1 };

struct pull_outcome {
	struct verify_result result; /* the tip's verdict */
	git_oid tip;
	bool changed;      /* the fetched tip moved */
	bool config_error; /* the failure was in the configuration (exit 2) */

	char precheck[512]; /* what the ls-refs pre-check found; "" when it did not run */
};

int pull_step(const struct config *cfg, bool allow_rewind, struct pull_outcome *po,
	      struct err *e);

/* state_dir/mirror.git */
int pull_mirror_path(const struct config *cfg, char *buf, size_t size);

#endif
