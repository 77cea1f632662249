#include "pull/pull.h"

#include "base/err.h"
#include "pull/allowed_signers.h"
#include "pull/mirror.h"
#include "pull/sshsig.h"
#include "pull/verify.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void shutdown_libgit2(void)
{
	git_libgit2_shutdown();
}

void pull_init(void)
{
	git_libgit2_init();
	atexit(shutdown_libgit2);
}

void pull_set_hooks(bool (*should_stop)(void), void (*tick)(void))
{
	mirror_set_hooks(should_stop, tick);
}

/* NULL when hex is NULL or not a commit id. */
static const git_oid *oid_of(const char *hex, git_oid *id)
{
	return hex && git_oid_fromstr(id, hex) == 0 ? id : NULL;
}

int pull_fetch(const struct pull_settings *s, const char *mirror, const char *baseline,
	       bool allow_rewind, struct pull_outcome *po, struct err *e)
{
	struct verify_policy policy = {.mode = s->verify, .allow_rewind = allow_rewind};
	struct allowed_signers as = {0};
	struct mirror_fetch_result fetched;
	git_repository *repo = NULL;
	git_oid base;
	int rc = PULL_ERROR;

	memset(po, 0, sizeof(*po));
	if (allowed_signers_load(&as, s->allowed_signers, e) < 0) {
		po->config_error = true;
		return PULL_ERROR;
	}
	as.signer = s->signer;
	int fetched_rc = mirror_fetch(mirror, s, &fetched, e);
	/* Said even when the fetch then failed: the mirror was rebuilt. */
	memcpy(po->repaired, fetched.repaired, sizeof(po->repaired));
	if (fetched_rc < 0 || mirror_open(&repo, mirror, e) < 0)
		goto out;
	po->changed = fetched.changed;
	memcpy(po->precheck, fetched.precheck, sizeof(po->precheck));
	policy.baseline = oid_of(baseline, &base);
	if (verify_policy_check(repo, &fetched.tip, &policy, &as, time(NULL), &po->result, e) < 0)
		goto out;
	rc = po->result.trusted ? PULL_TRUSTED : PULL_REFUSED;
	po->new_baseline = po->result.trusted && (!policy.baseline || po->result.rewound);
out:
	git_repository_free(repo);
	allowed_signers_release(&as);
	return rc;
}

static int resolve(git_repository *repo, const struct pull_verify_request *rq, git_oid *tip,
		   struct err *e)
{
	git_object *obj = NULL, *commit = NULL;
	int rc = 0;

	if (!rq->rev)
		return mirror_fetched_tip(repo, rq->branch, tip, e) < 0 ? PULL_VERIFY_UNREADABLE
									: 0;
	if (git_revparse_single(&obj, repo, rq->rev) < 0 ||
	    git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0) {
		err_set(e, "%s: not a commit: %s", rq->rev, git_error_last()->message);
		rc = PULL_VERIFY_BAD_INPUT;
	} else {
		git_oid_cpy(tip, git_object_id(commit));
	}
	git_object_free(commit);
	git_object_free(obj);
	return rc;
}

enum pull_verify_status pull_verify(const struct pull_verify_request *rq, struct verify_result *r,
				    struct err *e)
{
	struct allowed_signers as = {0};
	git_repository *repo = NULL;
	git_oid tip, base;
	int rc = PULL_VERIFY_BAD_INPUT;

	if (allowed_signers_load(&as, rq->allowed_signers, e) < 0)
		goto out;
	as.signer = rq->signer;
	if (git_repository_open_ext(&repo, rq->repo, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		if (rq->policy) {
			err_set(e, "no mirror at %s yet (run 'cim-agent fetch')", rq->repo);
			rc = PULL_VERIFY_NO_MIRROR;
		} else {
			err_set(e, "%s: %s", rq->repo, git_error_last()->message);
		}
		goto out;
	}
	rc = resolve(repo, rq, &tip, e);
	if (rc != 0)
		goto out;
	if (rq->policy) {
		/* Against the mirror: the same policy a deployment would apply. */
		struct verify_policy p = {.mode = rq->mode,
					  .baseline = oid_of(rq->baseline, &base)};
		rc = verify_policy_check(repo, &tip, &p, &as, time(NULL), r, e);
	} else {
		rc = verify_commit(repo, &tip, &as, time(NULL), r, e);
	}
	rc = rc < 0 ? PULL_VERIFY_UNREADABLE : PULL_VERIFY_JUDGED;
out:
	git_repository_free(repo);
	allowed_signers_release(&as);
	return (enum pull_verify_status)rc;
}

int pull_pin(const char *mirror, const char *commit, const char *ref, struct err *e)
{
	git_repository *repo = NULL;
	git_oid id;
	int rc = -1;

	if (git_oid_fromstr(&id, commit) < 0)
		return err_set(e, "bad commit id %s", commit);
	if (mirror_open(&repo, mirror, e) < 0)
		return -1;
	/* Nix needs every object of the history: a gap would fail the build,
	 * and the commit with it, for what is the mirror's fault. */
	if (mirror_check_complete(repo, mirror, &id, e) < 0)
		rc = -1;
	else if (git_reference_create(NULL, repo, ref, &id, 1, "cim-agent build") < 0)
		err_set(e, "%s: %s", ref, git_error_last()->message);
	else
		rc = 0;
	git_repository_free(repo);
	return rc;
}

int pull_signed_digest(const char *mirror, const char *commit, char out[COMMITSIG_DIGEST_HEX],
		       struct err *e)
{
	git_repository *repo = NULL;
	git_oid id;
	int rc;

	out[0] = '\0';
	if (git_oid_fromstr(&id, commit) < 0)
		return err_set(e, "bad commit id %s", commit);
	rc = mirror_open(&repo, mirror, e);
	if (rc == 0)
		rc = verify_signed_digest(repo, &id, out, e);
	git_repository_free(repo);
	return rc;
}

int pull_commit_subject(const char *mirror, const char *commit, char *out, size_t size,
			struct err *e)
{
	git_repository *repo = NULL;
	git_commit *c = NULL;
	const char *summary;
	git_oid id;
	int rc = -1;

	out[0] = '\0';
	if (git_oid_fromstr(&id, commit) < 0)
		return err_set(e, "bad commit id %s", commit);
	if (mirror_open(&repo, mirror, e) < 0)
		return -1;
	if (git_commit_lookup(&c, repo, &id) < 0 || !(summary = git_commit_summary(c)))
		err_set(e, "commit %s: %s", commit, git_error_last()->message);
	else {
		sshsig_printable(summary, strlen(summary), out, size);
		rc = 0;
	}
	git_commit_free(c);
	git_repository_free(repo);
	return rc;
}

int pull_probe(const struct pull_settings *s, struct err *e)
{
	return mirror_probe(s, e);
}
