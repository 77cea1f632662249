/* Unit tests of fleet/evqueue.c: events from other threads, for poll(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "fleet/evqueue.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool readable(struct fleet_evq *q)
{
	struct pollfd p = {q->pipe[0], POLLIN, 0};

	return poll(&p, 1, 0) == 1;
}

static void push_entry(struct fleet_evq *q, int i)
{
	struct fleet_nats_event ev = {.type = FLEET_NATS_ENTRY};
	char key[16];

	snprintf(key, sizeof(key), "h%d", i);
	ev.entry.key = strdup(key);
	ev.entry.revision = (uint64_t)i;
	fleet_evq_push(q, &ev);
	assert_null(ev.entry.key); /* taken */
}

static void test_readable_exactly_while_events_are_queued(void **state)
{
	struct fleet_evq q;
	struct fleet_nats_event ev;
	struct err e = {{0}};

	assert_int_equal(fleet_evq_init(&q, &e), 0);
	assert_false(readable(&q));
	assert_int_equal(fleet_evq_next(&q, &ev), 0);
	push_entry(&q, 1);
	fleet_evq_push_type(&q, FLEET_NATS_WATCH_READY);
	assert_true(readable(&q));
	assert_int_equal(fleet_evq_next(&q, &ev), 1);
	assert_int_equal(ev.type, FLEET_NATS_ENTRY);
	assert_string_equal(ev.entry.key, "h1");
	fleet_nats_event_release(&ev);
	assert_true(readable(&q)); /* one left */
	assert_int_equal(fleet_evq_next(&q, &ev), 1);
	assert_int_equal(ev.type, FLEET_NATS_WATCH_READY);
	assert_false(readable(&q));
	fleet_evq_release(&q);
}

static void test_overflow_is_one_event_that_says_so(void **state)
{
	struct fleet_evq q;
	struct fleet_nats_event ev;
	struct err e = {{0}};
	int n = 0, overflows = 0;

	assert_int_equal(fleet_evq_init(&q, &e), 0);
	for (int i = 0; i < FLEET_EVQ_MAX + 100; i++)
		push_entry(&q, i);
	while (fleet_evq_next(&q, &ev)) {
		if (ev.type == FLEET_NATS_OVERFLOW)
			overflows++;
		else
			assert_int_equal(ev.entry.revision, n++);
		fleet_nats_event_release(&ev);
	}
	assert_int_equal(n, FLEET_EVQ_MAX);
	assert_int_equal(overflows, 1);
	/* after it has been taken, a new overflow is told again */
	for (int i = 0; i < FLEET_EVQ_MAX + 1; i++)
		push_entry(&q, i);
	overflows = 0;
	while (fleet_evq_next(&q, &ev)) {
		overflows += ev.type == FLEET_NATS_OVERFLOW;
		fleet_nats_event_release(&ev);
	}
	assert_int_equal(overflows, 1);
	fleet_evq_release(&q);
}

static void test_the_queue_holds_at_most_16_mib(void **state)
{
	struct fleet_evq q;
	struct fleet_nats_event ev;
	struct err e = {{0}};
	int entries = 0, overflows = 0;

	assert_int_equal(fleet_evq_init(&q, &e), 0);
	for (int i = 0; i < 20; i++) {
		/* what counts is the length of what an event holds */
		struct fleet_nats_event big = {.type = FLEET_NATS_TRIGGER, .len = 1024 * 1024};
		fleet_evq_push(&q, &big);
	}
	while (fleet_evq_next(&q, &ev)) {
		entries += ev.type == FLEET_NATS_TRIGGER;
		overflows += ev.type == FLEET_NATS_OVERFLOW;
	}
	assert_int_equal(entries, 16);
	assert_int_equal(overflows, 1);
	assert_int_equal(q.bytes, 0);
	fleet_evq_release(&q);
}

struct producer {
	struct fleet_evq *q;
	int from;
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (int i = 0; i < 1000; i++)
		push_entry(p->q, p->from + i);
	return NULL;
}

static void test_no_wake_up_is_lost_between_threads(void **state)
{
	struct fleet_evq q;
	struct fleet_nats_event ev;
	struct err e = {{0}};
	struct producer p[2] = {{&q, 0}, {&q, 1000}};
	pthread_t t[2];
	int got = 0;

	assert_int_equal(fleet_evq_init(&q, &e), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]), 0);
	while (got < 2000) {
		struct pollfd pf = {q.pipe[0], POLLIN, 0};
		/* every event is announced: poll never waits out its timeout */
		assert_int_equal(poll(&pf, 1, 10000), 1);
		while (fleet_evq_next(&q, &ev)) {
			got++;
			fleet_nats_event_release(&ev);
		}
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_false(readable(&q));
	fleet_evq_release(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_readable_exactly_while_events_are_queued),
	    cmocka_unit_test(test_overflow_is_one_event_that_says_so),
	    cmocka_unit_test(test_the_queue_holds_at_most_16_mib),
	    cmocka_unit_test(test_no_wake_up_is_lost_between_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
