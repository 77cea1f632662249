/* Logging for the agent: to the journal with CIM_* fields when stderr is the
 * journal, to stderr otherwise. Only agent/ logs. Never pass secrets. */
#ifndef CIM_LOG_H
#define CIM_LOG_H

#include <syslog.h>

/* The profile generation journal entries carry as CIM_GENERATION (0: none). */
void log_set_generation(unsigned long generation);

/* commit and phase may be NULL. */
void log_msg(int priority, const char *commit, const char *phase, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
