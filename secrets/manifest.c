#include "base/ini_lines.h"
#include "secrets/manifest.h"

#include "base/err.h"

#include <fnmatch.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mparse {
	struct manifest *m;
	const char *name;
	struct ini_lines lines;
	int lineno;
	int header_line; /* line of the latest [section] header */
	int header_keys; /* keys seen since that header */
	bool header_new; /* a header was read since the last key */
	struct manifest_secret *cur;
	int seen[5]; /* line where file, path, owner, group/mode/hosts were set */
	struct err *e;
	bool failed;
};

static int mfail(struct mparse *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int mfail(struct mparse *ps, int line, const char *fmt, ...)
{
	char what[600];
	va_list ap;

	if (ps->failed)
		return 0;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	err_set(ps->e, "%s:%d: %s", ps->name, line, what);
	ps->failed = true;
	return 0;
}

static bool no_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

bool manifest_path_ok(const char *path)
{
	const char *p = path;

	if (!*path || path[0] == '/' || strlen(path) > MANIFEST_MAX_PATH || !no_control(path))
		return false;
	for (;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

static bool name_ok(const char *s)
{
	if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strlen(s) > 128)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	       strlen(s);
}

static bool account_ok(const char *s)
{
	/* POSIX portable user and group names, as useradd accepts them. */
	return *s && *s != '-' && strlen(s) <= 32 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
		   strlen(s);
}

static const char *const keynames[] = {"file", "path", "owner", "group", "mode", "hosts"};

/* A new [section]: the next secret. */
static int start_secret(struct mparse *ps, const char *section)
{
	struct manifest *m = ps->m;

	ps->header_new = false;
	if (!name_ok(section))
		return mfail(ps, ps->header_line,
			     "[%s]: a secret's name may only contain letters, digits, "
			     "'.', '_' and '-'",
			     section);
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].name, section) == 0)
			return mfail(ps, ps->header_line, "[%s]: defined twice (first on line %d)",
				     section, m->v[i].line);
	if (m->n == MANIFEST_MAX_SECRETS)
		return mfail(ps, ps->header_line, "more than %d secrets", MANIFEST_MAX_SECRETS);
	ps->cur = &m->v[m->n++];
	ps->cur->name = strdup(section);
	ps->cur->line = ps->header_line;
	ps->cur->mode = 0400;
	memset(ps->seen, 0, sizeof(ps->seen));
	if (!ps->cur->name)
		return mfail(ps, ps->lineno, "out of memory");
	return 1;
}

static int set_mode(struct mparse *ps, const char *section, const char *value)
{
	char *end;
	unsigned long mode = strtoul(value, &end, 8);

	if (*end || value[0] < '0' || value[0] > '7' || mode > 0777 || strlen(value) > 4)
		return mfail(ps, ps->lineno, "[%s] mode: '%s' is not an octal mode of at most 0777",
			     section, value);
	ps->cur->mode = (mode_t)mode;
	return 1;
}

/* hosts may repeat: the patterns add up. */
static int add_hosts(struct mparse *ps, const char *value)
{
	struct manifest_secret *s = ps->cur;
	size_t n = strlen(s->hosts) + strlen(value) + 2;
	char *more = malloc(n);

	if (!more)
		return mfail(ps, ps->lineno, "out of memory");
	snprintf(more, n, "%s,%s", s->hosts, value);
	free(s->hosts);
	s->hosts = more;
	return 1;
}

/* Checks value for key number k and stores it in the current secret. */
static int set_value(struct mparse *ps, size_t k, const char *section, const char *key,
		     const char *value)
{
	struct manifest_secret *s = ps->cur;
	const char *rel = value;
	char **field = NULL;

	switch (k) {
	case 0:
		if (!manifest_path_ok(value))
			return mfail(ps, ps->lineno,
				     "[%s] file: '%s' must be a path inside the repository "
				     "(relative, without '.' or '..')",
				     section, value);
		field = &s->file;
		break;
	case 1:
		while (*rel == '/')
			rel++;
		if (!manifest_path_ok(rel) || (rel != value && rel != value + 1))
			return mfail(ps, ps->lineno,
				     "[%s] path: '%s' escapes the secrets directory or is not a "
				     "clean path (no '.' or '..')",
				     section, value);
		field = &s->path;
		break;
	case 2:
	case 3:
		if (!account_ok(value))
			return mfail(ps, ps->lineno, "[%s] %s: '%s' is not a valid %s name",
				     section, key, value, key);
		field = k == 2 ? &s->owner : &s->group;
		break;
	case 4:
		return set_mode(ps, section, value);
	default:
		if (s->hosts)
			return add_hosts(ps, value);
		field = &s->hosts;
		break;
	}
	*field = strdup(value);
	if (!*field)
		return mfail(ps, ps->lineno, "out of memory");
	return 1;
}

static int mhandler(void *user, const char *section, const char *key, const char *value)
{
	struct mparse *ps = user;
	size_t k, nkeys = sizeof(keynames) / sizeof(keynames[0]);

	ps->header_keys++;
	if (!*section)
		return mfail(ps, ps->lineno, "'%s' is outside any [secret] section", key);
	if ((!ps->cur || ps->header_new) && !start_secret(ps, section))
		return 0;
	for (k = 0; k < nkeys; k++)
		if (strcmp(key, keynames[k]) == 0)
			break;
	if (k == nkeys)
		return mfail(ps, ps->lineno, "[%s] %s: unknown key", section, key);
	if (k < 5 && ps->seen[k])
		return mfail(ps, ps->lineno, "[%s] %s: set twice (first on line %d)", section, key,
			     ps->seen[k]);
	if (k < 5)
		ps->seen[k] = ps->lineno;
	if (!*value)
		return mfail(ps, ps->lineno, "[%s] %s: has no value", section, key);
	if (!no_control(value))
		return mfail(ps, ps->lineno, "[%s] %s: contains a control character", section, key);
	return set_value(ps, k, section, key, value);
}

static char *mline_reader(char *str, int num, void *stream)
{
	struct mparse *ps = stream;
	char why[64];
	char *line = ini_lines_next(&ps->lines, str, num, why, sizeof(why));

	ps->lineno = ps->lines.lineno;
	if (!line)
		return NULL;
	if (why[0]) {
		mfail(ps, ps->lineno, "%s", why);
		return line;
	}
	if (str[strspn(str, " \t")] == '[') {
		if (ps->header_line && ps->header_keys == 0)
			mfail(ps, ps->header_line, "a secret without any key");
		ps->header_line = ps->lineno;
		ps->header_keys = 0;
		ps->header_new = true;
	}
	return line;
}

int manifest_parse(struct manifest *m, const char *name, const char *text, size_t len,
		   struct err *e)
{
	struct mparse ps = {.m = m, .name = name, .lines = {.text = text, .len = len}, .e = e};
	int rc;

	if (len > MANIFEST_MAX_BYTES)
		return err_set(e, "%s: larger than %d bytes", name, MANIFEST_MAX_BYTES);
	rc = ini_parse_stream(mline_reader, &ps, mhandler, &ps);
	if (ps.failed)
		return -1;
	if (rc != 0)
		return err_set(e, "%s:%d: not a 'key = value' line or a [secret] header", name, rc);
	if (ps.header_line && ps.header_keys == 0)
		return err_set(e, "%s:%d: a secret without any key", name, ps.header_line);
	if (!(m->source = strdup(name)))
		return err_set(e, "out of memory");
	for (size_t i = 0; i < m->n; i++) {
		struct manifest_secret *s = &m->v[i];
		if (!s->file)
			return err_set(e, "%s:%d: [%s] file is required but not set", name, s->line,
				       s->name);
		if (!s->path && !(s->path = strdup(s->name)))
			return err_set(e, "out of memory");
		if (!s->owner && !(s->owner = strdup("root")))
			return err_set(e, "out of memory");
	}
	return 0;
}

bool manifest_applies(const struct manifest_secret *s, const char *hostname)
{
	const char *p;

	if (!s->hosts)
		return true;
	p = s->hosts;
	while (*p) {
		char pat[256];
		size_t n;

		p += strspn(p, " \t,");
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0 && n < sizeof(pat)) {
			memcpy(pat, p, n);
			pat[n] = '\0';
			if (fnmatch(pat, hostname, 0) == 0)
				return true;
		}
		p += n;
		p += strcspn(p, ",");
	}
	return false;
}

void manifest_release(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		struct manifest_secret *s = &m->v[i];
		free(s->name);
		free(s->file);
		free(s->path);
		free(s->owner);
		free(s->group);
		free(s->hosts);
		memset(s, 0, sizeof(*s));
	}
	m->n = 0;
	free(m->source);
	m->source = NULL;
}
