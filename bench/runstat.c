/* runstat OUT CMD [ARG...]: runs CMD and writes to the file OUT one line
 * "WALL_NS USER_US SYS_US MAXRSS_KIB EXIT": wall time on the monotonic clock
 * from just before the start to just after the reap, and wait4's rusage (CPU
 * of CMD and of the children it waited for; the peak RSS of the largest one).
 * Why a wrapper in C: a process's peak RSS starts at what its parent held when
 * it forked, so a child of Python would never show less than Python's 16 MiB.
 * This program holds about 1 MiB. Exit status: 0, or 127 when CMD cannot start. */
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct rusage ru;
	long long t0, t1;
	int status, code;
	pid_t pid;
	FILE *out;

	if (argc < 3) {
		fprintf(stderr, "usage: runstat OUT CMD [ARG...]\n");
		return 2;
	}
	t0 = now_ns();
	if (posix_spawnp(&pid, argv[2], NULL, NULL, argv + 2, environ) != 0) {
		perror(argv[2]);
		return 127;
	}
	if (wait4(pid, &status, 0, &ru) != pid) {
		perror("wait4");
		return 127;
	}
	t1 = now_ns();
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	out = fopen(argv[1], "w");
	if (!out)
		return 127;
	fprintf(out, "%lld %lld %lld %ld %d\n", t1 - t0,
		(long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
		(long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss, code);
	return fclose(out) == 0 ? 0 : 127;
}
