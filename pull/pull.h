/* What the rest of the agent asks of pull/: fetch and verify the tracked
 * branch, and read what a verified commit holds. libgit2 stays behind this
 * header (no git type appears in it); commits are named by their hex id.
 * The mirror is the bare repository pull/mirror.h describes. */
#ifndef CIM_PULL_H
#define CIM_PULL_H

#include "pull/commitsig.h"
#include "pull/settings.h"
#include "pull/sshsig.h"

#include <stdbool.h>
#include <stddef.h>

struct err;

#define PULL_COMMIT_HEX 41 /* a commit id in hex, NUL included */

/* Starts libgit2 for this process, and stops it at exit (so that leak
 * checkers see only our own memory). Before any other call of this header. */
void pull_init(void);

/* A fetch ends early when should_stop() says so; tick() runs while it waits
 * (the daemon pings the watchdog). Either may be NULL. */
void pull_set_hooks(bool (*should_stop)(void), void (*tick)(void));

/* The verdict on one commit. */
struct verify_result {
	bool trusted;
	char commit[PULL_COMMIT_HEX];
	char identity[256];   /* committer email, control characters escaped */
	char principals[256]; /* principals of the allowed_signers line that matched */
	char fingerprint[SSHKEY_FP_SIZE];
	char reason[1024]; /* why it is not trusted */
	bool rewound;	   /* trusted only through allow_rewind: not a descendant */
	/* What the signature covers (commitsig_digest), empty when unsigned: the
	 * same for every re-encoding of one signed commit. */
	char signed_digest[COMMITSIG_DIGEST_HEX];
};

enum { PULL_ERROR = -1, PULL_TRUSTED = 0, PULL_REFUSED = 1 };

struct pull_outcome {
	struct verify_result result; /* the tip's verdict */
	bool changed;		     /* the fetched tip moved */
	bool config_error;	     /* the failure was in the configuration (exit 2) */
	/* The tip is trusted and becomes the trust baseline: there was none
	 * yet, or allow_rewind accepted a rewind. Otherwise only a deployment
	 * moves the baseline. */
	bool new_baseline;
	char repaired[1024]; /* the mirror had to be rebuilt: what was wrong ("" if not) */
	char precheck[512];  /* what the ls-refs pre-check found; "" when it did not run */
};

/* Fetches s->branch into the mirror and applies the verification policy
 * (s->verify, descending from baseline, a commit id or NULL) to its tip.
 * Returns PULL_TRUSTED or PULL_REFUSED (po->result says why), or PULL_ERROR
 * with e filled; po->repaired may be set in every case. */
int pull_fetch(const struct pull_settings *s, const char *mirror, const char *baseline,
	       bool allow_rewind, struct pull_outcome *po, struct err *e);

/* What pull_verify() judges. */
struct pull_verify_request {
	const char *repo;	     /* a repository, or the mirror */
	const char *allowed_signers; /* file */
	const char *rev;	     /* any revision; NULL: the fetched tip of branch */
	const char *branch;
	/* The deployment policy, as pull_fetch applies it, with mode and
	 * baseline (may be NULL); without it only the commit's signature. */
	bool policy;
	enum verify_mode mode;
	const char *baseline;
	enum signer_policy signer; /* also without policy: whose key may sign */
};

enum pull_verify_status {
	PULL_VERIFY_JUDGED = 0, /* r says whether it is trusted */
	PULL_VERIFY_BAD_INPUT,	/* the signers file, the repository or rev is wrong */
	PULL_VERIFY_NO_MIRROR,	/* rq->repo is not a repository (the mirror: no fetch yet) */
	PULL_VERIFY_UNREADABLE, /* the commit could not be read or judged */
};

/* Judges one commit. e says what went wrong unless PULL_VERIFY_JUDGED. */
enum pull_verify_status pull_verify(const struct pull_verify_request *rq, struct verify_result *r,
				    struct err *e);

/* Points ref of the mirror at commit, once its whole history is known to be
 * in the mirror (nix builds from exactly that ref). */
int pull_pin(const char *mirror, const char *commit, const char *ref, struct err *e);

/* The signed_digest of commit (empty when it is unsigned). */
int pull_signed_digest(const char *mirror, const char *commit, char out[COMMITSIG_DIGEST_HEX],
		       struct err *e);

/* The subject (first line) of commit's message, control characters escaped,
 * truncated to size - 1 bytes. */
int pull_commit_subject(const char *mirror, const char *commit, char *out, size_t size,
			struct err *e);

/* Connects to the remote and lists its refs, downloading nothing: 0 when it
 * is reachable with our credentials. */
int pull_probe(const struct pull_settings *s, struct err *e);

/* The files of one commit of the mirror, read from its tree (never from a
 * work tree). */
struct pull_tree;

/* Opens commit's tree; blobs larger than max_blob bytes are refused. */
int pull_tree_open(struct pull_tree **t, const char *mirror, const char *commit, size_t max_blob,
		   struct err *e);

/* 1 when the tree has path (a file, a directory or a link), 0 when not. */
int pull_tree_has(struct pull_tree *t, const char *path, struct err *e);

/* Reads path of the tree (ctx) into a NUL-terminated heap buffer *data of
 * *len bytes. When path, or a directory on the way to it, is a symlink, sets
 * *is_symlink = 1 and returns 0 with *data = NULL. The shape of
 * secrets_read_blob_fn. */
int pull_tree_read(void *ctx, const char *path, char **data, size_t *len, int *is_symlink,
		   struct err *e);

void pull_tree_close(struct pull_tree *t);

#endif
