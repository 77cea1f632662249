/* The secrets side of resuming and of a manual rollback (agent/cycle.c). */
#include "agent/config.h"
#include "agent/cycle_steps.h"
#include "agent/log.h"
#include "agent/secrets_step.h"
#include "base/err.h"
#include "secrets/activate.h"
#include "secrets/install.h"

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

void cycle_undo_interrupted_secrets(struct cycle *c)
{
	unsigned before = (unsigned)c->st.target.secrets_before, current = 0;
	struct err e = {{0}};

	/* An install interrupted after its symlink switch leaves a generation
	 * the running system never saw. */
	if (secrets_current(c->cfg->secrets.dir, &current, &e) == 0 && current > before &&
	    secrets_rollback(c->cfg->secrets.dir, &current, &e) < 0)
		log_msg(LOG_ERR, NULL, cycle_phase_name(PHASE_SECRETS), "%s", e.msg);
}

void cycle_reinstall_secrets(struct cycle *c, const char *commit, const char *system)
{
	unsigned generation = 0;
	size_t count = 0;
	struct err e = {{0}};
	char rendered[PATH_MAX];

	/* A system that declares its secrets installs them in its own activation. */
	if (system &&
	    (size_t)snprintf(rendered, sizeof(rendered), "%s/%s", system, SECRETS_SYSTEM_MANIFEST) <
		sizeof(rendered) &&
	    access(rendered, F_OK) == 0)
		return;
	if (secrets_step_install(c->cfg, c->mirror, commit, &generation, &count, &e) < 0)
		log_msg(LOG_WARNING, commit, cycle_phase_name(PHASE_ROLLBACK),
			"the secrets of %.12s could not be installed again, the current ones stay: "
			"%s",
			commit, e.msg);
	else if (generation)
		log_msg(LOG_NOTICE, commit, cycle_phase_name(PHASE_ROLLBACK),
			"%zu secret%s of %.12s in generation %u", count, count == 1 ? "" : "s",
			commit, generation);
}
