#include "fleet/ancestry.h"

#include "base/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void fleet_ancestry_init(struct fleet_ancestry *an, fleet_is_ancestor_fn fn, void *ctx)
{
	memset(an, 0, sizeof(*an));
	an->fn = fn;
	an->ctx = ctx;
}

static uint64_t pair_hash(const char *a, const char *b)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 0x100000001b3ull;
	/* FNV's low bits are poor for ids that differ in a few characters, and
	 * the table is indexed by them: mix the high bits in. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static struct fleet_ancestry_slot *find_slot(struct fleet_ancestry_slot *slots, size_t n,
					     const char *a, const char *b)
{
	size_t i = (size_t)(pair_hash(a, b) & (n - 1));

	while (slots[i].a && (strcmp(slots[i].a, a) != 0 || strcmp(slots[i].b, b) != 0))
		i = (i + 1) & (n - 1);
	return &slots[i];
}

static int grow(struct fleet_ancestry *an)
{
	size_t n = an->nslots ? 2 * an->nslots : 64;
	struct fleet_ancestry_slot *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -1;
	for (size_t i = 0; i < an->nslots; i++)
		if (an->slots[i].a)
			*find_slot(slots, n, an->slots[i].a, an->slots[i].b) = an->slots[i];
	free(an->slots);
	an->slots = slots;
	an->nslots = n;
	return 0;
}

int fleet_ancestry_is_or_descends(struct fleet_ancestry *an, const char *a, const char *b,
				  struct err *e)
{
	struct fleet_ancestry_slot *s;
	int answer;

	if (strcmp(a, b) == 0)
		return 1;
	if ((an->used + 1) * 2 > an->nslots && grow(an) < 0)
		return err_set(e, "out of memory");
	s = find_slot(an->slots, an->nslots, a, b);
	if (s->a)
		return s->answer;
	answer = an->fn(an->ctx, a, b);
	if (answer < 0)
		return err_set(e, "cannot tell whether %.12s is an ancestor of %.12s", a, b);
	s->a = strdup(a);
	s->b = strdup(b);
	if (!s->a || !s->b) {
		free(s->a);
		free(s->b);
		s->a = s->b = NULL;
		return err_set(e, "out of memory");
	}
	s->answer = answer ? 1 : 0;
	an->used++;
	return s->answer;
}

void fleet_ancestry_release(struct fleet_ancestry *an)
{
	for (size_t i = 0; i < an->nslots; i++) {
		free(an->slots[i].a);
		free(an->slots[i].b);
	}
	free(an->slots);
	memset(an, 0, sizeof(*an));
}
