/* state_dir/fleet.json: see agent/fleet_local.h. */
#include "agent/fleet_local.h"

#include "base/err.h"
#include "base/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOCAL_VERSION 1

static void copy_str(char *dst, size_t size, json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	snprintf(dst, size, "%s", v ? v : "");
}

static int64_t get_int(json_t *o, const char *key)
{
	return json_is_integer(json_object_get(o, key))
		   ? (int64_t)json_integer_value(json_object_get(o, key))
		   : 0;
}

static void gate_from_json(struct fleet_gate_record *g, json_t *o)
{
	memset(g, 0, sizeof(*g));
	g->wave = -1;
	if (!json_is_object(o))
		return;
	g->active = json_is_true(json_object_get(o, "active"));
	g->at = get_int(o, "at");
	copy_str(g->tip, sizeof(g->tip), o, "tip");
	copy_str(g->deploy, sizeof(g->deploy), o, "deploy");
	g->wave = json_is_integer(json_object_get(o, "wave")) ? (long)get_int(o, "wave") : -1;
	copy_str(g->wave_name, sizeof(g->wave_name), o, "wave_name");
	g->waiting = json_is_true(json_object_get(o, "waiting"));
	copy_str(g->waits_for, sizeof(g->waits_for), o, "waits_for");
	g->wait_until = get_int(o, "wait_until");
	copy_str(g->halted, sizeof(g->halted), o, "halted");
	copy_str(g->note, sizeof(g->note), o, "note");
	g->forged = (size_t)get_int(o, "forged");
	g->stale_after = (unsigned)get_int(o, "stale_after");
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

static int seen_from_json(struct fleet_seen *s, json_t *o, struct err *e)
{
	const char *host;
	json_t *v;

	json_object_foreach(o, host, v)
	{
		if (json_is_integer(v) && json_integer_value(v) > 0 &&
		    fleet_seen_note(s, host, (uint64_t)json_integer_value(v), e) < 0)
			return -1;
	}
	return 0;
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
static void load_self(struct fleet_local *l, json_t *o, const char *host,
		      const unsigned char pk[32])
{
	const char *env = json_string_value(json_object_get(o, "report"));
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

int fleet_local_load(struct fleet_local *l, const char *state_dir, const char *host,
		     const unsigned char pk[32], struct err *e)
{
	char path[4096], *text = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *o;

	memset(l, 0, sizeof(*l));
	l->gate.wave = -1;
	snprintf(path, sizeof(path), "%s/%s", state_dir, FLEET_LOCAL_FILE);
	if (access(path, F_OK) != 0)
		return 0;
	if (file_read_capped(path, FLEET_LOCAL_MAX_BYTES, &text, &len, e) < 0)
		return -1;
	o = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_object(o)) {
		json_decref(o);
		return err_set(e, "%s:%d: not a JSON object (%s); remove the file to start afresh",
			       path, jerr.line, jerr.text);
	}
	l->seq = (uint64_t)get_int(o, "seq");
	gate_from_json(&l->gate, json_object_get(o, "gate"));
	l->nats_ok = json_is_true(json_object_get(o, "nats_ok"));
	copy_str(l->nats_error, sizeof(l->nats_error), o, "nats_error");
	l->nats_at = get_int(o, "nats_at");
	l->published_at = get_int(o, "published_at");
	load_self(l, o, host, pk);
	if (seen_from_json(&l->seen, json_object_get(o, "seen"), e) < 0) {
		json_decref(o);
		fleet_local_release(l);
		return -1;
	}
	json_decref(o);
	return 0;
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
