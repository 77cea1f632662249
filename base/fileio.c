#include "base/fileio.h"

#include "base/err.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fd_read_capped(int fd, const char *name, size_t cap, char **out, size_t *len, struct err *e)
{
	struct stat st;
	char *buf = NULL;
	size_t used = 0;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(e, "%s: not a regular file", name);
	if ((unsigned long long)st.st_size > cap)
		return err_set(e, "%s: %lld bytes, larger than the limit of %zu", name,
			       (long long)st.st_size, cap);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return err_set(e, "%s: out of memory", name);
	/* The file may grow between fstat and read: never read past the cap. */
	for (;;) {
		ssize_t n = read(fd, buf + used, (size_t)st.st_size + 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			sodium_memzero(buf, used);
			free(buf);
			return err_set(e, "%s: %s", name, strerror(saved));
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > (size_t)st.st_size) {
			/* It may be a key file: wipe what was read before letting go. */
			sodium_memzero(buf, used);
			free(buf);
			return err_set(e, "%s: changed while being read", name);
		}
	}
	buf[used] = '\0';
	*out = buf;
	if (len)
		*len = used;
	return 0;
}

int file_read_capped(const char *path, size_t cap, char **out, size_t *len, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc;

	if (fd < 0)
		return err_set(e, "%s: %s", path, strerror(errno));
	rc = fd_read_capped(fd, path, cap, out, len, e);
	close(fd);
	return rc;
}

int fd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int write_atomic(const char *path, const void *buf, size_t len, mode_t mode, bool sync,
			struct err *e)
{
	char tmp[PATH_MAX];
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return err_set(e, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return err_set(e, "%s: %s", tmp, strerror(errno));
	if (fchmod(fd, mode) < 0 || fd_write_all(fd, buf, len) < 0 || (sync && fsync(fd) < 0)) {
		saved = errno;
		close(fd);
		unlink(tmp);
		return err_set(e, "%s: %s", tmp, strerror(saved));
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		saved = errno;
		unlink(tmp);
		return err_set(e, "%s: %s", path, strerror(saved));
	}
	if (sync)
		fsync_parent(path);
	return 0;
}

int file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode, struct err *e)
{
	return write_atomic(path, buf, len, mode, true, e);
}

int file_replace(const char *path, const void *buf, size_t len, mode_t mode, struct err *e)
{
	return write_atomic(path, buf, len, mode, false, e);
}

/* The pid of a temporary file of write_atomic ("<name>.tmp.<pid>"), or 0. */
static long temp_owner(const char *name, const char *only)
{
	const char *tag = strstr(name, ".tmp.");
	char *end;
	long pid;

	if (!tag)
		return 0;
	while (strstr(tag + 1, ".tmp."))
		tag = strstr(tag + 1, ".tmp.");
	if (only && ((size_t)(tag - name) != strlen(only) || strncmp(name, only, strlen(only))))
		return 0;
	if (!isdigit((unsigned char)tag[5]))
		return 0;
	pid = strtol(tag + 5, &end, 10);
	return *end == '\0' && pid > 0 ? pid : 0;
}

int file_sweep_temps(const char *dir, const char *only)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);
	int removed = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		long pid = temp_owner(de->d_name, only);
		/* A live pid may still be writing it (or be another process by now). */
		if (!pid || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path) &&
		    unlink(path) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

int dir_create(const char *dir, mode_t mode, struct err *e)
{
	char buf[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(buf))
		return err_set(e, "%s: bad directory path", dir);
	memcpy(buf, dir, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return err_set(e, "%s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return err_set(e, "%s: %s", buf, strerror(errno));
	return 0;
}
