/* agent/state_quiet.h: quiet polls left unwritten. */
#include "agent/state_quiet.h"

#include "agent/state.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct state_written {
	char *quiet; /* state_text() without the times of a quiet poll */
	int64_t at;  /* when the file was written */
};

static char *quiet_text(const struct agent_state *st)
{
	struct agent_state q = *st; /* shallow: only read */

	if (q.phase == PHASE_FETCH || q.phase == PHASE_GATE)
		q.phase = PHASE_IDLE;
	q.phase_since = q.fetched_at = q.last_cycle_at = q.next_poll_at = 0;
	/* The count of such polls (and of a waiting host's gate decisions, which
	 * every report of the fleet may wake) and their success times: a crash
	 * loses at most a minute of them, which a Prometheus counter tolerates.
	 * A tip skipped as failed before, a halted rollout, a refused tip or the
	 * same error again are polls as quiet: the outcome and its message are
	 * compared, not their counts or times. */
	static const enum cycle_outcome repeats[] = {CYCLE_UP_TO_DATE, CYCLE_WAITING, CYCLE_SKIPPED,
						     CYCLE_HALTED,     CYCLE_REFUSED, CYCLE_ERROR};
	for (size_t i = 0; i < sizeof(repeats) / sizeof(repeats[0]); i++)
		q.metrics.cycles[repeats[i]] = 0;
	memset(q.metrics.ok, 0, sizeof(q.metrics.ok));
	q.metrics.failed[METRIC_VERIFY] = q.metrics.failed[METRIC_FETCH] = 0;
	return state_text(&q);
}

/* What this process saved but left unwritten, and the file as this process
 * last wrote it: the next load in this process (the daemon's next cycle)
 * reads the newer text, unless someone else has written the file since. */
static struct {
	char *path, *text;
	struct stat file;
} unwritten;

static bool same_file_as_written(const char *path, const struct stat *sb)
{
	return unwritten.path && strcmp(unwritten.path, path) == 0 &&
	       sb->st_dev == unwritten.file.st_dev && sb->st_ino == unwritten.file.st_ino &&
	       sb->st_size == unwritten.file.st_size &&
	       sb->st_mtim.tv_sec == unwritten.file.st_mtim.tv_sec &&
	       sb->st_mtim.tv_nsec == unwritten.file.st_mtim.tv_nsec;
}

static bool same_file_now(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && same_file_as_written(path, &sb);
}

static void note_written(const char *path)
{
	free(unwritten.text);
	unwritten.text = NULL;
	free(unwritten.path);
	unwritten.path = strdup(path);
	if (unwritten.path && stat(path, &unwritten.file) < 0) {
		free(unwritten.path);
		unwritten.path = NULL;
	}
}

static void remember_written(const struct agent_state *st, int64_t at)
{
	char *quiet = quiet_text(st);

	if (!quiet)
		return;
	if (!st->written) {
		/* st is const for callers; the record is not part of the state. */
		struct agent_state *mut = (struct agent_state *)(uintptr_t)st;
		mut->written = calloc(1, sizeof(*mut->written));
		if (!mut->written) {
			free(quiet);
			return;
		}
	}
	free(st->written->quiet);
	st->written->quiet = quiet;
	st->written->at = at;
}

bool state_quiet_keep_unwritten(const struct agent_state *st, char *text)
{
	char *quiet;
	bool same;

	/* A quiet poll's fetch or gate phase is never written (a start after a
	 * crash in it starts over, as from idle); its end is, once a minute. */
	if (!st->written || !st->written->quiet ||
	    !(st->phase == PHASE_FETCH || st->phase == PHASE_GATE ||
	      time(NULL) - st->written->at < STATE_QUIET_SECONDS))
		return false;
	quiet = quiet_text(st);
	same = quiet && strcmp(quiet, st->written->quiet) == 0;
	free(quiet);
	if (!same || !same_file_now(st->path))
		return false;
	free(unwritten.text);
	unwritten.text = text;
	return true;
}

void state_quiet_written(const struct agent_state *st, int64_t at)
{
	remember_written(st, at);
	note_written(st->path);
}

char *state_quiet_unwritten_text(const char *path, const struct stat *sb)
{
	return unwritten.text && same_file_as_written(path, sb) ? strdup(unwritten.text) : NULL;
}

void state_quiet_loaded(const struct agent_state *st, const struct stat *sb)
{
	remember_written(st, (int64_t)sb->st_mtime);
	if (same_file_as_written(st->path, sb))
		return;
	free(unwritten.text);
	unwritten.text = NULL;
	free(unwritten.path);
	unwritten.path = strdup(st->path);
	unwritten.file = *sb;
}

void state_quiet_release(struct agent_state *st)
{
	if (st->written)
		free(st->written->quiet);
	free(st->written);
	st->written = NULL;
}
