/* The bare mirror of the configuration repository under state_dir: fetches
 * exactly one branch (never a work tree) over https (token), ssh (deploy key,
 * known_hosts check) or a local path / file:// URL, with a timeout. The
 * caller has initialised libgit2 (git_libgit2_init). */
#ifndef CIM_MIRROR_H
#define CIM_MIRROR_H

#include <git2.h>
#include <stdbool.h>

struct err;

#define MIRROR_FETCHED_REF_PREFIX "refs/remotes/origin/"
#define MIRROR_TOKEN_MAX          4096

struct mirror_remote {
	const char *url;
	const char *branch;
	const char *token_file;  /* https: the token is the password */
	const char *ssh_key;     /* ssh: private key of the deploy key */
	const char *known_hosts; /* ssh: required, the host key must be listed */
	unsigned timeout;        /* seconds for the whole fetch */
};

/* Opens the bare mirror at path, creating it when absent. */
int mirror_open(git_repository **repo, const char *path, struct err *e);

/* Fetches the branch into refs/remotes/origin/<branch> and stores its tip in
 * *tip. Downloads nothing when the tip is already present. *changed tells
 * whether the fetched ref moved. */
int mirror_fetch(git_repository *repo, const struct mirror_remote *r, git_oid *tip, bool *changed,
		 struct err *e);

/* Connects to the remote and lists its refs, downloading nothing: is the
 * remote reachable with our credentials? */
int mirror_probe(const struct mirror_remote *r, struct err *e);

/* Resolves the last fetched tip of branch. */
int mirror_fetched_tip(git_repository *repo, const char *branch, git_oid *tip, struct err *e);

#endif
