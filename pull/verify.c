#include "pull/verify.h"

#include "agent/err.h"
#include "pull/sshsig.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define GIT_NAMESPACE "git"

static int untrusted(struct verify_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int untrusted(struct verify_result *r, const char *fmt, ...)
{
	va_list ap;

	r->trusted = false;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return 0;
}

int verify_commit(git_repository *repo, const git_oid *id, const struct allowed_signers *as,
		  time_t now, struct verify_result *r, struct err *e)
{
	git_buf sig = {0}, signed_data = {0};
	git_commit *commit = NULL;
	const git_signature *committer;
	const struct allowed_signer *entry;
	struct sshsig parsed;
	struct err why = {{0}};
	int rc;

	memset(r, 0, sizeof(*r));
	git_oid_tostr(r->commit, sizeof(r->commit), id);
	if (git_commit_lookup(&commit, repo, id) < 0)
		return err_set(e, "commit %s: %s", r->commit, git_error_last()->message);
	committer = git_commit_committer(commit);
	snprintf(r->identity, sizeof(r->identity), "%s", committer->email);
	git_commit_free(commit);

	git_oid mutable_id; /* libgit2 1.5 takes a non-const oid here */
	git_oid_cpy(&mutable_id, id);
	rc = git_commit_extract_signature(&sig, &signed_data, repo, &mutable_id, NULL);
	if (rc == GIT_ENOTFOUND)
		return untrusted(r, "commit %s is not signed", r->commit);
	if (rc < 0)
		return err_set(e, "commit %s: %s", r->commit, git_error_last()->message);

	if (sshsig_parse(sig.ptr, sig.size, &parsed, &why) < 0) {
		untrusted(r, "commit %s: %s", r->commit, why.msg);
		goto out;
	}
	sshkey_fingerprint(&parsed.key, r->fingerprint);
	if (sshsig_verify(&parsed, GIT_NAMESPACE, signed_data.ptr, signed_data.size, &why) < 0) {
		untrusted(r, "commit %s: %s", r->commit, why.msg);
		goto out;
	}
	entry = allowed_signers_match(as, &parsed.key, r->identity, GIT_NAMESPACE, now, &why);
	if (!entry) {
		untrusted(r, "commit %s: %s", r->commit, why.msg);
		goto out;
	}
	snprintf(r->principals, sizeof(r->principals), "%s", entry->principals);
	r->trusted = true;
out:
	git_buf_dispose(&sig);
	git_buf_dispose(&signed_data);
	return 0;
}

/* Every commit reachable from tip but not from baseline must be trusted. */
static int verify_range(git_repository *repo, const git_oid *tip, const git_oid *baseline,
			const struct allowed_signers *as, time_t now, struct verify_result *r,
			struct err *e)
{
	git_revwalk *walk = NULL;
	git_oid id;
	int rc = 0;

	if (git_revwalk_new(&walk, repo) < 0 || git_revwalk_push(walk, tip) < 0 ||
	    (baseline && git_revwalk_hide(walk, baseline) < 0)) {
		rc = err_set(e, "walking history: %s", git_error_last()->message);
		goto out;
	}
	while ((rc = git_revwalk_next(&id, walk)) == 0) {
		if (verify_commit(repo, &id, as, now, r, e) < 0) {
			rc = -1;
			goto out;
		}
		if (!r->trusted)
			goto out;
	}
	rc = rc == GIT_ITEROVER ? 0 : err_set(e, "walking history: %s", git_error_last()->message);
out:
	git_revwalk_free(walk);
	return rc;
}

int verify_policy_check(git_repository *repo, const git_oid *tip, const struct verify_policy *p,
			const struct allowed_signers *as, time_t now, struct verify_result *r,
			struct err *e)
{
	char base_hex[GIT_OID_HEXSZ + 1];

	if (verify_commit(repo, tip, as, now, r, e) < 0)
		return -1;
	if (!r->trusted)
		return 0;
	if (p->baseline && !git_oid_equal(p->baseline, tip)) {
		git_oid_tostr(base_hex, sizeof(base_hex), p->baseline);
		int d = git_graph_descendant_of(repo, tip, p->baseline);
		if (d < 0)
			return err_set(e, "checking that %s descends from %s: %s", r->commit,
				       base_hex, git_error_last()->message);
		r->rewound = d != 1;
		if (r->rewound && !p->allow_rewind)
			return untrusted(r,
					 "commit %s does not descend from the last deployed commit "
					 "%s (a rewind or force-push); run 'cim-agent fetch "
					 "--allow-rewind' if this is intended",
					 r->commit, base_hex);
	}
	/* Without a baseline (first run) there is no range: the tip is the baseline. */
	if (p->mode == VERIFY_ALL && p->baseline) {
		struct verify_result tip_result = *r;
		if (verify_range(repo, tip, p->baseline, as, now, r, e) < 0)
			return -1;
		if (!r->trusted) {
			/* The verdict is about the tip; the reason names the culprit. */
			char first[sizeof(r->reason)];
			snprintf(first, sizeof(first), "%s", r->reason);
			*r = tip_result;
			r->trusted = false;
			snprintf(r->reason, sizeof(r->reason),
				 "verify = all: %s (between the baseline and tip %s)", first,
				 tip_result.commit);
			return 0;
		}
		*r = tip_result;
	}
	return 0;
}
