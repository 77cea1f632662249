#include "agent/lock.h"

#include "base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define LOCK_POLL_MS 50

/* The pid the holder wrote into the lock file, or 0 when there is none or
 * it is not alive (flock(1) and other tools do not write one). */
static long holder_pid(int fd)
{
	char text[32];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	long pid;

	if (n <= 0)
		return 0;
	text[n] = '\0';
	pid = strtol(text, NULL, 10);
	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
		return 0;
	return pid;
}

/* Opens state_dir/name and takes its lock, polling for up to wait_seconds.
 * Returns the fd, -1 on an error, or -2 (fd in *busy) when another process
 * holds it. */
static int take(const char *path, unsigned wait_seconds, int *busy, struct err *e)
{
	struct timespec nap = {0, LOCK_POLL_MS * 1000 * 1000};
	unsigned tries = wait_seconds * (1000 / LOCK_POLL_MS);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return err_set(e, "%s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int saved = errno;
			close(fd);
			return err_set(e, "%s: lock: %s", path, strerror(saved));
		}
		if (tries-- == 0) {
			*busy = fd;
			return -2;
		}
		nanosleep(&nap, NULL);
	}
	/* The pid is a hint for the message of the next one to try. A daemon
	 * takes the lock every poll: when the file holds its pid already, it is
	 * not rewritten (that dirtied a page of the disk per poll). */
	char pid[32], was[32];
	int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	ssize_t n = pread(fd, was, sizeof(was), 0);
	if (n == len && memcmp(was, pid, (size_t)len) == 0)
		return fd;
	if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)len, 0) < 0) {
		/* Only the message would lose its pid. */
	}
	return fd;
}

/* "WHAT (pid N); THEN (lock PATH)" */
static int refuse(int fd, const char *what, const char *then, const char *path, struct err *e)
{
	long pid = holder_pid(fd);
	char who[32] = "unknown";

	close(fd);
	if (pid)
		snprintf(who, sizeof(who), "%ld", pid);
	return err_set(e, "%s (pid %s); %s (lock %s)", what, who, then, path);
}

int lock_acquire(const char *state_dir, unsigned wait_seconds, struct err *e)
{
	char path[4096];
	int busy = -1, fd;

	snprintf(path, sizeof(path), "%s/lock", state_dir);
	fd = take(path, wait_seconds, &busy, e);
	if (fd == -2)
		return refuse(busy, "a cycle is running", "try again when it has finished", path,
			      e);
	return fd;
}

int lock_daemon(const char *state_dir, struct err *e)
{
	char path[4096];
	int busy = -1, fd;

	snprintf(path, sizeof(path), "%s/daemon.lock", state_dir);
	fd = take(path, 0, &busy, e);
	if (fd == -2)
		return refuse(busy, "a cim-agent daemon is already running",
			      "stop it first, or give this one another state_dir", path, e);
	return fd;
}

void lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
