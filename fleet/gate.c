#include "fleet/gate.h"

#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum hstate { H_EXCLUDED, H_FAILED, H_WAITING, H_SOAKING, H_SOAKED };

struct host_eval {
	enum hstate state;
	int64_t until; /* SOAKING: when the soak completes */
	const struct fleet_failure *failure;
};

struct wave_eval {
	size_t soaked, soaking, waiting, failed, excluded;
	size_t excluded_by[FLEET_FORGED + 1]; /* per verdict */
	int64_t until;			      /* when every soaking host will be soaked */
	bool is_soaked;
	long first_failed; /* host index, -1 */
	const struct fleet_failure *first_failure;
};

static void appendf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void appendf(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

static void utc(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "%lld", (long long)t);
}

static const struct fleet_failure *failure_of(const struct fleet_report *r, const char *commit)
{
	for (size_t i = 0; i < r->nfailures; i++)
		if (strcmp(r->failures[i].commit, commit) == 0)
			return &r->failures[i];
	return NULL;
}

static const struct fleet_member_view *member(const struct fleet_candidate *c, size_t host)
{
	return c->view ? &c->view->v[host] : NULL;
}

/* The since of the first lineage entry that is commit or a descendant of it,
 * or -1 when the last one (deployed) is not. The lineage is a chain, each
 * entry a descendant of the one before, so the entries that qualify are a
 * suffix and bisection finds where it starts. (A host whose lineage is not a
 * chain can only misstate its own clock, which it could anyway.) */
static int soak_start(const struct fleet_report *r, const char *commit, struct fleet_ancestry *an,
		      int64_t *start, struct err *e)
{
	size_t lo = 0, hi;
	int rc;

	*start = -1;
	if (r->nlineage == 0)
		return 0;
	hi = r->nlineage - 1; /* qualifies, checked first */
	rc = fleet_ancestry_is_or_descends(an, commit, r->lineage[hi].commit, e);
	if (rc <= 0)
		return rc;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		rc = fleet_ancestry_is_or_descends(an, commit, r->lineage[mid].commit, e);
		if (rc < 0)
			return -1;
		if (rc)
			hi = mid;
		else
			lo = mid + 1;
	}
	*start = r->lineage[lo].since;
	return 0;
}

/* Where host stands on commit (see gate.h). */
static int eval_host(const struct fleet_member_view *m, const char *commit, unsigned soak,
		     struct fleet_ancestry *an, int64_t now, struct host_eval *h, struct err *e)
{
	int64_t start = -1;

	memset(h, 0, sizeof(*h));
	h->state = H_EXCLUDED;
	if (!m || (m->verdict != FLEET_OK && m->verdict != FLEET_STALE))
		return 0;
	if ((h->failure = failure_of(&m->report, commit))) {
		h->state = H_FAILED;
		return 0;
	}
	if (m->verdict == FLEET_STALE)
		return 0;
	h->state = H_WAITING;
	if (!m->report.healthy)
		return 0;
	if (soak_start(&m->report, commit, an, &start, e) < 0)
		return -1;
	if (start < 0)
		return 0;
	h->until = start + (int64_t)soak;
	h->state = h->until <= now ? H_SOAKED : H_SOAKING;
	return 0;
}

/* Why host is not soaked, for messages. */
static void describe_host(const struct fleet_member_view *m, const struct host_eval *h, char *buf,
			  size_t size)
{
	const char *name = m ? m->report.host : "";
	char when[32];

	if (h->state == H_SOAKING) {
		utc(h->until, when);
		appendf(buf, size, "%s soaks until %s", name, when);
	} else if (h->state == H_WAITING && !m->report.healthy) {
		appendf(buf, size, "%s is not healthy", name);
	} else if (h->state == H_WAITING) {
		appendf(buf, size, "%s runs %.7s", name,
			m->report.deployed[0] ? m->report.deployed : "nothing");
	}
}

static int eval_wave(const struct fleet_candidate *c, size_t w, struct fleet_ancestry *an,
		     int64_t now, struct wave_eval *we, char *detail, size_t size, struct err *e)
{
	const struct fleet_wave *fw = &c->assign->waves[w];
	size_t described = 0;

	memset(we, 0, sizeof(*we));
	we->first_failed = -1;
	for (size_t k = 0; k < fw->n; k++) {
		size_t host = fw->members[k];
		const struct fleet_member_view *m = member(c, host);
		struct host_eval h;

		if (eval_host(m, c->commit, fw->soak, an, now, &h, e) < 0)
			return -1;
		switch (h.state) {
		case H_EXCLUDED:
			we->excluded++;
			we->excluded_by[m ? m->verdict : FLEET_SILENT]++;
			continue;
		case H_FAILED:
			if (we->first_failed < 0) {
				we->first_failed = (long)host;
				we->first_failure = h.failure;
			}
			we->failed++;
			continue;
		case H_WAITING:
			we->waiting++;
			break;
		case H_SOAKING:
			we->soaking++;
			if (h.until > we->until)
				we->until = h.until;
			break;
		case H_SOAKED:
			we->soaked++;
			continue;
		}
		if (detail && described < 4) {
			appendf(detail, size, "%s", described ? ", " : "");
			describe_host(m, &h, detail, size);
		}
		described++;
	}
	we->is_soaked = we->waiting == 0 && we->soaking == 0 && we->soaked >= fw->min_healthy;
	if (we->waiting > 0 || we->soaked + we->soaking < fw->min_healthy || we->is_soaked)
		we->until = 0;
	if (detail && described > 4)
		appendf(detail, size, " and %zu more", described - 4);
	return 0;
}

/* 1 with msg set when c's rollout is halted, 0 when not. Failures need no
 * ancestry: only failures of c itself count. */
static int halt_of(const struct fleet_candidate *c, char *msg, size_t size, long *halted_wave)
{
	const struct fleet_assignment *a = c->assign;

	*halted_wave = -1;
	if (!a) {
		snprintf(msg, size, "rollout of %.7s halted: %s", c->commit,
			 c->plan_error ? c->plan_error : "its plan cannot be read");
		return 1;
	}
	for (size_t w = 0; w < a->nwaves; w++) {
		const struct fleet_wave *fw = &a->waves[w];
		const struct fleet_member_view *first = NULL;
		const struct fleet_failure *f = NULL;
		size_t failed = 0;

		for (size_t k = 0; k < fw->n; k++) {
			const struct fleet_member_view *m = member(c, fw->members[k]);
			const struct fleet_failure *mf;
			if (!m || (m->verdict != FLEET_OK && m->verdict != FLEET_STALE) ||
			    !(mf = failure_of(&m->report, c->commit)))
				continue;
			if (!first) {
				first = m;
				f = mf;
			}
			failed++;
		}
		if (failed <= fw->max_failures)
			continue;
		snprintf(msg, size, "rollout of %.7s halted: %s %s: %s", c->commit,
			 first->report.host, f->rolled_back ? "rolled back" : "failed", f->reason);
		if (failed > 1 || fw->max_failures > 0)
			appendf(msg, size, " (%zu failures in wave %s, max_failures = %u)", failed,
				fw->name, fw->max_failures);
		*halted_wave = (long)w;
		return 1;
	}
	return 0;
}

/* "1a2b3c4 waits for wave canary: web-02 runs 9f8e7d6; 0 of 2 soaked (min_healthy 1, ...)" */
static void note_wait(struct fleet_gate *out, const struct fleet_candidate *c, size_t w,
		      const struct wave_eval *we, const char *detail)
{
	const struct fleet_wave *fw = &c->assign->waves[w];
	char when[32];

	out->waiting = true;
	snprintf(out->wait_commit, sizeof(out->wait_commit), "%s", c->commit);
	snprintf(out->wait_wave, sizeof(out->wait_wave), "%s", fw->name);
	out->wait_until = we->until;
	snprintf(out->waits_for, sizeof(out->waits_for), "%.7s waits for wave %s: ", c->commit,
		 fw->name);
	if (detail[0])
		appendf(out->waits_for, sizeof(out->waits_for), "%s; ", detail);
	appendf(out->waits_for, sizeof(out->waits_for), "%zu of %zu hosts soaked (min_healthy %zu",
		we->soaked, fw->n, fw->min_healthy);
	for (int v = FLEET_SILENT; v <= FLEET_FORGED; v++)
		if (we->excluded_by[v])
			appendf(out->waits_for, sizeof(out->waits_for), ", %zu %s",
				we->excluded_by[v], fleet_verdict_name((enum fleet_verdict)v));
	if (we->failed)
		appendf(out->waits_for, sizeof(out->waits_for), ", %zu failed", we->failed);
	appendf(out->waits_for, sizeof(out->waits_for), ")");
	if (we->until) {
		utc(we->until, when);
		appendf(out->waits_for, sizeof(out->waits_for), "; soaked at %s", when);
	} else if (we->waiting == 0 && we->soaked + we->soaking < fw->min_healthy) {
		appendf(out->waits_for, sizeof(out->waits_for),
			"; too few hosts report it healthy: this holds until enough do");
	}
}

/* 1 when every wave before w is soaked on c; 0 with the wait noted when not. */
static int earlier_waves_soaked(struct fleet_gate *out, const struct fleet_candidate *c, size_t w,
				struct fleet_ancestry *an, int64_t now, struct err *e)
{
	for (size_t j = 0; j < w; j++) {
		struct wave_eval we;
		char detail[FLEET_GATE_TEXT_MAX / 2] = "";

		if (eval_wave(c, j, an, now, &we, detail, sizeof(detail), e) < 0)
			return -1;
		if (we.is_soaked)
			continue;
		if (!out->waiting)
			note_wait(out, c, j, &we, detail);
		return 0;
	}
	return 1;
}

static void set_wave(struct fleet_gate *out, const struct fleet_candidate *tip, const char *self)
{
	out->wave = tip->assign ? fleet_assign_wave_of(tip->assign, self) : -1;
	if (out->wave >= 0)
		snprintf(out->wave_name, sizeof(out->wave_name), "%s",
			 tip->assign->waves[out->wave].name);
}

/* Goes through the candidates (see gate.h); an is the memo of ancestry. */
static int decide(const struct fleet_gate_input *in, struct fleet_gate *out,
		  struct fleet_ancestry *an, struct err *e)
{
	for (size_t i = 0; i < in->ncandidates; i++) {
		const struct fleet_candidate *c = &in->candidates[i];
		char msg[FLEET_GATE_TEXT_MAX / 2];
		long w, halted_wave;
		int rc;

		bool halted;

		if (c->assign && c->view && c->view->hosts != c->assign->hosts)
			return err_set(e, "gate: the view of %.7s is not of its hosts file",
				       c->commit);
		rc = in->deployed ? fleet_ancestry_is_or_descends(an, c->commit, in->deployed, e)
				  : 0;
		if (rc < 0)
			return -1;
		if (rc == 1 && strcmp(c->commit, in->deployed) != 0)
			return 0; /* older than what runs */
		halted = halt_of(c, msg, sizeof(msg), &halted_wave);
		if (halted) {
			appendf(out->halted, sizeof(out->halted), "%s%s", out->nhalted ? "; " : "",
				msg);
			out->nhalted++;
		}
		if (rc == 1)
			return 0; /* what runs: kept, halted or not */
		if (halted)
			continue;
		w = fleet_assign_wave_of(c->assign, in->self);
		if (w < 0) {
			appendf(out->note, sizeof(out->note), "%s%s is not in %s of %.7s",
				out->note[0] ? "; " : "", in->self, c->assign->hosts->source,
				c->commit);
			continue;
		}
		rc = w == 0 ? 1 : earlier_waves_soaked(out, c, (size_t)w, an, in->now, e);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			out->deploy = c->commit;
			return 0;
		}
	}
	return 0;
}

int fleet_gate_decide(const struct fleet_gate_input *in, struct fleet_gate *out, struct err *e)
{
	struct fleet_ancestry an;
	int rc;

	memset(out, 0, sizeof(*out));
	out->wave = -1;
	if (in->ncandidates == 0)
		return 0;
	set_wave(out, &in->candidates[0], in->self);
	fleet_ancestry_init(&an, in->is_ancestor, in->ctx);
	rc = decide(in, out, &an, e);
	fleet_ancestry_release(&an);
	if (rc < 0) {
		out->deploy = NULL;
		return -1;
	}
	return 0;
}

int fleet_gate_progress(const struct fleet_candidate *c, fleet_is_ancestor_fn is_ancestor,
			void *ctx, int64_t now, struct fleet_progress *out, struct err *e)
{
	struct fleet_ancestry an;
	long halted_wave;
	bool open;

	memset(out, 0, sizeof(*out));
	snprintf(out->commit, sizeof(out->commit), "%s", c->commit);
	out->halted = halt_of(c, out->halted_reason, sizeof(out->halted_reason), &halted_wave);
	if (!c->assign)
		return 0;
	open = !out->halted;
	fleet_ancestry_init(&an, is_ancestor, ctx);
	for (size_t w = 0; w < c->assign->nwaves; w++) {
		const struct fleet_wave *fw = &c->assign->waves[w];
		struct fleet_wave_progress *p = &out->waves[w];
		struct wave_eval we;

		if (eval_wave(c, w, &an, now, &we, NULL, 0, e) < 0) {
			fleet_ancestry_release(&an);
			return -1;
		}
		snprintf(p->name, sizeof(p->name), "%s", fw->name);
		p->total = fw->n;
		p->done = we.soaked + we.soaking;
		p->soaked = we.soaked;
		p->waiting = we.waiting;
		p->failed = we.failed;
		p->excluded = we.excluded;
		p->min_healthy = fw->min_healthy;
		p->soak = fw->soak;
		p->is_soaked = we.is_soaked;
		p->open = open;
		p->soaking_until = we.until;
		p->halted = halted_wave == (long)w;
		open = open && we.is_soaked;
		out->nwaves++;
	}
	fleet_ancestry_release(&an);
	return 0;
}
