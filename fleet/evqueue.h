/* The events fleet/natskv.c queues from nats.c's threads for the agent's
 * poll() loop: a mutex-guarded list and a self-pipe that is readable while the
 * list is not empty. Bounded: past FLEET_EVQ_MAX events or FLEET_EVQ_MAX_BYTES
 * bytes, one FLEET_NATS_OVERFLOW stands for all that were dropped. */
#ifndef CIM_FLEET_EVQUEUE_H
#define CIM_FLEET_EVQUEUE_H

#include "fleet/entry.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct err;

#define FLEET_EVQ_MAX	    4096
#define FLEET_EVQ_MAX_BYTES (16 * 1024 * 1024) /* of values and messages queued */

enum fleet_nats_event_type {
	FLEET_NATS_ENTRY,	 /* a new revision in the bucket: entry */
	FLEET_NATS_WATCH_READY,	 /* the watch has delivered what was there when it began */
	FLEET_NATS_TRIGGER,	 /* a message on the trigger subject: data, len */
	FLEET_NATS_DISCONNECTED, /* the connection was lost; nats.c reconnects */
	FLEET_NATS_RECONNECTED,
	FLEET_NATS_OVERFLOW, /* events were dropped: read the bucket again */
};

struct fleet_nats_event {
	enum fleet_nats_event_type type;
	struct fleet_entry entry; /* FLEET_NATS_ENTRY */
	char *data;		  /* FLEET_NATS_TRIGGER: the message, NUL-terminated,
				   * cut at FLEET_NATS_TRIGGER_MAX bytes */
	size_t len;
};

struct fleet_evq {
	pthread_mutex_t mu;
	struct fleet_evq_node *head, *tail;
	size_t queued, bytes;
	bool overflowed;
	int pipe[2]; /* [0] readable while the queue is not empty */
};

int fleet_evq_init(struct fleet_evq *q, struct err *e);

/* Queues ev (taking what it holds); from any thread. */
void fleet_evq_push(struct fleet_evq *q, struct fleet_nats_event *ev);

/* Queues an event that holds nothing but its type. */
void fleet_evq_push_type(struct fleet_evq *q, enum fleet_nats_event_type type);

/* Takes the oldest event into ev: 1, or 0 when there is none. */
int fleet_evq_next(struct fleet_evq *q, struct fleet_nats_event *ev);

/* Frees what the queued events hold, closes the pipe. */
void fleet_evq_release(struct fleet_evq *q);

void fleet_nats_event_release(struct fleet_nats_event *ev);

#endif
