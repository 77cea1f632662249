#include "pull/mirror.h"

#include "agent/config.h"
#include "agent/err.h"
#include "agent/fileio.h"
#include "pull/known_hosts.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct fetch_ctx {
	const struct mirror_remote *remote;
	char *token; /* sodium_malloc'd, wiped on free */
	int credential_calls;
	char cert_error[512];
};

/* SIGALRM without SA_RESTART makes a blocked connect/recv inside libgit2 fail
 * with EINTR, so a silent server cannot hold the agent past the timeout. */
static volatile sig_atomic_t fetch_timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	fetch_timed_out = 1;
}

int mirror_open(git_repository **repo, const char *path, struct err *e)
{
	if (git_repository_open_bare(repo, path) == 0)
		return 0;
	if (git_repository_init(repo, path, 1) < 0)
		return err_set(e, "creating the mirror %s: %s", path, git_error_last()->message);
	return 0;
}

static int load_token(struct fetch_ctx *ctx, struct err *e)
{
	char *text;
	size_t len;

	if (!ctx->remote->token_file)
		return 0;
	if (file_read_capped(ctx->remote->token_file, MIRROR_TOKEN_MAX, &text, &len, e) < 0)
		return err_prefix(e, "[repo] token_file");
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	ctx->token = sodium_malloc(len + 1);
	if (ctx->token) {
		memcpy(ctx->token, text, len);
		ctx->token[len] = '\0';
	}
	sodium_memzero(text, len);
	free(text);
	return ctx->token ? 0 : err_set(e, "out of memory");
}

/* A token travels only over https, or over http to this very host (tests). */
static bool token_transport_ok(const char *url)
{
	static const char *const loopback[] = {"http://127.0.0.1", "http://localhost",
					       "http://[::1]"};

	if (strncmp(url, "http://", 7) != 0)
		return true;
	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
		size_t n = strlen(loopback[i]);
		if (strncmp(url, loopback[i], n) == 0 && (url[n] == ':' || url[n] == '/'))
			return true;
	}
	return false;
}

static int credentials(git_credential **out, const char *url, const char *user_from_url,
		       unsigned int allowed, void *payload)
{
	struct fetch_ctx *ctx = payload;

	/* libgit2 asks again after a rejected credential; one try is enough. */
	if (ctx->credential_calls++ > 0) {
		git_error_set_str(GIT_ERROR_NET, "authentication failed (credentials rejected)");
		return GIT_EAUTH;
	}
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && ctx->remote->ssh_key)
		return git_credential_ssh_key_new(out, user_from_url ? user_from_url : "git", NULL,
						  ctx->remote->ssh_key, NULL);
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && ctx->token) {
		if (!token_transport_ok(url)) {
			git_error_set_str(GIT_ERROR_NET, "refusing to send the token over plain http "
							 "(use an https URL)");
			return GIT_EAUTH;
		}
		return git_credential_userpass_plaintext_new(
			out, user_from_url ? user_from_url : "cim-agent", ctx->token);
	}
	git_error_set_str(GIT_ERROR_NET, "the remote asks for credentials and none are configured "
					 "(set [repo] token_file for https, ssh_key for ssh)");
	return GIT_EAUTH;
}

static int port_of(const char *url)
{
	const char *hostpart = strstr(url, "://"), *colon, *slash;

	if (!hostpart)
		return 22; /* scp-like user@host:path */
	hostpart += 3;
	slash = strchr(hostpart, '/');
	colon = strrchr(hostpart, ':');
	if (colon && (!slash || colon < slash))
		return atoi(colon + 1);
	return 22;
}

static int certificate_check(git_cert *cert, int valid, const char *host, void *payload)
{
	struct fetch_ctx *ctx = payload;
	git_cert_hostkey *hk = (git_cert_hostkey *)cert;
	struct err e = {{0}};
	char *text = NULL;
	size_t len;
	int rc;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return valid ? 0 : GIT_PASSTHROUGH; /* TLS: libgit2's verification decides */
	if (!ctx->remote->known_hosts) {
		snprintf(ctx->cert_error, sizeof(ctx->cert_error),
			 "ssh remote needs [repo] known_hosts to check the host key of %s", host);
		return GIT_ECERTIFICATE;
	}
	if (!(hk->type & GIT_CERT_SSH_RAW) || !hk->hostkey) {
		snprintf(ctx->cert_error, sizeof(ctx->cert_error),
			 "the ssh library did not expose the host key of %s", host);
		return GIT_ECERTIFICATE;
	}
	if (file_read_capped(ctx->remote->known_hosts, KNOWN_HOSTS_MAX_BYTES, &text, &len, &e) <
	    0) {
		snprintf(ctx->cert_error, sizeof(ctx->cert_error), "%s", e.msg);
		return GIT_ECERTIFICATE;
	}
	rc = known_hosts_check(text, len, ctx->remote->known_hosts, host,
			       port_of(ctx->remote->url), (const unsigned char *)hk->hostkey,
			       hk->hostkey_len, &e);
	free(text);
	if (rc < 0) {
		snprintf(ctx->cert_error, sizeof(ctx->cert_error), "%s", e.msg);
		return GIT_ECERTIFICATE;
	}
	return 0;
}

static int transfer_progress(const git_indexer_progress *stats, void *payload)
{
	(void)stats;
	(void)payload;
	return fetch_timed_out ? -1 : 0;
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

static int fail_fetch(struct err *e, const struct fetch_ctx *ctx, const char *what)
{
	const git_error *ge = git_error_last();
	char url[1024];

	/* Messages end up in logs and the state file: never with credentials. */
	config_redact_url(ctx->remote->url, url, sizeof(url));
	if (fetch_timed_out)
		return err_set(e, "%s %s: timed out after %us ([repo] fetch_timeout)", what, url,
			       ctx->remote->timeout);
	if (ctx->cert_error[0])
		return err_set(e, "%s %s: %s", what, url, ctx->cert_error);
	return err_set(e, "%s %s: %s", what, url,
		       ge && ge->message ? ge->message : "unknown error");
}

struct fetch_timer {
	struct sigaction old;
	sigset_t old_mask;
};

static void timer_start(struct fetch_timer *t, unsigned seconds)
{
	struct sigaction sa = {0};
	struct itimerval timer = {{0, 0}, {(time_t)seconds, 0}};

	/* libgit2 gives up on EINTR: only the timeout may interrupt a fetch. The
	 * daemon's signals stay pending and are handled once it is over. */
	sigset_t hold;
	sigemptyset(&hold);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGINT);
	sigaddset(&hold, SIGHUP);
	sigaddset(&hold, SIGUSR1);
	sigprocmask(SIG_BLOCK, &hold, &t->old_mask);
	fetch_timed_out = 0;
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &t->old);
	if (seconds)
		setitimer(ITIMER_REAL, &timer, NULL);
}

static void timer_stop(struct fetch_timer *t)
{
	struct itimerval none = {{0, 0}, {0, 0}};

	setitimer(ITIMER_REAL, &none, NULL);
	sigaction(SIGALRM, &t->old, NULL);
	sigprocmask(SIG_SETMASK, &t->old_mask, NULL);
}

static void init_callbacks(git_remote_callbacks *cb, struct fetch_ctx *ctx)
{
	git_remote_init_callbacks(cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb->credentials = credentials;
	cb->certificate_check = certificate_check;
	cb->transfer_progress = transfer_progress;
	cb->payload = ctx;
}

/* Stops the timer, closes the connection and wipes the token. */
static void finish_remote(struct fetch_timer *timer, git_remote *remote, struct fetch_ctx *ctx)
{
	timer_stop(timer);
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	if (ctx->token)
		sodium_free(ctx->token);
	ctx->token = NULL;
}

int mirror_probe(const struct mirror_remote *r, struct err *e)
{
	struct fetch_ctx ctx = {.remote = r};
	git_remote_callbacks cb;
	git_remote *remote = NULL;
	const git_remote_head **heads;
	size_t nheads;
	struct fetch_timer timer;
	int rc = -1;

	if (load_token(&ctx, e) < 0)
		return -1;
	init_callbacks(&cb, &ctx);
	timer_start(&timer, r->timeout);
	if (git_remote_create_detached(&remote, r->url) < 0)
		fail_fetch(e, &ctx, "bad remote URL");
	else if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL) < 0 ||
		 git_remote_ls(&heads, &nheads, remote) < 0)
		fail_fetch(e, &ctx, "connecting to");
	else
		rc = 0;
	finish_remote(&timer, remote, &ctx);
	return rc;
}

int mirror_fetch(git_repository *repo, const struct mirror_remote *r, git_oid *tip, bool *changed,
		 struct err *e)
{
	struct fetch_ctx ctx = {.remote = r};
	git_remote *remote = NULL;
	git_remote_callbacks cb;
	git_fetch_options fo;
	const git_remote_head **heads;
	size_t nheads;
	char want[512], refspec[1100], local_ref[600];
	char *specs[1] = {refspec};
	git_strarray refspecs = {specs, 1};
	struct fetch_timer timer;
	git_oid old;
	bool had_old;
	int rc = -1;
	bool found = false;

	if (load_token(&ctx, e) < 0)
		return -1;
	snprintf(want, sizeof(want), "refs/heads/%s", r->branch);
	snprintf(local_ref, sizeof(local_ref), MIRROR_FETCHED_REF_PREFIX "%s", r->branch);
	snprintf(refspec, sizeof(refspec), "+%s:%s", want, local_ref);
	had_old = git_reference_name_to_id(&old, repo, local_ref) == 0;

	init_callbacks(&cb, &ctx);
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.callbacks = cb;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.prune = GIT_FETCH_NO_PRUNE;
	fo.update_fetchhead = 0;

	timer_start(&timer, r->timeout);

	/* No insteadOf rewriting: the URL is the configured one, whatever a
	 * gitconfig says (and libgit2 1.5 leaks in those regex lookups). */
	git_remote_create_options create_opts;
	git_remote_create_options_init(&create_opts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	create_opts.repository = repo;
	create_opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, r->url, &create_opts) < 0) {
		fail_fetch(e, &ctx, "bad remote URL");
		goto out;
	}
	if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL) < 0) {
		fail_fetch(e, &ctx, "connecting to");
		goto out;
	}
	if (git_remote_ls(&heads, &nheads, remote) < 0) {
		fail_fetch(e, &ctx, "listing branches of");
		goto out;
	}
	for (size_t i = 0; i < nheads; i++) {
		if (strcmp(heads[i]->name, want) == 0) {
			git_oid_cpy(tip, &heads[i]->oid);
			found = true;
			break;
		}
	}
	if (!found) {
		char url[1024];
		config_redact_url(r->url, url, sizeof(url));
		err_set(e, "branch '%s' not found on %s", r->branch, url);
		goto out;
	}
	/* The no-change poll: the tip is already here, nothing to download. */
	{
		git_odb *odb = NULL;
		bool have = git_repository_odb(&odb, repo) == 0 && git_odb_exists(odb, tip);
		git_odb_free(odb);
		if (!have && git_remote_download(remote, &refspecs, &fo) < 0) {
			fail_fetch(e, &ctx, "fetching from");
			goto out;
		}
	}
	if (git_reference_create(NULL, repo, local_ref, tip, 1, "cim-agent fetch") < 0) {
		err_set(e, "updating %s: %s", local_ref, git_error_last()->message);
		goto out;
	}
	*changed = !had_old || !git_oid_equal(&old, tip);
	rc = 0;
out:
	finish_remote(&timer, remote, &ctx);
	return rc;
}
