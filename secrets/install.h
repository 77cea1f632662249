/* Installing decrypted secrets, in generations.
 *
 * Layout, for dir = /run/cim-agent/secrets:
 *   /run/cim-agent/secrets.d/<n>/...   one directory per generation (n = 1, 2, ...)
 *   /run/cim-agent/secrets -> secrets.d/<n>   the current one (a relative symlink)
 *
 * secrets_install() decrypts every secret of the manifest meant for this host
 * into a fresh generation, then switches the symlink atomically (a symlink under
 * a temporary name renamed over dir). The previous generation stays until
 * secrets_commit(); secrets_rollback() switches back to it. On any error nothing
 * is switched and the half-written generation is removed.
 *
 * Plaintext goes straight from locked memory into files of the generation, which
 * must be on tmpfs or ramfs unless allow_persistent is set (tests use it). */
#ifndef CIM_SECRETS_INSTALL_H
#define CIM_SECRETS_INSTALL_H

#include <stdbool.h>
#include <stddef.h>

struct err;
struct manifest;
struct age_identities;

#define SECRETS_MAX_FILE (64 * 1024 * 1024) /* largest .age file read from the repo */

/* Reads the repository file at path (relative to the repository root) into a
 * heap buffer *data of *len bytes that the caller frees. When path, or a
 * directory on the way to it, is a symlink, sets *is_symlink = 1 and returns 0
 * with *data = NULL. Returns -1 with e filled when the file cannot be read. */
typedef int (*secrets_read_blob_fn)(void *ctx, const char *path, char **data, size_t *len,
				    int *is_symlink, struct err *e);

/* A secrets_read_blob_fn over a plain directory; ctx is the directory path
 * (const char *). Files larger than SECRETS_MAX_FILE are refused. */
int secrets_dir_read_blob(void *ctx, const char *path, char **data, size_t *len, int *is_symlink,
			  struct err *e);

/* Reads and parses the manifest at manifest_path (in the repository) into m
 * (zeroed by the caller; release with manifest_release()). */
int secrets_load_manifest(struct manifest *m, const char *manifest_path,
			  secrets_read_blob_fn read_blob, void *read_ctx, struct err *e);

struct secrets_install_opts {
	const char *dir;      /* absolute: the symlink, e.g. /run/cim-agent/secrets */
	const char *hostname; /* selects secrets through their hosts patterns */
	bool allow_persistent;
	const struct age_identities *ids;
	secrets_read_blob_fn read_blob;
	void *read_ctx;
};

/* Installs the secrets of m meant for o->hostname as a new generation and
 * makes it current. *generation (may be NULL) receives its number and
 * *installed (may be NULL) the number of secrets written. Everything is checked
 * (paths, owners, groups, symlinks in the repository) before anything is
 * written. Returns 0 or -1 with e filled; on -1 nothing changed. */
int secrets_install(const struct manifest *m, const struct secrets_install_opts *o,
		    unsigned *generation, size_t *installed, struct err *e);

/* Switches dir back to the newest generation older than the current one and
 * removes the current one. Without an older generation, dir is removed (the
 * state before the first install). *generation (may be NULL) receives the
 * generation now current, 0 for none. */
int secrets_rollback(const char *dir, unsigned *generation, struct err *e);

/* The newest generation older than the current one in *previous, 0 when
 * there is none (or nothing is installed). */
int secrets_previous(const char *dir, unsigned *previous, struct err *e);

/* Deletes every generation but the current one (the deployment is committed). */
int secrets_commit(const char *dir, struct err *e);

/* The generation dir points to, or 0 when dir does not exist; -1 on error. */
int secrets_current(const char *dir, unsigned *generation, struct err *e);

#endif
