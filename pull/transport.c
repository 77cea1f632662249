#include "pull/transport.h"

#include "base/err.h"
#include "base/url.h"
#include "base/fileio.h"
#include "pull/gitmem.h"
#include "pull/known_hosts.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int transport_token_read(const char *token_file, char **token, struct err *e)
{
	char *text;
	size_t len;

	*token = NULL;
	if (file_read_capped(token_file, MIRROR_TOKEN_MAX, &text, &len, e) < 0)
		return err_prefix(e, "[repo] token_file");
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	*token = sodium_malloc(len + 1);
	if (*token) {
		memcpy(*token, text, len);
		(*token)[len] = '\0';
	}
	sodium_memzero(text, len);
	free(text);
	return *token ? 0 : err_set(e, "out of memory");
}

static int load_token(struct transport *t, struct err *e)
{
	if (!t->remote->token_file)
		return 0;
	return transport_token_read(t->remote->token_file, &t->token, e);
}

/* The host of scheme://[user[:password]@]host[:port][/path], without the
 * brackets of an IPv6 literal. */
static bool url_host(const char *url, char *host, size_t size)
{
	const char *start = strstr(url, "://"), *end, *at;
	size_t n;

	if (!start)
		return false;
	start += 3;
	end = start + strcspn(start, "/?#");
	for (at = end; at > start && at[-1] != '@'; at--)
		;
	start = at > start ? at : start;
	if (*start == '[') {
		const char *close = memchr(start, ']', (size_t)(end - start));
		if (!close || (close + 1 != end && close[1] != ':'))
			return false;
		start++;
		end = close;
	} else {
		const char *colon = memchr(start, ':', (size_t)(end - start));
		end = colon ? colon : end;
	}
	n = (size_t)(end - start);
	if (n >= size)
		return false;
	memcpy(host, start, n);
	host[n] = '\0';
	return true;
}

bool transport_token_allowed(const char *url)
{
	static const char *const loopback[] = {"127.0.0.1", "localhost", "::1"};
	char host[256];

	if (strncasecmp(url, "https://", 8) == 0)
		return true;
	if (strncasecmp(url, "http://", 7) != 0 || !url_host(url, host, sizeof(host)))
		return false;
	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
		if (strcasecmp(host, loopback[i]) == 0)
			return true;
	return false;
}

static int credentials(git_credential **out, const char *url, const char *user_from_url,
		       unsigned int allowed, void *payload)
{
	struct transport *t = payload;

	/* libgit2 asks again after a rejected credential; one try is enough. */
	if (t->credential_calls++ > 0) {
		git_error_set_str(GIT_ERROR_NET, "authentication failed (credentials rejected)");
		return GIT_EAUTH;
	}
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && t->remote->ssh_key)
		return git_credential_ssh_key_new(out, user_from_url ? user_from_url : "git", NULL,
						  t->remote->ssh_key, NULL);
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && t->token) {
		/* url is the configured one: redirects to another host are off. */
		if (!transport_token_allowed(url)) {
			git_error_set_str(GIT_ERROR_NET,
					  "refusing to send the token over plain http "
					  "(use an https URL)");
			return GIT_EAUTH;
		}
		return git_credential_userpass_plaintext_new(
		    out, user_from_url ? user_from_url : "cim-agent", t->token);
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
	struct transport *t = payload;
	git_cert_hostkey *hk = (git_cert_hostkey *)cert;
	struct err e = {{0}};
	char *text = NULL;
	size_t len;
	int rc;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return valid ? 0 : GIT_PASSTHROUGH; /* TLS: libgit2's verification decides */
	if (!t->remote->known_hosts) {
		snprintf(t->cert_error, sizeof(t->cert_error),
			 "ssh remote needs [repo] known_hosts to check the host key of %s", host);
		return GIT_ECERTIFICATE;
	}
	if (!(hk->type & GIT_CERT_SSH_RAW) || !hk->hostkey) {
		snprintf(t->cert_error, sizeof(t->cert_error),
			 "the ssh library did not expose the host key of %s", host);
		return GIT_ECERTIFICATE;
	}
	if (file_read_capped(t->remote->known_hosts, KNOWN_HOSTS_MAX_BYTES, &text, &len, &e) < 0) {
		snprintf(t->cert_error, sizeof(t->cert_error), "%s", e.msg);
		return GIT_ECERTIFICATE;
	}
	rc = known_hosts_check(text, len, t->remote->known_hosts, host, port_of(t->remote->url),
			       (const unsigned char *)hk->hostkey, hk->hostkey_len, &e);
	free(text);
	if (rc < 0) {
		snprintf(t->cert_error, sizeof(t->cert_error), "%s", e.msg);
		return GIT_ECERTIFICATE;
	}
	return 0;
}

/* Messages end up in logs and the state file: never with credentials. */
static int fail(const struct transport *t, struct err *e, const char *what)
{
	const git_error *ge = git_error_last();
	const char *why = ge && ge->message ? ge->message : "unknown error";
	char url[1024];

	url_redact(t->remote->url, url, sizeof(url));
	if (t->cert_error[0])
		return err_set(e, "%s %s: %s", what, url, t->cert_error);
	if (t->token && strncmp(why, "cannot redirect from", 20) == 0)
		return err_set(e,
			       "%s %s: %s: a redirect to another host is refused while [repo] "
			       "token_file is set",
			       what, url, why);
	return err_set(e, "%s %s: %s", what, url, why);
}

static git_remote_redirect_t redirect_policy(const struct transport *t)
{
	/* libgit2 itself refuses https -> http; NONE also keeps to the host. */
	return t->token ? GIT_REMOTE_REDIRECT_NONE : GIT_REMOTE_REDIRECT_INITIAL;
}

static int create(struct transport *t, git_repository *repo, struct err *e)
{
	/* No insteadOf rewriting: the URL is the configured one, whatever a
	 * gitconfig says (and libgit2 1.5 leaks in those regex lookups). */
	git_remote_create_options opts;

	if (!repo) {
		if (git_remote_create_detached(&t->git, t->remote->url) < 0)
			return fail(t, e, "bad remote URL");
		return 0;
	}
	git_remote_create_options_init(&opts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	opts.repository = repo;
	opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&t->git, t->remote->url, &opts) < 0)
		return fail(t, e, "bad remote URL");
	return 0;
}

/* libgit2 calls a local path that does not exist an "unsupported URL
 * protocol": name what is wrong instead. */
static int check_local_path(const char *url, struct err *e)
{
	const char *path = strncmp(url, "file://", 7) == 0 ? url + 7 : url;
	struct stat st;

	if (path[0] != '/' || stat(path, &st) == 0)
		return 0;
	return err_set(e,
		       "[repo] url: %s does not exist (a local path: the repository's "
		       "directory; for a remote, give a URL such as ssh://git@host/fleet.git)",
		       path);
}

int transport_connect(struct transport *t, const struct pull_settings *r, git_repository *repo,
		      struct err *e)
{
	git_remote_connect_options co;
	int rc;

	memset(t, 0, sizeof(*t));
	t->remote = r;
	if (check_local_path(r->url, e) < 0 || load_token(t, e) < 0 || create(t, repo, e) < 0)
		return -1;
	git_remote_init_callbacks(&t->cb, GIT_REMOTE_CALLBACKS_VERSION);
	t->cb.credentials = credentials;
	t->cb.certificate_check = certificate_check;
	t->cb.payload = t;
	git_remote_connect_options_init(&co, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	co.callbacks = t->cb;
	co.follow_redirects = redirect_policy(t);
	/* The advertisement is read whole during the connect: cap its memory. */
	gitmem_limit(TRANSPORT_REFS_MEM_MAX);
	rc = git_remote_connect_ext(t->git, GIT_DIRECTION_FETCH, &co);
	if (rc == 0)
		rc = git_remote_ls(&t->heads, &t->nheads, t->git);
	gitmem_unlimit();
	if (rc < 0 && gitmem_cap_hit()) {
		char url[1024];
		url_redact(r->url, url, sizeof(url));
		return err_set(
		    e,
		    "connecting to %s: the advertised refs need more than %u MiB (the cap "
		    "on what a remote may advertise)",
		    url, TRANSPORT_REFS_MEM_MAX >> 20);
	}
	if (rc < 0)
		return fail(t, e, "connecting to");
	if (t->nheads > TRANSPORT_REFS_MAX) {
		char url[1024];
		url_redact(r->url, url, sizeof(url));
		return err_set(e, "%s advertises %zu refs, more than the cap of %d", url, t->nheads,
			       TRANSPORT_REFS_MAX);
	}
	return 0;
}

bool transport_find(const struct transport *t, const char *refname, git_oid *out)
{
	for (size_t i = 0; i < t->nheads; i++) {
		if (strcmp(t->heads[i]->name, refname) == 0) {
			git_oid_cpy(out, &t->heads[i]->oid);
			return true;
		}
	}
	return false;
}

int transport_download(struct transport *t, const char *refspec, struct err *e)
{
	char *specs[1] = {(char *)(uintptr_t)refspec};
	git_strarray refspecs = {specs, 1};
	git_fetch_options fo;

	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.callbacks = t->cb;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.prune = GIT_FETCH_NO_PRUNE;
	fo.update_fetchhead = 0;
	fo.follow_redirects = redirect_policy(t);
	if (git_remote_download(t->git, &refspecs, &fo) < 0)
		return fail(t, e, "fetching from");
	return 0;
}

void transport_close(struct transport *t)
{
	if (t->git) {
		git_remote_disconnect(t->git);
		git_remote_free(t->git);
	}
	if (t->token)
		sodium_free(t->token);
	memset(t, 0, sizeof(*t));
}
