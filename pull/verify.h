/* Deciding whether a commit may be deployed: its SSH signature, its signer in
 * allowed_signers, and its ancestry relative to the trust baseline. */
#ifndef CIM_VERIFY_H
#define CIM_VERIFY_H

#include "pull/allowed_signers.h"
#include "pull/commitsig.h"
#include "pull/pull.h"
#include "pull/settings.h"

#include <git2.h>
#include <stdbool.h>
#include <time.h>

struct err;

/* Verifies one commit's signature. Returns 0 when the commit was judged (see
 * r->trusted and r->reason), -1 when it could not be read at all. */
int verify_commit(git_repository *repo, const git_oid *id, const struct allowed_signers *as,
		  time_t now, struct verify_result *r, struct err *e);

/* The signed_digest of commit id (empty when it is unsigned), to recognise
 * the same signed content under another commit id. */
int verify_signed_digest(git_repository *repo, const git_oid *id, char out[COMMITSIG_DIGEST_HEX],
			 struct err *e);

struct verify_policy {
	enum verify_mode mode;
	const git_oid *baseline; /* last deployed (or first verified) commit; NULL if none */
	bool allow_rewind;
};

/* Applies the deployment policy to tip: tip trusted; with VERIFY_ALL every
 * commit after the baseline trusted; tip a descendant of the baseline unless
 * allow_rewind. r describes the tip (or the first untrusted commit). */
int verify_policy_check(git_repository *repo, const git_oid *tip, const struct verify_policy *p,
			const struct allowed_signers *as, time_t now, struct verify_result *r,
			struct err *e);

#endif
