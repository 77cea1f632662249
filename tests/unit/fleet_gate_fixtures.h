/* The fleet of the gate tests: six hosts in three waves, settled on commit 1. */
#ifndef CIM_TEST_FLEET_GATE_FIXTURES_H
#define CIM_TEST_FLEET_GATE_FIXTURES_H

#include "fleet_world.h"

static const char *const six[] = {"c-1", "c-2", "q-1", "q-2", "r-1", "r-2", NULL};

static const char three_waves[] = "[rollout]\nhosts = fleet/hosts\nsoak = 10m\nstale_after = 15m\n"
				  "[wave canary]\nhosts = c-*\n"
				  "[wave quarter]\nhosts = q-*\nsoak = 30m\n"
				  "[wave rest]\n";

#define T0  1700000000
#define MIN 60

static inline void contains(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("'%s' not in '%s'", want, text);
}

/* Everyone healthy on commit 1 for a day. */
static inline void settled(struct world *w)
{
	for (int i = 0; six[i]; i++)
		world_on(w, six[i], 1, T0 - 86400);
}

#endif
