#include "fleet/assign.h"

#include "base/err.h"
#include "fleet/hosts.h"
#include "fleet/plan.h"

#include <fnmatch.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define UNASSIGNED ((size_t)-1)

uint64_t fleet_name_hash(const char *name)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	uint64_t v = 0;

	crypto_hash_sha256(h, (const unsigned char *)name, strlen(name));
	for (int i = 0; i < 8; i++)
		v = v << 8 | h[i];
	return v;
}

/* Puts host i into wave w, refusing a host that another wave already took. */
static int claim(struct fleet_assignment *a, size_t i, size_t w, int line, struct err *e)
{
	const struct fleet_plan *p = a->plan;
	size_t was = a->wave_of[i];

	if (was != UNASSIGNED && was != w)
		return err_set(e,
			       "%s:%d: [wave %s] hosts: %s is already in [wave %s] (line %d); a "
			       "host belongs to one wave",
			       p->source, line, p->waves[w].name, a->hosts->v[i].name,
			       p->waves[was].name, p->waves[was].line);
	a->wave_of[i] = w;
	return 0;
}

static int match_pattern(struct fleet_assignment *a, size_t w, size_t j, struct err *e)
{
	const struct fleet_plan_wave *pw = &a->plan->waves[w];
	const struct fleet_hosts *h = a->hosts;
	const char *pat = pw->patterns[j];
	int line = pw->pattern_lines[j];
	size_t matched = 0;

	if (!strpbrk(pat, "*?")) {
		long i = fleet_hosts_index(h, pat);
		if (i < 0)
			return err_set(e,
				       "%s:%d: [wave %s] hosts: %s is not in %s; add it there or "
				       "remove it here",
				       a->plan->source, line, pw->name, pat, h->source);
		return claim(a, (size_t)i, w, line, e);
	}
	for (size_t i = 0; i < h->n; i++) {
		if (fnmatch(pat, h->v[i].name, 0) != 0)
			continue;
		if (claim(a, i, w, line, e) < 0)
			return -1;
		matched++;
	}
	if (matched == 0)
		return err_set(e, "%s:%d: [wave %s] hosts: '%s' matches no host in %s",
			       a->plan->source, line, pw->name, pat, h->source);
	return 0;
}

struct ranked {
	uint64_t hash;
	size_t index;
	const char *name;
};

static int ranked_cmp(const void *x, const void *y)
{
	const struct ranked *a = x, *b = y;

	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Percent and selector-less waves share out the hosts no pattern names. */
static int share_out(struct fleet_assignment *a, struct err *e)
{
	const struct fleet_plan *p = a->plan;
	struct ranked *pool = calloc(a->hosts->n ? a->hosts->n : 1, sizeof(*pool));
	size_t n = 0, next = 0;

	if (!pool)
		return err_set(e, "out of memory");
	for (size_t i = 0; i < a->hosts->n; i++)
		if (a->wave_of[i] == UNASSIGNED)
			pool[n++] = (struct ranked){fleet_name_hash(a->hosts->v[i].name), i,
						    a->hosts->v[i].name};
	qsort(pool, n, sizeof(*pool), ranked_cmp);
	for (size_t w = 0; w < p->nwaves; w++) {
		const struct fleet_plan_wave *pw = &p->waves[w];
		size_t left = n - next, take = left;
		if (pw->npatterns > 0)
			continue;
		if (pw->percent)
			take = (left * pw->percent + 99) / 100;
		for (size_t k = 0; k < take; k++)
			a->wave_of[pool[next++].index] = w;
	}
	free(pool);
	return 0;
}

/* Fills a->waves from a->wave_of; the unassigned hosts form the implicit wave. */
static int build_waves(struct fleet_assignment *a, struct err *e)
{
	const struct fleet_plan *p = a->plan;
	size_t implicit = p->nwaves;

	a->waves = calloc(p->nwaves + 1, sizeof(*a->waves));
	if (!a->waves)
		return err_set(e, "out of memory");
	a->nwaves = p->nwaves;
	for (size_t i = 0; i < a->hosts->n; i++) {
		if (a->wave_of[i] == UNASSIGNED) {
			a->wave_of[i] = implicit;
			a->nwaves = p->nwaves + 1;
		}
		a->waves[a->wave_of[i]].n++;
	}
	for (size_t w = 0; w < a->nwaves; w++) {
		struct fleet_wave *fw = &a->waves[w];
		const struct fleet_plan_wave *pw = w < p->nwaves ? &p->waves[w] : NULL;
		fw->members = calloc(fw->n ? fw->n : 1, sizeof(*fw->members));
		if (!fw->members)
			return err_set(e, "out of memory");
		fw->name = pw ? pw->name : FLEET_IMPLICIT_WAVE;
		fw->line = pw ? pw->line : 0;
		fw->soak = pw ? pw->soak : p->soak;
		fw->max_failures = pw ? pw->max_failures : p->max_failures;
		fw->n = 0;
	}
	for (size_t i = 0; i < a->hosts->n; i++) {
		struct fleet_wave *fw = &a->waves[a->wave_of[i]];
		fw->members[fw->n++] = i;
	}
	return 0;
}

/* Every wave selects someone; min_healthy can be met in every wave that gates. */
static int check_waves(struct fleet_assignment *a, struct err *e)
{
	const struct fleet_plan *p = a->plan;

	for (size_t w = 0; w < a->nwaves; w++) {
		struct fleet_wave *fw = &a->waves[w];
		struct fleet_count c = w < p->nwaves ? p->waves[w].min_healthy : p->min_healthy;
		if (fw->n == 0)
			return err_set(
			    e,
			    "%s:%d: [wave %s] selects no host: every host of %s is "
			    "named by a pattern wave or taken by an earlier wave; remove "
			    "the wave",
			    p->source, fw->line, fw->name, a->hosts->source);
		fw->min_healthy = c.percent ? (fw->n * c.value + 99) / 100 : c.value;
		if (fw->min_healthy <= fw->n)
			continue;
		if (w + 1 == a->nwaves) {
			fw->min_healthy = fw->n; /* the last wave gates nothing */
			continue;
		}
		return err_set(e,
			       "%s:%d: [wave %s] has %zu host%s but min_healthy = %zu: it could "
			       "never soak; lower min_healthy or give the wave more hosts",
			       p->source, fw->line ? fw->line : 1, fw->name, fw->n,
			       fw->n == 1 ? "" : "s", fw->min_healthy);
	}
	return 0;
}

int fleet_assign(struct fleet_assignment *out, const struct fleet_plan *plan,
		 const struct fleet_hosts *hosts, struct err *e)
{
	memset(out, 0, sizeof(*out));
	out->plan = plan;
	out->hosts = hosts;
	out->wave_of = malloc((hosts->n ? hosts->n : 1) * sizeof(*out->wave_of));
	if (!out->wave_of)
		return err_set(e, "out of memory");
	for (size_t i = 0; i < hosts->n; i++)
		out->wave_of[i] = UNASSIGNED;
	for (size_t w = 0; w < plan->nwaves; w++)
		for (size_t j = 0; j < plan->waves[w].npatterns; j++)
			if (match_pattern(out, w, j, e) < 0)
				goto fail;
	if (share_out(out, e) < 0 || build_waves(out, e) < 0 || check_waves(out, e) < 0)
		goto fail;
	return 0;
fail:
	fleet_assign_release(out);
	return -1;
}

long fleet_assign_wave_of(const struct fleet_assignment *a, const char *name)
{
	long i = fleet_hosts_index(a->hosts, name);

	return i < 0 ? -1 : (long)a->wave_of[i];
}

void fleet_assign_release(struct fleet_assignment *a)
{
	for (size_t w = 0; a->waves && w < a->nwaves; w++)
		free(a->waves[w].members);
	free(a->waves);
	free(a->wave_of);
	memset(a, 0, sizeof(*a));
}
