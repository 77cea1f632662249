#include "agent/state.h"

#include "agent/state_quiet.h"

#include "base/err.h"
#include "base/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* How a field is kept in the file. A string or a number that is unset (NULL,
 * 0) is left out. */
enum kind {
	K_STR,	   /* char *: a string */
	K_INT,	   /* int64_t: an integer */
	K_YES,	   /* bool: "yes" when true */
	K_PHASE,   /* enum cycle_phase: its name (cycle_phase_name) */
	K_OUTCOME, /* int, an enum cycle_outcome or -1: its name */
};

struct key {
	const char *name;
	enum kind kind;
	size_t offset;
};

#define F(name, kind, field)                                                                       \
	{                                                                                          \
		name, kind, offsetof(struct agent_state, field)                                    \
	}

/* Every key of state.json but "schema", "failed_commits" and "metrics"
 * (below). README.md, "State files", documents each. */
static const struct key keys[] = {
    F("host", K_STR, host),
    F("platform", K_STR, platform),
    F("mode", K_STR, mode),
    F("agent_version", K_STR, agent_version),
    F("phase", K_PHASE, phase),
    F("phase_since", K_INT, phase_since),
    F("last_outcome", K_OUTCOME, last_outcome),
    F("last_error", K_STR, last_error),
    F("last_cycle_at", K_INT, last_cycle_at),
    F("next_poll_at", K_INT, next_poll_at),
    F("remote_url", K_STR, remote_url),
    F("branch", K_STR, branch),
    F("remote_tip", K_STR, remote_tip),
    F("fetched_at", K_INT, fetched_at),
    F("verified", K_STR, verified),
    F("verified_signer", K_STR, verified_signer),
    F("verified_key", K_STR, verified_key),
    F("refused", K_STR, refused),
    F("refused_reason", K_STR, refused_reason),
    F("baseline", K_STR, baseline),
    F("deployed", K_STR, deployed),
    F("deployed_path", K_STR, deployed_path),
    F("deployed_signer", K_STR, deployed_signer),
    F("deployed_key", K_STR, deployed_key),
    F("deployed_at", K_INT, deployed_at),
    F("last_good_commit", K_STR, last_good_commit),
    F("last_good_path", K_STR, last_good_path),
    F("built", K_STR, built),
    F("built_path", K_STR, built_path),
    F("reboot_needed", K_YES, reboot_needed),
    F("health", K_STR, health),
    F("unlisted", K_STR, unlisted),
    F("target", K_STR, target.commit),
    F("target_path", K_STR, target.path),
    F("target_signer", K_STR, target.signer),
    F("target_key", K_STR, target.key),
    F("previous_path", K_STR, target.previous_path),
    F("started_at", K_INT, target.started_at),
    F("health_deadline", K_INT, target.health_deadline),
    F("rollback_reason", K_STR, target.rollback_reason),
    F("closure_diff", K_STR, target.closure_diff),
    F("secrets_before", K_INT, target.secrets_before),
    F("secrets_generation", K_INT, target.secrets_generation),
    F("failed_units_before", K_STR, target.failed_units_before),
    F("attempt", K_INT, attempt),
    F("attempt_commit", K_STR, attempt_commit),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* The keys of a failed_commits entry and of the metrics object. */
#define FAILED_COMMIT "commit"
#define FAILED_SIGNED "signed"
#define FAILED_REASON "reason"
#define FAILED_AT     "at"

/* The fetch and the build are named as their phases. */
const char *state_metric_step_name(enum metric_step s)
{
	switch (s) {
	case METRIC_FETCH:
		return cycle_phase_name(PHASE_FETCH);
	case METRIC_VERIFY:
		return "verify";
	case METRIC_BUILD:
		return cycle_phase_name(PHASE_BUILD);
	case METRIC_SECRETS:
		return cycle_phase_name(PHASE_SECRETS);
	default:
		return "deploy";
	}
}

int state_set_str(char **field, const char *value)
{
	char *copy = NULL;

	if (value && !(copy = strdup(value)))
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

void state_clear_target(struct agent_state *st)
{
	struct state_target *t = &st->target;

	free(t->commit);
	free(t->path);
	free(t->signer);
	free(t->key);
	free(t->previous_path);
	free(t->rollback_reason);
	free(t->closure_diff);
	free(t->failed_units_before);
	memset(t, 0, sizeof(*t));
}

/* --- reading ------------------------------------------------------------- */

static int bad(struct err *e, const struct agent_state *st, const char *key, const char *what)
{
	return err_set(e, "%s: \"%s\" is not %s; fix it or move the file away to start over",
		       st->path, key, what);
}

static int read_key(struct agent_state *st, const struct key *k, json_t *v, struct err *e)
{
	void *field = (char *)st + k->offset;
	const char *s = json_string_value(v);
	int n;

	switch (k->kind) {
	case K_STR:
		if (!s)
			return bad(e, st, k->name, "a string");
		return state_set_str(field, s) < 0 ? err_set(e, "out of memory") : 0;
	case K_INT:
		if (!json_is_integer(v))
			return bad(e, st, k->name, "an integer");
		*(int64_t *)field = json_integer_value(v);
		return 0;
	case K_YES:
		if (!s)
			return bad(e, st, k->name, "a string");
		*(bool *)field = true; /* written as "yes"; any string counts */
		return 0;
	case K_PHASE:
		if (!s)
			return bad(e, st, k->name, "a string");
		/* A phase of another version: nothing of ours ran in it, so the
		 * cycle starts over as after an interrupted fetch. */
		n = cycle_phase_parse(s);
		*(enum cycle_phase *)field = n < 0 ? PHASE_FETCH : (enum cycle_phase)n;
		st->phase_known = true;
		return 0;
	case K_OUTCOME:
		if (!s)
			return bad(e, st, k->name, "a string");
		*(int *)field = cycle_outcome_parse(s);
		return 0;
	}
	return -1;
}

static int read_failed(struct agent_state *st, json_t *list, struct err *e)
{
	json_t *item;
	size_t i;

	if (!json_is_array(list))
		return bad(e, st, "failed_commits", "a list");
	json_array_foreach(list, i, item)
	{
		const char *commit = json_string_value(json_object_get(item, FAILED_COMMIT));
		const char *digest = json_string_value(json_object_get(item, FAILED_SIGNED));
		const char *reason = json_string_value(json_object_get(item, FAILED_REASON));
		struct state_failure *f;

		if (!commit)
			return bad(e, st, "failed_commits", "a list of {\"commit\": ...}");
		if (st->nfailed == STATE_FAILED_MAX)
			break; /* the newest are the ones kept: see failed_remember() */
		f = &st->failed[st->nfailed++];
		f->at = json_integer_value(json_object_get(item, FAILED_AT));
		if (state_set_str(&f->commit, commit) < 0 ||
		    state_set_str(&f->signed_digest, digest) < 0 ||
		    state_set_str(&f->reason, reason) < 0)
			return err_set(e, "out of memory");
	}
	return 0;
}

static void read_times(json_t *o, int64_t *times)
{
	for (int s = 0; s < METRIC_STEPS; s++)
		times[s] = json_integer_value(
		    json_object_get(o, state_metric_step_name((enum metric_step)s)));
}

static int read_metrics(struct agent_state *st, json_t *m, struct err *e)
{
	json_t *cycles = json_object_get(m, "cycles");

	if (!json_is_object(m))
		return bad(e, st, "metrics", "an object");
	for (int o = 0; o < CYCLE_OUTCOME_COUNT; o++)
		st->metrics.cycles[o] =
		    json_integer_value(json_object_get(cycles, cycle_outcome_name(o)));
	read_times(json_object_get(m, "ok"), st->metrics.ok);
	read_times(json_object_get(m, "failed"), st->metrics.failed);
	read_times(json_object_get(m, "failures"), st->metrics.failures);
	return 0;
}

static int read_object(struct agent_state *st, json_t *root, struct err *e)
{
	const char *name;
	json_t *v;

	json_object_foreach(root, name, v)
	{
		size_t i;
		int rc = 0;

		for (i = 0; i < NKEYS && strcmp(keys[i].name, name) != 0; i++)
			;
		if (i < NKEYS)
			rc = read_key(st, &keys[i], v, e);
		else if (strcmp(name, "failed_commits") == 0)
			rc = read_failed(st, v, e);
		else if (strcmp(name, "metrics") == 0)
			rc = read_metrics(st, v, e);
		else if (strcmp(name, "schema") != 0)
			rc = json_object_set(st->unknown, name, v);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int state_init(struct agent_state *st, const char *state_dir, struct err *e)
{
	memset(st, 0, sizeof(*st));
	st->last_outcome = -1;
	st->unknown = json_object();
	if (!st->unknown || asprintf(&st->path, "%s/state.json", state_dir) < 0) {
		st->path = NULL;
		state_release(st);
		return err_set(e, "out of memory");
	}
	return 0;
}

/* The text of st->path into st (initialised); on an error st holds what
 * was read so far. */
static int parse_text(struct agent_state *st, const char *text, size_t len, struct err *e)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	int rc;

	if (!root)
		rc = err_set(e, "%s:%d: state file is corrupt (%s); move it away to start over",
			     st->path, jerr.line, jerr.text);
	else if (!json_is_object(root))
		rc = err_set(
		    e, "%s: state file is corrupt (not an object); move it away to start over",
		    st->path);
	else
		rc = read_object(st, root, e);
	json_decref(root);
	return rc;
}

int state_parse(struct agent_state *st, const char *state_dir, const char *text, size_t len,
		struct err *e)
{
	int rc = state_init(st, state_dir, e) < 0 ? -1 : parse_text(st, text, len, e);

	if (rc < 0)
		state_release(st);
	return rc;
}

int state_load(struct agent_state *st, const char *state_dir, struct err *e)
{
	char *text = NULL;
	struct stat sb;
	size_t len;
	int rc, gone;

	if (state_init(st, state_dir, e) < 0)
		return -1;
	gone = stat(st->path, &sb) < 0 ? errno : 0;
	if (gone == ENOENT)
		return 0;
	if (!gone && sb.st_size > STATE_MAX_BYTES)
		rc = err_set(e, "%s: %lld bytes, over the limit of %d; move it away to start over",
			     st->path, (long long)sb.st_size, STATE_MAX_BYTES);
	else
		rc = file_read_capped(st->path, STATE_MAX_BYTES, &text, &len, e);
	if (rc < 0) {
		state_release(st);
		return -1;
	}
	char *newer = state_quiet_unwritten_text(st->path, &sb);
	if (newer) {
		free(text);
		text = newer;
		len = strlen(text);
	}
	rc = parse_text(st, text, len, e);
	free(text);
	if (rc < 0)
		state_release(st);
	else
		state_quiet_loaded(st, &sb);
	return rc;
}

/* --- writing ------------------------------------------------------------- */

static int write_key(json_t *root, const struct agent_state *st, const struct key *k)
{
	const void *field = (const char *)st + k->offset;
	const char *s = NULL;
	int64_t n;

	switch (k->kind) {
	case K_STR:
		s = *(char *const *)field;
		break;
	case K_INT:
		n = *(const int64_t *)field;
		return n ? json_object_set_new(root, k->name, json_integer((json_int_t)n)) : 0;
	case K_YES:
		s = *(const bool *)field ? "yes" : NULL;
		break;
	case K_PHASE:
		s = st->phase_known ? cycle_phase_name(*(const enum cycle_phase *)field) : NULL;
		break;
	case K_OUTCOME:
		n = *(const int *)field;
		s = n >= 0 ? cycle_outcome_name((enum cycle_outcome)n) : NULL;
		break;
	}
	return s ? json_object_set_new(root, k->name, json_string(s)) : 0;
}

static json_t *failed_json(const struct agent_state *st)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < st->nfailed; i++) {
		const struct state_failure *f = &st->failed[i];
		json_array_append_new(list,
				      json_pack("{s:s, s:s*, s:s*, s:I}", FAILED_COMMIT, f->commit,
						FAILED_SIGNED, f->signed_digest, FAILED_REASON,
						f->reason, FAILED_AT, (json_int_t)f->at));
	}
	return list;
}

static json_t *times_json(const int64_t *times)
{
	json_t *o = json_object();

	for (int s = 0; o && s < METRIC_STEPS; s++)
		if (times[s])
			json_object_set_new(o, state_metric_step_name((enum metric_step)s),
					    json_integer((json_int_t)times[s]));
	return o;
}

static json_t *metrics_json(const struct state_metrics *m)
{
	json_t *cycles = json_object();

	for (int o = 0; cycles && o < CYCLE_OUTCOME_COUNT; o++)
		if (m->cycles[o])
			json_object_set_new(cycles, cycle_outcome_name(o),
					    json_integer((json_int_t)m->cycles[o]));
	json_t *o = json_pack("{s:o, s:o, s:o}", "cycles", cycles, "ok", times_json(m->ok),
			      "failed", times_json(m->failed));
	json_t *failures = times_json(m->failures);

	/* Only once something failed: a file of 0.1 comes back as it was. */
	if (o && failures && json_object_size(failures))
		json_object_set(o, "failures", failures);
	json_decref(failures);
	return o;
}

json_t *state_to_json(const struct agent_state *st, bool with_unknown)
{
	json_t *root = with_unknown && st->unknown ? json_deep_copy(st->unknown) : json_object();
	bool metered = false;
	int rc = root ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < NKEYS; i++)
		rc = write_key(root, st, &keys[i]);
	for (int s = 0; s < METRIC_STEPS; s++)
		metered |= st->metrics.ok[s] || st->metrics.failed[s] || st->metrics.failures[s];
	for (int o = 0; o < CYCLE_OUTCOME_COUNT; o++)
		metered |= st->metrics.cycles[o] != 0;
	if (rc == 0 && st->nfailed)
		rc = json_object_set_new(root, "failed_commits", failed_json(st));
	if (rc == 0 && metered)
		rc = json_object_set_new(root, "metrics", metrics_json(&st->metrics));
	if (rc == 0)
		rc = json_object_set_new(root, "schema", json_integer(STATE_SCHEMA));
	if (rc < 0) {
		json_decref(root);
		return NULL;
	}
	return root;
}

char *state_text(const struct agent_state *st)
{
	json_t *root = state_to_json(st, true);
	char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;

	json_decref(root);
	return text;
}

int state_write_text(const char *path, const char *text, struct err *e)
{
	return file_write_atomic(path, text, strlen(text), 0644, e);
}

int state_save(const struct agent_state *st, struct err *e)
{
	char *text = state_text(st);
	int rc;

	if (!text)
		return err_set(e, "out of memory");
	if (state_quiet_keep_unwritten(st, text))
		return 0;
	rc = state_write_text(st->path, text, e);
	free(text);
	if (rc == 0)
		state_quiet_written(st, (int64_t)time(NULL));
	return rc;
}

int state_save_retrying(const struct agent_state *st, unsigned patience, bool (*stop)(void),
			void (*tick)(void), struct err *e)
{
	struct timespec nap = {0, 100 * 1000 * 1000};

	for (unsigned i = 1; i <= patience * 10 && !(stop && stop()); i++) {
		if (tick)
			tick();
		nanosleep(&nap, NULL);
		if (i % 10 == 0 && state_save(st, e) == 0)
			return 0;
	}
	return -1;
}

void state_release(struct agent_state *st)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].kind == K_STR)
			free(*(char **)((char *)st + keys[i].offset));
	for (size_t i = 0; i < st->nfailed; i++) {
		free(st->failed[i].commit);
		free(st->failed[i].signed_digest);
		free(st->failed[i].reason);
	}
	json_decref(st->unknown);
	state_quiet_release(st);
	free(st->path);
	memset(st, 0, sizeof(*st));
	st->last_outcome = -1;
}
