/* state_dir/fleet.json: see agent/fleet_local.h. */
#include "agent/fleet_local.h"

#include "base/err.h"
#include "base/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LOCAL_VERSION 1

/* Reads the keys of fleet.json: a key that is there with another type than
 * this version writes is an error (the first one), never a silent default. */
struct reader {
	const char *name; /* the file, for messages */
	const char *in;	  /* the object read: NULL at the top, "gate" */
	struct err *e;
	int rc;
};

static const char *type_name(json_type t)
{
	switch (t) {
	case JSON_INTEGER:
		return "an integer";
	case JSON_STRING:
		return "a string";
	case JSON_OBJECT:
		return "an object";
	default:
		return "true or false";
	}
}

/* o's key when it has type t (JSON_TRUE: either boolean); NULL when absent
 * or once an error is set. */
static json_t *get(struct reader *r, json_t *o, const char *key, json_type t)
{
	json_t *v = json_object_get(o, key);

	if (!v || r->rc < 0)
		return NULL;
	if (json_typeof(v) == t || (t == JSON_TRUE && json_is_boolean(v)))
		return v;
	r->rc = err_set(r->e, "%s: \"%s%s%s\" is not %s; fix it or remove the file to start afresh",
			r->name, r->in ? r->in : "", r->in ? "." : "", key, type_name(t));
	return NULL;
}

static void copy_str(struct reader *r, char *dst, size_t size, json_t *o, const char *key)
{
	const char *v = json_string_value(get(r, o, key, JSON_STRING));

	snprintf(dst, size, "%s", v ? v : "");
}

static int64_t get_int(struct reader *r, json_t *o, const char *key)
{
	json_t *v = get(r, o, key, JSON_INTEGER);

	return v ? (int64_t)json_integer_value(v) : 0;
}

static bool get_bool(struct reader *r, json_t *o, const char *key)
{
	return json_is_true(get(r, o, key, JSON_TRUE));
}

static void gate_from_json(struct reader *r, struct fleet_gate_record *g, json_t *o)
{
	memset(g, 0, sizeof(*g));
	g->wave = -1;
	if (!o)
		return;
	r->in = "gate";
	g->active = get_bool(r, o, "active");
	g->at = get_int(r, o, "at");
	copy_str(r, g->tip, sizeof(g->tip), o, "tip");
	copy_str(r, g->deploy, sizeof(g->deploy), o, "deploy");
	g->wave = get(r, o, "wave", JSON_INTEGER) ? (long)get_int(r, o, "wave") : -1;
	copy_str(r, g->wave_name, sizeof(g->wave_name), o, "wave_name");
	g->waiting = get_bool(r, o, "waiting");
	copy_str(r, g->waits_for, sizeof(g->waits_for), o, "waits_for");
	g->wait_until = get_int(r, o, "wait_until");
	copy_str(r, g->halted, sizeof(g->halted), o, "halted");
	copy_str(r, g->note, sizeof(g->note), o, "note");
	g->forged = (size_t)get_int(r, o, "forged");
	g->stale_after = (unsigned)get_int(r, o, "stale_after");
	r->in = NULL;
}

static json_t *gate_to_json(const struct fleet_gate_record *g)
{
	return json_pack("{s:I, s:b, s:I, s:s, s:s, s:I, s:s, s:b, s:s, s:I, s:s, s:s, s:I}",
			 "stale_after", (json_int_t)g->stale_after, "active", g->active, "at",
			 (json_int_t)g->at, "tip", g->tip, "deploy", g->deploy, "wave",
			 (json_int_t)g->wave, "wave_name", g->wave_name, "waiting", g->waiting,
			 "waits_for", g->waits_for, "wait_until", (json_int_t)g->wait_until,
			 "halted", g->halted, "note", g->note, "forged", (json_int_t)g->forged);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The hosts are noted in sorted order, so that each one goes at the end of
 * s: in the file's order, each could move all the others (minutes for a
 * file of 1 MiB with its names reversed). */
static int seen_from_json(struct reader *r, struct fleet_seen *s, json_t *o)
{
	size_t n = json_object_size(o), k = 0;
	const char **hosts = malloc((n ? n : 1) * sizeof(*hosts)), *host;
	struct err why = {{0}};
	json_t *v;

	if (!hosts)
		return r->rc = err_set(r->e, "out of memory");
	json_object_foreach(o, host, v) hosts[k++] = host;
	qsort(hosts, n, sizeof(*hosts), by_name);
	r->in = "seen";
	for (k = 0; k < n && r->rc == 0; k++)
		if ((v = get(r, o, hosts[k], JSON_INTEGER)) && json_integer_value(v) > 0 &&
		    fleet_seen_note(s, hosts[k], (uint64_t)json_integer_value(v), &why) < 0)
			r->rc = err_set(r->e, "%s: %s; fix it or remove the file to start afresh",
					r->name, why.msg);
	r->in = NULL;
	free(hosts);
	return r->rc;
}

json_t *fleet_local_read_json(const char *state_dir)
{
	char path[4096], *text = NULL;
	size_t len = 0;
	struct err e = {{0}};
	json_t *o;

	snprintf(path, sizeof(path), "%s/%s", state_dir, FLEET_LOCAL_FILE);
	if (file_read_capped(path, FLEET_LOCAL_MAX_BYTES, &text, &len, &e) < 0)
		return NULL;
	o = json_loadb(text, len, 0, NULL);
	free(text);
	if (o && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The report kept in the file, opened as a reader would. */
static void load_self(struct fleet_local *l, const char *env, const char *host,
		      const unsigned char pk[32])
{
	struct err e = {{0}};

	if (!env || !pk)
		return;
	if (fleet_report_open_key(host, env, strlen(env), pk, &l->self, &e) != FLEET_OPEN_OK)
		return;
	l->have_self = true;
	l->envelope = strdup(env);
	if (l->self.seq > l->seq)
		l->seq = l->self.seq;
}

static void local_from_json(struct reader *r, struct fleet_local *l, json_t *o, const char *host,
			    const unsigned char pk[32])
{
	json_t *report;

	l->seq = (uint64_t)get_int(r, o, "seq");
	gate_from_json(r, &l->gate, get(r, o, "gate", JSON_OBJECT));
	l->nats_ok = get_bool(r, o, "nats_ok");
	copy_str(r, l->nats_error, sizeof(l->nats_error), o, "nats_error");
	l->nats_at = get_int(r, o, "nats_at");
	l->published_at = get_int(r, o, "published_at");
	report = get(r, o, "report", JSON_STRING);
	if (r->rc == 0)
		load_self(l, json_string_value(report), host, pk);
	if (r->rc == 0 && (o = get(r, o, "seen", JSON_OBJECT)))
		seen_from_json(r, &l->seen, o);
}

int fleet_local_parse(struct fleet_local *l, const char *name, const char *text, size_t len,
		      const char *host, const unsigned char pk[32], struct err *e)
{
	struct reader r = {name, NULL, e, 0};
	json_error_t jerr;
	json_t *o;

	memset(l, 0, sizeof(*l));
	l->gate.wave = -1;
	o = json_loadb(text, len, 0, &jerr);
	if (!o)
		return err_set(e, "%s:%d: not a JSON object (%s); remove the file to start afresh",
			       name, jerr.line, jerr.text);
	if (!json_is_object(o)) {
		json_decref(o);
		return err_set(e, "%s: not a JSON object; remove the file to start afresh", name);
	}
	local_from_json(&r, l, o, host, pk);
	json_decref(o);
	if (r.rc < 0)
		fleet_local_release(l);
	return r.rc;
}

int fleet_local_load(struct fleet_local *l, const char *state_dir, const char *host,
		     const unsigned char pk[32], struct err *e)
{
	char path[4096], *text = NULL;
	size_t len = 0;
	struct stat sb;
	int gone, rc;

	memset(l, 0, sizeof(*l));
	l->gate.wave = -1;
	snprintf(path, sizeof(path), "%s/%s", state_dir, FLEET_LOCAL_FILE);
	gone = stat(path, &sb) < 0 ? errno : 0;
	if (gone == ENOENT)
		return 0;
	if (!gone && sb.st_size > FLEET_LOCAL_MAX_BYTES)
		return err_set(
		    e, "%s: %lld bytes, over the limit of %d; remove the file to start afresh",
		    path, (long long)sb.st_size, FLEET_LOCAL_MAX_BYTES);
	if (file_read_capped(path, FLEET_LOCAL_MAX_BYTES, &text, &len, e) < 0)
		return -1;
	rc = fleet_local_parse(l, path, text, len, host, pk, e);
	free(text);
	return rc;
}

int fleet_local_save(const struct fleet_local *l, const char *state_dir, struct err *e)
{
	char path[4096], *text;
	json_t *seen = json_object(), *o;
	int rc;

	for (size_t i = 0; i < l->seen.n; i++)
		json_object_set_new(seen, l->seen.v[i].host,
				    json_integer((json_int_t)l->seen.v[i].seq));
	o = json_pack("{s:i, s:I, s:o, s:o, s:b, s:s, s:I, s:I}", "v", LOCAL_VERSION, "seq",
		      (json_int_t)l->seq, "seen", seen, "gate", gate_to_json(&l->gate), "nats_ok",
		      l->nats_ok, "nats_error", l->nats_error, "nats_at", (json_int_t)l->nats_at,
		      "published_at", (json_int_t)l->published_at);
	if (o && l->envelope)
		json_object_set_new(o, "report", json_string(l->envelope));
	text = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (!text)
		return err_set(e, "out of memory");
	snprintf(path, sizeof(path), "%s/%s", state_dir, FLEET_LOCAL_FILE);
	rc = file_write_atomic(path, text, strlen(text), 0644, e);
	free(text);
	return rc;
}

void fleet_local_release(struct fleet_local *l)
{
	fleet_report_release(&l->self);
	fleet_seen_release(&l->seen);
	free(l->envelope);
	memset(l, 0, sizeof(*l));
	l->gate.wave = -1;
}
