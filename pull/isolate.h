/* Network work in a child process with a hard deadline. A remote can make
 * libgit2 block in recv or spin parsing for as long as it likes; killing a
 * child is the one limit that holds whatever the server does. The child is
 * forked (no exec): it runs fn and sends back a fixed-size result, and the
 * parent does nothing but wait, so it reacts to a stop request (SIGTERM) at
 * once. */
#ifndef CIM_ISOLATE_H
#define CIM_ISOLATE_H

#include <stdbool.h>
#include <stddef.h>

struct err;

enum isolate_status {
	ISOLATE_DONE,	   /* fn ran; result holds what it wrote */
	ISOLATE_TIMED_OUT, /* killed at the deadline */
	ISOLATE_STOPPED,   /* killed because should_stop() said so */
	ISOLATE_DIED,	   /* ended without a result (e says how) */
};

struct isolate_opts {
	unsigned timeout;	   /* seconds; 0: none */
	bool (*should_stop)(void); /* may be NULL */
	void (*tick)(void);	   /* called at least every 100 ms while waiting; may be NULL */
};

/* Runs fn(arg, result) in a child and copies its result (size bytes) back.
 * Returns an isolate_status; -1 (e says why) when no child could start. */
int isolate_run(void (*fn)(void *arg, void *result), void *arg, void *result, size_t size,
		const struct isolate_opts *o, struct err *e);

#endif
