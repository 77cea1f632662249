#include "agent/pull_step.h"

#include "agent/config.h"
#include "agent/log.h"
#include "agent/state.h"
#include "base/err.h"
#include "base/fileio.h"
#include "base/url.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int pull_mirror_path(const struct config *cfg, char *buf, size_t size)
{
	return snprintf(buf, size, "%s/mirror.git", cfg->agent.state_dir) < (int)size ? 0 : -1;
}

/* What the fetch learned goes to the state, refusals included. */
static void record(struct state *st, const struct config *cfg, const struct pull_outcome *po)
{
	char shown_url[1024];

	url_redact(cfg->repo.url, shown_url, sizeof(shown_url));
	state_set(st, "remote_url", shown_url); /* the state file may be world-readable */
	state_set(st, "branch", cfg->repo.branch);
	state_set(st, "remote_tip", po->result.commit);
	state_set_int(st, "fetched_at", (int64_t)time(NULL));
	if (po->result.trusted) {
		state_set(st, "verified", po->result.commit);
		state_set(st, "verified_signer", po->result.identity);
		state_set(st, "verified_key", po->result.fingerprint);
		state_set(st, "refused", NULL);
		state_set(st, "refused_reason", NULL);
		if (po->new_baseline)
			state_set(st, "baseline", po->result.commit);
	} else {
		state_set(st, "refused", po->result.commit);
		state_set(st, "refused_reason", po->result.reason);
	}
}

int pull_step(const struct config *cfg, bool allow_rewind, struct pull_outcome *po, struct err *e)
{
	struct state st = {0};
	char mirror[4096];
	int rc = PULL_ERROR;

	memset(po, 0, sizeof(*po));
	if (dir_create(cfg->agent.state_dir, 0700, e) < 0 ||
	    state_load(&st, cfg->agent.state_dir, e) < 0)
		goto out;
	if (pull_mirror_path(cfg, mirror, sizeof(mirror)) < 0) {
		err_set(e, "%s: path too long", cfg->agent.state_dir);
		goto out;
	}
	rc = pull_fetch(&cfg->repo, mirror, state_get(&st, "baseline"), allow_rewind, po, e);
	if (po->repaired[0])
		log_msg(LOG_WARNING, NULL, "fetch", "%s", po->repaired);
	if (rc == PULL_ERROR)
		goto out;
	record(&st, cfg, po);
	if (state_save(&st, e) < 0)
		rc = PULL_ERROR;
out:
	state_release(&st);
	return rc;
}
