/* agent/lock: the cycle lock keeps its holder's pid as a hint, and a daemon
 * that takes it every poll does not rewrite a file that says so already. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/lock.h"
#include "base/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dir {
	char path[4096];
	char lock[4200];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));
	const char *tmp = getenv("TMPDIR");

	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "%s/cim-test-lock.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(d->path))
		return -1;
	snprintf(d->lock, sizeof(d->lock), "%s/lock", d->path);
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;

	unlink(d->lock);
	rmdir(d->path);
	free(d);
	return 0;
}

static void read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void pid_is_written_once(void **state)
{
	struct dir *d = *state;
	struct err e = {{0}};
	char want[32], got[64];
	struct stat first, again;
	int fd;

	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	fd = lock_acquire(d->path, 0, &e);
	assert_true(fd >= 0);
	lock_release(fd);
	read_file(d->lock, got, sizeof(got));
	assert_string_equal(got, want);
	assert_int_equal(stat(d->lock, &first), 0);

	usleep(20 * 1000); /* a rewrite would move the mtime, kept in nanoseconds */
	fd = lock_acquire(d->path, 0, &e);
	assert_true(fd >= 0);
	lock_release(fd);
	assert_int_equal(stat(d->lock, &again), 0);
	assert_int_equal(again.st_mtim.tv_sec, first.st_mtim.tv_sec);
	assert_int_equal(again.st_mtim.tv_nsec, first.st_mtim.tv_nsec);

	/* Another process's pid, longer or shorter, is replaced. */
	const char *others[] = {"4194304123\n", "7\n", ""};
	for (size_t i = 0; i < 3; i++) {
		FILE *f = fopen(d->lock, "w");
		assert_non_null(f);
		fputs(others[i], f);
		fclose(f);
		fd = lock_acquire(d->path, 0, &e);
		assert_true(fd >= 0);
		lock_release(fd);
		read_file(d->lock, got, sizeof(got));
		assert_string_equal(got, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(pid_is_written_once, dir_setup, dir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
