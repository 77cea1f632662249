/* Faults of the host, not of the commit. What a phase of the cycle needs
 * from the host (nix, the profile's directory, room on the disk, the age
 * identities, a place for the secrets) is checked before the cycle builds,
 * and again when a step fails: a fault found there is an error, retried
 * with backoff, and never marks the commit failed. Each message says what
 * to fix. */
#ifndef CIM_HOST_CHECK_H
#define CIM_HOST_CHECK_H

#include "agent/cycle.h"

#include <stddef.h>

struct config;

/* What the whole cycle needs, before it builds (nix, the profile's
 * directory unless mode = build, room on the disk). 1 with why filled when
 * the host lacks something; 0 when it looks fine. */
int host_check_cycle(const struct config *cfg, char *why, size_t size);

/* After the step of phase failed: 1 with why filled when the host, not the
 * commit, explains it; 0 when the commit is to blame. */
int host_check_failure(const struct config *cfg, enum cycle_phase phase, char *why, size_t size);

#endif
