/* Inside pull/lsrefs: the remote's URL taken apart, and the two ways of
 * asking (smart HTTP through libcurl, git:// over TCP). Not for other
 * modules: use lsrefs_branch_tip. */
#ifndef CIM_LSREFS_NET_H
#define CIM_LSREFS_NET_H

#include "pull/lsrefs.h"

struct err;

enum lsrefs_scheme { LSREFS_HTTP, LSREFS_HTTPS, LSREFS_GIT };

struct lsrefs_url {
	enum lsrefs_scheme scheme;
	char user[256];	    /* of user[:password]@ (http), "" when absent */
	char hostport[512]; /* the authority without the user part, as written */
	char host[256];	    /* without an IPv6 literal's brackets */
	char port[8];	    /* "" when absent */
	const char *path;   /* into the URL given; "/" at least */
};

/* Takes url apart; fails for anything but http://, https://, git://, and
 * for URLs with a query or a fragment. */
int lsrefs_url_parse(const char *url, struct lsrefs_url *u, struct err *e);

/* Each fills a from the capability advertisement and the ls-refs answer,
 * giving up at deadline (clock_monotonic). 0 when a holds a whole answer. */
int lsrefs_ask_http(const struct pull_settings *r, const struct lsrefs_url *u,
		    struct lsrefs_answer *a, double deadline, struct err *e);
int lsrefs_ask_git(const struct lsrefs_url *u, struct lsrefs_answer *a, double deadline,
		   struct err *e);

#endif
