/* What the bucket says about each member, for the plan of one commit: the
 * newest report of every host that verifies against that commit's hosts file,
 * with a verdict.
 *
 * For each member, every revision stored under its name is opened with the key
 * the hosts file lists for it (fleet/report.h); the one with the highest seq
 * (ties: the highest revision) among those that verify is its report. Then:
 *   - no revision at all:                          SILENT
 *   - revisions, none of them verifies:            FORGED
 *   - best seq lower than the one already seen:    REPLAYED (not used at all)
 *   - |now - time| > stale_after:                  STALE (its failures still count,
 *                                                  its health never does)
 *   - otherwise:                                   OK
 * A forged overwrite therefore neither counts nor hides the last valid report
 * while the bucket's history still holds it; keys that are not members are
 * counted and ignored. Pure: no I/O, no clock. Opening costs an Ed25519
 * verification per entry: build once, then add what the watch delivers. */
#ifndef CIM_FLEET_VIEW_H
#define CIM_FLEET_VIEW_H

#include "fleet/entry.h"
#include "fleet/hosts.h"
#include "fleet/report.h"

#include <stdint.h>

struct err;

enum fleet_verdict {
	FLEET_SILENT,
	FLEET_OK,
	FLEET_STALE,
	FLEET_REPLAYED,
	FLEET_FORGED,
};

/* "silent", "ok", "stale", "replayed", "forged" */
const char *fleet_verdict_name(enum fleet_verdict v);

struct fleet_member_view {
	enum fleet_verdict verdict;
	struct fleet_report report; /* valid for OK and STALE */
	bool have;		    /* a report verified (whatever its verdict) */
	uint64_t revision;	    /* of that report */
	size_t forged;		    /* revisions that did not verify */
	size_t invalid;		    /* revisions signed by the host but malformed */
	char why[256];		    /* the latest reason a revision was refused */
};

struct fleet_view {
	const struct fleet_hosts *hosts; /* borrowed */
	struct fleet_member_view *v;	 /* per host index */
	size_t forged;			 /* forged revisions over all members */
	size_t outsiders;		 /* revisions under keys that are not members */
};

/* The highest seq seen per host: what tells a replayed report. The caller
 * keeps it across views and restarts (a view keeps the best report it has
 * opened anyway; seen is what still catches a replay after a restart, when
 * the bucket's history has been overwritten with old signed reports). */
struct fleet_seen {
	struct fleet_seen_entry {
		char host[FLEET_HOST_NAME_MAX + 1];
		uint64_t seq;
	} * v; /* sorted by host */
	size_t n, cap;
};

/* 0 when nothing was seen from host. */
uint64_t fleet_seen_get(const struct fleet_seen *s, const char *host);

/* Raises the seq seen from host to seq (never lowers it). */
int fleet_seen_note(struct fleet_seen *s, const char *host, uint64_t seq, struct err *e);

/* Notes the seq of every OK or STALE report of view. */
int fleet_seen_merge(struct fleet_seen *s, const struct fleet_view *view, struct err *e);

void fleet_seen_release(struct fleet_seen *s);

/* An empty view of hosts (every member SILENT). */
int fleet_view_init(struct fleet_view *v, const struct fleet_hosts *hosts, struct err *e);

/* Takes one bucket entry into the view: opens it with the key the hosts file
 * lists for its key and keeps it when it beats the member's report so far.
 * Returns 1 when the member's report changed, 0 when not (a forged, invalid,
 * older or deleted entry, or one of no member), -1 on an internal error.
 * A report once kept is not lost when the bucket drops or overwrites it.
 * Verdicts are stale until fleet_view_classify(). */
int fleet_view_add(struct fleet_view *v, const struct fleet_entry *entry, struct err *e);

/* Sets every member's verdict for the seqs seen so far, the plan's
 * stale_after and the wall clock now. Cheap: call it before every decision. */
void fleet_view_classify(struct fleet_view *v, const struct fleet_seen *seen, int64_t now,
			 unsigned stale_after);

/* fleet_view_init, fleet_view_add of each of the n entries, fleet_view_classify. */
int fleet_view_build(struct fleet_view *out, const struct fleet_hosts *hosts,
		     const struct fleet_entry *entries, size_t n, const struct fleet_seen *seen,
		     int64_t now, unsigned stale_after, struct err *e);

void fleet_view_release(struct fleet_view *v);

#endif
