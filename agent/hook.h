/* The deployment hook ([report] command): an operator's shell command run
 * after each deployment attempt, told what happened through CIM_*
 * environment variables (documented in README.md ("Reporting")). */
#ifndef CIM_HOOK_H
#define CIM_HOOK_H

struct agent_state;
struct config;
struct err;
struct history_entry;

#define HOOK_TIMEOUT 60 /* seconds; then the command's process group is killed */

/* Runs the command with /bin/sh -c for a cycle that ended with outcome
 * (deployed, rolled-back, failed). entry is that deployment's history record
 * (may be NULL), state the state after the cycle. Its output goes to the
 * agent's stderr. Nothing to do without [report] command; -1 when it could
 * not start, timed out or exited non-zero. */
int hook_run(const struct config *cfg, const char *outcome, const struct agent_state *st,
	     const struct history_entry *entry, struct err *e);

/* The generation number from the name of a profile link's target
 * ("system-42-link" gives 42); 0 when it has none. */
unsigned long hook_profile_generation(const char *profile);

#endif
