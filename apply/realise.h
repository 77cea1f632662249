/* Realising a prebuilt system for [nix] source = cache: the store path the
 * verified commit's deployment file names is substituted, with its closure,
 * from the host's own substituters (nix.conf: substituters,
 * trusted-public-keys), and a GC root is taken for it, in one
 *
 *     nix-store --option require-sigs true --option substitute true \
 *         --realise PATH --add-root ROOT --indirect
 *
 * require-sigs is forced on whatever the host's nix.conf says, and
 * --no-check-sigs is never passed: every path of the closure must carry a
 * signature by a key in trusted-public-keys. An output path is never built by
 * nix-store --realise, so the host neither evaluates nor builds anything.
 *
 * nix-store exits 1 for every kind of failure; its messages tell them apart
 * (the same wording from Nix 2.4 to today):
 *   "don't know how to build these paths"       no substituter has the path
 *   "is not signed by any of the keys in ..."   unsigned, or by another key
 *   "unable to download ..."                    a cache that cannot be reached */
#ifndef CIM_REALISE_H
#define CIM_REALISE_H

#include <stdbool.h>
#include <stddef.h>

struct err;

enum realise_result {
	REALISE_OK = 0,
	/* The commit's fault: it names a path that none of the host's
	 * substituters has (or that is not a store path at all). */
	REALISE_MISSING,
	/* The commit's fault: the cache's copy of the path, or of a path of its
	 * closure, is unsigned or not signed by a key the host trusts. */
	REALISE_UNTRUSTED,
	/* Not the commit's fault, worth retrying: nix cannot be run, a timeout,
	 * a full disk, a cache that cannot be reached or is broken, no
	 * substituter configured, anything not recognised. */
	REALISE_HOST_FAULT,
};

#define REALISE_OUTPUT_MAX (1024 * 1024) /* of nix-store's output, kept to classify it */

struct realise_opts {
	const char *nix;     /* the nix binary ([nix] nix); nix-store is taken beside it */
	const char *gc_root; /* the indirect GC root to make, e.g. <state_dir>/gcroots/next */
	unsigned timeout;    /* seconds for the whole substitution; 0 for none */
};

/* Substitutes path and roots it at o->gc_root. On anything but REALISE_OK, e
 * says what happened and what to do, with nix's own line. */
enum realise_result realise_path(const char *path, const struct realise_opts *o, struct err *e);

/* True for the results that mark the commit failed: REALISE_MISSING and
 * REALISE_UNTRUSTED. */
bool realise_commit_fault(enum realise_result r);

/* "ok", "missing", "untrusted", "host-fault": for status and logs. */
const char *realise_result_name(enum realise_result r);

/* What nix-store's exit (status, 128+N for a signal, -1 when it did not
 * start) and output (stdout and stderr together) mean. For the unit tests. */
enum realise_result realise_classify(int status, bool timed_out, const char *output);

#endif
