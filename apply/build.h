/* Building the host's flake output from exactly the verified revision of the
 * local mirror with `nix build` (Nix 2.8 and newer), and the nix-side
 * helpers around it: GC roots, closure diffs, profile updates. */
#ifndef CIM_BUILD_H
#define CIM_BUILD_H

#include "apply/settings.h"

#include <stddef.h>

struct err;

#define BUILD_MAX_ARGS 32
/* The mirror ref the cycle points at the verified commit before building. */
#define BUILD_REF "refs/cim/build"

/* Builds "git+file://<mirror>?ref=refs/cim/build&rev=<commit>#<attr>" with an out-link at
 * out_link (a GC root). nix's log streams to our stderr. On success
 * store_path holds the output path. */
int build_system(const struct nix_settings *nix, const char *mirror, const char *commit,
		 const char *out_link, char *store_path, size_t size, struct err *e);

/* Makes link an indirect GC root for path (keeps the running system alive). */
int build_add_root(const struct nix_settings *nix, const char *path, const char *link, struct err *e);

/* `nix store diff-closures from to`; *out is a heap string the caller frees. */
int build_diff_closures(const struct nix_settings *nix, const char *from, const char *to, char **out,
			struct err *e);

/* `nix-env -p profile --set path` with the nix-env next to the nix binary. */
int build_set_profile(const struct nix_settings *nix, const char *path, struct err *e);

/* Path of a sibling tool of the configured nix binary ("nix-env", ...). */
void build_nix_tool(const struct nix_settings *nix, const char *tool, char *buf, size_t size);

#endif
