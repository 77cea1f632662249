#include "fleet/hosts.h"

#include "base/err.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* string "ssh-ed25519" + string pk[32], the SSH wire form of the key */
static const unsigned char ed25519_prefix[] = {0,   0,	 0,   11,  's', 's', 'h', '-', 'e', 'd',
					       '2', '5', '5', '1', '9', 0,   0,	  0,   32};
#define ED25519_BLOB_LEN (sizeof(ed25519_prefix) + 32)

bool fleet_host_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > FLEET_HOST_NAME_MAX)
		return false;
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
		return false;
	if (s[0] == '.' || s[0] == '-' || s[0] == '_' || s[n - 1] == '.' || strstr(s, ".."))
		return false;
	return true;
}

int fleet_key_format(const unsigned char key[32], char *out, size_t size)
{
	unsigned char blob[ED25519_BLOB_LEN];
	char b64[sodium_base64_ENCODED_LEN(ED25519_BLOB_LEN, sodium_base64_VARIANT_ORIGINAL)];
	int n;

	memcpy(blob, ed25519_prefix, sizeof(ed25519_prefix));
	memcpy(blob + sizeof(ed25519_prefix), key, 32);
	sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(out, size, "ssh-ed25519 %s", b64);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Splits the next whitespace-separated field off *p; returns its length. */
static size_t next_field(const char **p, const char *end, const char **field)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	*field = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*p = s;
	return (size_t)(s - *field);
}

static int parse_key(const char *b64, size_t len, unsigned char key[32])
{
	unsigned char blob[ED25519_BLOB_LEN + 1];
	size_t binlen = 0;
	const char *b64_end = NULL;

	if (len > 200 || sodium_base642bin(blob, sizeof(blob), b64, len, NULL, &binlen, &b64_end,
					   sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	if (b64_end != b64 + len || binlen != ED25519_BLOB_LEN ||
	    memcmp(blob, ed25519_prefix, sizeof(ed25519_prefix)) != 0)
		return -1;
	memcpy(key, blob + sizeof(ed25519_prefix), 32);
	return 0;
}

static int parse_line(struct fleet_hosts *h, const char *name, int lineno, const char *line,
		      const char *end, struct err *e)
{
	const char *p = line, *f;
	size_t n;
	struct fleet_host *host;

	n = next_field(&p, end, &f);
	if (n == 0 || f[0] == '#')
		return 0;
	if (h->n == FLEET_HOSTS_MAX)
		return err_set(e, "%s:%d: more than %d hosts", name, lineno, FLEET_HOSTS_MAX);
	host = &h->v[h->n];
	memset(host, 0, sizeof(*host));
	if (n > FLEET_HOST_NAME_MAX)
		return err_set(e, "%s:%d: the host name is longer than %d characters", name, lineno,
			       FLEET_HOST_NAME_MAX);
	memcpy(host->name, f, n);
	host->name[n] = '\0';
	if (!fleet_host_name_ok(host->name))
		return err_set(e,
			       "%s:%d: '%s' is not a valid host name (letters, digits, '.', '_' "
			       "and '-', starting with a letter or digit)",
			       name, lineno, host->name);
	n = next_field(&p, end, &f);
	if (n == 0)
		return err_set(e, "%s:%d: %s has no key (write: %s ssh-ed25519 AAAA...)", name,
			       lineno, host->name, host->name);
	if (n != 11 || memcmp(f, "ssh-ed25519", 11) != 0)
		return err_set(e,
			       "%s:%d: %s: only ssh-ed25519 keys can sign reports (found '%.*s'); "
			       "use the host's /etc/ssh/ssh_host_ed25519_key.pub",
			       name, lineno, host->name, (int)(n > 40 ? 40 : n), f);
	n = next_field(&p, end, &f);
	if (parse_key(f, n, host->key) < 0)
		return err_set(e,
			       "%s:%d: %s: the ssh-ed25519 key is not valid base64 of an "
			       "ed25519 public key (copy the whole .pub line)",
			       name, lineno, host->name);
	host->line = lineno;
	h->n++;
	return 0;
}

static int by_name_cmp(const void *a, const void *b)
{
	const struct fleet_host *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int by_key_cmp(const void *a, const void *b)
{
	const struct fleet_host *const *x = a, *const *y = b;

	return memcmp((*x)->key, (*y)->key, 32);
}

/* The later of two entries for the same name or key is the one to name. */
static void order_by_line(const struct fleet_host **a, const struct fleet_host **b)
{
	if ((*a)->line > (*b)->line) {
		const struct fleet_host *t = *a;
		*a = *b;
		*b = t;
	}
}

/* Refuses a name or a key given twice; sorted holds h's hosts sorted by cmp. */
static int check_twice(const struct fleet_hosts *h, const struct fleet_host **sorted, bool key,
		       const char *name, struct err *e)
{
	for (size_t i = 1; i < h->n; i++) {
		const struct fleet_host *a = sorted[i - 1], *b = sorted[i];
		if (!key && strcmp(a->name, b->name) == 0) {
			order_by_line(&a, &b);
			return err_set(e, "%s:%d: %s is listed twice (first on line %d)", name,
				       b->line, b->name, a->line);
		}
		if (key && memcmp(a->key, b->key, 32) == 0) {
			order_by_line(&a, &b);
			return err_set(e,
				       "%s:%d: %s has the same key as %s (line %d); every host "
				       "signs with a key of its own",
				       name, b->line, b->name, a->name, a->line);
		}
	}
	return 0;
}

/* Builds the by-name index and refuses a name or a key given twice. */
static int index_and_check(struct fleet_hosts *h, const char *name, struct err *e)
{
	const struct fleet_host **sorted = calloc(h->n, sizeof(*sorted));
	int rc = -1;

	h->by_name = calloc(h->n, sizeof(*h->by_name));
	if (!sorted || !h->by_name) {
		free(sorted);
		return err_set(e, "out of memory");
	}
	for (size_t i = 0; i < h->n; i++)
		sorted[i] = &h->v[i];
	qsort(sorted, h->n, sizeof(*sorted), by_name_cmp);
	if (check_twice(h, sorted, false, name, e) < 0)
		goto out;
	for (size_t i = 0; i < h->n; i++)
		h->by_name[i] = (size_t)(sorted[i] - h->v);
	qsort(sorted, h->n, sizeof(*sorted), by_key_cmp);
	rc = check_twice(h, sorted, true, name, e);
out:
	free(sorted);
	return rc;
}

static int parse_lines(struct fleet_hosts *h, const char *name, const char *text, size_t len,
		       struct err *e)
{
	size_t pos = 0;
	int lineno = 0;

	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t linelen = nl ? (size_t)(nl - line) : len - pos;

		pos += linelen + (nl ? 1 : 0);
		lineno++;
		if (linelen > FLEET_HOSTS_MAX_LINE)
			return err_set(e, "%s:%d: line is longer than %d characters", name, lineno,
				       FLEET_HOSTS_MAX_LINE);
		while (linelen > 0 && (line[linelen - 1] == '\r' || line[linelen - 1] == ' ' ||
				       line[linelen - 1] == '\t'))
			linelen--;
		for (size_t i = 0; i < linelen; i++)
			if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
				return err_set(e, "%s:%d: contains a control character", name,
					       lineno);
		if (parse_line(h, name, lineno, line, line + linelen, e) < 0)
			return -1;
	}
	return 0;
}

int fleet_hosts_parse(struct fleet_hosts *h, const char *name, const char *text, size_t len,
		      struct err *e)
{
	size_t cap = 1;

	memset(h, 0, sizeof(*h));
	if (len > FLEET_HOSTS_MAX_BYTES)
		return err_set(e, "%s: larger than %d bytes", name, FLEET_HOSTS_MAX_BYTES);
	if (memchr(text, '\0', len))
		return err_set(e, "%s: contains a NUL byte", name);
	for (size_t i = 0; i < len; i++)
		cap += text[i] == '\n';
	if (cap > FLEET_HOSTS_MAX)
		cap = FLEET_HOSTS_MAX;
	h->v = calloc(cap, sizeof(*h->v));
	h->source = strdup(name);
	if (!h->v || !h->source) {
		fleet_hosts_release(h);
		return err_set(e, "out of memory");
	}
	if (parse_lines(h, name, text, len, e) < 0 ||
	    (h->n == 0 &&
	     err_set(e, "%s: no host (one line per host: NAME ssh-ed25519 AAAA...)", name) < 0) ||
	    index_and_check(h, name, e) < 0) {
		fleet_hosts_release(h);
		return -1;
	}
	return 0;
}

long fleet_hosts_index(const struct fleet_hosts *h, const char *name)
{
	size_t lo = 0, hi = h->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, h->v[h->by_name[mid]].name);
		if (c == 0)
			return (long)h->by_name[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

const struct fleet_host *fleet_hosts_find(const struct fleet_hosts *h, const char *name)
{
	long i = fleet_hosts_index(h, name);

	return i < 0 ? NULL : &h->v[i];
}

void fleet_hosts_release(struct fleet_hosts *h)
{
	free(h->v);
	free(h->by_name);
	free(h->source);
	memset(h, 0, sizeof(*h));
}
