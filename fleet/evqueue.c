#include "fleet/evqueue.h"

#include "base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fleet_evq_node {
	struct fleet_nats_event ev;
	struct fleet_evq_node *next;
};

int fleet_evq_init(struct fleet_evq *q, struct err *e)
{
	memset(q, 0, sizeof(*q));
	if (pipe2(q->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return err_set(e, "event queue: pipe: %s", strerror(errno));
	pthread_mutex_init(&q->mu, NULL);
	return 0;
}

void fleet_nats_event_release(struct fleet_nats_event *ev)
{
	free(ev->entry.key);
	free(ev->entry.value);
	free(ev->data);
	memset(ev, 0, sizeof(*ev));
}

/* Holding mu while writing the pipe means the reader, which drains the pipe
 * under mu when it empties the queue, never misses a wake-up. */
static void link_locked(struct fleet_evq *q, struct fleet_evq_node *node)
{
	char byte = 1;

	if (q->tail)
		q->tail->next = node;
	else
		q->head = node;
	q->tail = node;
	q->queued++;
	if (write(q->pipe[1], &byte, 1) < 0)
		return; /* EAGAIN: a full pipe is readable already */
}

void fleet_evq_push(struct fleet_evq *q, struct fleet_nats_event *ev)
{
	struct fleet_evq_node *node = calloc(1, sizeof(*node));
	size_t bytes = ev->entry.len + ev->len;

	pthread_mutex_lock(&q->mu);
	if (node && q->queued < FLEET_EVQ_MAX && q->bytes + bytes <= FLEET_EVQ_MAX_BYTES) {
		node->ev = *ev;
		memset(ev, 0, sizeof(*ev));
		q->bytes += bytes;
		link_locked(q, node);
	} else {
		fleet_nats_event_release(ev);
		free(node);
		node = q->overflowed ? NULL : calloc(1, sizeof(*node));
		if (node) {
			/* one event stands for every one dropped, and may pass the limit */
			node->ev.type = FLEET_NATS_OVERFLOW;
			q->overflowed = true;
			link_locked(q, node);
		}
	}
	pthread_mutex_unlock(&q->mu);
}

void fleet_evq_push_type(struct fleet_evq *q, enum fleet_nats_event_type type)
{
	struct fleet_nats_event ev = {.type = type};

	fleet_evq_push(q, &ev);
}

int fleet_evq_next(struct fleet_evq *q, struct fleet_nats_event *ev)
{
	struct fleet_evq_node *node;
	char buf[256];

	memset(ev, 0, sizeof(*ev));
	pthread_mutex_lock(&q->mu);
	node = q->head;
	if (node) {
		q->head = node->next;
		if (!q->head)
			q->tail = NULL;
		q->queued--;
		q->bytes -= node->ev.entry.len + node->ev.len;
		if (node->ev.type == FLEET_NATS_OVERFLOW)
			q->overflowed = false;
	}
	if (!q->head)
		while (read(q->pipe[0], buf, sizeof(buf)) > 0)
			;
	pthread_mutex_unlock(&q->mu);
	if (!node)
		return 0;
	*ev = node->ev;
	free(node);
	return 1;
}

void fleet_evq_release(struct fleet_evq *q)
{
	struct fleet_nats_event ev;

	while (fleet_evq_next(q, &ev))
		fleet_nats_event_release(&ev);
	close(q->pipe[0]);
	close(q->pipe[1]);
	pthread_mutex_destroy(&q->mu);
}
