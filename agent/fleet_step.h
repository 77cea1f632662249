/* The gate row of the cycle (agent/cycle.c): between the verification of the
 * tip and the build, the fleet's plan decides what this host may deploy now
 * (fleet/gate.h): the tip, an older verified commit that has soaked in the
 * waves before this one, or nothing yet (waiting, halted). Without [fleet]
 * or without a plan in the tip, it lets the tip through. */
#ifndef CIM_FLEET_STEP_H
#define CIM_FLEET_STEP_H

#include <stddef.h>

struct cycle;

void step_gate_prepare(struct cycle *c, char *what, size_t size);
int step_gate(struct cycle *c);

#endif
