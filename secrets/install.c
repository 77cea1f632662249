#include "secrets/install.h"

#include "base/err.h"
#include "base/fileio.h"
#include "secrets/age.h"
#include "secrets/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/magic.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define GEN_DIR_MODE 0751 /* others may reach their own secrets, not list them */

/* --- reading a plain directory as the repository ----------------------------- */

int secrets_dir_read_blob(void *ctx, const char *path, char **data, size_t *len, int *is_symlink,
			  struct err *e)
{
	const char *root = ctx, *p = path;
	struct stat st;
	int dfd, fd, rc;
	char comp[NAME_MAX + 1];

	*data = NULL;
	*len = 0;
	*is_symlink = 0;
	if (!manifest_path_ok(path))
		return err_set(e, "'%s' is not a clean path inside the repository", path);
	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_set(e, "%s: %s", root, strerror(errno));
	for (;;) {
		size_t n = strcspn(p, "/");
		if (n > NAME_MAX) {
			close(dfd);
			return err_set(e, "%s: name too long", path);
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			int saved = errno;
			close(dfd);
			return err_set(e, "%s: %s", path, strerror(saved));
		}
		if (S_ISLNK(st.st_mode)) {
			close(dfd);
			*is_symlink = 1;
			return 0;
		}
		if (!p[n])
			break;
		fd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
		if (fd < 0)
			return err_set(e, "%s: %s", path, strerror(errno));
		dfd = fd;
		p += n + 1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(dfd);
		return err_set(e, "%s: not a regular file", path);
	}
	fd = openat(dfd, comp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	close(dfd);
	if (fd < 0)
		return err_set(e, "%s: %s", path, strerror(errno));
	rc = fd_read_capped(fd, path, SECRETS_MAX_FILE, data, len, e);
	close(fd);
	return rc;
}

int secrets_load_manifest(struct manifest *m, const char *manifest_path,
			  secrets_read_blob_fn read_blob, void *read_ctx, struct err *e)
{
	char *text = NULL;
	size_t len = 0;
	int is_symlink = 0, rc;

	if (read_blob(read_ctx, manifest_path, &text, &len, &is_symlink, e) < 0)
		return err_prefix(e, "reading the secrets manifest");
	if (is_symlink)
		return err_set(e, "%s: is a symlink in the repository", manifest_path);
	if (len > MANIFEST_MAX_BYTES) {
		free(text);
		return err_set(e, "%s: larger than %d bytes", manifest_path, MANIFEST_MAX_BYTES);
	}
	rc = manifest_parse(m, manifest_path, text, len, e);
	free(text);
	return rc;
}

/* --- generations ------------------------------------------------------------ */

/* A generation's name: digits without a leading zero; 0 when not one. */
static unsigned gen_number(const char *name)
{
	unsigned long n;
	char *end;

	if (name[0] < '1' || name[0] > '9' || strlen(name) > 9)
		return 0;
	n = strtoul(name, &end, 10);
	return *end ? 0 : (unsigned)n;
}

static int gens_path(const char *dir, char *out, size_t size, struct err *e)
{
	size_t len = strlen(dir);

	if (dir[0] != '/' || len < 2 || dir[len - 1] == '/')
		return err_set(e, "%s: the secrets directory must be an absolute path", dir);
	if (snprintf(out, size, "%s.d", dir) >= (int)size)
		return err_set(e, "%s: path too long", dir);
	return 0;
}

/* Removes name (a file or a whole tree) under dfd without following symlinks. */
static int remove_tree(int dfd, const char *name)
{
	struct stat st;
	int fd, rc = 0;
	DIR *d;
	struct dirent *de;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (remove_tree(dirfd(d), de->d_name) < 0)
			rc = -1;
	}
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0)
		rc = -1;
	return rc;
}

int secrets_current(const char *dir, unsigned *generation, struct err *e)
{
	char target[PATH_MAX];
	ssize_t n = readlink(dir, target, sizeof(target) - 1);
	const char *slash;

	*generation = 0;
	if (n < 0 && errno == ENOENT)
		return 0;
	if (n < 0)
		return err_set(e, "%s: %s", dir, strerror(errno));
	target[n] = '\0';
	slash = strrchr(target, '/');
	*generation = gen_number(slash ? slash + 1 : target);
	if (!*generation)
		return err_set(e, "%s: points to '%s', not to a generation", dir, target);
	return 0;
}

/* Makes dir point to generation gen: a new symlink renamed over the old one. */
static int switch_to(const char *dir, unsigned gen, struct err *e)
{
	char target[PATH_MAX], tmp[PATH_MAX];
	const char *base = strrchr(dir, '/') + 1;

	if (snprintf(target, sizeof(target), "%s.d/%u", base, gen) >= (int)sizeof(target) ||
	    snprintf(tmp, sizeof(tmp), "%s.new", dir) >= (int)sizeof(tmp))
		return err_set(e, "%s: path too long", dir);
	if (unlink(tmp) < 0 && errno != ENOENT)
		return err_set(e, "%s: %s", tmp, strerror(errno));
	if (symlink(target, tmp) < 0)
		return err_set(e, "%s: %s", tmp, strerror(errno));
	if (rename(tmp, dir) < 0) {
		int saved = errno;
		unlink(tmp);
		return err_set(e, "%s: %s", dir, strerror(saved));
	}
	{
		char parent[PATH_MAX];
		int fd;
		snprintf(parent, sizeof(parent), "%.*s", (int)(base - 1 - dir), dir);
		fd = open(*parent ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	return 0;
}

/* Lists the generation numbers found in gens (at most max). */
static int list_gens(const char *gens, unsigned *nums, size_t max, size_t *count, struct err *e)
{
	DIR *d = opendir(gens);
	struct dirent *de;

	*count = 0;
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return err_set(e, "%s: %s", gens, strerror(errno));
	}
	while ((de = readdir(d))) {
		unsigned n = gen_number(de->d_name);
		if (n && *count < max)
			nums[(*count)++] = n;
	}
	closedir(d);
	return 0;
}

#define MAX_GENS 1024

int secrets_previous(const char *dir, unsigned *previous, struct err *e)
{
	char gens[PATH_MAX];
	unsigned cur, nums[MAX_GENS];
	size_t count;

	*previous = 0;
	if (gens_path(dir, gens, sizeof(gens), e) < 0 || secrets_current(dir, &cur, e) < 0)
		return -1;
	if (!cur)
		return 0;
	if (list_gens(gens, nums, MAX_GENS, &count, e) < 0)
		return -1;
	for (size_t i = 0; i < count; i++)
		if (nums[i] < cur && nums[i] > *previous)
			*previous = nums[i];
	return 0;
}

int secrets_rollback(const char *dir, unsigned *generation, struct err *e)
{
	char gens[PATH_MAX], name[16];
	unsigned cur, prev;
	int gfd;

	if (generation)
		*generation = 0;
	if (gens_path(dir, gens, sizeof(gens), e) < 0 || secrets_current(dir, &cur, e) < 0)
		return -1;
	if (!cur)
		return err_set(e, "%s: no secrets are installed, nothing to roll back", dir);
	if (secrets_previous(dir, &prev, e) < 0)
		return -1;
	if (prev) {
		if (switch_to(dir, prev, e) < 0)
			return -1;
	} else if (unlink(dir) < 0) {
		return err_set(e, "%s: %s", dir, strerror(errno));
	}
	gfd = open(gens, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(name, sizeof(name), "%u", cur);
	if (gfd < 0 || remove_tree(gfd, name) < 0) {
		if (gfd >= 0)
			close(gfd);
		return err_set(e, "%s/%s: could not remove the rolled-back generation", gens, name);
	}
	close(gfd);
	if (generation)
		*generation = prev;
	return 0;
}

int secrets_commit(const char *dir, struct err *e)
{
	char gens[PATH_MAX], name[16];
	unsigned cur, nums[MAX_GENS];
	size_t count;
	int gfd, rc = 0;

	if (gens_path(dir, gens, sizeof(gens), e) < 0 || secrets_current(dir, &cur, e) < 0)
		return -1;
	if (!cur)
		return err_set(e, "%s: no secrets are installed", dir);
	if (list_gens(gens, nums, MAX_GENS, &count, e) < 0)
		return -1;
	gfd = open(gens, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (gfd < 0)
		return err_set(e, "%s: %s", gens, strerror(errno));
	for (size_t i = 0; i < count; i++) {
		if (nums[i] == cur)
			continue;
		snprintf(name, sizeof(name), "%u", nums[i]);
		if (remove_tree(gfd, name) < 0 && rc == 0)
			rc = err_set(e, "%s/%s: %s", gens, name, strerror(errno));
	}
	close(gfd);
	return rc;
}

/* --- installing ---------------------------------------------------------------- */

struct item {
	const struct manifest_secret *s;
	const char *rel; /* path inside the generation */
	uid_t uid;
	gid_t gid;
	char *blob;
	size_t len;
};

static int item_fail(const struct manifest *m, const struct manifest_secret *s, struct err *e,
		     const char *what)
{
	return err_set(e, "%s:%d: [%s] %s", m->source ? m->source : "manifest", s->line, s->name,
		       what);
}

/* Checks one secret and reads its ciphertext. */
static int plan_item(const struct manifest *m, const struct manifest_secret *s,
		     const struct secrets_install_opts *o, struct item *it, struct err *e)
{
	char why[700];
	struct passwd *pw;
	struct group *gr;
	int is_symlink = 0;
	size_t dlen = strlen(o->dir);

	it->s = s;
	it->rel = s->path;
	if (s->path[0] == '/') {
		if (strncmp(s->path, o->dir, dlen) != 0 || s->path[dlen] != '/') {
			snprintf(why, sizeof(why), "path: '%s' is outside the secrets directory %s",
				 s->path, o->dir);
			return item_fail(m, s, e, why);
		}
		it->rel = s->path + dlen + 1;
	}
	if (!manifest_path_ok(it->rel)) {
		snprintf(why, sizeof(why), "path: '%s' escapes the secrets directory", s->path);
		return item_fail(m, s, e, why);
	}
	errno = 0;
	pw = getpwnam(s->owner);
	if (!pw) {
		snprintf(why, sizeof(why), "owner: no user '%s' on this host", s->owner);
		return item_fail(m, s, e, why);
	}
	it->uid = pw->pw_uid;
	it->gid = pw->pw_gid;
	if (s->group) {
		gr = getgrnam(s->group);
		if (!gr) {
			snprintf(why, sizeof(why), "group: no group '%s' on this host", s->group);
			return item_fail(m, s, e, why);
		}
		it->gid = gr->gr_gid;
	}
	if (o->read_blob(o->read_ctx, s->file, &it->blob, &it->len, &is_symlink, e) < 0) {
		snprintf(why, sizeof(why), "file: %s", e->msg);
		return item_fail(m, s, e, why);
	}
	if (is_symlink) {
		snprintf(why, sizeof(why), "file: '%s' is a symlink in the repository", s->file);
		return item_fail(m, s, e, why);
	}
	return 0;
}

/* Opens (creating) the directories of rel inside gfd; returns a directory fd
 * and sets *leaf to the last component. */
static int open_parent(int gfd, const char *rel, const char **leaf, struct err *e)
{
	char comp[NAME_MAX + 1];
	const char *p = rel;
	int dfd = dup(gfd);

	while (dfd >= 0) {
		size_t n = strcspn(p, "/");
		int fd;
		if (!p[n]) {
			*leaf = p;
			return dfd;
		}
		if (n > NAME_MAX) {
			close(dfd);
			return err_set(e, "%s: name too long", rel);
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (mkdirat(dfd, comp, GEN_DIR_MODE) < 0 && errno != EEXIST) {
			close(dfd);
			return err_set(e, "%s: %s", rel, strerror(errno));
		}
		fd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
		if (fd < 0)
			return err_set(e, "%s: %s", rel, strerror(errno));
		fsync(fd);
		dfd = fd;
		p += n + 1;
	}
	return err_set(e, "%s", strerror(errno));
}

static int write_item(int gfd, const struct item *it, const struct manifest *m,
		      const struct age_identities *ids, struct err *e)
{
	const char *leaf = it->rel;
	int dfd, fd;
	struct age_source src = {.fd = -1, .data = (const unsigned char *)it->blob, .len = it->len};
	enum age_status st;
	char why[1100];

	dfd = open_parent(gfd, it->rel, &leaf, e);
	if (dfd < 0)
		return -1;
	fd = openat(dfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	close(dfd);
	if (fd < 0) {
		snprintf(why, sizeof(why), "%s: %s", it->rel, strerror(errno));
		return item_fail(m, it->s, e, why);
	}
	st = age_decrypt(&src, age_write_fd, &fd, ids, e);
	if (st != AGE_OK) {
		close(fd);
		snprintf(why, sizeof(why), "%s: %s", it->s->file, e->msg);
		return item_fail(m, it->s, e, why);
	}
	if (fchown(fd, it->uid, it->gid) < 0 || fchmod(fd, it->s->mode) < 0 || fsync(fd) < 0) {
		snprintf(why, sizeof(why), "%s: %s", it->rel, strerror(errno));
		close(fd);
		return item_fail(m, it->s, e, why);
	}
	if (close(fd) < 0) {
		snprintf(why, sizeof(why), "%s: %s", it->rel, strerror(errno));
		return item_fail(m, it->s, e, why);
	}
	return 0;
}

static int check_filesystem(const char *gens, bool allow_persistent, struct err *e)
{
	struct statfs sf;

	if (statfs(gens, &sf) < 0)
		return err_set(e, "%s: %s", gens, strerror(errno));
	if (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC || allow_persistent)
		return 0;
	return err_set(e,
		       "%s is not on tmpfs or ramfs; refusing to write secrets to persistent "
		       "storage (set [secrets] allow_persistent = yes to allow it)",
		       gens);
}

/* Makes sure the generations directory exists, on tmpfs unless allowed
 * otherwise, and that dir is free for the symlink. */
static int prepare_gens(const struct secrets_install_opts *o, char *gens, size_t size,
			struct err *e)
{
	char parent[PATH_MAX];
	struct stat st;

	if (gens_path(o->dir, gens, size, e) < 0)
		return -1;
	snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(o->dir, '/') - o->dir), o->dir);
	if (*parent && dir_create(parent, 0755, e) < 0)
		return -1;
	if (mkdir(gens, GEN_DIR_MODE) < 0 && errno != EEXIST)
		return err_set(e, "%s: %s", gens, strerror(errno));
	if (lstat(gens, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(e, "%s: not a directory", gens);
	if (check_filesystem(gens, o->allow_persistent, e) < 0)
		return -1;
	if (lstat(o->dir, &st) == 0 && !S_ISLNK(st.st_mode))
		return err_set(e, "%s exists and is not a symlink; refusing to replace it", o->dir);
	return 0;
}

/* Checks every secret meant for this host and reads its ciphertext into
 * items (m->n of them), *n filled; the caller frees the blobs. */
static int plan_all(const struct manifest *m, const struct secrets_install_opts *o,
		    struct item *items, size_t *n, struct err *e)
{
	char why[600];

	for (size_t i = 0; i < m->n; i++) {
		if (!manifest_applies(&m->v[i], o->hostname))
			continue;
		if (plan_item(m, &m->v[i], o, &items[*n], e) < 0) {
			free(items[*n].blob);
			return -1;
		}
		for (size_t j = 0; j < *n; j++) {
			if (strcmp(items[j].rel, items[*n].rel) != 0)
				continue;
			snprintf(why, sizeof(why), "path: '%s' is also used by [%s]", items[*n].rel,
				 items[j].s->name);
			free(items[*n].blob);
			return item_fail(m, &m->v[i], e, why);
		}
		(*n)++;
	}
	return 0;
}

/* Creates the next generation's directory in gens: its number in *next and
 * name, a descriptor of gens in *gfd and of the generation in *genfd. */
static int make_generation(const char *gens, unsigned *next, char name[16], int *gfd, int *genfd,
			   struct err *e)
{
	unsigned nums[MAX_GENS];
	size_t count;

	if (list_gens(gens, nums, MAX_GENS, &count, e) < 0)
		return -1;
	*next = 0;
	for (size_t i = 0; i < count; i++)
		if (nums[i] > *next)
			*next = nums[i];
	(*next)++;
	snprintf(name, 16, "%u", *next);
	*gfd = open(gens, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*gfd < 0)
		return err_set(e, "%s: %s", gens, strerror(errno));
	if (mkdirat(*gfd, name, GEN_DIR_MODE) < 0)
		return err_set(e, "%s/%s: %s", gens, name, strerror(errno));
	*genfd = openat(*gfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*genfd < 0 || fchmod(*genfd, GEN_DIR_MODE) < 0) {
		err_set(e, "%s/%s: %s", gens, name, strerror(errno));
		remove_tree(*gfd, name);
		return -1;
	}
	return 0;
}

int secrets_install(const struct manifest *m, const struct secrets_install_opts *o,
		    unsigned *generation, size_t *installed, struct err *e)
{
	char gens[PATH_MAX], name[16];
	struct item *items = NULL;
	size_t n = 0;
	unsigned next = 0;
	int gfd = -1, genfd = -1, rc = -1;

	if (generation)
		*generation = 0;
	if (installed)
		*installed = 0;
	if (prepare_gens(o, gens, sizeof(gens), e) < 0)
		return -1;
	/* Check everything before writing anything. */
	items = calloc(m->n ? m->n : 1, sizeof(*items));
	if (!items)
		return err_set(e, "out of memory");
	if (plan_all(m, o, items, &n, e) < 0 ||
	    make_generation(gens, &next, name, &gfd, &genfd, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (write_item(genfd, &items[i], m, o->ids, e) < 0)
			goto fail_gen;
	if (fsync(genfd) < 0) {
		err_set(e, "%s/%s: %s", gens, name, strerror(errno));
		goto fail_gen;
	}
	if (switch_to(o->dir, next, e) < 0)
		goto fail_gen;
	if (generation)
		*generation = next;
	if (installed)
		*installed = n;
	rc = 0;
	goto out;
fail_gen:
	remove_tree(gfd, name);
out:
	if (genfd >= 0)
		close(genfd);
	if (gfd >= 0)
		close(gfd);
	for (size_t i = 0; i < n; i++)
		free(items[i].blob);
	free(items);
	return rc;
}
