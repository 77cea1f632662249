/* The deployment file of [nix] source = cache: which prebuilt system each host
 * runs. CI writes it (scripts/cim-publish) and commits it; the agent reads it
 * from the verified commit's tree, never from the working copy. JSON:
 *
 *     {
 *       "version": 1,
 *       "hosts": {
 *         "web1": { "path": "/nix/store/<32 chars>-nixos-system-web1-24.05",
 *                   "system": "x86_64-linux" },
 *         "pi":   { "path": "/nix/store/<32 chars>-nixos-system-pi-24.05" }
 *       }
 *     }
 *
 * "version" is required and must be 1. Each host has a "path", a store path
 * (/nix/store/ + 32 characters of Nix's base-32 alphabet + '-' + a name of at
 * most 211 characters of [A-Za-z0-9+._?=-], not starting with '.'), and may
 * have a "system" (the Nix system type, e.g. "aarch64-linux"). Host names
 * follow the fleet hosts file's rule. Any other key, a key given twice, or a
 * bad value rejects the whole file: the file is one artifact of one CI run,
 * and a part that is wrong means the run is not to be trusted. */
#ifndef CIM_DEPLOYFILE_H
#define CIM_DEPLOYFILE_H

#include <stdbool.h>
#include <stddef.h>

struct err;

#define DEPLOYFILE_VERSION    1
#define DEPLOYFILE_MAX_BYTES  (4 * 1024 * 1024)
#define DEPLOYFILE_MAX_HOSTS  20000
#define DEPLOYFILE_STORE_DIR  "/nix/store"
#define DEPLOYFILE_HASH_LEN   32
#define DEPLOYFILE_NAME_MAX   211 /* Nix's limit for the name part of a store path */
#define DEPLOYFILE_PATH_MAX   255 /* "/nix/store/", the hash, '-', the name */
#define DEPLOYFILE_HOST_MAX   253
#define DEPLOYFILE_SYSTEM_MAX 64

struct deployfile_host {
	char name[DEPLOYFILE_HOST_MAX + 1];
	char path[DEPLOYFILE_PATH_MAX + 1];
	char system[DEPLOYFILE_SYSTEM_MAX + 1]; /* "" when the file gives none */
};

struct deployfile {
	struct deployfile_host *v; /* in the order of the file */
	size_t n;
};

/* Parses text (len bytes; name, e.g. "deploy/hosts.json", is for messages)
 * into d. Refuses more than DEPLOYFILE_MAX_BYTES or DEPLOYFILE_MAX_HOSTS, NUL
 * bytes, invalid JSON, duplicate keys, unknown keys, a missing or other
 * version, invalid host names, store paths or system types. A file with no
 * host is valid (every host keeps what it runs). On error d holds nothing and
 * e names the file, the line where it is known, the host and the fix. */
int deployfile_parse(struct deployfile *d, const char *name, const char *text, size_t len,
		     struct err *e);

/* The entry for host, or NULL when the file does not name it (that host then
 * keeps what it runs). */
const struct deployfile_host *deployfile_find(const struct deployfile *d, const char *host);

void deployfile_release(struct deployfile *d);

/* True when s is a host name as the file may give it: the fleet hosts file's
 * rule, 1 to DEPLOYFILE_HOST_MAX characters of [A-Za-z0-9._-], starting with
 * a letter or digit, not ending with '.', no "..". */
bool deployfile_host_name_ok(const char *s);

/* True when path is a store path as described above (no subpath). */
bool deployfile_store_path_ok(const char *path);

/* True when s looks like a Nix system type: "<cpu>-<os>", 3 to
 * DEPLOYFILE_SYSTEM_MAX characters of [A-Za-z0-9_.-] with a '-' inside. */
bool deployfile_system_ok(const char *s);

/* This machine's Nix system type ("x86_64-linux", "aarch64-darwin") into buf;
 * -1 when it cannot be told. */
int deployfile_local_system(char *buf, size_t size);

#endif
