/* The bare mirror of the configuration repository under state_dir: fetches
 * exactly one branch (never a work tree) over https (token), ssh (deploy key,
 * known_hosts check) or a local path / file:// URL.
 *
 * Every fetch runs in a child process that is killed at [repo]
 * fetch_timeout or when the agent stops (pull/isolate.h). What it downloads
 * waits in a quarantine (pull/quarantine.h) until the new tip's whole history
 * is known to be there (pull/integrity.h): a ref of the mirror only ever
 * names a complete commit. A mirror found damaged is discarded and fetched
 * again in full. The caller has initialised libgit2 (pull_init). */
#ifndef CIM_MIRROR_H
#define CIM_MIRROR_H

#include "pull/settings.h"

#include <git2.h>
#include <stdbool.h>

struct err;

#define MIRROR_FETCHED_REF_PREFIX "refs/remotes/origin/"
#define MIRROR_TOKEN_MAX	  4096
/* In the mirror: present once every ref of it is known to name a complete
 * history; a mirror without it is checked in full before the next fetch. */
#define MIRROR_COMPLETE_MARKER "cim-complete"


struct mirror_fetch_result {
	git_oid tip;
	bool changed;	     /* the fetched ref moved */
	char repaired[1024]; /* set when the mirror had to be rebuilt: what was wrong */
	char precheck[512];  /* what the ls-refs pre-check found; "" when it did not run */
};

/* A fetch ends early when should_stop() says so; tick() runs while it waits
 * (the daemon pings the watchdog). Either may be NULL. */
void mirror_set_hooks(bool (*should_stop)(void), void (*tick)(void));

/* Opens the bare mirror at path, creating it when absent. */
int mirror_open(git_repository **repo, const char *path, struct err *e);

/* Fetches the branch into refs/remotes/origin/<branch> of the mirror at path
 * and says where its tip is. Downloads nothing when the ref is already
 * there: when the mirror has the branch, a protocol v2 ls-refs asks first
 * (pull/lsrefs.h) and the fetch is skipped when the server names the tip the
 * mirror has; otherwise (no v2, ssh, a local path, any error) it fetches.
 * out->repaired may be set also when the fetch then failed. */
int mirror_fetch(const char *path, const struct pull_settings *r, struct mirror_fetch_result *out,
		 struct err *e);

/* Connects to the remote and lists its refs, downloading nothing: is the
 * remote reachable with our credentials? */
int mirror_probe(const struct pull_settings *r, struct err *e);

/* Resolves the last fetched tip of branch. */
int mirror_fetched_tip(git_repository *repo, const char *branch, git_oid *tip, struct err *e);

/* Checks that tip's whole history is in the mirror at path before it is
 * built. When something is missing the mirror is marked for a full check,
 * which the next fetch repairs, and the error says so. */
int mirror_check_complete(git_repository *repo, const char *path, const git_oid *tip,
			  struct err *e);

#endif
