/* Installing a rendered manifest (manifest_parse_rendered()): what the
 * activation snippet of the NixOS and nix-darwin modules runs, through
 * `cim-agent secrets activate MANIFEST`, and the agent's check of a new
 * system's secrets before it switches to it.
 *
 * The manifest and the .age files it names are files of a system closure
 * (absolute store paths), so activating a system installs that system's
 * secrets: a rollback, by the agent or by hand, brings its secrets back. */
#ifndef CIM_SECRETS_ACTIVATE_H
#define CIM_SECRETS_ACTIVATE_H

#include <stdbool.h>
#include <stddef.h>

struct err;
struct age_identities;

/* Where a system has its rendered manifest, relative to the system's path. */
#define SECRETS_SYSTEM_MANIFEST "etc/cim-agent/secrets.conf"

/* A secrets_read_blob_fn (secrets/install.h) for absolute paths: the files of a
 * rendered manifest. ctx is unused. */
int secrets_abs_read_blob(void *ctx, const char *path, char **data, size_t *len, int *is_symlink,
			  struct err *e);

struct secrets_activate_opts {
	const char *dir; /* the symlink to the current generation ([secrets] dir) */
	bool allow_persistent;
	const struct age_identities *ids;
};

/* Decrypts every secret of the rendered manifest at manifest_path into a new
 * generation, with its owner and mode, switches dir to it, makes the secrets'
 * symlinks and deletes the older generations. A secret that does not decrypt,
 * an unknown owner or a bad manifest fails before dir moves (nothing changed).
 * *generation and *count (may be NULL) receive the generation and the number of
 * secrets. */
int secrets_activate(const char *manifest_path, const struct secrets_activate_opts *o,
		     unsigned *generation, size_t *count, struct err *e);

/* Decrypts every secret of the rendered manifest in system (a built system's
 * store path; SECRETS_SYSTEM_MANIFEST in it) in memory and discards the
 * plaintext. Returns 1 with *count set when all decrypted, 0 when the system
 * has no rendered manifest, -1 with e naming the secret otherwise. */
int secrets_check_system(const char *system, const struct age_identities *ids, size_t *count,
			 struct err *e);

#endif
