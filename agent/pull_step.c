#include "agent/pull_step.h"

#include "agent/config.h"
#include "agent/err.h"
#include "agent/fileio.h"
#include "agent/log.h"
#include "agent/state.h"
#include "pull/allowed_signers.h"
#include "pull/mirror.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int pull_mirror_path(const struct config *cfg, char *buf, size_t size)
{
	return snprintf(buf, size, "%s/mirror.git", cfg->agent.state_dir) < (int)size ? 0 : -1;
}

int pull_step(const struct config *cfg, bool allow_rewind, struct pull_outcome *po,
	      struct err *e)
{
	const struct mirror_remote remote = {
		.url = cfg->repo.url,
		.branch = cfg->repo.branch,
		.token_file = cfg->repo.token_file,
		.ssh_key = cfg->repo.ssh_key,
		.known_hosts = cfg->repo.known_hosts,
		.timeout = cfg->repo.fetch_timeout,
	};
	struct allowed_signers as = {0};
	git_repository *repo = NULL;
	struct state st = {0};
	struct mirror_fetch_result fetched;
	struct verify_policy policy = {.mode = cfg->repo.verify, .allow_rewind = allow_rewind};
	char mirror[4096];
	const char *base_hex;
	git_oid base;
	int rc = PULL_ERROR;

	memset(po, 0, sizeof(*po));
	if (allowed_signers_load(&as, cfg->repo.allowed_signers, e) < 0) {
		po->config_error = true;
		return PULL_ERROR;
	}
	if (dir_create(cfg->agent.state_dir, 0700, e) < 0 || state_load(&st, cfg->agent.state_dir, e) < 0)
		goto out;
	if (pull_mirror_path(cfg, mirror, sizeof(mirror)) < 0) {
		err_set(e, "%s: path too long", cfg->agent.state_dir);
		goto out;
	}
	int fetched_rc = mirror_fetch(mirror, &remote, &fetched, e);
	/* Said even when the fetch then failed: the mirror was rebuilt. */
	if (fetched.repaired[0])
		log_msg(LOG_WARNING, NULL, "fetch", "%s", fetched.repaired);
	if (fetched_rc < 0 || mirror_open(&repo, mirror, e) < 0)
		goto out;
	po->tip = fetched.tip;
	po->changed = fetched.changed;
	snprintf(po->precheck, sizeof(po->precheck), "%s", fetched.precheck);

	git_oid_tostr(po->result.commit, sizeof(po->result.commit), &po->tip);
	char shown_url[1024];
	config_redact_url(cfg->repo.url, shown_url, sizeof(shown_url));
	state_set(&st, "remote_url", shown_url); /* the state file may be world-readable */
	state_set(&st, "branch", cfg->repo.branch);
	state_set(&st, "remote_tip", po->result.commit);
	state_set_int(&st, "fetched_at", (int64_t)time(NULL));

	base_hex = state_get(&st, "baseline");
	if (base_hex && git_oid_fromstr(&base, base_hex) == 0)
		policy.baseline = &base;
	if (verify_policy_check(repo, &po->tip, &policy, &as, time(NULL), &po->result, e) < 0)
		goto out;

	if (po->result.trusted) {
		state_set(&st, "verified", po->result.commit);
		state_set(&st, "verified_signer", po->result.identity);
		state_set(&st, "verified_key", po->result.fingerprint);
		state_set(&st, "refused", NULL);
		state_set(&st, "refused_reason", NULL);
		/* The baseline starts at the first verified commit; afterwards only a
		 * successful deployment (or an accepted rewind) moves it. */
		if (!policy.baseline || po->result.rewound)
			state_set(&st, "baseline", po->result.commit);
		rc = PULL_TRUSTED;
	} else {
		state_set(&st, "refused", po->result.commit);
		state_set(&st, "refused_reason", po->result.reason);
		rc = PULL_REFUSED;
	}
	if (state_save(&st, e) < 0)
		rc = PULL_ERROR;
out:
	state_release(&st);
	git_repository_free(repo);
	allowed_signers_release(&as);
	return rc;
}
