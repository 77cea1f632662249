#include "apply/deployfile.h"

#include "base/err.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#define NIX_BASE32 "0123456789abcdfghijklmnpqrsvwxyz"
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-._?="
#define HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
#define PATH_FIX                                                                                   \
	"it must be " DEPLOYFILE_STORE_DIR "/<32 base-32 characters>-<name>, as nix build prints " \
	"it"
#define SHOW_MAX 96

bool deployfile_store_path_ok(const char *path)
{
	const size_t dir_len = strlen(DEPLOYFILE_STORE_DIR "/");
	size_t n = strlen(path), name_len;
	const char *hash = path + dir_len, *name;

	if (n > DEPLOYFILE_PATH_MAX || n < dir_len + DEPLOYFILE_HASH_LEN + 2)
		return false;
	if (strncmp(path, DEPLOYFILE_STORE_DIR "/", dir_len) != 0)
		return false;
	if (strspn(hash, NIX_BASE32) != DEPLOYFILE_HASH_LEN || hash[DEPLOYFILE_HASH_LEN] != '-')
		return false;
	name = hash + DEPLOYFILE_HASH_LEN + 1;
	name_len = strlen(name);
	return name_len >= 1 && name_len <= DEPLOYFILE_NAME_MAX && name[0] != '.' &&
	       strspn(name, NAME_CHARS) == name_len;
}

bool deployfile_system_ok(const char *s)
{
	size_t n = strlen(s);
	const char *dash = strchr(s, '-');

	return n >= 3 && n <= DEPLOYFILE_SYSTEM_MAX && strspn(s, HOST_CHARS) == n && dash &&
	       dash != s && dash[1] != '\0';
}

/* The fleet hosts file's rule (fleet/hosts.h), so one name works in both. */
bool deployfile_host_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DEPLOYFILE_HOST_MAX || strspn(s, HOST_CHARS) != n)
		return false;
	return s[0] != '.' && s[0] != '-' && s[0] != '_' && s[n - 1] != '.' && !strstr(s, "..");
}

int deployfile_local_system(char *buf, size_t size)
{
	struct utsname u;
	char os[sizeof(u.sysname)];
	const char *cpu;
	int n;

	if (uname(&u) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(os); i++)
		os[i] = (char)tolower((unsigned char)u.sysname[i]);
	os[sizeof(os) - 1] = '\0';
	/* Nix says aarch64 where Darwin's uname says arm64. */
	cpu = strcmp(u.machine, "arm64") == 0 ? "aarch64" : u.machine;
	n = snprintf(buf, size, "%s-%s", cpu, os);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* A value from the file, fit for a message: printable ASCII, cut short. */
static const char *show(const char *s, char *buf, size_t size)
{
	size_t i = 0;

	for (; s[i] && i + 4 < size && i < SHOW_MAX; i++)
		buf[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (s[i])
		buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

/* Offset of the first object key "key" at or after from, or -1. Keys written
 * with escapes are not found; the message then goes without a line. */
static long key_offset(const char *text, size_t len, long from, const char *key)
{
	size_t klen = strlen(key);

	if (from < 0)
		return -1;
	for (size_t i = (size_t)from; i + klen + 2 <= len; i++) {
		if (text[i] != '"' || memcmp(text + i + 1, key, klen) != 0 ||
		    text[i + 1 + klen] != '"')
			continue;
		size_t j = i + klen + 2;
		while (j < len && strchr(" \t\r\n", text[j]))
			j++;
		if (j < len && text[j] == ':')
			return (long)i;
	}
	return -1;
}

static int line_at(const char *text, long off)
{
	int line = 1;

	for (long i = 0; i < off; i++)
		line += text[i] == '\n';
	return line;
}

struct parse {
	const char *name, *text;
	size_t len;
	struct err *e;
};

/* Sets e to "name[:LINE]: message", LINE being that of host's key or of field
 * within it (host NULL: a top-level field) when it can be found. Only ever
 * called on the way out: finding the line is a scan of the text. */
static int fail_at(const struct parse *p, const char *host, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(const struct parse *p, const char *host, const char *field, const char *fmt, ...)
{
	long off =
	    host ? key_offset(p->text, p->len, key_offset(p->text, p->len, 0, "hosts"), host) : 0;
	char msg[sizeof(p->e->msg)];
	va_list ap;

	if (off >= 0 && field) {
		long f = key_offset(p->text, p->len, off, field);
		off = f >= 0 ? f : (host ? off : -1);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (off >= 0)
		return err_set(p->e, "%s:%d: %s", p->name, line_at(p->text, off), msg);
	return err_set(p->e, "%s: %s", p->name, msg);
}

static int host_string(const struct parse *p, const char *host, json_t *entry, const char *field,
		       char *out, size_t size, bool required)
{
	json_t *v = json_object_get(entry, field);

	out[0] = '\0';
	if (!v && !required)
		return 0;
	if (!v)
		return fail_at(p, host, NULL, "host \"%s\" has no \"%s\"; give its store path",
			       host, field);
	if (!json_is_string(v))
		return fail_at(p, host, field, "host \"%s\": \"%s\" must be a string", host, field);
	if (json_string_length(v) >= size)
		return fail_at(p, host, field, "host \"%s\": \"%s\" is longer than %zu characters",
			       host, field, size - 1);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int parse_host(const struct parse *p, const char *host, json_t *entry,
		      struct deployfile_host *h)
{
	char shown[SHOW_MAX + 8];
	const char *key;
	json_t *v;

	if (!deployfile_host_name_ok(host))
		return fail_at(p, host, NULL,
			       "\"%s\" is not a valid host name; use 1 to %d characters of "
			       "[A-Za-z0-9._-], starting with a letter or digit",
			       show(host, shown, sizeof(shown)), DEPLOYFILE_HOST_MAX);
	if (!json_is_object(entry))
		return fail_at(p, host, NULL,
			       "host \"%s\" must be an object: { \"path\": \"...\" }", host);
	json_object_foreach(entry, key, v)
	{
		if (strcmp(key, "path") != 0 && strcmp(key, "system") != 0)
			return fail_at(p, host, key,
				       "host \"%s\": unknown key \"%s\"; remove it (a host has "
				       "\"path\" and \"system\"), or upgrade cim-agent",
				       host, show(key, shown, sizeof(shown)));
	}
	snprintf(h->name, sizeof(h->name), "%s", host);
	if (host_string(p, host, entry, "path", h->path, sizeof(h->path), true) < 0 ||
	    host_string(p, host, entry, "system", h->system, sizeof(h->system), false) < 0)
		return -1;
	if (!deployfile_store_path_ok(h->path))
		return fail_at(p, host, "path",
			       "host \"%s\": \"%s\" is not a store path; " PATH_FIX, host,
			       show(h->path, shown, sizeof(shown)));
	if (h->system[0] && !deployfile_system_ok(h->system))
		return fail_at(p, host, "system",
			       "host \"%s\": \"%s\" is not a Nix system type; write it as "
			       "nix does, e.g. \"x86_64-linux\"",
			       host, show(h->system, shown, sizeof(shown)));
	return 0;
}

/* Checks the top level: an object of "version": 1 and "hosts": {...}. */
static int parse_top(const struct parse *p, json_t *root, json_t **hosts)
{
	char shown[SHOW_MAX + 8];
	const char *key;
	json_t *v, *version;

	if (!json_is_object(root))
		return err_set(p->e,
			       "%s:1: not a deployment file: expected a JSON object with "
			       "\"version\" and \"hosts\"",
			       p->name);
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "version") != 0 && strcmp(key, "hosts") != 0)
			return fail_at(p, NULL, key,
				       "unknown key \"%s\"; remove it, or upgrade cim-agent if a "
				       "newer cim-publish wrote it",
				       show(key, shown, sizeof(shown)));
	}
	version = json_object_get(root, "version");
	if (!version)
		return err_set(p->e, "%s: no \"version\"; add \"version\": %d", p->name,
			       DEPLOYFILE_VERSION);
	if (!json_is_integer(version) || json_integer_value(version) != DEPLOYFILE_VERSION)
		return fail_at(p, NULL, "version",
			       "\"version\" must be %d; a file of another version needs "
			       "the cim-agent that wrote it",
			       DEPLOYFILE_VERSION);
	*hosts = json_object_get(root, "hosts");
	if (!*hosts || !json_is_object(*hosts))
		return fail_at(p, NULL, "hosts",
			       "\"hosts\" must be an object of host name to { \"path\": ... }");
	if (json_object_size(*hosts) > DEPLOYFILE_MAX_HOSTS)
		return fail_at(p, NULL, "hosts", "more than %d hosts; split the fleet",
			       DEPLOYFILE_MAX_HOSTS);
	return 0;
}

static int parse_json(struct deployfile *d, const struct parse *p, json_t *root)
{
	const char *host;
	json_t *hosts, *entry;

	if (parse_top(p, root, &hosts) < 0)
		return -1;
	d->v = calloc(json_object_size(hosts) + 1, sizeof(*d->v));
	if (!d->v)
		return err_set(p->e, "out of memory");
	json_object_foreach(hosts, host, entry)
	{
		if (parse_host(p, host, entry, &d->v[d->n]) < 0)
			return -1;
		d->n++;
	}
	return 0;
}

int deployfile_parse(struct deployfile *d, const char *name, const char *text, size_t len,
		     struct err *e)
{
	struct parse p = {.name = name, .text = text, .len = len, .e = e};
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(d, 0, sizeof(*d));
	if (len > DEPLOYFILE_MAX_BYTES)
		return err_set(e, "%s: larger than %d bytes; is it a deployment file?", name,
			       DEPLOYFILE_MAX_BYTES);
	if (memchr(text, '\0', len))
		return err_set(e, "%s:%d: a NUL byte; the file must be JSON text", name,
			       line_at(text, (long)((const char *)memchr(text, '\0', len) - text)));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_set(e,
			       "%s:%d:%d: not valid JSON: %s; fix the file (cim-publish writes it)",
			       name, jerr.line, jerr.column, jerr.text);
	rc = parse_json(d, &p, root);
	json_decref(root);
	if (rc < 0)
		deployfile_release(d);
	return rc;
}

const struct deployfile_host *deployfile_find(const struct deployfile *d, const char *host)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].name, host) == 0)
			return &d->v[i];
	return NULL;
}

void deployfile_release(struct deployfile *d)
{
	free(d->v);
	d->v = NULL;
	d->n = 0;
}
