#include "agent/hook.h"

#include "agent/config.h"
#include "agent/history.h"
#include "agent/state.h"
#include "base/err.h"
#include "apply/spawn.h"
#include "agent/pull_step.h"
#include "pull/pull.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOOK_VARS	 12
#define HOOK_SUBJECT_MAX 256 /* bytes of CIM_COMMIT_SUBJECT */

unsigned long hook_profile_generation(const char *profile)
{
	char target[PATH_MAX], *base, *end;
	ssize_t n = readlink(profile, target, sizeof(target) - 1);
	size_t len;
	unsigned long gen;

	if (n <= 0)
		return 0;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	len = strlen(base);
	if (len < 6 || strcmp(base + len - 5, "-link") != 0)
		return 0;
	base[len - 5] = '\0';
	end = strrchr(base, '-');
	if (!end || !end[1] || strspn(end + 1, "0123456789") != strlen(end + 1))
		return 0;
	gen = strtoul(end + 1, NULL, 10);
	return gen;
}

static const char *str(const char *s)
{
	return s ? s : "";
}

/* The commit's subject, from the mirror: "" when it cannot be read (the
 * hook runs anyway). */
static void commit_subject(const struct config *cfg, const char *commit, char *out, size_t size)
{
	char mirror[PATH_MAX];
	struct err e = {{0}};

	out[0] = '\0';
	if (*commit && pull_mirror_path(cfg, mirror, sizeof(mirror)) == 0)
		pull_commit_subject(mirror, commit, out, size, &e);
}

int hook_run(const struct config *cfg, const char *outcome, const struct agent_state *st,
	     const struct history_entry *entry, struct err *e)
{
	char *env[HOOK_VARS + 1] = {0};
	char generation[32] = "";
	struct spawn_opts o = {.timeout = HOOK_TIMEOUT, .stdout_to_stderr = true};
	struct spawn_result r = {0};
	unsigned long gen;
	size_t n = 0;
	int rc = -1;

	if (!cfg->report.command)
		return 0;
	gen = hook_profile_generation(cfg->nix.profile);
	if (gen)
		snprintf(generation, sizeof(generation), "%lu", gen);
	const char *commit = str(entry ? entry->commit : st->deployed);
	const char *error = str(entry ? entry->reason : st->last_error);
	char subject[HOOK_SUBJECT_MAX];
	commit_subject(cfg, commit, subject, sizeof(subject));
	if (asprintf(&env[n++], "CIM_OUTCOME=%s", outcome) < 0 ||
	    asprintf(&env[n++], "CIM_COMMIT=%s", commit) < 0 ||
	    asprintf(&env[n++], "CIM_COMMIT_SUBJECT=%s", subject) < 0 ||
	    asprintf(&env[n++], "CIM_BRANCH=%s", cfg->repo.branch) < 0 ||
	    asprintf(&env[n++], "CIM_ERROR=%s", error) < 0 ||
	    asprintf(&env[n++], "CIM_STORE_PATH=%s", str(entry ? entry->store_path : NULL)) < 0 ||
	    asprintf(&env[n++], "CIM_PREVIOUS_PATH=%s", str(entry ? entry->previous_path : NULL)) <
		0 ||
	    asprintf(&env[n++], "CIM_GENERATION=%s", generation) < 0 ||
	    asprintf(&env[n++], "CIM_SIGNER=%s", str(entry ? entry->signer : NULL)) < 0 ||
	    asprintf(&env[n++], "CIM_HOST=%s", cfg->agent.hostname) < 0 ||
	    asprintf(&env[n++], "CIM_DEPLOYED=%s", str(st->deployed)) < 0 ||
	    asprintf(&env[n++], "CIM_STATE_DIR=%s", cfg->agent.state_dir) < 0) {
		env[n - 1] = NULL; /* asprintf leaves it undefined on failure */
		err_set(e, "out of memory");
		goto out;
	}
	o.env = (const char *const *)env;
	if (spawn_shell(cfg->report.command, &o, &r, e) < 0) {
		err_prefix(e, "report command");
		goto out;
	}
	if (r.timed_out)
		err_set(e, "report command timed out after %us", HOOK_TIMEOUT);
	else if (r.status != 0)
		err_set(e, "report command exited %d", r.status);
	else
		rc = 0;
	spawn_result_release(&r);
out:
	for (size_t i = 0; i < n; i++)
		free(env[i]);
	return rc;
}
