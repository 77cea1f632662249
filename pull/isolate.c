#include "pull/isolate.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define WAIT_SLICE_MS 100

/* The child takes default signal handling (the daemon's handlers would only
 * note a SIGTERM and carry on), and dies with its parent: a timeout of its
 * own covers an agent killed with -9. */
static void child_setup(unsigned timeout, pid_t parent)
{
	static const int defaults[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGALRM, SIGCHLD};
	sigset_t none;

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		signal(defaults[i], SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
	if (getppid() != parent)
		_exit(127);
	if (timeout)
		alarm(timeout + 5);
}

static void describe_end(int status, struct err *e)
{
	if (WIFSIGNALED(status))
		err_set(e, "the fetch process died of signal %d", WTERMSIG(status));
	else
		err_set(e, "the fetch process exited with status %d without a result",
			WEXITSTATUS(status));
}

/* Reads the child's result until EOF, the deadline or a stop request. */
static int collect(int fd, char *result, size_t size, const struct isolate_opts *o)
{
	double deadline = o->timeout ? clock_monotonic() + o->timeout : 0;
	size_t got = 0;

	for (;;) {
		int slice = WAIT_SLICE_MS;
		if (deadline) {
			double left = deadline - clock_monotonic();
			if (left <= 0)
				return ISOLATE_TIMED_OUT;
			if (left * 1000 < slice)
				slice = (int)(left * 1000) + 1;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int n = poll(&pfd, 1, slice);
		if (n > 0) {
			char discard[64];
			ssize_t r = got < size ? read(fd, result + got, size - got)
					       : read(fd, discard, sizeof(discard));
			if (r == 0)
				return got == size ? ISOLATE_DONE : ISOLATE_DIED;
			if (r > 0 && got < size)
				got += (size_t)r;
		} else if (n < 0 && errno != EINTR) {
			return ISOLATE_DIED;
		}
		if (o->tick)
			o->tick();
		if (o->should_stop && o->should_stop())
			return ISOLATE_STOPPED;
	}
}

int isolate_run(void (*fn)(void *arg, void *result), void *arg, void *result, size_t size,
		const struct isolate_opts *o, struct err *e)
{
	pid_t parent = getpid(), pid;
	int fds[2], status = 0, rc;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_set(e, "pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return err_set(e, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(fds[0]);
		child_setup(o->timeout, parent);
		fn(arg, result);
		_exit(fd_write_all(fds[1], result, size) < 0 ? 126 : 0);
	}
	close(fds[1]);
	rc = collect(fds[0], result, size, o);
	close(fds[0]);
	if (rc != ISOLATE_DONE)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc == ISOLATE_DONE && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		rc = ISOLATE_DIED;
	if (rc == ISOLATE_DIED)
		describe_end(status, e);
	else if (rc == ISOLATE_TIMED_OUT)
		err_set(e, "timed out after %us", o->timeout);
	else if (rc == ISOLATE_STOPPED)
		err_set(e, "stopped: the agent is shutting down");
	return rc;
}
