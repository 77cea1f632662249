/* The one way cim-agent starts child processes (nix, activation scripts,
 * health commands): an argv vector (no shell unless the user wrote a shell
 * command), its own process group, a timeout that kills the whole group,
 * stdout captured up to a cap, and the exit status reported like a shell
 * does (128+N for death by signal N). */
#ifndef CIM_SPAWN_H
#define CIM_SPAWN_H

#include <stdbool.h>
#include <stddef.h>

struct err;

struct spawn_opts {
	unsigned timeout;          /* seconds; 0 means none */
	bool capture_stdout;       /* collect stdout into result (up to capture_max) */
	size_t capture_max;        /* default 64 KiB */
	bool stdout_to_stderr;     /* when not captured, send the child's stdout to our stderr */
	bool capture_stderr;       /* with capture_stdout: stderr too, into the same buffer */
	const char *const *env;    /* extra NAME=VALUE entries, NULL-terminated; may be NULL */
	bool let_finish;	   /* if the agent dies meanwhile, its next start waits for this
				      child (up to the timeout) instead of killing it */
};

struct spawn_result {
	int status;        /* exit code, 128+N for signal N, -1 when it could not start */
	bool timed_out;
	char *out;         /* captured stdout, NUL-terminated; caller frees */
	size_t out_len;
	bool out_truncated;
	double seconds;    /* wall time spent in the child */
};

/* Runs argv[0] (looked up in PATH) and waits for it. Returns 0 when the child
 * ran (whatever its exit status), -1 when it could not be started. */
int spawn_run(const char *const argv[], const struct spawn_opts *o, struct spawn_result *r,
	      struct err *e);

/* Runs "/bin/sh -c cmd": for commands the operator wrote in the config. */
int spawn_shell(const char *cmd, const struct spawn_opts *o, struct spawn_result *r,
		struct err *e);

void spawn_result_release(struct spawn_result *r);

/* fn is called every 50 ms or so while a child runs (the daemon pings the
 * systemd watchdog from it); NULL to stop. */
void spawn_set_tick(void (*fn)(void));

/* What finds a child's process group again when the agent died while it
 * ran (agent/orphan.h records it). */
struct spawn_group {
	long pgid;		  /* the child's pid, leader of its own group */
	unsigned long long start; /* its start time (pgroup_start_time), 0 when unknown */
	long long deadline;	  /* unix time its timeout ends, 0 for none */
	bool let_finish;
	const char *program;
};

/* fn(g, ctx) runs once a child's group exists and before the child starts
 * its program. */
void spawn_set_recorder(void (*fn)(const struct spawn_group *g, void *ctx), void *ctx);

/* Total wall time spent in children since start, for the overhead benchmark. */
double spawn_total_seconds(void);

#endif
