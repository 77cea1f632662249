/* A host's report in the fleet bucket: what it runs, since when it has been
 * healthy, what failed, signed with its host key (Ed25519).
 *
 * Stored bytes (the "envelope"), JSON:
 *     {"key":"ssh-ed25519 AAAA...","payload":"<base64>","sig":"<base64>"}
 * payload is the base64 (standard alphabet, padded) of the payload bytes, a
 * JSON object (below); sig is the base64 of the 64-byte Ed25519 signature
 * (crypto_sign_detached) over
 *     FLEET_SIGN_CONTEXT "\0" payload-bytes
 * The context keeps a host key's signature over a report from meaning anything
 * anywhere else (the key is usually the SSH host key). key is only a hint for
 * people; a reader verifies with the key the hosts file lists for the bucket
 * key the envelope is stored under, never with this one.
 *
 * Payload (written compact with sorted keys; readers ignore unknown keys):
 *     v              1
 *     host           the host's name, equal to its bucket key
 *     seq            1, 2, ...: one more for every report the host puts
 *     time           when the report was made, seconds since the epoch
 *     wave           the host's wave in the plan of its target, or null
 *     deployed       the commit it runs (40 or 64 hex digits), or null
 *     target         the commit it is moving to, or null
 *     healthy        true when deployed passes its health check
 *     healthy_since  lineage[0].since when healthy, else null
 *     lineage        the current healthy streak: [{commit, since}], oldest first;
 *                    each commit a descendant of the one before, since the time it
 *                    became healthy; the last one is deployed. A rollback or any
 *                    failure starts a new streak.
 *     failures       recent failures, oldest first: [{commit, time, rolled_back, reason}]
 *     status         an object the agent fills (the facts of status --json)
 *
 * A host whose state was lost reads its own key's revisions back
 * (fleet_nats_read_all), opens them with its own public key
 * (fleet_report_open_key) and takes the one with the highest seq: its seq
 * goes on from there, and its deployed commit is the trust baseline it
 * refuses to go below. If that fails too, its new reports count as replayed
 * wherever a higher seq was seen, until they pass it: fail safe.
 *
 * Nothing here prints; the secret key is the caller's. */
#ifndef CIM_FLEET_REPORT_H
#define CIM_FLEET_REPORT_H

#include "fleet/hosts.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define FLEET_REPORT_MAX_BYTES	  (64 * 1024) /* an envelope */
#define FLEET_PAYLOAD_MAX_BYTES	  (46 * 1024)
#define FLEET_REPORT_MAX_LINEAGE  32
#define FLEET_REPORT_MAX_FAILURES 8
#define FLEET_REASON_MAX	  300
#define FLEET_COMMIT_MAX	  64
#define FLEET_REPORT_WAVE_MAX	  40
#define FLEET_REPORT_VERSION	  1
#define FLEET_SIGN_CONTEXT	  "cim-fleet-report-v1"
#define FLEET_SEQ_MAX		  ((1ull << 53) - 1)
#define FLEET_TIME_MAX		  ((int64_t)1 << 40)

struct fleet_lineage {
	char commit[FLEET_COMMIT_MAX + 1];
	int64_t since;
};

struct fleet_failure {
	char commit[FLEET_COMMIT_MAX + 1];
	int64_t time;
	bool rolled_back;
	char *reason; /* heap; printable, at most FLEET_REASON_MAX bytes */
};

struct fleet_report {
	char host[FLEET_HOST_NAME_MAX + 1];
	uint64_t seq;
	int64_t time;
	char wave[FLEET_REPORT_WAVE_MAX + 1]; /* "" for null */
	char deployed[FLEET_COMMIT_MAX + 1];  /* "" for null */
	char target[FLEET_COMMIT_MAX + 1];    /* "" for null */
	bool healthy;
	struct fleet_lineage *lineage; /* heap, FLEET_REPORT_MAX_LINEAGE slots */
	size_t nlineage;
	struct fleet_failure *failures; /* heap, FLEET_REPORT_MAX_FAILURES slots */
	size_t nfailures;
	json_t *status; /* owned reference, or NULL */
};

/* What reading an envelope found. */
enum fleet_open_result {
	FLEET_OPEN_OK,
	FLEET_OPEN_FORGED,     /* not an envelope, or the signature does not verify */
	FLEET_OPEN_INVALID,    /* signed by the key, but the payload is malformed or
				* names another host */
	FLEET_OPEN_NOT_MEMBER, /* the bucket key is not in the hosts file */
};

/* True for 40 or 64 lowercase hex digits. */
bool fleet_commit_ok(const char *s);

/* The streak: appends commit (healthy at since) unless it is already the last
 * entry. When the lineage is full an inner entry goes, so that entries thin
 * out geometrically with age: commits about one soak old stay resolved to a
 * fraction of their age however long the streak (dropping an entry only makes
 * a later soak clock, never an earlier one). */
int fleet_report_lineage_add(struct fleet_report *r, const char *commit, int64_t since,
			     struct err *e);

/* Ends the streak (after a rollback or a failure). */
void fleet_report_lineage_reset(struct fleet_report *r);

/* Records a failure of commit; the oldest goes when there are
 * FLEET_REPORT_MAX_FAILURES. reason is copied with control characters made
 * spaces and cut to FLEET_REASON_MAX bytes at a character boundary. */
int fleet_report_add_failure(struct fleet_report *r, const char *commit, int64_t time,
			     bool rolled_back, const char *reason, struct err *e);

/* The envelope of r signed with sk (libsodium's 64-byte Ed25519 secret key:
 * seed then public key, as an OpenSSH ed25519 private key holds it), into a
 * heap string the caller frees (*out, *len bytes, NUL-terminated). Refuses a
 * report that a reader would refuse. */
int fleet_report_sign(const struct fleet_report *r, const unsigned char sk[64], char **out,
		      size_t *len, struct err *e);

/* Reads an envelope stored under bucket key key_name, verifying it with pk.
 * On FLEET_OPEN_OK, out holds the report (release it); otherwise out is empty
 * and e says why. Input over FLEET_REPORT_MAX_BYTES is FORGED. */
enum fleet_open_result fleet_report_open_key(const char *key_name, const void *buf, size_t len,
					     const unsigned char pk[32], struct fleet_report *out,
					     struct err *e);

/* The same, with the key the hosts file lists for key_name. */
enum fleet_open_result fleet_report_open(const struct fleet_hosts *hosts, const char *key_name,
					 const void *buf, size_t len, struct fleet_report *out,
					 struct err *e);

/* Frees what r holds and zeroes it. */
void fleet_report_release(struct fleet_report *r);

/* Deep copy of src into dst (zeroed or released). */
int fleet_report_copy(struct fleet_report *dst, const struct fleet_report *src, struct err *e);

#endif
