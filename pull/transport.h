/* One connection to the configured remote, for the mirror: the token goes
 * only over https or to this very host (the parsed host, not a prefix of the
 * URL) and never follows a redirect to another host; ssh host keys are
 * checked against known_hosts; the ref advertisement is capped in count and
 * in the memory libgit2 may take to read it. Meant for the fetch child
 * (pull/isolate.h), which the deadline kills. */
#ifndef CIM_TRANSPORT_H
#define CIM_TRANSPORT_H

#include "pull/mirror.h"

#include <git2.h>
#include <stdbool.h>

struct err;

#define TRANSPORT_REFS_MAX     100000	   /* refs a remote may advertise */
#define TRANSPORT_REFS_MEM_MAX (64u << 20) /* bytes libgit2 may take to read them */

struct transport {
	const struct pull_settings *remote;
	git_remote *git;
	git_remote_callbacks cb;
	char *token; /* sodium_malloc'd, wiped on close */
	int credential_calls;
	char cert_error[512];
	const git_remote_head **heads;
	size_t nheads;
};

/* Connects for repo (detached when NULL) and reads the advertised refs. */
int transport_connect(struct transport *t, const struct pull_settings *r, git_repository *repo,
		      struct err *e);

/* The id the remote advertises for refname; false when it has none. */
bool transport_find(const struct transport *t, const char *refname, git_oid *out);

/* Downloads what the refspec needs into the repository's object database. */
int transport_download(struct transport *t, const char *refspec, struct err *e);

/* Disconnects and wipes the token; t may be half set up. */
void transport_close(struct transport *t);

/* Reads the token of token_file into *token, without its trailing newline,
 * in sodium_malloc'd memory the caller frees with sodium_free. */
int transport_token_read(const char *token_file, char **token, struct err *e);

/* Whether the token may be sent to url: https, or plain http to 127.0.0.1,
 * localhost or [::1] (tests). */
bool transport_token_allowed(const char *url);

#endif
