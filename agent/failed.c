#include "agent/failed.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const struct state_failure *failed_find(const struct agent_state *st, const char *commit,
					const char *digest)
{
	for (size_t i = 0; i < st->nfailed; i++) {
		const struct state_failure *f = &st->failed[i];
		if (strcmp(f->commit, commit) == 0)
			return f;
		if (digest && digest[0] && f->signed_digest &&
		    strcmp(f->signed_digest, digest) == 0)
			return f;
	}
	return NULL;
}

static void drop(struct agent_state *st, size_t i)
{
	free(st->failed[i].commit);
	free(st->failed[i].signed_digest);
	free(st->failed[i].reason);
	memmove(&st->failed[i], &st->failed[i + 1], (st->nfailed - i - 1) * sizeof(st->failed[0]));
	st->nfailed--;
	memset(&st->failed[st->nfailed], 0, sizeof(st->failed[0]));
}

void failed_remember(struct agent_state *st, const char *commit, const char *digest,
		     const char *reason)
{
	struct state_failure *f;

	if (st->nfailed == STATE_FAILED_MAX)
		drop(st, 0);
	f = &st->failed[st->nfailed];
	if (state_set_str(&f->commit, commit) < 0 ||
	    state_set_str(&f->signed_digest, digest && digest[0] ? digest : NULL) < 0 ||
	    state_set_str(&f->reason, reason) < 0) {
		free(f->commit);
		free(f->signed_digest);
		memset(f, 0, sizeof(*f));
		return; /* out of memory: not remembered, as before */
	}
	f->at = (int64_t)time(NULL);
	st->nfailed++;
}

int failed_forget(struct agent_state *st, const char *prefix)
{
	int forgotten = 0;

	for (size_t i = st->nfailed; i-- > 0;) {
		if (!prefix || strncmp(st->failed[i].commit, prefix, strlen(prefix)) == 0) {
			drop(st, i);
			forgotten++;
		}
	}
	return forgotten;
}
