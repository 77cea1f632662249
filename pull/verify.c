#include "pull/verify.h"

#include "base/err.h"
#include "pull/commitsig.h"
#include "pull/sshsig.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define GIT_NAMESPACE "git"

static int untrusted(struct verify_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int untrusted(struct verify_result *r, const char *fmt, ...)
{
	va_list ap;

	r->trusted = false;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return 0;
}

/* Reads the raw commit object: the signature is looked up in exactly the
 * bytes the commit id names, as git does. Returns 1 when the size alone
 * judges it (r says why). */
static int read_commit(git_repository *repo, const git_oid *id, struct verify_result *r,
		       git_odb_object **obj, struct err *e)
{
	git_odb *odb = NULL;
	git_object_t type;
	size_t size;
	int rc = 0;

	if (git_repository_odb(&odb, repo) < 0 || git_odb_read_header(&size, &type, odb, id) < 0)
		rc = err_set(e, "commit %s: %s", r->commit, git_error_last()->message);
	else if (type != GIT_OBJECT_COMMIT)
		rc =
		    err_set(e, "%s is a %s, not a commit", r->commit, git_object_type2string(type));
	else if (size > COMMITSIG_MAX_BYTES)
		rc = untrusted(r, "commit %s is larger than %d bytes", r->commit,
			       COMMITSIG_MAX_BYTES) +
		     1;
	else if (git_odb_read(obj, odb, id) < 0)
		rc = err_set(e, "commit %s: %s", r->commit, git_error_last()->message);
	git_odb_free(odb);
	return rc;
}

/* The committer's email, as libgit2 parses it (the object holds no NUL). */
static int committer_email(git_repository *repo, const git_oid *id, char *out, size_t outsz,
			   struct err *e)
{
	git_commit *commit = NULL;
	char hex[GIT_OID_HEXSZ + 1];

	if (git_commit_lookup(&commit, repo, id) < 0)
		return err_set(e, "commit %s: %s", git_oid_tostr(hex, sizeof(hex), id),
			       git_error_last()->message);
	snprintf(out, outsz, "%s", git_commit_committer(commit)->email);
	git_commit_free(commit);
	return 0;
}

static void check_signature(const struct commitsig *cs, const char *email,
			    const struct allowed_signers *as, time_t now, struct verify_result *r)
{
	const struct allowed_signer *entry;
	struct sshsig parsed;
	struct err why = {{0}};

	if (sshsig_parse(cs->signature, cs->signature_len, &parsed, &why) < 0) {
		untrusted(r, "commit %s: %s", r->commit, why.msg);
		return;
	}
	sshkey_fingerprint(&parsed.key, r->fingerprint);
	if (sshsig_verify(&parsed, GIT_NAMESPACE, cs->payload, cs->payload_len, &why) < 0) {
		untrusted(r, "commit %s: %s", r->commit, why.msg);
		return;
	}
	entry = allowed_signers_match(as, &parsed.key, email, GIT_NAMESPACE, now, &why);
	if (!entry) {
		untrusted(r, "commit %s: %s", r->commit, why.msg);
		return;
	}
	snprintf(r->principals, sizeof(r->principals), "%s", entry->principals);
	r->trusted = true;
}

int verify_commit(git_repository *repo, const git_oid *id, const struct allowed_signers *as,
		  time_t now, struct verify_result *r, struct err *e)
{
	git_odb_object *obj = NULL;
	struct commitsig cs = {0};
	struct err why = {{0}};
	char email[256];
	int rc;

	memset(r, 0, sizeof(*r));
	git_oid_tostr(r->commit, sizeof(r->commit), id);
	rc = read_commit(repo, id, r, &obj, e);
	if (rc != 0)
		return rc > 0 ? 0 : -1;
	if (commitsig_split(git_odb_object_data(obj), git_odb_object_size(obj), &cs, &why) < 0) {
		untrusted(r, "commit %s %s", r->commit, why.msg);
		goto out;
	}
	if (committer_email(repo, id, email, sizeof(email), e) < 0) {
		rc = -1;
		goto out;
	}
	/* Shown and stored, never matched: control characters are escaped. */
	sshsig_printable(email, strlen(email), r->identity, sizeof(r->identity));
	if (!cs.signature) {
		untrusted(r, "commit %s is not signed", r->commit);
		goto out;
	}
	commitsig_digest(&cs, r->signed_digest);
	check_signature(&cs, email, as, now, r);
out:
	commitsig_release(&cs);
	git_odb_object_free(obj);
	return rc;
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

int verify_signed_digest(git_repository *repo, const git_oid *id, char out[COMMITSIG_DIGEST_HEX],
			 struct err *e)
{
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	struct commitsig cs = {0};
	int rc = 0;

	out[0] = '\0';
	if (git_repository_odb(&odb, repo) < 0 || git_odb_read(&obj, odb, id) < 0)
		rc = err_set(e, "%s", git_error_last()->message);
	else if (commitsig_split(git_odb_object_data(obj), git_odb_object_size(obj), &cs, e) < 0)
		rc = -1;
	else if (cs.signature)
		commitsig_digest(&cs, out);
	commitsig_release(&cs);
	git_odb_object_free(obj);
	git_odb_free(odb);
	return rc;
}
