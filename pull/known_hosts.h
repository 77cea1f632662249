/* A minimal known_hosts checker for the ssh transport: plain (unhashed) host
 * patterns, "[host]:port" entries and @revoked markers. */
#ifndef CIM_KNOWN_HOSTS_H
#define CIM_KNOWN_HOSTS_H

#include <stddef.h>

struct err;

#define KNOWN_HOSTS_MAX_BYTES (1024 * 1024)

/* Returns 0 when the file lists key (wire blob) for host (and port; 22 is
 * the default), -1 with a reason otherwise. */
int known_hosts_check(const char *text, size_t len, const char *name, const char *host, int port,
		      const unsigned char *key, size_t keylen, struct err *e);

#endif
