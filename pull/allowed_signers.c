#include "pull/allowed_signers.h"

#include "base/err.h"
#include "base/fileio.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct lctx {
	const char *name;
	int line;
	struct err *e;
};

static int lfail(const struct lctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int lfail(const struct lctx *c, const char *fmt, ...)
{
	char what[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(c->e, "%s:%d: %s", c->name, c->line, what);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Cuts the next whitespace-separated token out of *pos in place; spaces inside
 * double quotes do not end it. *tok is NULL at the end of the line. */
static int next_token(char **pos, char **tok, const struct lctx *c)
{
	char *p = *pos;
	bool quoted = false;

	while (is_space(*p))
		p++;
	if (!*p) {
		*tok = NULL;
		*pos = p;
		return 0;
	}
	*tok = p;
	for (; *p && (quoted || !is_space(*p)); p++)
		if (*p == '"')
			quoted = !quoted;
	if (quoted)
		return lfail(c, "unterminated double quote");
	if (*p)
		*p++ = '\0';
	*pos = p;
	return 0;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "YYYYMMDD[HHMM[SS]][Z]": local time, or UTC with the Z. */
static int parse_time(const char *s, time_t *out)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	size_t len = strlen(s);
	int f[6] = {0, 1, 1, 0, 0, 0}; /* year month day hour min sec */
	static const int width[] = {4, 2, 2, 2, 2, 2};
	bool utc = false;
	struct tm tm;
	time_t t;

	if (len > 0 && s[len - 1] == 'Z') {
		utc = true;
		len--;
	}
	if (len != 8 && len != 12 && len != 14)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	for (size_t i = 0, o = 0; o < len; i++) {
		f[i] = 0;
		for (int w = 0; w < width[i]; w++)
			f[i] = f[i] * 10 + (s[o++] - '0');
	}
	if (f[0] < 1970 || f[1] < 1 || f[1] > 12 || f[2] < 1 ||
	    f[2] > mdays[f[1] - 1] + (f[1] == 2 && leap(f[0])) || f[3] > 23 || f[4] > 59 ||
	    f[5] > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = f[0] - 1900;
	tm.tm_mon = f[1] - 1;
	tm.tm_mday = f[2];
	tm.tm_hour = f[3];
	tm.tm_min = f[4];
	tm.tm_sec = f[5];
	tm.tm_isdst = -1;
	t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t;
	return 0;
}

/* Returns the contents of a "..." value, or NULL when it is not quoted. */
static char *unquote(char *v)
{
	size_t len = strlen(v);

	if (len < 2 || v[0] != '"' || v[len - 1] != '"')
		return NULL;
	v[len - 1] = '\0';
	v++;
	return strchr(v, '"') ? NULL : v;
}

static int parse_option(char *opt, struct allowed_signer *as, const struct lctx *c)
{
	char *eq = strchr(opt, '='), *value;

	if (eq)
		*eq = '\0';
	if (strcasecmp(opt, "cert-authority") == 0) {
		if (eq)
			return lfail(c, "option cert-authority takes no value");
		if (as->cert_authority)
			return lfail(c, "option cert-authority given twice");
		as->cert_authority = true;
		return 0;
	}
	if (strcasecmp(opt, "namespaces") != 0 && strcasecmp(opt, "valid-after") != 0 &&
	    strcasecmp(opt, "valid-before") != 0)
		return lfail(c, "unknown option '%s'", opt);
	if (!eq || !(value = unquote(eq + 1)))
		return lfail(c, "option %s needs a double-quoted value", opt);
	if (strcasecmp(opt, "namespaces") == 0) {
		if (as->namespaces)
			return lfail(c, "option namespaces given twice");
		if (!*value)
			return lfail(c, "option namespaces is empty");
		as->namespaces = strdup(value);
		return as->namespaces ? 0 : lfail(c, "out of memory");
	}
	if (strcasecmp(opt, "valid-after") == 0) {
		if (as->has_valid_after)
			return lfail(c, "option valid-after given twice");
		if (parse_time(value, &as->valid_after) < 0)
			return lfail(c, "valid-after \"%s\" is not a time (YYYYMMDD[HHMM[SS]][Z])",
				     value);
		as->has_valid_after = true;
		return 0;
	}
	if (as->has_valid_before)
		return lfail(c, "option valid-before given twice");
	if (parse_time(value, &as->valid_before) < 0)
		return lfail(c, "valid-before \"%s\" is not a time (YYYYMMDD[HHMM[SS]][Z])", value);
	as->has_valid_before = true;
	return 0;
}

/* Splits the options token on commas outside quotes. */
static int parse_options(char *opts, struct allowed_signer *as, const struct lctx *c)
{
	char *p = opts, *start = opts;
	bool quoted = false, last;

	for (;; p++) {
		if (*p == '"')
			quoted = !quoted;
		if (*p && (quoted || *p != ','))
			continue;
		last = *p == '\0';
		*p = '\0';
		if (!*start)
			return lfail(c, "empty option");
		if (parse_option(start, as, c) < 0)
			return -1;
		if (last)
			return 0;
		start = p + 1;
	}
}

static bool looks_like_options(const char *tok)
{
	return strchr(tok, '=') || strncasecmp(tok, "cert-authority", 14) == 0;
}

static int parse_line(char *line, struct allowed_signer *as, const struct lctx *c)
{
	char *pos = line, *principals, *t2, *t3, *opts = NULL, *type, *b64, *unq;
	struct err ke;

	if (next_token(&pos, &principals, c) < 0 || next_token(&pos, &t2, c) < 0)
		return -1;
	if (sshkey_type_known(principals))
		return lfail(c,
			     "this looks like an authorized_keys line (or a .pub file): "
			     "allowed_signers lines start with a principal, the signer's git "
			     "user.email: 'ada@example.com %s AAAA...'",
			     principals);
	if (!t2)
		return lfail(c, "no key after the principals");
	if (next_token(&pos, &t3, c) < 0)
		return -1;
	/* The options field is optional: tell it from a key type by what follows. */
	if (sshkey_type_known(t2) || (!(t3 && sshkey_type_known(t3)) && !looks_like_options(t2))) {
		type = t2;
		b64 = t3;
	} else {
		opts = t2;
		type = t3;
		if (next_token(&pos, &b64, c) < 0)
			return -1;
	}
	if (!type)
		return lfail(c, "no key type after the options");
	if (!b64)
		return lfail(c, "no base64 key after %s", type);

	if (principals[0] == '"') {
		if (!(unq = unquote(principals)))
			return lfail(c, "badly quoted principals");
		principals = unq;
	} else if (strchr(principals, '"')) {
		return lfail(c, "badly quoted principals");
	}
	if (!*principals)
		return lfail(c, "empty principals");
	if (strlen(type) >= sizeof(as->keytype))
		return lfail(c, "key type is longer than %zu characters", sizeof(as->keytype) - 1);
	memcpy(as->keytype, type, strlen(type) + 1);
	as->principals = strdup(principals);
	if (!as->principals)
		return lfail(c, "out of memory");
	if (opts && parse_options(opts, as, c) < 0)
		return -1;
	if (sshkey_parse_text_any(type, b64, &as->key, &as->supported, &ke) < 0)
		return lfail(c, "%s", ke.msg);
	return 0;
}

static void entry_release(struct allowed_signer *as)
{
	free(as->principals);
	free(as->namespaces);
	as->principals = as->namespaces = NULL;
}

void allowed_signers_release(struct allowed_signers *as)
{
	for (size_t i = 0; i < as->n; i++)
		entry_release(&as->v[i]);
	free(as->v);
	free(as->name);
	memset(as, 0, sizeof(*as));
}

static int append(struct allowed_signers *as, const struct allowed_signer *entry, size_t *cap)
{
	if (as->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct allowed_signer *v = realloc(as->v, ncap * sizeof(*v));
		if (!v)
			return -1;
		as->v = v;
		*cap = ncap;
	}
	as->v[as->n++] = *entry;
	return 0;
}

int allowed_signers_parse(struct allowed_signers *as, const char *name, const char *text,
			  size_t len, struct err *e)
{
	struct lctx c = {name, 0, e};
	size_t pos = 0, cap = 0;
	char *buf;

	memset(as, 0, sizeof(*as));
	if (len > ALLOWED_SIGNERS_MAX_BYTES)
		return err_set(e, "%s: larger than %d bytes", name, ALLOWED_SIGNERS_MAX_BYTES);
	as->name = strdup(name);
	buf = malloc(ALLOWED_SIGNERS_MAX_LINE + 1);
	if (!as->name || !buf) {
		free(buf);
		allowed_signers_release(as);
		return err_set(e, "out of memory");
	}
	while (pos < len) {
		const char *start = text + pos, *nl = memchr(start, '\n', len - pos);
		size_t linelen = nl ? (size_t)(nl - start) : len - pos;
		struct allowed_signer entry;
		char *p;

		pos += linelen + (nl ? 1 : 0);
		c.line++;
		if (linelen > 0 && start[linelen - 1] == '\r')
			linelen--;
		if (linelen > ALLOWED_SIGNERS_MAX_LINE) {
			lfail(&c, "line is longer than %d characters", ALLOWED_SIGNERS_MAX_LINE);
			goto fail;
		}
		if (memchr(start, '\0', linelen)) {
			lfail(&c, "contains a NUL byte");
			goto fail;
		}
		memcpy(buf, start, linelen);
		buf[linelen] = '\0';
		for (p = buf; is_space(*p); p++)
			;
		if (!*p || *p == '#')
			continue;
		memset(&entry, 0, sizeof(entry));
		entry.line = c.line;
		if (parse_line(p, &entry, &c) < 0) {
			entry_release(&entry);
			goto fail;
		}
		if (append(as, &entry, &cap) < 0) {
			entry_release(&entry);
			err_set(e, "out of memory");
			goto fail;
		}
	}
	free(buf);
	return 0;
fail:
	free(buf);
	allowed_signers_release(as);
	return -1;
}

int allowed_signers_load(struct allowed_signers *as, const char *path, struct err *e)
{
	char *text;
	size_t len;
	int rc;

	memset(as, 0, sizeof(*as));
	if (file_read_capped(path, ALLOWED_SIGNERS_MAX_BYTES, &text, &len, e) < 0)
		return -1;
	rc = allowed_signers_parse(as, path, text, len, e);
	free(text);
	return rc;
}

/* Glob match of s against pattern[0..plen) with '*' and '?'; iterative so
 * that hostile patterns cannot make it exponential. */
static bool glob_match(const char *s, const char *p, size_t plen)
{
	size_t si = 0, pi = 0, star = (size_t)-1, mark = 0;

	while (s[si]) {
		if (pi < plen && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < plen && (p[pi] == '?' || p[pi] == s[si])) {
			si++;
			pi++;
		} else if (star != (size_t)-1) {
			pi = star + 1;
			si = ++mark;
		} else {
			return false;
		}
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

int pattern_list_match(const char *s, const char *patterns)
{
	const char *p = patterns;
	int found = 0;

	for (;;) {
		size_t len = strcspn(p, ",");
		bool neg = len > 0 && p[0] == '!';

		if (glob_match(s, p + neg, len - neg)) {
			if (neg)
				return -1;
			found = 1;
		}
		if (!p[len])
			return found;
		p += len + 1;
	}
}

static void format_utc(time_t t, char *out, size_t outsz)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, outsz, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(out, outsz, "@%lld", (long long)t);
}

/* The principal must be the committer's email: say how to make it so. */
static void principal_miss(const struct allowed_signers *as, const struct allowed_signer *a,
			   const char *fp, const char *who, struct err *e)
{
	uint8_t blob[SSHKEY_BLOB_MAX];
	char b64[sodium_base64_ENCODED_LEN(SSHKEY_BLOB_MAX, sodium_base64_VARIANT_ORIGINAL)];
	size_t n = sshkey_blob(&a->key, blob);

	sodium_bin2base64(b64, sizeof(b64), blob, n, sodium_base64_VARIANT_ORIGINAL);
	err_set(e,
		"key %s is allowed for principals '%s' (line %d), not for the committer's email "
		"'%s'; commit with git config user.email set to one of '%s', or, if this key may "
		"sign as '%s', add the line '%s %s %s' to %s ([repo] signer = any accepts any "
		"allowed key, as git verify-commit does)",
		fp, a->principals, a->line, who, a->principals, who, who, a->keytype, b64,
		as->name ? as->name : "allowed_signers");
}

enum miss { MISS_KEY, MISS_CA, MISS_PRINCIPAL, MISS_NAMESPACE, MISS_NOT_YET, MISS_EXPIRED };

const struct allowed_signer *allowed_signers_match(const struct allowed_signers *as,
						   const struct sshkey *key, const char *identity,
						   const char *namespace, time_t now, struct err *e)
{
	const struct allowed_signer *closest = NULL;
	enum miss best = MISS_KEY;
	char fp[SSHKEY_FP_SIZE], who[256], when[64];

	if (!identity)
		identity = "";
	for (size_t i = 0; i < as->n; i++) {
		const struct allowed_signer *a = &as->v[i];
		enum miss m;

		if (!a->supported || !sshkey_equal(&a->key, key))
			continue;
		if (a->cert_authority)
			m = MISS_CA;
		else if (as->signer != SIGNER_ANY &&
			 pattern_list_match(identity, a->principals) != 1)
			m = MISS_PRINCIPAL;
		else if (a->namespaces && pattern_list_match(namespace, a->namespaces) != 1)
			m = MISS_NAMESPACE;
		else if (a->has_valid_after && now < a->valid_after)
			m = MISS_NOT_YET;
		else if (a->has_valid_before && now >= a->valid_before)
			m = MISS_EXPIRED;
		else
			return a;
		if (!closest || m > best) {
			closest = a;
			best = m;
		}
	}

	sshkey_fingerprint(key, fp);
	sshsig_printable(identity, strlen(identity), who, sizeof(who));
	if (!closest) {
		err_set(e, "key %s is not in %s", fp, as->name ? as->name : "allowed_signers");
		return NULL;
	}
	switch (best) {
	case MISS_KEY:
	case MISS_CA:
		err_set(e, "key %s is listed only as a cert-authority (%s:%d)", fp, as->name,
			closest->line);
		break;
	case MISS_PRINCIPAL:
		principal_miss(as, closest, fp, who, e);
		break;
	case MISS_NAMESPACE:
		sshsig_printable(namespace, strlen(namespace), who, sizeof(who));
		err_set(e, "namespace '%s' not allowed (%s:%d), only '%s'", who, as->name,
			closest->line, closest->namespaces);
		break;
	case MISS_NOT_YET:
		format_utc(closest->valid_after, when, sizeof(when));
		err_set(e, "key %s is not valid before %s (%s:%d)", fp, when, as->name,
			closest->line);
		break;
	case MISS_EXPIRED:
		format_utc(closest->valid_before, when, sizeof(when));
		err_set(e, "key %s is not valid after %s (%s:%d)", fp, when, as->name,
			closest->line);
		break;
	}
	return NULL;
}
