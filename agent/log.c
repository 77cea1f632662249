#include "agent/log.h"

#include "agent/sdcompat.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static unsigned long current_generation;

void log_set_generation(unsigned long generation)
{
	current_generation = generation;
}

void log_msg(int priority, const char *commit, const char *phase, const char *fmt, ...)
{
	char msg[2048], f_commit[64], f_phase[64], f_gen[48];
	const char *fields[4] = {NULL, NULL, NULL, NULL};
	int n = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sdc_journal_available()) {
		if (commit) {
			snprintf(f_commit, sizeof(f_commit), "CIM_COMMIT=%s", commit);
			fields[n++] = f_commit;
		}
		if (phase) {
			snprintf(f_phase, sizeof(f_phase), "CIM_PHASE=%s", phase);
			fields[n++] = f_phase;
		}
		if (current_generation) {
			snprintf(f_gen, sizeof(f_gen), "CIM_GENERATION=%lu", current_generation);
			fields[n++] = f_gen;
		}
		sdc_journal(priority, msg, fields);
		return;
	}
	fprintf(stderr, "cim-agent: %s%s%s\n", phase ? phase : "", phase ? ": " : "", msg);
}
