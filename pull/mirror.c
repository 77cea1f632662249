#include "pull/mirror.h"

#include "base/err.h"
#include "base/url.h"
#include "base/fileio.h"
#include "pull/integrity.h"
#include "pull/isolate.h"
#include "pull/lsrefs.h"
#include "pull/quarantine.h"
#include "pull/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static bool (*stop_hook)(void);
static void (*tick_hook)(void);

void mirror_set_hooks(bool (*should_stop)(void), void (*tick)(void))
{
	stop_hook = should_stop;
	tick_hook = tick;
}

int mirror_open(git_repository **repo, const char *path, struct err *e)
{
	if (git_repository_open_bare(repo, path) == 0)
		return 0;
	if (git_repository_init(repo, path, 1) < 0)
		return err_set(e, "creating the mirror %s: %s", path, git_error_last()->message);
	return 0;
}

int mirror_fetched_tip(git_repository *repo, const char *branch, git_oid *tip, struct err *e)
{
	char ref[512];

	snprintf(ref, sizeof(ref), MIRROR_FETCHED_REF_PREFIX "%s", branch);
	if (git_reference_name_to_id(tip, repo, ref) < 0)
		return err_set(e, "nothing fetched yet for branch '%s' (run 'cim-agent fetch')",
			       branch);
	return 0;
}

static void marker_path(const char *mirror, char *buf, size_t size)
{
	snprintf(buf, size, "%s/" MIRROR_COMPLETE_MARKER, mirror);
}

int mirror_check_complete(git_repository *repo, const char *path, const git_oid *tip, struct err *e)
{
	char marker[PATH_MAX + 32];
	int rc = integrity_check(repo, tip, NULL, 0, e);

	if (rc <= 0)
		return rc;
	marker_path(path, marker, sizeof(marker));
	unlink(marker);
	return err_prefix(e, "the mirror %s is damaged; the next fetch repairs it", path);
}

/* --- what runs in the fetch child ------------------------------------- */

struct fetch_job {
	const char *path;
	const struct pull_settings *remote;
};

struct fetch_report {
	int rc;
	char tip[GIT_OID_HEXSZ + 1];
	bool changed;
	char repaired[sizeof(((struct mirror_fetch_result *)0)->repaired)];
	char precheck[sizeof(((struct mirror_fetch_result *)0)->precheck)];
	struct err e;
};

static int write_marker(const char *mirror, struct err *e)
{
	static const char text[] =
	    "every ref of this mirror names a complete history (cim-agent)\n";
	char path[PATH_MAX + 32];

	marker_path(mirror, path, sizeof(path));
	return file_write_atomic(path, text, sizeof(text) - 1, 0644, e);
}

static int remove_lock(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	size_t n = strlen(path);

	(void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode) && n > 5 && strcmp(path + n - 5, ".lock") == 0)
		unlink(path);
	return 0;
}

/* Whatever a fetch killed half-way left behind: the fetch lock is held, so
 * nothing else is writing to the mirror. */
static void remove_leftovers(const char *mirror)
{
	static const char *const files[] = {"HEAD.lock", "config.lock", "packed-refs.lock"};
	char path[PATH_MAX + 32];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", mirror, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/refs", mirror);
	nftw(path, remove_lock, 16, FTW_PHYS);
	snprintf(path, sizeof(path), "%s/" QUARANTINE_DIR, mirror);
	quarantine_remove_tree(path);
}

/* Discards the mirror and starts an empty one, saying why in rep. */
static int reclone(const char *mirror, const char *why, struct fetch_report *rep, struct err *e)
{
	char aside[PATH_MAX + 16];
	git_repository *repo = NULL;

	snprintf(rep->repaired, sizeof(rep->repaired),
		 "%s is damaged (%s): it was discarded, and is fetched again in full", mirror, why);
	snprintf(aside, sizeof(aside), "%s.damaged", mirror);
	quarantine_remove_tree(aside);
	if (rename(mirror, aside) < 0)
		return err_set(e, "moving the damaged mirror %s aside: %s", mirror,
			       strerror(errno));
	if (mirror_open(&repo, mirror, e) < 0)
		return -1;
	git_repository_free(repo);
	if (quarantine_remove_tree(aside) < 0)
		return err_set(e, "removing %s: %s", aside, strerror(errno));
	return write_marker(mirror, e);
}

/* Checks every ref in full, once per mirror (see MIRROR_COMPLETE_MARKER). */
static int check_whole(const char *mirror, struct err *e)
{
	git_repository *repo = NULL;
	git_oid *tips = NULL;
	size_t n = 0;
	int rc;

	if (mirror_open(&repo, mirror, e) < 0)
		return -1;
	rc = integrity_ref_tips(repo, &tips, &n, e);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = integrity_check(repo, &tips[i], NULL, 0, e);
	free(tips);
	git_repository_free(repo);
	return rc;
}

static int prepare(const char *mirror, struct fetch_report *rep, struct err *e)
{
	char marker[PATH_MAX + 32];
	struct err why = {{0}};
	int rc;

	remove_leftovers(mirror);
	marker_path(mirror, marker, sizeof(marker));
	if (access(marker, F_OK) == 0)
		return 0;
	rc = check_whole(mirror, &why);
	if (rc < 0) {
		*e = why;
		return -1;
	}
	return rc ? reclone(mirror, why.msg, rep, e) : write_marker(mirror, e);
}

struct refnames {
	char want[512], local[600], spec[1200];
};

static void refnames_of(const char *branch, struct refnames *n)
{
	snprintf(n->want, sizeof(n->want), "refs/heads/%s", branch);
	snprintf(n->local, sizeof(n->local), MIRROR_FETCHED_REF_PREFIX "%s", branch);
	snprintf(n->spec, sizeof(n->spec), "+%s:%s", n->want, n->local);
}

/* Downloads into the quarantine and checks the tip there. Returns 0 when it
 * is complete, 1 when the mirror's own objects are what is incomplete (e
 * says what), -1 on errors, an incomplete pack among them. The server sends
 * only what the mirror's refs do not reach, so a gap there looks like an
 * incomplete pack: the whole mirror is checked before the server is blamed. */
static int download_checked(git_repository *repo, const char *mirror, struct transport *t,
			    struct quarantine *q, const struct refnames *n, const git_oid *tip,
			    struct err *e)
{
	char url[1024], what[sizeof(e->msg)];
	git_oid *hide = NULL;
	size_t nhide = 0;
	int rc = integrity_ref_tips(repo, &hide, &nhide, e);

	if (rc != 0)
		return rc;
	if (quarantine_begin(q, repo, mirror, e) < 0 || transport_download(t, n->spec, e) < 0)
		rc = -1;
	else
		rc = integrity_check(repo, tip, hide, nhide, e);
	free(hide);
	if (rc == 0)
		return 0;
	bool received = rc == 1 && quarantine_received(q);
	quarantine_discard(q);
	if (!received)
		return rc;
	/* Missing from what arrived, or from what the mirror said it had? */
	snprintf(what, sizeof(what), "%s", e->msg);
	rc = check_whole(mirror, e);
	if (rc != 0)
		return rc;
	url_redact(t->remote->url, url, sizeof(url));
	return err_set(e,
		       "fetching from %s: the server sent an incomplete pack (%s); nothing of it "
		       "was kept, and the next fetch asks for it again",
		       url, what);
}

/* The no-change poll without the whole ref advertisement: the server says
 * by ls-refs where the branch is. Only ever a reason not to download: a
 * server that lies here can delay an update, as a silent one can, and
 * whatever is fetched is checked as before. Up to a third of fetch_timeout
 * (10 s at most), so that a server that stalls ls-refs still gets a fetch. */
static bool unchanged_by_lsrefs(const struct pull_settings *r, const git_oid *old,
				struct fetch_report *rep)
{
	unsigned budget_ms = r->fetch_timeout && r->fetch_timeout < 30 ? r->fetch_timeout * 1000 / 3 : 10000;
	struct err why = {{0}};
	git_oid tip;

	if (lsrefs_branch_tip(r, budget_ms, &tip, &why) != 0) {
		snprintf(rep->precheck, sizeof(rep->precheck), "ls-refs: %s; fetching", why.msg);
		return false;
	}
	if (!git_oid_equal(&tip, old)) {
		snprintf(rep->precheck, sizeof(rep->precheck),
			 "ls-refs: the branch moved; fetching");
		return false;
	}
	snprintf(rep->precheck, sizeof(rep->precheck), "ls-refs: unchanged, nothing fetched");
	return true;
}

/* One fetch into the mirror: 0 done, 1 the mirror is damaged, -1 error. */
static int fetch_into(const struct fetch_job *job, struct fetch_report *rep, struct err *e)
{
	const struct pull_settings *r = job->remote;
	git_repository *repo = NULL;
	struct transport t = {0};
	struct quarantine q;
	struct refnames n;
	git_oid tip, old;
	bool had_old;
	int rc = -1;

	refnames_of(r->branch, &n);
	if (mirror_open(&repo, job->path, e) < 0)
		return -1;
	had_old = git_reference_name_to_id(&old, repo, n.local) == 0;
	if (had_old && unchanged_by_lsrefs(r, &old, rep)) {
		git_oid_tostr(rep->tip, sizeof(rep->tip), &old);
		rc = 0;
		goto out;
	}
	if (transport_connect(&t, r, repo, e) < 0)
		goto out;
	if (!transport_find(&t, n.want, &tip)) {
		char url[1024];
		url_redact(r->url, url, sizeof(url));
		err_set(e, "branch '%s' not found on %s", r->branch, url);
		goto out;
	}
	git_oid_tostr(rep->tip, sizeof(rep->tip), &tip);
	/* The no-change poll: the ref names only complete commits. */
	if (had_old && git_oid_equal(&old, &tip)) {
		rc = 0;
		goto out;
	}
	rc = download_checked(repo, job->path, &t, &q, &n, &tip, e);
	if (rc != 0)
		goto out;
	/* Nothing may read the quarantine while its packs move. */
	transport_close(&t);
	git_repository_free(repo);
	repo = NULL;
	rc = -1;
	if (quarantine_accept(&q, e) < 0 || mirror_open(&repo, job->path, e) < 0)
		goto out;
	if (git_reference_create(NULL, repo, n.local, &tip, 1, "cim-agent fetch") < 0) {
		err_set(e, "updating %s: %s", n.local, git_error_last()->message);
		goto out;
	}
	rep->changed = true;
	rc = 0;
out:
	transport_close(&t);
	git_repository_free(repo);
	return rc;
}

/* Serialises fetches into one mirror (the daemon's and a 'cim-agent fetch'),
 * also across a re-clone: the lock sits beside the mirror. */
static int lock_mirror(const char *mirror, struct err *e)
{
	char path[PATH_MAX + 8];
	int fd;

	snprintf(path, sizeof(path), "%s.lock", mirror);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		err_set(e, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void child_fetch(void *arg, void *result)
{
	const struct fetch_job *job = arg;
	struct fetch_report *rep = result;
	int lock = lock_mirror(job->path, &rep->e), rc = -1;

	if (lock >= 0 && prepare(job->path, rep, &rep->e) == 0)
		rc = fetch_into(job, rep, &rep->e);
	if (rc == 1) {
		char why[sizeof(rep->e.msg)];
		snprintf(why, sizeof(why), "%s", rep->e.msg);
		rc = reclone(job->path, why, rep, &rep->e);
		if (rc == 0)
			rc = fetch_into(job, rep, &rep->e);
		if (rc == 1)
			rc = err_prefix(&rep->e, "still incomplete after fetching it in full");
	}
	rep->rc = rc;
	if (lock >= 0)
		close(lock);
}

static int isolated(void (*fn)(void *, void *), void *job, struct fetch_report *rep,
		    const struct pull_settings *r, const char *what, struct err *e)
{
	const struct isolate_opts o = {
	    .timeout = r->fetch_timeout, .should_stop = stop_hook, .tick = tick_hook};
	struct err why = {{0}};
	char url[1024];
	int status;

	memset(rep, 0, sizeof(*rep));
	status = isolate_run(fn, job, rep, sizeof(*rep), &o, &why);
	if (status == ISOLATE_DONE) {
		if (rep->rc == 0)
			return 0;
		*e = rep->e;
		return -1;
	}
	url_redact(r->url, url, sizeof(url));
	if (status == ISOLATE_TIMED_OUT)
		return err_set(e, "%s %s: %s ([repo] fetch_timeout)", what, url, why.msg);
	return err_set(e, "%s %s: %s", what, url, why.msg);
}

int mirror_fetch(const char *path, const struct pull_settings *r, struct mirror_fetch_result *out,
		 struct err *e)
{
	struct fetch_job job = {.path = path, .remote = r};
	struct fetch_report rep;
	int rc = isolated(child_fetch, &job, &rep, r, "fetching from", e);

	memset(out, 0, sizeof(*out));
	snprintf(out->repaired, sizeof(out->repaired), "%s", rep.repaired);
	snprintf(out->precheck, sizeof(out->precheck), "%s", rep.precheck);
	if (rc < 0)
		return -1;
	out->changed = rep.changed;
	return git_oid_fromstr(&out->tip, rep.tip) < 0 ? err_set(e, "bad tip from the fetch") : 0;
}

static void child_probe(void *arg, void *result)
{
	struct fetch_report *rep = result;
	struct transport t;

	rep->rc = transport_connect(&t, arg, NULL, &rep->e);
	transport_close(&t);
}

int mirror_probe(const struct pull_settings *r, struct err *e)
{
	struct fetch_report rep;

	return isolated(child_probe, (void *)(uintptr_t)r, &rep, r, "connecting to", e);
}
