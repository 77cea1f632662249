/* What the agent keeps about the fleet in state_dir/fleet.json: its own last
 * signed report (the lineage and recent failures it goes on from, and its
 * seq), the highest seq seen from every host (replays are caught after a
 * restart too), the gate's last decision and the NATS health, for status,
 * metrics and the next report. Written atomically. */
#ifndef CIM_FLEET_LOCAL_H
#define CIM_FLEET_LOCAL_H

#include "fleet/gate.h"
#include "fleet/report.h"
#include "fleet/view.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define FLEET_LOCAL_FILE      "fleet.json"
#define FLEET_LOCAL_MAX_BYTES (1024 * 1024)

/* The gate's last decision, as the cycle's gate step took it. */
struct fleet_gate_record {
	bool active; /* the tip has a plan: its rollout gates this host */
	int64_t at;  /* when it was decided */
	char tip[FLEET_COMMIT_MAX + 1];
	char deploy[FLEET_COMMIT_MAX + 1]; /* what it let through; "" none */
	long wave;			   /* 0-based, -1: none */
	char wave_name[FLEET_REPORT_WAVE_MAX + 1];
	bool waiting;
	char waits_for[FLEET_GATE_TEXT_MAX];
	int64_t wait_until;
	char halted[FLEET_GATE_TEXT_MAX];
	char note[FLEET_GATE_TEXT_MAX];
	size_t forged;	      /* revisions that did not verify, in the tip's view */
	unsigned stale_after; /* the tip's plan's: reports are put at least 3 times as often */
};

struct fleet_local {
	uint64_t seq;		  /* of the last report put (or restored) */
	struct fleet_report self; /* lineage, failures, wave, target of the last report */
	bool have_self;		  /* self came from a verified report */
	char *envelope;		  /* that report as signed (heap), or NULL */
	struct fleet_seen seen;	  /* highest seq per host */
	struct fleet_gate_record gate;
	bool nats_ok;	      /* the last try to reach NATS worked */
	char nats_error[512]; /* why not */
	int64_t nats_at;      /* when it was tried */
	int64_t published_at; /* when the last report was put */
};

/* Loads state_dir/fleet.json (an absent file: an empty record). pk is the
 * host key's public half: the report kept there is opened with it, as every
 * reader would (a report under another key starts afresh). */
int fleet_local_load(struct fleet_local *l, const char *state_dir, const char *host,
		     const unsigned char pk[32], struct err *e);

/* fleet_local_load() on the file's text (len bytes, no NUL needed); name is
 * the file, for messages. A key of another type than this version writes is
 * an error naming it; on an error l holds nothing to release. */
int fleet_local_parse(struct fleet_local *l, const char *name, const char *text, size_t len,
		      const char *host, const unsigned char pk[32], struct err *e);

/* Writes it atomically. */
int fleet_local_save(const struct fleet_local *l, const char *state_dir, struct err *e);

/* The file as loaded, for readers without the key (status): the JSON, or
 * NULL when absent or unreadable. */
json_t *fleet_local_read_json(const char *state_dir);

void fleet_local_release(struct fleet_local *l);

#endif
