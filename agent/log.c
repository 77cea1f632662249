#include "agent/log.h"

#include "base/sdcompat.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static unsigned long current_generation;

void log_set_generation(unsigned long generation)
{
	current_generation = generation;
}

/* Bytes below 0x20 (but tab, and newline when keep_newline), DEL and the C1
 * controls U+0080..U+009F become \xNN: a terminal or a journal viewer must
 * not act on escape sequences from a commit. */
static void escape_controls(const char *in, bool keep_newline, char *out, size_t outsz)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p && o + 1 < outsz; p++) {
		bool c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
		if ((*p < 0x20 && *p != '\t' && !(keep_newline && *p == '\n')) || *p == 0x7f ||
		    c1) {
			if (o + 5 > outsz)
				break;
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c1 ? p[1] : *p);
			p += c1;
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
}

void log_printable(const char *in, char *out, size_t outsz)
{
	escape_controls(in, false, out, outsz);
}

void log_print(FILE *f, const char *fmt, ...)
{
	char text[4096], safe[4096 * 4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	escape_controls(text, true, safe, sizeof(safe));
	fputs(safe, f);
}

static void log_v(int priority, const char *commit, const char *phase, const char *message_id,
		  const char *fmt, va_list ap)
{
	char raw[2048], msg[2048 * 4], f_commit[64], f_phase[64], f_gen[48], f_id[48];
	const char *fields[5] = {NULL, NULL, NULL, NULL, NULL};
	int n = 0;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	escape_controls(raw, false, msg, sizeof(msg));
	if (sdc_journal_available()) {
		if (message_id) {
			snprintf(f_id, sizeof(f_id), "MESSAGE_ID=%s", message_id);
			fields[n++] = f_id;
		}
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

void log_msg(int priority, const char *commit, const char *phase, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(priority, commit, phase, NULL, fmt, ap);
	va_end(ap);
}

/* The journal catalog ids of the outcomes operators look for; README.md
 * lists them. */
static const struct {
	const char *outcome, *id;
} message_ids[] = {
	{"deployed", LOG_ID_DEPLOYED},
	{"rolled-back", LOG_ID_ROLLED_BACK},
	{"refused", LOG_ID_REFUSED},
};

void log_outcome(int priority, const char *commit, const char *outcome, const char *fmt, ...)
{
	const char *id = NULL;
	va_list ap;

	for (size_t i = 0; i < sizeof(message_ids) / sizeof(message_ids[0]); i++)
		if (strcmp(outcome, message_ids[i].outcome) == 0)
			id = message_ids[i].id;
	va_start(ap, fmt);
	log_v(priority, commit, NULL, id, fmt, ap);
	va_end(ap);
}
