/* The failure memory, the state's failed commits: commits that failed to
 * build, decrypt, activate or pass their health checks, newest last, at most
 * STATE_FAILED_MAX. An entry holds the commit id and the digest of what its
 * signature covers (see commitsig_digest), so the same signed content under
 * another commit id (a re-wrapped signature, another SSHSIG reserved field)
 * is known as well. Entries from before the digest was recorded match by
 * commit id alone. */
#ifndef CIM_FAILED_H
#define CIM_FAILED_H

#include "agent/state.h"

/* The entry that matches commit or, when digest is not empty, its signed
 * content; NULL when there is none. Borrowed from st. */
const struct state_failure *failed_find(const struct agent_state *st, const char *commit,
					const char *digest);

/* Adds an entry, dropping the oldest beyond STATE_FAILED_MAX; digest may be
 * NULL or empty when unknown. */
void failed_remember(struct agent_state *st, const char *commit, const char *digest,
		     const char *reason);

/* Forgets the entries whose commit id starts with prefix, or all of them when
 * prefix is NULL. Returns how many were forgotten. */
int failed_forget(struct agent_state *st, const char *prefix);

#endif
