#include "base/ini_lines.h"
#include "secrets/manifest.h"

#include "base/err.h"
#include "base/relpath.h"

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
	int seen[7]; /* line where each key but hosts was set */
	struct err *e;
	bool failed;
	bool rendered; /* the variant of manifest_parse_rendered() */
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
	return relpath_ok(path, MANIFEST_MAX_PATH);
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

/* hosts (5), the one key that may repeat, comes after the others. */
static const char *const keynames[] = {"file", "path",	"owner",  "group",
				       "mode", "hosts", "symlink"};
enum { KEY_HOSTS = 5, KEY_SYMLINK = 6 };

/* An absolute path whose components are clean, as file and symlink of a
 * rendered manifest must be. */
static bool abs_path_ok(const char *path)
{
	return path[0] == '/' && strlen(path) <= MANIFEST_MAX_PATH && manifest_path_ok(path + 1);
}

/* The first key after a [section] header: a new secret. 1, or mfail()'s 0. */
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

/* Sets key number k (keynames) of secret s. 1, or mfail()'s 0. */
static int set_key(struct mparse *ps, struct manifest_secret *s, const char *section, size_t k,
		   const char *key, const char *value)
{
	char **field = NULL;
	switch (k) {
	case 0:
		if (ps->rendered && !abs_path_ok(value))
			return mfail(
			    ps, ps->lineno,
			    "[%s] file: '%s' must be an absolute clean path (the store copy)",
			    section, value);
		if (!ps->rendered && !manifest_path_ok(value))
			return mfail(ps, ps->lineno,
				     "[%s] file: '%s' must be a path inside the repository "
				     "(relative, without '.' or '..')",
				     section, value);
		field = &s->file;
		break;
	case 1: {
		const char *rel = value;
		while (*rel == '/')
			rel++;
		if (!manifest_path_ok(rel) || (rel != value && rel != value + 1))
			return mfail(ps, ps->lineno,
				     "[%s] path: '%s' escapes the secrets directory or is not a "
				     "clean path (no '.' or '..')",
				     section, value);
		field = &s->path;
		break;
	}
	case 2:
	case 3:
		if (!account_ok(value))
			return mfail(ps, ps->lineno, "[%s] %s: '%s' is not a valid %s name",
				     section, key, value, key);
		field = k == 2 ? &s->owner : &s->group;
		break;
	case 4: {
		char *end;
		unsigned long mode = strtoul(value, &end, 8);
		if (*end || value[0] < '0' || value[0] > '7' || mode > 0777 || strlen(value) > 4)
			return mfail(ps, ps->lineno,
				     "[%s] mode: '%s' is not an octal mode of at most 0777",
				     section, value);
		s->mode = (mode_t)mode;
		return 1;
	}
	case 5:
		/* hosts may repeat: the patterns add up. */
		if (s->hosts) {
			size_t n = strlen(s->hosts) + strlen(value) + 2;
			char *more = malloc(n);
			if (!more)
				return mfail(ps, ps->lineno, "out of memory");
			snprintf(more, n, "%s,%s", s->hosts, value);
			free(s->hosts);
			s->hosts = more;
			return 1;
		}
		field = &s->hosts;
		break;
	case KEY_SYMLINK:
		if (!abs_path_ok(value))
			return mfail(ps, ps->lineno,
				     "[%s] symlink: '%s' must be an absolute clean path", section,
				     value);
		field = &s->symlink;
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
	struct manifest_secret *s;
	size_t k;

	ps->header_keys++;
	if (!*section)
		return mfail(ps, ps->lineno, "'%s' is outside any [secret] section", key);
	if ((!ps->cur || ps->header_new) && !start_secret(ps, section))
		return 0;
	s = ps->cur;
	for (k = 0; k < sizeof(keynames) / sizeof(keynames[0]); k++)
		if (strcmp(key, keynames[k]) == 0)
			break;
	if (k == sizeof(keynames) / sizeof(keynames[0]))
		return mfail(ps, ps->lineno, "[%s] %s: unknown key", section, key);
	if (k == KEY_HOSTS && ps->rendered)
		return mfail(ps, ps->lineno,
			     "[%s] hosts: a rendered manifest holds one system's secrets only",
			     section);
	if (k == KEY_SYMLINK && !ps->rendered)
		return mfail(ps, ps->lineno,
			     "[%s] symlink: only services.cim-agent.secrets (a rendered manifest) "
			     "makes symlinks",
			     section);
	if (k != KEY_HOSTS && ps->seen[k])
		return mfail(ps, ps->lineno, "[%s] %s: set twice (first on line %d)", section, key,
			     ps->seen[k]);
	if (k != KEY_HOSTS)
		ps->seen[k] = ps->lineno;
	if (!*value)
		return mfail(ps, ps->lineno, "[%s] %s: has no value", section, key);
	if (!no_control(value))
		return mfail(ps, ps->lineno, "[%s] %s: contains a control character", section, key);
	return set_key(ps, s, section, k, key, value);
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

static int parse(struct manifest *m, const char *name, const char *text, size_t len, bool rendered,
		 struct err *e)
{
	struct mparse ps = {.m = m,
			    .name = name,
			    .lines = {.text = text, .len = len},
			    .e = e,
			    .rendered = rendered};
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

int manifest_parse(struct manifest *m, const char *name, const char *text, size_t len,
		   struct err *e)
{
	return parse(m, name, text, len, false, e);
}

int manifest_parse_rendered(struct manifest *m, const char *name, const char *text, size_t len,
			    struct err *e)
{
	return parse(m, name, text, len, true, e);
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
		free(s->symlink);
		memset(s, 0, sizeof(*s));
	}
	m->n = 0;
	free(m->source);
	m->source = NULL;
}
