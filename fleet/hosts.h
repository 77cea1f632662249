/* The fleet's hosts file: which hosts are members and the Ed25519 key each one
 * signs its reports with. One member per line:
 *
 *     hostname ssh-ed25519 AAAA... [comment]
 *
 * '#' starts a comment line; blank lines are ignored. A line that cannot be
 * parsed rejects the whole file, naming its line: a typo must never drop a
 * member or give one host another's key. Host names are also the keys of the
 * NATS bucket, so they are limited to what a NATS subject token allows. */
#ifndef CIM_FLEET_HOSTS_H
#define CIM_FLEET_HOSTS_H

#include <stdbool.h>
#include <stddef.h>

struct err;

#define FLEET_HOSTS_MAX_BYTES (4 * 1024 * 1024)
#define FLEET_HOSTS_MAX	      20000
#define FLEET_HOSTS_MAX_LINE  4096
#define FLEET_HOST_NAME_MAX   253

struct fleet_host {
	char name[FLEET_HOST_NAME_MAX + 1];
	unsigned char key[32]; /* Ed25519 public key */
	int line;
};

struct fleet_hosts {
	char *source;	      /* file name, for messages */
	struct fleet_host *v; /* in file order */
	size_t *by_name;      /* indexes into v, sorted by name */
	size_t n;
};

/* Parses text (len bytes; name is for messages) into h, which must be zeroed or
 * released. Refuses: more than FLEET_HOSTS_MAX_BYTES, FLEET_HOSTS_MAX hosts or
 * FLEET_HOSTS_MAX_LINE per line, NUL bytes, invalid names, keys other than
 * ssh-ed25519, malformed keys, a name or a key given twice, and a file without
 * any host. On error, h holds nothing and e names file:line and the fix. */
int fleet_hosts_parse(struct fleet_hosts *h, const char *name, const char *text, size_t len,
		      struct err *e);

/* The member called name, or NULL. O(log n). */
const struct fleet_host *fleet_hosts_find(const struct fleet_hosts *h, const char *name);

/* Index of the member called name in h->v, or -1. */
long fleet_hosts_index(const struct fleet_hosts *h, const char *name);

/* True when s is a valid host name: 1 to FLEET_HOST_NAME_MAX characters of
 * [A-Za-z0-9._-], starting with a letter or digit, not ending with '.', no
 * "..". Such a name is a valid NATS key-value key. */
bool fleet_host_name_ok(const char *s);

/* "ssh-ed25519 AAAA..." for key into out (at least 128 bytes). */
int fleet_key_format(const unsigned char key[32], char *out, size_t size);

void fleet_hosts_release(struct fleet_hosts *h);

#endif
