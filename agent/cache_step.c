/* agent/cache_step.h: the build step of [nix] source = cache. */
#include "agent/cache_step.h"

#include "agent/config.h"
#include "agent/cycle_steps.h"
#include "agent/log.h"
#include "apply/activate.h"
#include "apply/deployfile.h"
#include "apply/realise.h"
#include "base/err.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whose fault a step's failure is. */
enum fault { FAULT_COMMIT, FAULT_HOST };

/* Ends the cycle: the commit failed (not tried again), or an error retried
 * next cycle. */
static int give_up(struct cycle *c, enum fault f, const char *why)
{
	if (f == FAULT_HOST) {
		cycle_set_result(c, CYCLE_ERROR, "%s", why);
		cycle_log(c, LOG_ERR, "%s; trying again next cycle", why);
		return STEP_DONE;
	}
	cycle_set_result(c, CYCLE_FAILED, "%s", why);
	cycle_log(c, LOG_ERR, "%s", c->res->message);
	cycle_remember_failed(c, c->res->commit, c->res->message);
	cycle_record_history(c, "cache-failed", c->res->message);
	return STEP_DONE;
}

/* The deployment file of the verified commit, parsed into d. A commit
 * without one, or with one that does not parse, failed; a mirror that
 * cannot be read is the host's. */
static int read_deployfile(struct cycle *c, struct deployfile *d, enum fault *f, struct err *e)
{
	const char *name = c->cfg->nix.deploy_file;
	struct pull_tree *tree = NULL;
	char *text = NULL;
	size_t len = 0;
	int is_symlink = 0, has, rc = -1;

	*f = FAULT_HOST;
	if (pull_tree_open(&tree, c->mirror, c->res->commit, DEPLOYFILE_MAX_BYTES, e) < 0)
		return -1;
	has = pull_tree_has(tree, name, e);
	if (has >= 0)
		*f = FAULT_COMMIT; /* from here on, what the commit holds is at fault */
	if (has == 0)
		err_set(e,
			"the commit has no %s ([nix] deploy_file); with [nix] source = cache the "
			"commit carries it (scripts/cim-publish writes it)",
			name);
	else if (has == 1 && pull_tree_read(tree, name, &text, &len, &is_symlink, e) < 0)
		err_prefix(e, "reading the deployment file");
	else if (has == 1 && is_symlink)
		err_set(e, "%s: is a symlink, or under one; commit the file itself", name);
	else if (has == 1)
		rc = deployfile_parse(d, name, text, len, e);
	free(text);
	pull_tree_close(tree);
	return rc;
}

/* The entry's system type, when it gives one, must be this machine's. */
static int check_system(struct cycle *c, const struct deployfile_host *h, struct err *e)
{
	char local[DEPLOYFILE_SYSTEM_MAX + 1];

	if (!h->system[0] || deployfile_local_system(local, sizeof(local)) < 0 ||
	    strcmp(local, h->system) == 0)
		return 0;
	return err_set(e, "%s gives %s an %s system; this host is %s", c->cfg->nix.deploy_file,
		       h->name, h->system, local);
}

/* The file does not name this host: it keeps what it runs. A host that has a
 * deployed system goes on with it as the commit's system (path set, false
 * returned): the build step then records the commit as deployed with
 * nothing activated, as a commit that builds what runs, so that the host
 * does not hold its wave of a staged rollout. A host with nothing deployed
 * yet has nothing to keep: the cycle ends up-to-date. */
static bool unlisted(struct cycle *c, char *path, size_t size)
{
	char running[PATH_MAX];
	const char *keeps = c->st.deployed_path;

	state_set_str(&c->st.unlisted, c->res->commit);
	if (keeps) {
		cycle_log(c, LOG_NOTICE, "%s is not in %s of %.12s: it keeps %s",
			  c->cfg->agent.hostname, c->cfg->nix.deploy_file, c->res->commit, keeps);
		snprintf(path, size, "%s", keeps);
		return false;
	}
	activate_current(&c->cfg->nix, running, sizeof(running));
	cycle_set_result(c, CYCLE_UP_TO_DATE,
			 "%s is not in %s of %.12s: it keeps %s, and deploys nothing",
			 c->cfg->agent.hostname, c->cfg->nix.deploy_file, c->res->commit,
			 running[0] ? running : "what it runs");
	cycle_log(c, LOG_NOTICE, "%s", c->res->message);
	return true;
}

bool cache_step_is_unlisted(const struct cycle *c)
{
	return c->cfg->nix.source == SOURCE_CACHE && c->st.unlisted &&
	       strcmp(c->st.unlisted, c->res->commit) == 0;
}

int cache_step_unless_unlisted(struct cycle *c, int next)
{
	if (c->cfg->nix.source != SOURCE_CACHE) {
		state_set_str(&c->st.unlisted, NULL);
		return next;
	}
	/* Only a host with nothing deployed stops here. One with a system goes
	 * on: the commit is recorded as deployed once it keeps that system,
	 * which may take an activation again after a crash, an error or a
	 * manual rollback (secrets, or another system running). */
	if (!cache_step_is_unlisted(c) || c->st.deployed_path)
		return next;
	cycle_set_result(c, CYCLE_UP_TO_DATE,
			 "%s is not in %s of %.12s: it keeps what it runs, and deploys nothing",
			 c->cfg->agent.hostname, c->cfg->nix.deploy_file, c->res->commit);
	return STEP_DONE;
}

static int realise(struct cycle *c, const struct deployfile_host *h, const char *gc_root,
		   char *path, size_t size)
{
	const struct realise_opts o = {
	    .nix = c->cfg->nix.nix, .gc_root = gc_root, .timeout = c->cfg->nix.build_timeout};
	struct err e = {{0}};
	enum realise_result r;

	cycle_log(c, LOG_INFO, "realising %s from this host's substituters", h->path);
	r = realise_path(h->path, &o, &e);
	if (r == REALISE_OK) {
		snprintf(path, size, "%s", h->path);
		return 0;
	}
	/* A substitution killed because the agent is stopping is not a verdict. */
	if (cycle_stop_requested())
		return cycle_stopped(c, "the substitution finished");
	return give_up(c, realise_commit_fault(r) ? FAULT_COMMIT : FAULT_HOST, e.msg);
}

void cache_step_describe(struct cycle *c, char *what, size_t size)
{
	if (c->cfg->nix.source == SOURCE_CACHE)
		snprintf(what, size, "taking the system of %.12s from %s and the binary caches",
			 c->res->commit, c->cfg->nix.deploy_file);
	else
		snprintf(what, size, "building %.12s (%s)", c->res->commit, c->cfg->nix.attr);
}

bool cache_step_realise(struct cycle *c, const char *gc_root, char *path, size_t size)
{
	struct deployfile d = {0};
	const struct deployfile_host *h;
	enum fault f;
	struct err e = {{0}};
	int rc;

	if (c->cfg->nix.source != SOURCE_CACHE)
		return false;
	/* Everything the file says is checked before anything is fetched. */
	if (read_deployfile(c, &d, &f, &e) < 0)
		return give_up(c, f, e.msg);
	h = deployfile_find(&d, c->cfg->agent.hostname);
	if (!h)
		rc = unlisted(c, path, size);
	else if (check_system(c, h, &e) < 0)
		rc = give_up(c, FAULT_COMMIT, e.msg);
	else {
		state_set_str(&c->st.unlisted, NULL);
		rc = realise(c, h, gc_root, path, size);
	}
	deployfile_release(&d);
	return rc != 0;
}
