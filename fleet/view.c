#include "fleet/view.h"

#include "base/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fleet_verdict_name(enum fleet_verdict v)
{
	switch (v) {
	case FLEET_OK:
		return "ok";
	case FLEET_STALE:
		return "stale";
	case FLEET_REPLAYED:
		return "replayed";
	case FLEET_FORGED:
		return "forged";
	case FLEET_SILENT:
		break;
	}
	return "silent";
}

static long seen_find(const struct fleet_seen *s, const char *host, size_t *at)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(host, s->v[mid].host);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*at = lo;
	return -1;
}

uint64_t fleet_seen_get(const struct fleet_seen *s, const char *host)
{
	size_t at;
	long i = seen_find(s, host, &at);

	return i < 0 ? 0 : s->v[i].seq;
}

int fleet_seen_note(struct fleet_seen *s, const char *host, uint64_t seq, struct err *e)
{
	size_t at = 0;
	long i = seen_find(s, host, &at);

	if (i >= 0) {
		if (seq > s->v[i].seq)
			s->v[i].seq = seq;
		return 0;
	}
	if (strlen(host) > FLEET_HOST_NAME_MAX)
		return err_set(e, "seen: host name too long");
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct fleet_seen_entry *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return err_set(e, "out of memory");
		s->v = v;
		s->cap = cap;
	}
	memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof(*s->v));
	snprintf(s->v[at].host, sizeof(s->v[at].host), "%s", host);
	s->v[at].seq = seq;
	s->n++;
	return 0;
}

int fleet_seen_merge(struct fleet_seen *s, const struct fleet_view *view, struct err *e)
{
	for (size_t i = 0; i < view->hosts->n; i++) {
		const struct fleet_member_view *m = &view->v[i];
		if ((m->verdict == FLEET_OK || m->verdict == FLEET_STALE) &&
		    fleet_seen_note(s, m->report.host, m->report.seq, e) < 0)
			return -1;
	}
	return 0;
}

void fleet_seen_release(struct fleet_seen *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int fleet_view_init(struct fleet_view *v, const struct fleet_hosts *hosts, struct err *e)
{
	memset(v, 0, sizeof(*v));
	v->hosts = hosts;
	v->v = calloc(hosts->n ? hosts->n : 1, sizeof(*v->v));
	return v->v ? 0 : err_set(e, "out of memory");
}

int fleet_view_add(struct fleet_view *v, const struct fleet_entry *entry, struct err *e)
{
	long i = entry->key ? fleet_hosts_index(v->hosts, entry->key) : -1;
	struct fleet_member_view *m;
	struct fleet_report r;
	struct err why = {{0}};
	enum fleet_open_result res;

	if (i < 0) {
		v->outsiders++;
		return 0;
	}
	m = &v->v[i];
	if (entry->deleted || !entry->value)
		return 0; /* a deletion hides nothing that was seen */
	res = fleet_report_open_key(entry->key, entry->value, entry->len, v->hosts->v[i].key, &r,
				    &why);
	if (res != FLEET_OPEN_OK) {
		if (res == FLEET_OPEN_FORGED) {
			m->forged++;
			v->forged++;
		} else {
			m->invalid++;
		}
		snprintf(m->why, sizeof(m->why), "%s", why.msg);
		return 0;
	}
	if (m->have &&
	    (r.seq < m->report.seq || (r.seq == m->report.seq && entry->revision <= m->revision))) {
		fleet_report_release(&r);
		return 0;
	}
	fleet_report_release(&m->report);
	m->report = r;
	m->revision = entry->revision;
	m->have = true;
	(void)e;
	return 1;
}

void fleet_view_classify(struct fleet_view *v, const struct fleet_seen *seen, int64_t now,
			 unsigned stale_after)
{
	for (size_t i = 0; i < v->hosts->n; i++) {
		struct fleet_member_view *m = &v->v[i];
		int64_t age;

		if (!m->have) {
			m->verdict = m->forged ? FLEET_FORGED : FLEET_SILENT;
			continue;
		}
		age = now - m->report.time;
		if (seen && m->report.seq < fleet_seen_get(seen, m->report.host))
			m->verdict = FLEET_REPLAYED;
		else if (age > (int64_t)stale_after || -age > (int64_t)stale_after)
			m->verdict = FLEET_STALE;
		else
			m->verdict = FLEET_OK;
	}
}

int fleet_view_build(struct fleet_view *out, const struct fleet_hosts *hosts,
		     const struct fleet_entry *entries, size_t n, const struct fleet_seen *seen,
		     int64_t now, unsigned stale_after, struct err *e)
{
	if (fleet_view_init(out, hosts, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (fleet_view_add(out, &entries[i], e) < 0) {
			fleet_view_release(out);
			return -1;
		}
	fleet_view_classify(out, seen, now, stale_after);
	return 0;
}

void fleet_view_release(struct fleet_view *v)
{
	for (size_t i = 0; v->v && v->hosts && i < v->hosts->n; i++)
		fleet_report_release(&v->v[i].report);
	free(v->v);
	memset(v, 0, sizeof(*v));
}
