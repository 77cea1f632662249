/* The secrets manifest: an INI file in the configuration repository (so the
 * commit signature covers it) naming each secret to install.
 *
 *   [db-password]                      ; the secret's name: [A-Za-z0-9._-]+
 *   file  = secrets/db-password.age    ; the .age file, relative to the repo root
 *   path  = postgres/db-password       ; installed name (default: the section name)
 *   owner = postgres                   ; default root
 *   group = postgres                   ; default: the owner's primary group
 *   mode  = 0440                       ; octal, at most 0777; default 0400
 *   hosts = db-*, backup1              ; fnmatch patterns; default: every host
 *
 * path is relative to the secrets directory ([secrets] dir), or an absolute
 * path that lies under it (it is then taken relative to it; secrets_install()
 * refuses any other absolute path). Neither file nor path may contain "." or
 * ".." components, empty components or control characters; file must be
 * relative. Errors name the manifest, the line and the key.
 *
 * The rendered variant (manifest_parse_rendered(); README "Secrets") is what
 * the NixOS and nix-darwin modules write into a system: file is an absolute
 * clean path (the store copy of the .age file), hosts is refused (the system
 * names its own secrets), and symlink = /abs/path may name an extra path made
 * a symlink to the installed file. */
#ifndef CIM_SECRETS_MANIFEST_H
#define CIM_SECRETS_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct err;

#define MANIFEST_MAX_BYTES   (64 * 1024)
#define MANIFEST_MAX_SECRETS 256
#define MANIFEST_MAX_PATH    255

struct manifest_secret {
	char *name;
	char *file;
	char *path;  /* as written; see secrets_install() for absolute paths */
	char *owner; /* "root" when not given */
	char *group; /* NULL: the owner's primary group */
	mode_t mode;
	char *hosts;   /* NULL: every host */
	char *symlink; /* rendered manifests only; NULL: none */
	int line;      /* line of the [name] header */
};

struct manifest {
	char *source; /* the name given to manifest_parse(), for messages */
	struct manifest_secret v[MANIFEST_MAX_SECRETS];
	size_t n;
};

/* Parses text (len bytes; name is used in messages, e.g. "secrets/secrets.conf")
 * into m, which must be zeroed. On failure m holds nothing manifest_release()
 * does not free. */
int manifest_parse(struct manifest *m, const char *name, const char *text, size_t len,
		   struct err *e);

/* The rendered variant: see the top of this file. */
int manifest_parse_rendered(struct manifest *m, const char *name, const char *text, size_t len,
			    struct err *e);

/* True when s is meant for hostname (no hosts key, or a pattern matches). */
bool manifest_applies(const struct manifest_secret *s, const char *hostname);

/* Checks a relative path for the manifest's rules (no "..", ".", empty
 * components, leading '/', control characters; at most MANIFEST_MAX_PATH). */
bool manifest_path_ok(const char *path);

void manifest_release(struct manifest *m);

#endif
