#include "agent/pull_step.h"

#include "agent/config.h"
#include "agent/cycle.h"
#include "agent/log.h"
#include "agent/state.h"
#include "base/err.h"
#include "base/url.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int pull_mirror_path(const struct config *cfg, char *buf, size_t size)
{
	return snprintf(buf, size, "%s/mirror.git", cfg->agent.state_dir) < (int)size ? 0 : -1;
}

/* What the fetch learned goes to the state, refusals included. */
static int record(struct agent_state *st, const struct config *cfg, const struct pull_outcome *po)
{
	const struct verify_result *r = &po->result;
	char shown_url[1024];
	int rc;

	url_redact(cfg->repo.url, shown_url, sizeof(shown_url));
	/* the state file may be world-readable: the URL without credentials */
	rc = state_set_str(&st->remote_url, shown_url) |
	     state_set_str(&st->branch, cfg->repo.branch) |
	     state_set_str(&st->remote_tip, r->commit);
	st->fetched_at = (int64_t)time(NULL);
	if (r->trusted) {
		rc |= state_set_str(&st->verified, r->commit) |
		      state_set_str(&st->verified_signer, r->identity) |
		      state_set_str(&st->verified_key, r->fingerprint) |
		      state_set_str(&st->refused, NULL) | state_set_str(&st->refused_reason, NULL);
		if (po->new_baseline)
			rc |= state_set_str(&st->baseline, r->commit);
	} else {
		rc |= state_set_str(&st->refused, r->commit) |
		      state_set_str(&st->refused_reason, r->reason);
	}
	return rc;
}

int pull_step(const struct config *cfg, struct agent_state *st, bool allow_rewind,
	      struct pull_outcome *po, struct err *e)
{
	char mirror[4096];
	int rc;

	memset(po, 0, sizeof(*po));
	if (pull_mirror_path(cfg, mirror, sizeof(mirror)) < 0)
		return err_set(e, "%s: path too long", cfg->agent.state_dir);
	rc = pull_fetch(&cfg->repo, mirror, st->baseline, allow_rewind, po, e);
	if (po->repaired[0])
		log_msg(LOG_WARNING, NULL, cycle_phase_name(PHASE_FETCH), "%s", po->repaired);
	if (rc != PULL_ERROR && record(st, cfg, po) < 0)
		return err_set(e, "out of memory");
	return rc;
}
