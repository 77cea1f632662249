/* agent/state.c's bookkeeping of quiet polls (see state_save() in
 * agent/state.h): what this process last wrote, what it left unwritten, and
 * whether a save may be left unwritten. Only agent/state.c uses it. */
#ifndef CIM_STATE_QUIET_H
#define CIM_STATE_QUIET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

struct agent_state;

/* True when st differs from what was last written only by the traces of a
 * quiet poll and the file is still the one written: text (st's, owned from
 * here on) is kept for the next load in this process instead. */
bool state_quiet_keep_unwritten(const struct agent_state *st, char *text);

/* st was just written to its file at time at. */
void state_quiet_written(const struct agent_state *st, int64_t at);

/* The text this process left unwritten for path (a copy to free), when the
 * file is still as this process wrote it (sb); NULL otherwise. */
char *state_quiet_unwritten_text(const char *path, const struct stat *sb);

/* st was loaded from its file (sb). */
void state_quiet_loaded(const struct agent_state *st, const struct stat *sb);

/* Frees st's record of what was written. */
void state_quiet_release(struct agent_state *st);

#endif
