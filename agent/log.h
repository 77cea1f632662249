/* Logging for the agent: to the journal with CIM_* fields when stderr is the
 * journal, to stderr otherwise. Only agent/ logs. Never pass secrets. */
#ifndef CIM_LOG_H
#define CIM_LOG_H

#include <stdio.h>
#include <syslog.h>

/* MESSAGE_IDs of the cycle outcomes (journalctl MESSAGE_ID=...). */
#define LOG_ID_DEPLOYED    "2505bdf115ba47feb77b925318405e69"
#define LOG_ID_ROLLED_BACK "94951173f5fc4be49afbf44e25c43608"
#define LOG_ID_REFUSED     "0c83a2432e60427c9ffe01d121de3f32"

/* The profile generation journal entries carry as CIM_GENERATION (0: none). */
void log_set_generation(unsigned long generation);

/* commit and phase may be NULL. */
void log_msg(int priority, const char *commit, const char *phase, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Control characters in log messages and in what log_print prints are
 * escaped as \xNN (log_print keeps newlines): lines that show repository
 * data (signer emails, reasons) cannot move a terminal's cursor. */
void log_print(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same escaping into out, newlines included. */
void log_printable(const char *in, char *out, size_t outsz);

/* The end of a cycle (outcome as cycle_outcome_name() says it); deployed,
 * rolled-back and refused carry their MESSAGE_ID. commit may be NULL. */
void log_outcome(int priority, const char *commit, const char *outcome, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
