#include "apply/spawn.h"

#include "base/clock.h"
#include "base/err.h"
#include "apply/pgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double total_child_seconds;
static void (*tick)(void);
static void (*recorder)(const struct spawn_group *g, void *ctx);
static void *recorder_ctx;

void spawn_set_recorder(void (*fn)(const struct spawn_group *g, void *ctx), void *ctx)
{
	recorder = fn;
	recorder_ctx = ctx;
}

void spawn_set_tick(void (*fn)(void))
{
	tick = fn;
}

double spawn_total_seconds(void)
{
	return total_child_seconds;
}

/* gate: the parent writes one byte once the group is recorded; when the
 * parent dies first, the read ends with nothing and the program never runs. */
static void child_exec(const char *const argv[], const struct spawn_opts *o, int out_fd, int gate)
{
	char go;
	ssize_t n;

	setpgid(0, 0);
	/* The agent blocks or handles some signals; the child starts clean. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		close(devnull);
	}
	if (out_fd >= 0)
		dup2(out_fd, STDOUT_FILENO);
	else if (o->stdout_to_stderr)
		dup2(STDERR_FILENO, STDOUT_FILENO);
	if (out_fd >= 0 && o->capture_stderr)
		dup2(out_fd, STDERR_FILENO);
	if (o->env)
		for (const char *const *v = o->env; *v; v++)
			putenv((char *)(uintptr_t)*v);
	while ((n = read(gate, &go, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		_exit(127);
	execvp(argv[0], (char *const *)(uintptr_t)argv);
	fprintf(stderr, "cim-agent: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Reads what is available into r->out (up to cap); returns 0 at EOF, 1 otherwise. */
static int read_into(int fd, struct spawn_result *r, size_t cap, size_t *alloc)
{
	char buf[8192];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 1; /* EAGAIN: nothing more right now */
		if (n == 0)
			return 0;
		size_t keep = (size_t)n;
		if (r->out_len + keep > cap) {
			keep = cap - r->out_len;
			r->out_truncated = true;
		}
		if (keep && r->out_len + keep + 1 > *alloc) {
			size_t want = *alloc ? *alloc * 2 : 4096;
			while (want < r->out_len + keep + 1)
				want *= 2;
			char *grown = realloc(r->out, want);
			if (!grown)
				return 1;
			r->out = grown;
			*alloc = want;
		}
		if (keep) {
			memcpy(r->out + r->out_len, buf, keep);
			r->out_len += keep;
			r->out[r->out_len] = '\0';
		}
		if ((size_t)n < sizeof(buf))
			return 1;
	}
}

static void close_pair(int fds[2])
{
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Records the child's group, then lets the child run its program. */
static void open_gate(pid_t pid, const char *program, const struct spawn_opts *o, int gate[2])
{
	struct spawn_group g = {
	    .pgid = pid,
	    .start = pgroup_start_time(pid),
	    .deadline = o->timeout ? (long long)time(NULL) + o->timeout : 0,
	    .let_finish = o->let_finish,
	    .program = program,
	};

	if (recorder)
		recorder(&g, recorder_ctx);
	/* Our own read end stays open until the byte is in: no SIGPIPE when the
	 * child is already dead (its status says so). */
	if (write(gate[1], "x", 1) < 0) {
		/* Nothing to add: the child's status tells. */
	}
	close_pair(gate);
}

/* Forks the child in its own group, records the group, lets it run. With
 * capture_stdout, pipefd[0] is the read end of its stdout. -1 when it could
 * not be started. */
static pid_t start_child(const char *const argv[], const struct spawn_opts *o, int pipefd[2],
			 struct err *e)
{
	int gate[2] = {-1, -1};
	pid_t pid;

	if (pipe2(gate, O_CLOEXEC) < 0)
		return err_set(e, "pipe: %s", strerror(errno));
	if (o->capture_stdout && pipe2(pipefd, O_CLOEXEC) < 0) {
		close_pair(gate);
		return err_set(e, "pipe: %s", strerror(errno));
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int saved = errno;
		close_pair(pipefd);
		close_pair(gate);
		return err_set(e, "cannot start %s: %s", argv[0], strerror(saved));
	}
	if (pid == 0) {
		close(gate[1]);
		child_exec(argv, o, pipefd[1], gate[0]);
	}
	setpgid(pid, pid); /* also here, so the group exists before we may kill it */
	open_gate(pid, argv[0], o, gate);
	if (pipefd[1] >= 0) {
		close(pipefd[1]);
		pipefd[1] = -1;
		fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	}
	return pid;
}

/* How long one wait may last: until the deadline, and at most a second so
 * that the tick (the watchdog) keeps running during a long build. */
static int wait_slice_ms(const struct spawn_opts *o, double deadline, bool have_pidfd)
{
	double left;

	if (!have_pidfd)
		return 50; /* no pidfd: reap in short slices */
	if (!o->timeout)
		return 1000;
	left = deadline - clock_monotonic();
	if (left <= 0)
		return 0;
	return left < 1.0 ? (int)(left * 1000) + 1 : 1000;
}

/* Waits for the child to exit, reading its stdout meanwhile. The child's
 * exit wakes the poll at once through its pidfd; the pipe is read until
 * EOF, but a grandchild that holds it open does not hold us once the child
 * itself is gone. */
static int wait_child(pid_t pid, const struct spawn_opts *o, struct spawn_result *r, int pipefd[2],
		      double deadline)
{
	size_t cap = o->capture_max ? o->capture_max : 64 * 1024, alloc = 0;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), wstatus = 0;

	for (;;) {
		struct pollfd pfd[2] = {{.fd = pidfd, .events = POLLIN},
					{.fd = pipefd[0], .events = POLLIN}};
		pid_t w = waitpid(pid, &wstatus, WNOHANG);

		if (tick)
			tick();
		if (w == pid) {
			if (pipefd[0] >= 0)
				read_into(pipefd[0], r, cap, &alloc);
			break;
		}
		if (w < 0 && errno != EINTR) {
			wstatus = -1; /* never mistake a lost child for a successful one */
			break;
		}
		if (o->timeout && clock_monotonic() >= deadline) {
			r->timed_out = true;
			kill(-pid, SIGKILL);
			while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
				;
			break;
		}
		if (poll(pfd, 2, wait_slice_ms(o, deadline, pidfd >= 0)) > 0 &&
		    (pfd[1].revents & (POLLIN | POLLHUP)) &&
		    read_into(pipefd[0], r, cap, &alloc) == 0) {
			close(pipefd[0]);
			pipefd[0] = -1;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return wstatus;
}

int spawn_run(const char *const argv[], const struct spawn_opts *o, struct spawn_result *r,
	      struct err *e)
{
	double start = clock_monotonic();
	int pipefd[2] = {-1, -1}, wstatus;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	pid = start_child(argv, o, pipefd, e);
	if (pid < 0)
		return -1;
	wstatus = wait_child(pid, o, r, pipefd, start + o->timeout);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	/* Reap what the child left behind in its group, so nothing outlives the step. */
	kill(-pid, SIGKILL);
	if (wstatus == -1)
		r->status = -1;
	else if (WIFEXITED(wstatus))
		r->status = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		r->status = 128 + WTERMSIG(wstatus);
	if (!r->out) {
		r->out = calloc(1, 1);
		if (!r->out)
			return err_set(e, "out of memory");
	}
	r->seconds = clock_monotonic() - start;
	total_child_seconds += r->seconds;
	return 0;
}

int spawn_shell(const char *cmd, const struct spawn_opts *o, struct spawn_result *r, struct err *e)
{
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};

	return spawn_run(argv, o, r, e);
}

void spawn_result_release(struct spawn_result *r)
{
	free(r->out);
	r->out = NULL;
}
