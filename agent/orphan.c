#include "agent/orphan.h"

#include "agent/config.h"
#include "base/err.h"
#include "base/fileio.h"
#include "agent/log.h"
#include "apply/pgroup.h"
#include "apply/spawn.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECORD_MAX_BYTES 8192
#define KILL_GRACE	 10 /* seconds for a killed group to be gone */

static char record_path[PATH_MAX];

static void record_name(const char *state_dir, char *buf, size_t size)
{
	snprintf(buf, size, "%s/child.json", state_dir);
}

/* Only a death of the agent needs it, not a power cut (no group survives
 * a reboot): no fsync, so a health check every second costs no disk flush.
 * It stays when the child has ended (a group that is gone is recognised as
 * such) and the next child's record replaces it: one write per child, and
 * none that frees space on a full disk for a moment. */
static void record(const struct spawn_group *g, void *ctx)
{
	char boot[64], *text;
	struct err e = {{0}};
	json_t *o;

	(void)ctx;
	pgroup_boot_id(boot, sizeof(boot));
	o = json_pack("{s:I, s:I, s:s, s:I, s:b, s:s}", "pgid", (json_int_t)g->pgid, "start",
		      (json_int_t)g->start, "boot_id", boot, "deadline", (json_int_t)g->deadline,
		      "let_finish", g->let_finish, "program", g->program);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text || file_replace(record_path, text, strlen(text), 0644, &e) < 0)
		log_msg(LOG_WARNING, NULL, NULL,
			"cannot record the process group of %s (a restart would not find it): %s",
			g->program, text ? e.msg : "out of memory");
	free(text);
}

void orphan_track(const char *state_dir)
{
	record_name(state_dir, record_path, sizeof(record_path));
	spawn_set_recorder(record, NULL);
}

struct orphan {
	long pgid;
	unsigned long long start;
	long long deadline;
	bool let_finish;
	char program[256];
};

/* Reads the record; 1 when there is a group of this boot to look at. */
static int orphan_read(const char *path, struct orphan *o)
{
	char *text = NULL, boot[64];
	json_t *root;
	int rc = 0;

	if (file_read_capped(path, RECORD_MAX_BYTES, &text, NULL, NULL) < 0)
		return 0;
	root = json_loads(text, 0, NULL);
	free(text);
	pgroup_boot_id(boot, sizeof(boot));
	if (json_is_object(root) &&
	    strcmp(json_string_value(json_object_get(root, "boot_id")) ?: "", boot) == 0) {
		o->pgid = (long)json_integer_value(json_object_get(root, "pgid"));
		o->start = (unsigned long long)json_integer_value(json_object_get(root, "start"));
		o->deadline = json_integer_value(json_object_get(root, "deadline"));
		o->let_finish = json_is_true(json_object_get(root, "let_finish"));
		snprintf(o->program, sizeof(o->program), "%s",
			 json_string_value(json_object_get(root, "program")) ?: "a child");
		rc = o->pgid > 1;
	}
	json_decref(root);
	return rc;
}

/* Polls until the group is gone or until (unix time); 1 when it is gone. */
static int wait_gone(const struct orphan *o, time_t until, bool (*should_stop)(void),
		     void (*tick)(void))
{
	struct timespec nap = {0, 100 * 1000 * 1000};

	while (pgroup_alive(o->pgid, o->start)) {
		if (time(NULL) >= until || (should_stop && should_stop()))
			return 0;
		if (tick)
			tick();
		nanosleep(&nap, NULL);
	}
	return 1;
}

int orphan_settle(const char *state_dir, bool (*should_stop)(void), void (*tick)(void),
		  struct err *e)
{
	char path[PATH_MAX];
	struct orphan o = {0};

	record_name(state_dir, path, sizeof(path));
	if (!orphan_read(path, &o) || !pgroup_alive(o.pgid, o.start)) {
		unlink(path);
		return 0;
	}
	if (o.let_finish && o.deadline > time(NULL)) {
		log_msg(LOG_WARNING, NULL, NULL,
			"%s (process group %ld) still runs, left by an agent that died; waiting up "
			"to %llds for it to finish before deciding anything",
			o.program, o.pgid, (long long)(o.deadline - time(NULL)));
		if (!wait_gone(&o, (time_t)o.deadline, should_stop, tick) && should_stop &&
		    should_stop())
			return err_set(e, "stopped while waiting for %s (process group %ld)",
				       o.program, o.pgid);
	}
	if (pgroup_alive(o.pgid, o.start)) {
		log_msg(LOG_WARNING, NULL, NULL,
			"killing %s (process group %ld), left running by an agent that died",
			o.program, o.pgid);
		kill((pid_t)-o.pgid, SIGKILL);
		if (!wait_gone(&o, time(NULL) + KILL_GRACE, NULL, tick))
			return err_set(e,
				       "%s (process group %ld) does not go away after SIGKILL; "
				       "nothing is decided while it runs",
				       o.program, o.pgid);
	}
	log_msg(LOG_NOTICE, NULL, NULL, "%s (process group %ld) is gone", o.program, o.pgid);
	unlink(path);
	return 0;
}

void orphan_sweep_temps(const struct config *cfg)
{
	char dir[PATH_MAX];
	const char *metrics = cfg->report.metrics_file, *slash;
	int n = file_sweep_temps(cfg->agent.state_dir, NULL);

	snprintf(dir, sizeof(dir), "%s/outbox", cfg->agent.state_dir);
	n += file_sweep_temps(dir, NULL);
	if (metrics && (slash = strrchr(metrics, '/')) && slash > metrics) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - metrics), metrics);
		n += file_sweep_temps(dir, slash + 1);
	}
	if (n)
		log_msg(LOG_NOTICE, NULL, NULL,
			"removed %d temporary file%s left by an interrupted write", n,
			n == 1 ? "" : "s");
}
