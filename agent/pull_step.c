#include "agent/pull_step.h"

#include "agent/config.h"
#include "agent/cycle.h"
#include "agent/fleet_publish.h"
#include "agent/log.h"
#include "agent/state.h"
#include "base/err.h"
#include "base/url.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static bool offline_next;

void pull_step_set_offline(bool offline)
{
	offline_next = offline;
}

/* The tip already fetched, judged again (no network): what the gate needs
 * when only the fleet changed. */
static int verify_mirror_tip(const struct config *cfg, const char *mirror, const char *baseline,
			     struct pull_outcome *po, struct err *e)
{
	const struct pull_verify_request rq = {.repo = mirror,
					       .allowed_signers = cfg->repo.allowed_signers,
					       .branch = cfg->repo.branch,
					       .policy = true,
					       .mode = cfg->repo.verify,
					       .baseline = baseline};

	if (pull_verify(&rq, &po->result, e) != PULL_VERIFY_JUDGED)
		return PULL_ERROR;
	return po->result.trusted ? PULL_TRUSTED : PULL_REFUSED;
}

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
	/* A wiped state_dir: the fleet bucket remembers what this host ran. */
	if (!allow_rewind)
		fleet_restore_baseline(cfg, st);
	if (offline_next && st->remote_tip)
		rc = verify_mirror_tip(cfg, mirror, st->baseline, po, e);
	else
		rc = pull_fetch(&cfg->repo, mirror, st->baseline, allow_rewind, po, e);
	if (po->repaired[0])
		log_msg(LOG_WARNING, NULL, cycle_phase_name(PHASE_FETCH), "%s", po->repaired);
	if (rc != PULL_ERROR && record(st, cfg, po) < 0)
		return err_set(e, "out of memory");
	return rc;
}
