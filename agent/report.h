/* The state webhook ([report] url): every state change is queued in a bounded
 * outbox, state_dir/outbox/, and POSTed as JSON in order, oldest first; a
 * report is deleted only after a 2xx, so nothing is lost across restarts or
 * outages, and at most outbox_max reports are kept (the oldest are dropped,
 * and the next report says how many). The body format and the signature
 * header are documented in README.md ("Reporting"). */
#ifndef CIM_REPORT_H
#define CIM_REPORT_H

#include <jansson.h>
#include <stddef.h>

struct agent_state;
struct config;
struct err;

#define REPORT_SCHEMA	    1
#define REPORT_HMAC_HEX_LEN 65 /* 64 hex digits and a NUL */
#define REPORT_KEY_MAX	    (64 * 1024)

/* Queues the state as the next report and then delivers the queue
 * with report_flush(). Does nothing without [report] url. Returns -1 when the
 * report could not be queued or not all of the queue was delivered (what was
 * not delivered stays queued). The caller holds the state_dir lock. */
int report_state(const struct config *cfg, const struct agent_state *st, struct err *e);

/* Delivers the queued reports in order and stops at the first failure.
 * Returns 0 when the outbox is empty afterwards (or reporting is off). */
int report_flush(const struct config *cfg, struct err *e);

/* The number of reports waiting in the outbox (0 when there is none). */
size_t report_queued(const struct config *cfg);

/* Writes the lowercase hex HMAC-SHA-256 of body keyed with key (any length)
 * into hex. */
void report_hmac_hex(const unsigned char *key, size_t keylen, const void *body, size_t len,
		     char hex[REPORT_HMAC_HEX_LEN]);

#endif
