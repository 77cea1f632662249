#include "pull/lsrefs.h"

#include "base/clock.h"
#include "base/err.h"
#include "pull/lsrefs_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- the answer ------------------------------------------------------------ */

int lsrefs_answer_init(struct lsrefs_answer *a, const char *branch, struct err *e)
{
	size_t n = strlen(branch);
	int valid = 0;

	memset(a, 0, sizeof(*a));
	if (n == 0 || n > LSREFS_BRANCH_MAX)
		return err_set(e, "the branch name is empty or longer than %d bytes",
			       LSREFS_BRANCH_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)branch[i] <= ' ' || branch[i] == 127)
			return err_set(e, "the branch name holds a space or a control character");
	snprintf(a->want, sizeof(a->want), "refs/heads/%s", branch);
	if (git_reference_name_is_valid(&valid, a->want) < 0 || !valid)
		return err_set(e, "%s is not a valid ref name", a->want);
	return 0;
}

/* What the server said, fit to be shown: printable ASCII, cut short. */
static void shown(const char *data, size_t len, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 4 < size && i < 80; i++) {
		unsigned char c = (unsigned char)data[i];
		out[n++] = c >= ' ' && c < 127 ? (char)c : '?';
	}
	if (len > 80 && n + 4 < size) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

static bool line_is(const struct pktline *p, const char *text)
{
	size_t n = pktline_chomp(p);

	return p->kind == PKTLINE_DATA && n == strlen(text) && memcmp(p->data, text, n) == 0;
}

static bool line_starts(const struct pktline *p, const char *prefix)
{
	size_t n = strlen(prefix);

	return p->kind == PKTLINE_DATA && p->len >= n && memcmp(p->data, prefix, n) == 0;
}

static int server_error(const struct pktline *p, struct err *e)
{
	char text[128];

	shown(p->data + 4, pktline_chomp(p) - 4, text, sizeof(text));
	return err_set(e, "the server says: %s", text);
}

static int not_v2(const struct pktline *p, struct err *e)
{
	char text[128];

	if (p->kind != PKTLINE_DATA)
		return err_set(e, "the server does not speak protocol v2 (its answer starts with "
				  "a special packet)");
	if (line_starts(p, "ERR "))
		return server_error(p, e);
	if (p->len > 41 && p->data[40] == ' ')
		return err_set(e, "the server does not speak protocol v2 (it answered with its "
				  "ref list)");
	shown(p->data, pktline_chomp(p), text, sizeof(text));
	return err_set(e, "the server does not speak protocol v2 (it answered \"%s\")", text);
}

static int capability(struct lsrefs_answer *a, const struct pktline *p, struct err *e)
{
	char text[128];

	if (line_is(p, "ls-refs") || line_starts(p, "ls-refs=")) {
		a->offers_ls_refs = true;
	} else if (line_starts(p, "object-format=") && !line_is(p, "object-format=sha1")) {
		shown(p->data, pktline_chomp(p), text, sizeof(text));
		return err_set(e, "the repository is not SHA-1 (%s)", text);
	}
	return 0;
}

static int version_line(struct lsrefs_answer *a, const struct pktline *p, struct err *e)
{
	if (!line_is(p, "version 2"))
		return not_v2(p, e);
	a->stage = LSREFS_CAPS;
	return 0;
}

int lsrefs_caps_packet(void *answer, const struct pktline *p, struct err *e)
{
	struct lsrefs_answer *a = answer;

	switch (a->stage) {
	case LSREFS_START:
		if (line_is(p, "# service=git-upload-pack")) {
			a->stage = LSREFS_SERVICE_FLUSH;
			return 0;
		}
		return version_line(a, p, e); /* the service line is optional */
	case LSREFS_VERSION:
		return version_line(a, p, e);
	case LSREFS_SERVICE_FLUSH:
		if (p->kind != PKTLINE_FLUSH)
			return err_set(e,
				       "malformed answer: no flush packet after the service line");
		a->stage = LSREFS_VERSION;
		return 0;
	case LSREFS_CAPS:
		if (p->kind == PKTLINE_DATA)
			return capability(a, p, e);
		if (p->kind != PKTLINE_FLUSH)
			return err_set(e,
				       "malformed capability advertisement: a delimiter inside it");
		if (!a->offers_ls_refs)
			return err_set(e, "the server speaks protocol v2 but offers no ls-refs");
		a->stage = LSREFS_REFS;
		return 1;
	default:
		return err_set(e, "capabilities after their end");
	}
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int lsrefs_refs_packet(void *answer, const struct pktline *p, struct err *e)
{
	struct lsrefs_answer *a = answer;
	size_t n = pktline_chomp(p), want = strlen(a->want), name;
	git_oid oid;

	if (a->stage != LSREFS_REFS)
		return err_set(e, "an ls-refs answer before the capabilities");
	if (p->kind == PKTLINE_FLUSH) {
		a->stage = LSREFS_DONE;
		return 1;
	}
	if (p->kind != PKTLINE_DATA)
		return err_set(e, "malformed ls-refs answer: a delimiter before its end");
	if (line_starts(p, "ERR "))
		return server_error(p, e);
	if (++a->refs > LSREFS_REFS_MAX)
		return err_set(e, "the ls-refs answer lists more than %d refs", LSREFS_REFS_MAX);
	if (n < GIT_OID_HEXSZ + 2 || p->data[GIT_OID_HEXSZ] != ' ' ||
	    !all_hex(p->data, GIT_OID_HEXSZ) || git_oid_fromstrn(&oid, p->data, GIT_OID_HEXSZ) < 0)
		return err_set(e, "malformed ls-refs answer: line %zu is not \"<id> <ref>\"",
			       a->refs);
	for (name = 0; GIT_OID_HEXSZ + 1 + name < n && p->data[GIT_OID_HEXSZ + 1 + name] != ' ';
	     name++)
		;
	if (name != want || memcmp(p->data + GIT_OID_HEXSZ + 1, a->want, want) != 0)
		return 0; /* the server may ignore ref-prefix */
	if (a->found && !git_oid_equal(&a->tip, &oid))
		return err_set(e, "the ls-refs answer names %s twice, at different commits",
			       a->want);
	a->found = true;
	git_oid_cpy(&a->tip, &oid);
	return 0;
}

int lsrefs_request(const struct lsrefs_answer *a, char *out, size_t size)
{
	static const char command[] = "command=ls-refs\n";
	char arg[sizeof(a->want) + 16];
	int n = pktline_format(out, size, command, sizeof(command) - 1), m;
	int len = snprintf(arg, sizeof(arg), "ref-prefix %s\n", a->want);

	if (n < 0 || len < 0 || (size_t)len >= sizeof(arg) || size - (size_t)n < 4)
		return -1;
	memcpy(out + n, "0001", 4);
	n += 4;
	m = pktline_format(out + n, size - (size_t)n, arg, (size_t)len);
	if (m < 0 || size - (size_t)(n + m) < 4)
		return -1;
	n += m;
	memcpy(out + n, "0000", 4);
	return n + 4;
}

/* --- the remote's URL ---------------------------------------------------- */

static bool has_prefix_nocase(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int split_host_port(struct lsrefs_url *u, const char *start, size_t n, struct err *e)
{
	const char *end = start + n, *port = NULL;

	if (n == 0 || n >= sizeof(u->hostport))
		return err_set(e, "no host, or a host too long, in the URL");
	memcpy(u->hostport, start, n);
	u->hostport[n] = '\0';
	if (*start == '[') {
		const char *close = memchr(start, ']', n);
		if (!close || (close + 1 != end && close[1] != ':'))
			return err_set(e, "malformed IPv6 address in the URL");
		port = close + 1 != end ? close + 2 : NULL;
		start++;
		n = (size_t)(close - start);
	} else if ((port = memchr(start, ':', n)) != NULL) {
		n = (size_t)(port++ - start);
	}
	if (n == 0 || n >= sizeof(u->host))
		return err_set(e, "no host in the URL");
	memcpy(u->host, start, n);
	u->host[n] = '\0';
	if (port) {
		size_t digits = (size_t)(end - port);
		if (digits == 0 || digits > 5 || strspn(port, "0123456789") < digits ||
		    atoi(port) > 65535)
			return err_set(e, "malformed port in the URL");
		memcpy(u->port, port, digits);
		u->port[digits] = '\0';
	}
	return 0;
}

int lsrefs_url_parse(const char *url, struct lsrefs_url *u, struct err *e)
{
	const char *rest, *auth_end, *at;
	size_t user;

	memset(u, 0, sizeof(*u));
	if (has_prefix_nocase(url, "https://"))
		u->scheme = LSREFS_HTTPS, rest = url + 8;
	else if (has_prefix_nocase(url, "http://"))
		u->scheme = LSREFS_HTTP, rest = url + 7;
	else if (has_prefix_nocase(url, "git://"))
		u->scheme = LSREFS_GIT, rest = url + 6;
	else
		return err_set(e, "not asked (it is for http(s) and git:// remotes)");
	if (strpbrk(rest, "?# \t\r\n"))
		return err_set(e, "the URL holds a query, a fragment or white space");
	auth_end = rest + strcspn(rest, "/");
	u->path = *auth_end ? auth_end : "/";
	for (at = auth_end; at > rest && at[-1] != '@'; at--)
		;
	if (at > rest) {
		user = strcspn(rest, ":@");
		if (user >= sizeof(u->user))
			return err_set(e, "the user name in the URL is too long");
		memcpy(u->user, rest, user);
		u->user[user] = '\0';
		rest = at;
	}
	if (u->scheme == LSREFS_GIT && strlen(u->path) < 2)
		return err_set(e, "no repository path in the git:// URL");
	return split_host_port(u, rest, (size_t)(auth_end - rest), e);
}

/* --- asking ---------------------------------------------------------------- */

int lsrefs_branch_tip(const struct pull_settings *r, unsigned budget_ms, git_oid *tip,
		      struct err *e)
{
	double deadline = clock_monotonic() + budget_ms / 1000.0;
	struct lsrefs_answer a;
	struct lsrefs_url u;
	int rc;

	if (lsrefs_answer_init(&a, r->branch, e) < 0 || lsrefs_url_parse(r->url, &u, e) < 0)
		return 1;
	if (u.scheme == LSREFS_GIT)
		rc = lsrefs_ask_git(&u, &a, deadline, e);
	else
		rc = lsrefs_ask_http(r, &u, &a, deadline, e);
	if (rc < 0)
		return 1;
	if (!a.found) {
		err_set(e, "the ls-refs answer does not list %s", a.want);
		return 1;
	}
	git_oid_cpy(tip, &a.tip);
	return 0;
}
