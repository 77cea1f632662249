/* This process's way to the fleet: the host key, the NATS connection (made
 * on demand, retried at most every FLEET_LINK_RETRY seconds while NATS is
 * unreachable) and, while the daemon watches the bucket, an in-memory copy
 * of its entries, so that a decision reads no network. */
#ifndef CIM_FLEET_LINK_H
#define CIM_FLEET_LINK_H

#include "fleet/entry.h"
#include "fleet/natskv.h"

#include <stdbool.h>
#include <stddef.h>

struct config;
struct err;

#define FLEET_LINK_RETRY      5	   /* seconds between connection attempts */
#define FLEET_LINK_TIMEOUT_MS 2000 /* connect and every request */
#define FLEET_LINK_HISTORY    5	   /* revisions the bucket keeps per key */

/* The host key of [fleet] host_key: its public half into pk and, when sk is
 * not NULL, libsodium's 64-byte secret key into a sodium_malloc'd *sk that
 * the caller frees with sodium_free(). */
int fleet_link_host_key(const struct config *cfg, unsigned char pk[32], unsigned char **sk,
			struct err *e);

/* The connection, connecting when there is none (not more often than every
 * FLEET_LINK_RETRY seconds; NULL meanwhile, e says why). */
struct fleet_nats *fleet_link_nats(const struct config *cfg, struct err *e);

/* Publishes data on [fleet] trigger_subject over a connection of its own,
 * which needs no bucket (CI may only be allowed to publish). */
int fleet_link_publish(const struct config *cfg, const char *data, struct err *e);

/* Daemon: watches the bucket (with history) and subscribes to the trigger
 * subject; the events then arrive through fleet_link_fd(). */
int fleet_link_watch(const struct config *cfg, struct err *e);
bool fleet_link_watching(void);

/* Readable while events wait; -1 without a watch. */
int fleet_link_fd(void);

enum {
	FLEET_LINK_CHANGED = 1,	    /* the bucket has a new entry */
	FLEET_LINK_TRIGGERED = 2,   /* a trigger message came */
	FLEET_LINK_RECONNECTED = 4, /* NATS is back */
	FLEET_LINK_LOST = 8,	    /* NATS went away */
};

/* Takes every queued event into the copy of the bucket; the FLEET_LINK_*
 * flags of what came. A new entry under self (this host's own report) is
 * no change. */
int fleet_link_drain(const char *self);

/* Every revision of every key the bucket keeps: the watched copy when it is
 * complete, or read now. *v stays valid until the next call of this header.
 * -1 (e filled) when NATS cannot be reached. */
int fleet_link_entries(const struct config *cfg, const struct fleet_entry **v, size_t *n,
		       struct err *e);

/* Closes the connection (the daemon's stop, a reload). */
void fleet_link_close(void);

#endif
