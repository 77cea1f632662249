/* The failure memory, state.json's failed_commits: commits that failed to
 * build, decrypt, activate or pass their health checks, newest last, at most
 * FAILED_MAX. An entry holds the commit id and the digest of what its
 * signature covers ("signed", see commitsig_digest), so the same signed
 * content under another commit id (a re-wrapped signature, another SSHSIG
 * reserved field) is known as well. Entries from before "signed" was
 * recorded match by commit id alone. */
#ifndef CIM_FAILED_H
#define CIM_FAILED_H

#include <jansson.h>

#define FAILED_MAX 20

/* The entry that matches commit or, when digest is not empty, its signed
 * content; NULL when there is none. Borrowed from root. */
json_t *failed_find(json_t *root, const char *commit, const char *digest);

/* Adds an entry; digest may be NULL or empty when unknown. */
void failed_remember(json_t *root, const char *commit, const char *digest, const char *reason);

/* Forgets the entries whose commit id starts with prefix, or all of them when
 * prefix is NULL. Returns how many were forgotten. */
int failed_forget(json_t *root, const char *prefix);

#endif
