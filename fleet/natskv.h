/* The fleet bucket on NATS JetStream (nats.c), kept thin: connect, open or
 * create the key-value bucket, put this host's report, read every revision of
 * every key, watch the bucket, publish and receive trigger messages.
 *
 * Everything blocks for at most the timeout of the options. Watched entries,
 * triggers and connection changes arrive on nats.c's threads and are queued;
 * fleet_nats_fd() becomes readable when the queue is not empty, so the
 * agent's poll() loop needs no thread and no poll interval. Once connected,
 * nats.c reconnects by itself (to any of the URLs) and the watch resumes;
 * when the first connection fails, fleet_nats_connect() fails and the caller
 * tries again later. Nothing here prints. */
#ifndef CIM_FLEET_NATSKV_H
#define CIM_FLEET_NATSKV_H

#include "fleet/entry.h"
#include "fleet/evqueue.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define FLEET_NATS_MAX_URLS    16
#define FLEET_NATS_MAX_HISTORY 64   /* JetStream's limit per key */
#define FLEET_NATS_TRIGGER_MAX 1024 /* bytes of a trigger message kept */
#define FLEET_NATS_VALUE_MAX   (64 * 1024)

struct fleet_nats_options {
	const char *const *urls; /* nats://host:port or tls://host:port; 1..FLEET_NATS_MAX_URLS */
	size_t nurls;
	const char *creds_file; /* a .creds file (user JWT and NKey seed), or NULL */
	const char *ca_file;	/* TLS: CA bundle to trust, or NULL */
	const char *cert_file;	/* TLS: client certificate chain and key, or NULL */
	const char *key_file;
	const char *bucket; /* [A-Za-z0-9_-]+, e.g. "cim-fleet" */
	unsigned history;   /* revisions the bucket keeps per key, 1..64 */
	int64_t timeout_ms; /* connect, every request, every read */
	const char *name;   /* the connection's name on the server, or NULL */
};

struct fleet_nats;

/* Connects to the servers and opens the bucket (unless o->bucket is NULL),
 * creating it (file storage, o->history revisions per key, values up to
 * FLEET_NATS_VALUE_MAX bytes) when it does not exist. An existing bucket is
 * used as it is, so a host allowed only to use it, not to create it, can
 * connect once an admin has created it. *out is freed with fleet_nats_close(). */
int fleet_nats_connect(struct fleet_nats **out, const struct fleet_nats_options *o, struct err *e);

/* True while connected (false while nats.c is reconnecting). */
bool fleet_nats_connected(struct fleet_nats *n);

/* Puts value under key; *revision (if not NULL) is its revision. */
int fleet_nats_put(struct fleet_nats *n, const char *key, const void *value, size_t len,
		   uint64_t *revision, struct err *e);

/* Every revision the bucket keeps, of key or (key NULL) of every key, oldest
 * first, into a heap array (*entries, *count) freed with fleet_entries_free().
 * Delete and purge markers come as deleted entries. */
int fleet_nats_read_all(struct fleet_nats *n, const char *key, struct fleet_entry **entries,
			size_t *count, struct err *e);

/* Starts watching the bucket: FLEET_NATS_ENTRY events for the last revision
 * of every key (every kept revision when with_history), then
 * FLEET_NATS_WATCH_READY, then every new revision as it is put. */
int fleet_nats_watch(struct fleet_nats *n, bool with_history, struct err *e);

/* Subscribes to subject: FLEET_NATS_TRIGGER events. */
int fleet_nats_subscribe(struct fleet_nats *n, const char *subject, struct err *e);

/* Publishes data on subject and waits until the server has it. */
int fleet_nats_publish(struct fleet_nats *n, const char *subject, const void *data, size_t len,
		       struct err *e);

/* Readable (POLLIN) while events are queued. Never read it directly. */
int fleet_nats_fd(const struct fleet_nats *n);

/* Takes the next queued event into ev: 1, or 0 when there is none. Release
 * each event with fleet_nats_event_release(). */
int fleet_nats_next_event(struct fleet_nats *n, struct fleet_nats_event *ev);

/* Stops the watch and the subscription, closes the connection, frees n. */
void fleet_nats_close(struct fleet_nats *n);

/* Releases nats.c's global state; once, at exit, after every close. */
void fleet_nats_shutdown(void);

#endif
