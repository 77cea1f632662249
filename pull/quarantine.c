#include "pull/quarantine.h"

#include "base/err.h"
#include "base/fileio.h"

#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int quarantine_remove_tree(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void quarantine_discard(const struct quarantine *q)
{
	quarantine_remove_tree(q->dir);
}

int quarantine_begin(struct quarantine *q, git_repository *repo, const char *mirror, struct err *e)
{
	git_odb *odb = NULL;
	git_odb_backend *pack = NULL, *loose = NULL;
	char pack_dir[PATH_MAX + 8];
	int rc = -1;

	if (snprintf(q->dir, sizeof(q->dir), "%s/" QUARANTINE_DIR, mirror) >= (int)sizeof(q->dir) ||
	    snprintf(q->mirror_objects, sizeof(q->mirror_objects), "%s/objects", mirror) >=
		(int)sizeof(q->mirror_objects))
		return err_set(e, "%s: path too long", mirror);
	snprintf(pack_dir, sizeof(pack_dir), "%s/pack", q->dir);
	quarantine_discard(q);
	if (dir_create(pack_dir, 0755, e) < 0)
		return -1;
	/* Ours first: libgit2 writes to the first backend that is not an alternate. */
	if (git_odb_new(&odb) < 0 || git_odb_backend_pack(&pack, q->dir) < 0 ||
	    git_odb_add_backend(odb, pack, 2) < 0)
		goto fail;
	pack = NULL;
	if (git_odb_backend_loose(&loose, q->dir, -1, 0, 0, 0) < 0 ||
	    git_odb_add_backend(odb, loose, 1) < 0)
		goto fail;
	loose = NULL;
	if (git_odb_add_disk_alternate(odb, q->mirror_objects) < 0)
		goto fail;
	git_repository_set_odb(repo, odb);
	rc = 0;
	goto out;
fail:
	err_set(e, "setting up %s: %s", q->dir, git_error_last()->message);
	if (pack)
		pack->free(pack);
	if (loose)
		loose->free(loose);
out:
	git_odb_free(odb);
	return rc;
}

static bool has_entries(const char *dir, bool (*wanted)(const char *name))
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	while (d && !found && (de = readdir(d)))
		found = wanted(de->d_name);
	if (d)
		closedir(d);
	return found;
}

static bool is_object_dir(const char *name)
{
	return strlen(name) == 2 && name[0] != '.';
}

static bool is_pack(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && strcmp(name + n - 5, ".pack") == 0;
}

bool quarantine_received(const struct quarantine *q)
{
	char pack_dir[PATH_MAX + 8];

	snprintf(pack_dir, sizeof(pack_dir), "%s/pack", q->dir);
	return has_entries(pack_dir, is_pack) || has_entries(q->dir, is_object_dir);
}

/* fsync, then rename into to_dir. */
static int move_file(const char *from_dir, const char *name, const char *to_dir, struct err *e)
{
	char from[PATH_MAX * 2], to[PATH_MAX * 2];
	int fd;

	snprintf(from, sizeof(from), "%s/%s", from_dir, name);
	snprintf(to, sizeof(to), "%s/%s", to_dir, name);
	fd = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fsync(fd) < 0 || rename(from, to) < 0) {
		err_set(e, "moving %s into the mirror: %s", from, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd >= 0 ? fsync(fd) : -1;

	if (fd >= 0)
		close(fd);
	return rc;
}

/* Moves the files of from_dir whose names end in suffix (all when NULL). */
static int move_all(const char *from_dir, const char *suffix, const char *to_dir, struct err *e)
{
	DIR *d = opendir(from_dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : err_set(e, "%s: %s", from_dir, strerror(errno));
	while (rc == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name), s = suffix ? strlen(suffix) : 0;
		if (de->d_name[0] == '.' || n < s || (suffix && strcmp(de->d_name + n - s, suffix)))
			continue;
		rc = move_file(from_dir, de->d_name, to_dir, e);
	}
	closedir(d);
	if (rc == 0 && sync_dir(to_dir) < 0)
		rc = err_set(e, "%s: %s", to_dir, strerror(errno));
	return rc;
}

static int accept_loose(const struct quarantine *q, struct err *e)
{
	DIR *d = opendir(q->dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return err_set(e, "%s: %s", q->dir, strerror(errno));
	while (rc == 0 && (de = readdir(d))) {
		char from[PATH_MAX * 2], to[PATH_MAX * 2];
		if (!is_object_dir(de->d_name))
			continue;
		snprintf(from, sizeof(from), "%s/%s", q->dir, de->d_name);
		snprintf(to, sizeof(to), "%s/%s", q->mirror_objects, de->d_name);
		rc = dir_create(to, 0755, e);
		if (rc == 0)
			rc = move_all(from, NULL, to, e);
	}
	closedir(d);
	return rc;
}

int quarantine_accept(struct quarantine *q, struct err *e)
{
	char from[PATH_MAX + 8], to[PATH_MAX + 8];

	snprintf(from, sizeof(from), "%s/pack", q->dir);
	snprintf(to, sizeof(to), "%s/pack", q->mirror_objects);
	if (dir_create(to, 0755, e) < 0 || move_all(from, ".pack", to, e) < 0 ||
	    move_all(from, ".idx", to, e) < 0 || accept_loose(q, e) < 0)
		return -1;
	quarantine_discard(q);
	return 0;
}
