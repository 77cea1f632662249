/* A cheap "did the branch move?" before a fetch: git protocol v2 ls-refs
 * with ref-prefix refs/heads/<branch>, over http(s) (libcurl) and git://.
 * A poll where nothing changed then downloads a few hundred bytes instead of
 * every ref of the repository.
 *
 * The answer is a hint from an untrusted server, never a reason to trust
 * anything: the caller may skip a fetch when it names the commit the mirror
 * already has, and fetches (and verifies) as before otherwise. Over http(s)
 * the token goes where the fetch would send it (transport_token_allowed)
 * and no redirect is followed. Meant for the fetch child (pull/isolate.h),
 * whose deadline bounds everything here; budget_ms bounds it more tightly,
 * so that a server that stalls ls-refs still gets the fetch. */
#ifndef CIM_LSREFS_H
#define CIM_LSREFS_H

#include "pull/mirror.h"
#include "pull/pktline.h"

#include <git2.h>
#include <stdbool.h>
#include <stddef.h>

struct err;

#define LSREFS_REFS_MAX	  100000 /* refs an answer may list (the server may ignore ref-prefix) */
#define LSREFS_ANSWER_MAX (8u << 20)  /* bytes of the ls-refs answer */
#define LSREFS_CAPS_MAX	  (64u << 10) /* bytes of the capability advertisement */
#define LSREFS_BRANCH_MAX 255	      /* bytes of a branch name we ask about */

/* Asks r->url where refs/heads/<r->branch> points. Returns 0 and sets *tip
 * when the server said it by ls-refs; 1 when there is no such answer (e says
 * why): not http(s) or git://, not protocol v2, the branch not in the
 * answer, a malformed answer, any error, or budget_ms ran out. */
int lsrefs_branch_tip(const struct pull_settings *r, unsigned budget_ms, git_oid *tip,
		      struct err *e);

/* --- reading an answer, one packet at a time (the transports, tests, fuzzing) */

enum lsrefs_stage {
	LSREFS_START,	      /* "# service=git-upload-pack" (http) or "version 2" */
	LSREFS_SERVICE_FLUSH, /* the flush after the service line */
	LSREFS_VERSION,	      /* "version 2" after the service line */
	LSREFS_CAPS,	      /* capabilities until a flush */
	LSREFS_REFS,	      /* the ls-refs answer until a flush */
	LSREFS_DONE,
};

struct lsrefs_answer {
	char want[LSREFS_BRANCH_MAX + 16]; /* refs/heads/<branch> */
	enum lsrefs_stage stage;
	bool offers_ls_refs;
	size_t refs;
	bool found;
	git_oid tip;
};

/* Fails when branch is no valid branch name or is too long. Needs
 * git_libgit2_init (the check is libgit2's). */
int lsrefs_answer_init(struct lsrefs_answer *a, const char *branch, struct err *e);

/* pktline_stream callbacks (arg is the answer): the capability
 * advertisement, then the ls-refs answer. 0 more, 1 complete, -1 unusable. */
int lsrefs_caps_packet(void *answer, const struct pktline *p, struct err *e);
int lsrefs_refs_packet(void *answer, const struct pktline *p, struct err *e);

/* The ls-refs request for a->want, as pkt-lines. Returns its length or -1. */
int lsrefs_request(const struct lsrefs_answer *a, char *out, size_t size);

#endif
