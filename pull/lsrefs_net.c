#include "pull/lsrefs_net.h"

#include "base/clock.h"
#include "base/err.h"
#include "pull/transport.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define LSREFS_REQUEST_MAX 512

static long ms_left(double deadline)
{
	double left = (deadline - clock_monotonic()) * 1000;

	return left < 1 ? 0 : left > INT_MAX ? INT_MAX : (long)left;
}

static int out_of_time(struct err *e)
{
	return err_set(e, "no answer within the time the pre-check may take");
}

/* --- smart HTTP (gitprotocol-http) ----------------------------------------- */

struct http_call {
	CURL *curl;
	const char *content_type; /* what the answer must be */
	bool checked, failed;
	struct err why;
	struct pktline_stream stream;
};

static bool type_is(const char *got, const char *want)
{
	size_t n = strlen(want);

	return got && strncasecmp(got, want, n) == 0 &&
	       (got[n] == '\0' || got[n] == ';' || got[n] == ' ');
}

static size_t on_body(char *data, size_t size, size_t count, void *arg)
{
	struct http_call *c = arg;
	size_t len = size * count;
	char *type = NULL;
	long status = 0;
	int rc;

	if (!c->checked) {
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &type);
		c->checked = true;
		if (status != 200)
			c->failed = err_set(&c->why, "HTTP %ld", status) < 0;
		else if (!type_is(type, c->content_type))
			c->failed = err_set(&c->why,
					    "not a smart HTTP answer (the Content-Type "
					    "is not %s)",
					    c->content_type) < 0;
		if (c->failed)
			return 0;
	}
	rc = pktline_stream_feed(&c->stream, data, len, &c->why);
	c->failed = rc < 0;
	/* Whole or unusable: either way nothing more is read. */
	return rc == 0 ? len : 0;
}

static CURL *http_handle(const struct lsrefs_url *u)
{
	CURL *curl = curl_easy_init();

	if (!curl)
		return NULL;
	/* As the fetch: TLS verified against the system's CAs, no proxy from
	 * the environment, and no redirect at all (the fetch decides those). */
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, u->scheme == LSREFS_HTTPS ? "https" : "http");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "git/2.0 (cim-agent " CIM_VERSION ")");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	return curl;
}

/* One request; 0 once the stream said its answer is whole. */
static int http_exchange(struct http_call *c, const char *url, struct curl_slist *headers,
			 const char *body, size_t body_len, double deadline, struct err *e)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	long left = ms_left(deadline), status = 0;
	CURLcode rc;

	if (left == 0)
		return out_of_time(e);
	c->checked = c->failed = false;
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, left);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	if (body) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	}
	rc = curl_easy_perform(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
	if (c->stream.done)
		return 0;
	if (c->failed) {
		*e = c->why;
		return -1;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return out_of_time(e);
	if (rc != CURLE_OK)
		return err_set(e, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300 && status < 400)
		return err_set(e, "HTTP %ld, a redirect (only the fetch may follow one)", status);
	if (status != 200)
		return err_set(e, "HTTP %ld", status);
	return err_set(e, "the answer ended before its flush packet");
}

/* "Authorization: Basic ..." when the fetch would send the token to this
 * URL. curl copies the header: the copy is wiped in free_headers, and what
 * curl builds from it dies with the fetch child. */
static int auth_header(const struct pull_settings *r, const struct lsrefs_url *u,
		       struct curl_slist **list, struct err *e)
{
	static const char prefix[] = "Authorization: Basic ";
	const char *user = u->user[0] ? u->user : "cim-agent";
	char *token = NULL, *raw = NULL, *line = NULL;
	size_t raw_len, b64;
	int rc = -1;

	if (!r->token_file || !transport_token_allowed(r->url))
		return 0;
	if (transport_token_read(r->token_file, &token, e) < 0)
		return -1;
	raw_len = strlen(user) + 1 + strlen(token);
	b64 = sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_ORIGINAL);
	raw = sodium_malloc(raw_len + 1);
	line = sodium_malloc(sizeof(prefix) + b64);
	if (raw && line) {
		snprintf(raw, raw_len + 1, "%s:%s", user, token);
		memcpy(line, prefix, sizeof(prefix) - 1);
		sodium_bin2base64(line + sizeof(prefix) - 1, b64, (unsigned char *)raw, raw_len,
				  sodium_base64_VARIANT_ORIGINAL);
		struct curl_slist *h = curl_slist_append(*list, line);
		if (h) {
			*list = h;
			rc = 0;
		}
	}
	if (rc < 0)
		err_set(e, "out of memory");
	sodium_free(token);
	if (raw)
		sodium_free(raw);
	if (line)
		sodium_free(line);
	return rc;
}

static void free_headers(struct curl_slist *list)
{
	for (struct curl_slist *h = list; h; h = h->next)
		if (strncasecmp(h->data, "Authorization:", 14) == 0)
			sodium_memzero(h->data, strlen(h->data));
	curl_slist_free_all(list);
}

static int append(struct curl_slist **list, const char *header, struct err *e)
{
	struct curl_slist *h = curl_slist_append(*list, header);

	if (!h)
		return err_set(e, "out of memory");
	*list = h;
	return 0;
}

/* scheme://host[:port]/path without the user part and trailing slashes. */
static int http_base(const struct lsrefs_url *u, char *out, size_t size, struct err *e)
{
	int n = snprintf(out, size, "%s://%s%s", u->scheme == LSREFS_HTTPS ? "https" : "http",
			 u->hostport, u->path);

	if (n < 0 || (size_t)n >= size)
		return err_set(e, "the URL is too long");
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

static int http_ask(struct http_call *c, const struct pull_settings *r, const struct lsrefs_url *u,
		    struct lsrefs_answer *a, double deadline, struct err *e)
{
	char base[3072], url[3200], request[LSREFS_REQUEST_MAX];
	struct curl_slist *headers = NULL;
	int rc = -1, len;

	if (http_base(u, base, sizeof(base), e) < 0)
		return -1;
	if (append(&headers, "Git-Protocol: version=2", e) < 0 ||
	    auth_header(r, u, &headers, e) < 0)
		goto out;
	pktline_stream_init(&c->stream, LSREFS_CAPS_MAX, lsrefs_caps_packet, a);
	c->content_type = "application/x-git-upload-pack-advertisement";
	snprintf(url, sizeof(url), "%s/info/refs?service=git-upload-pack", base);
	if (http_exchange(c, url, headers, NULL, 0, deadline, e) < 0)
		goto out;
	len = lsrefs_request(a, request, sizeof(request));
	if (len < 0 ||
	    append(&headers, "Content-Type: application/x-git-upload-pack-request", e) < 0 ||
	    append(&headers, "Accept: application/x-git-upload-pack-result", e) < 0)
		goto out;
	pktline_stream_init(&c->stream, LSREFS_ANSWER_MAX, lsrefs_refs_packet, a);
	c->content_type = "application/x-git-upload-pack-result";
	snprintf(url, sizeof(url), "%s/git-upload-pack", base);
	rc = http_exchange(c, url, headers, request, (size_t)len, deadline, e);
out:
	free_headers(headers);
	return rc;
}

int lsrefs_ask_http(const struct pull_settings *r, const struct lsrefs_url *u,
		    struct lsrefs_answer *a, double deadline, struct err *e)
{
	struct http_call *c;
	int rc = -1;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return err_set(e, "libcurl could not start");
	c = calloc(1, sizeof(*c));
	if (c && (c->curl = http_handle(u)) != NULL)
		rc = http_ask(c, r, u, a, deadline, e);
	else
		err_set(e, "out of memory");
	if (c && c->curl)
		curl_easy_cleanup(c->curl);
	free(c);
	curl_global_cleanup();
	return rc;
}

/* --- git:// (gitprotocol-pack, "Git Transport") ---------------------------- */

static int wait_fd(int fd, short events, double deadline, struct err *e)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		long left = ms_left(deadline);
		int n;

		if (left == 0)
			return out_of_time(e);
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return err_set(e, "poll: %s", strerror(errno));
	}
}

static int connect_one(const struct addrinfo *ai, double deadline, struct err *e)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), soerr = 0;
	socklen_t len = sizeof(soerr);

	if (fd < 0)
		return err_set(e, "socket: %s", strerror(errno));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		soerr = errno;
	else if (wait_fd(fd, POLLOUT, deadline, e) < 0)
		soerr = -1;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr == 0)
		return fd;
	if (soerr > 0)
		err_set(e, "connecting: %s", strerror(soerr));
	close(fd);
	return -1;
}

static int tcp_connect(const struct lsrefs_url *u, double deadline, struct err *e)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	int fd = -1, rc = getaddrinfo(u->host, u->port[0] ? u->port : "9418", &hints, &res);
	struct err why = {{0}};

	if (rc != 0)
		return err_set(e, "resolving the host: %s", gai_strerror(rc));
	for (ai = res; ai && fd < 0 && ms_left(deadline) > 0; ai = ai->ai_next)
		fd = connect_one(ai, deadline, &why);
	freeaddrinfo(res);
	if (fd < 0 && !why.msg[0])
		out_of_time(&why);
	if (fd < 0)
		*e = why;
	return fd;
}

static int send_all(int fd, const char *data, size_t len, double deadline, struct err *e)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return err_set(e, "sending: %s", strerror(errno));
		} else if (wait_fd(fd, POLLOUT, deadline, e) < 0) {
			return -1;
		}
	}
	return 0;
}

/* Reads into s until it has a whole answer. */
static int receive(int fd, struct pktline_stream *s, double deadline, struct err *e)
{
	char chunk[16384];

	for (;;) {
		ssize_t n;
		int rc;

		if (wait_fd(fd, POLLIN, deadline, e) < 0)
			return -1;
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n == 0)
			return err_set(e, "the server closed the connection before the end of its "
					  "answer");
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return err_set(e, "receiving: %s", strerror(errno));
		rc = n > 0 ? pktline_stream_feed(s, chunk, (size_t)n, e) : 0;
		if (rc != 0)
			return rc > 0 ? 0 : -1;
	}
}

static int git_ask(int fd, const struct lsrefs_url *u, struct lsrefs_answer *a,
		   struct pktline_stream *s, double deadline, struct err *e)
{
	/* "/~user/repo" means "~user/repo", as git sends it. */
	const char *path = strncmp(u->path, "/~", 2) == 0 ? u->path + 1 : u->path;
	char line[sizeof(u->hostport) + 3072], pkt[sizeof(line) + 4];
	int n = snprintf(line, sizeof(line), "git-upload-pack %s%chost=%s%c%cversion=2%c", path, 0,
			 u->hostport, 0, 0, 0),
	    len;

	if (n < 0 || (size_t)n >= sizeof(line) ||
	    (len = pktline_format(pkt, sizeof(pkt), line, (size_t)n)) < 0)
		return err_set(e, "the repository path is too long");
	if (send_all(fd, pkt, (size_t)len, deadline, e) < 0)
		return -1;
	pktline_stream_init(s, LSREFS_CAPS_MAX, lsrefs_caps_packet, a);
	if (receive(fd, s, deadline, e) < 0)
		return -1;
	len = lsrefs_request(a, pkt, LSREFS_REQUEST_MAX);
	if (len < 0 || send_all(fd, pkt, (size_t)len, deadline, e) < 0)
		return -1;
	pktline_stream_init(s, LSREFS_ANSWER_MAX, lsrefs_refs_packet, a);
	if (receive(fd, s, deadline, e) < 0)
		return -1;
	/* A flush instead of a command ends the session; the answer is in,
	 * whether or not the server still hears it. */
	struct err ignored;
	send_all(fd, "0000", 4, deadline, &ignored);
	return 0;
}

int lsrefs_ask_git(const struct lsrefs_url *u, struct lsrefs_answer *a, double deadline,
		   struct err *e)
{
	struct pktline_stream *s = malloc(sizeof(*s));
	int fd, rc = -1;

	if (!s)
		return err_set(e, "out of memory");
	fd = tcp_connect(u, deadline, e);
	if (fd >= 0) {
		rc = git_ask(fd, u, a, s, deadline, e);
		close(fd);
	}
	free(s);
	return rc;
}
