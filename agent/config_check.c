#include "agent/config_check.h"

#include "agent/config.h"
#include "base/err.h"
#include "pull/allowed_signers.h"
#include "secrets/identity.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a file holds decides what is unsafe about its mode. */
enum holds {
	HOLDS_TRUST,  /* public, but whoever writes it chooses what is trusted */
	HOLDS_SECRET, /* nobody else may read it */
};

struct checker {
	const struct config *cfg;
	void (*problem)(void *ctx, const char *msg);
	void *ctx;
	int n;
};

static void problem(struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct checker *c, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "%s: ", c->cfg->path);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	c->problem(c->ctx, msg);
	c->n++;
}

/* Present, a regular file, readable by this user, a safe mode. Returns 0 when
 * the file may be parsed. */
static int check_file(struct checker *c, const char *key, const char *path, enum holds holds)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		problem(c, "%s: %s: %s; create it or correct the path", key, path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		problem(c, "%s: %s is not a regular file", key, path);
		return -1;
	}
	if (access(path, R_OK) < 0) {
		problem(c, "%s: %s cannot be read by uid %u (%s); the agent runs as root", key,
			path, (unsigned)getuid(), strerror(errno));
		return -1;
	}
	if (holds == HOLDS_SECRET && (st.st_mode & (S_IRGRP | S_IROTH)))
		problem(c, "%s: %s can be read by %s (mode %04o); chmod go-r %s", key, path,
			st.st_mode & S_IROTH ? "others" : "its group",
			(unsigned)(st.st_mode & 07777), path);
	if (holds == HOLDS_TRUST && (st.st_mode & (S_IWGRP | S_IWOTH)))
		problem(c,
			"%s: %s can be written by %s (mode %04o), who could then choose what is "
			"trusted; chmod go-w %s",
			key, path, st.st_mode & S_IWOTH ? "others" : "its group",
			(unsigned)(st.st_mode & 07777), path);
	return 0;
}

static void check_signers(struct checker *c)
{
	const char *path = c->cfg->repo.allowed_signers;
	struct allowed_signers as = {0};
	struct err e = {{0}};

	if (check_file(c, "[repo] allowed_signers", path, HOLDS_TRUST) < 0)
		return;
	if (allowed_signers_load(&as, path, &e) < 0)
		problem(c, "[repo] allowed_signers: %s", e.msg);
	else if (as.n == 0)
		problem(c,
			"[repo] allowed_signers: %s lists no key, so no commit can be "
			"deployed; add 'EMAIL ssh-ed25519 AAAA...' lines",
			path);
	allowed_signers_release(&as);
}

/* The default identity (the ssh host key) is checked only where it exists: a
 * host without secrets in its repository needs none. */
static void check_identities(struct checker *c)
{
	const struct strlist *ids = &c->cfg->secrets.identity;

	for (size_t i = 0; i < ids->n; i++) {
		struct age_identities parsed = {0};
		struct err e = {{0}};

		if (ids->n == 1 && strcmp(ids->v[i], SECRETS_DEFAULT_IDENTITY) == 0 &&
		    access(ids->v[i], F_OK) < 0)
			continue;
		if (check_file(c, "[secrets] identity", ids->v[i], HOLDS_SECRET) < 0)
			continue;
		if (identity_load_file(&parsed, ids->v[i], &e) < 0)
			problem(c, "[secrets] identity: %s", e.msg);
		identities_release(&parsed);
	}
}

/* ssh://, git+ssh:// or scp-like user@host:path. */
static bool url_is_ssh(const char *url)
{
	const char *colon = strchr(url, ':'), *slash = strchr(url, '/');

	if (strncmp(url, "ssh://", 6) == 0 || strncmp(url, "git+ssh://", 10) == 0)
		return true;
	return !strstr(url, "://") && colon && (!slash || colon < slash) && url[0] != '/';
}

static void check_repo(struct checker *c)
{
	const struct pull_settings *r = &c->cfg->repo;
	const char *local = strncmp(r->url, "file://", 7) == 0 ? r->url + 7 : r->url;
	struct stat st;

	if (local[0] == '/' && stat(local, &st) < 0)
		problem(c, "[repo] url: %s: %s; give the repository's directory, or a remote URL",
			local, strerror(errno));
	if (url_is_ssh(r->url) && !r->known_hosts)
		problem(c,
			"[repo] url is an ssh URL, so [repo] known_hosts is required: the server's "
			"host key must be listed (ssh-keyscan HOST >/etc/cim-agent/known_hosts, "
			"then known_hosts = /etc/cim-agent/known_hosts)");
	if (r->known_hosts)
		check_file(c, "[repo] known_hosts", r->known_hosts, HOLDS_TRUST);
	if (r->token_file)
		check_file(c, "[repo] token_file", r->token_file, HOLDS_SECRET);
	if (r->ssh_key)
		check_file(c, "[repo] ssh_key", r->ssh_key, HOLDS_SECRET);
}

static void check_profile(struct checker *c)
{
	char dir[PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", c->cfg->nix.profile);
	dirname(dir);
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		problem(c,
			"[nix] profile: the directory of %s, %s, does not exist; create it "
			"(mkdir -p %s) or correct the path",
			c->cfg->nix.profile, dir, dir);
}

int config_check_host(const struct config *cfg, void (*report)(void *ctx, const char *msg),
		      void *ctx)
{
	struct checker c = {.cfg = cfg, .problem = report, .ctx = ctx};

	if (cfg->agent.poll_interval < CONFIG_POLL_FLOOR)
		problem(&c,
			"[agent] poll_interval: %us is below the floor of %us (each poll asks "
			"the server); use %us or more",
			cfg->agent.poll_interval, CONFIG_POLL_FLOOR, CONFIG_POLL_FLOOR);
	check_signers(&c);
	check_repo(&c);
	check_profile(&c);
	check_identities(&c);
	if (cfg->report.hmac_key_file)
		check_file(&c, "[report] hmac_key_file", cfg->report.hmac_key_file, HOLDS_SECRET);
	if (cfg->fleet.nats_creds_file)
		check_file(&c, "[fleet] nats_creds_file", cfg->fleet.nats_creds_file, HOLDS_SECRET);
	return c.n;
}
