#include "secrets/age_header.h"

#include "base/err.h"
#include "secrets/age_b64.h"

#include <stdlib.h>
#include <string.h>

#define AGE_MAGIC "age-encryption.org/v1\n"

/* Where the parser is: lines are counted from the version line (1). */
struct parser {
	const char *text;
	size_t len, limit, pos, line, store_used;
	int has_scrypt;
	struct age_header *h;
};

int age_stanza_arg_is(const struct age_stanza *s, size_t i, const char *want)
{
	return s->arglen[i] == strlen(want) && memcmp(s->args[i], want, s->arglen[i]) == 0;
}

static int header_fail(struct err *e, size_t line, const char *what)
{
	err_set(e, "malformed age header (line %zu): %s", line, what);
	return AGE_ERR_HEADER;
}

/* The next line at p->pos (without its newline), counted. */
static int next_line(struct parser *p, const char **l, size_t *ll, struct err *e)
{
	const char *nl;

	*l = p->text + p->pos;
	p->line++;
	nl = memchr(*l, '\n', p->limit - p->pos);
	if (!nl)
		return header_fail(e, p->line,
				   p->len > AGE_MAX_HEADER ? "header larger than 64 KiB"
							   : "header is truncated");
	*ll = (size_t)(nl - *l);
	return 0;
}

/* Checks the shapes of the stanza types we implement. */
static int check_stanza(const struct age_stanza *s, size_t line, struct err *e)
{
	unsigned char tmp[32];

	if (age_stanza_arg_is(s, 0, "X25519")) {
		if (s->nargs != 2 || age_b64_exact(s->args[1], s->arglen[1], tmp, 32) < 0 ||
		    s->body_len != 32)
			return header_fail(e, line, "invalid X25519 stanza");
	} else if (age_stanza_arg_is(s, 0, "ssh-ed25519")) {
		if (s->nargs != 3 || age_b64_exact(s->args[1], s->arglen[1], tmp, 4) < 0 ||
		    age_b64_exact(s->args[2], s->arglen[2], tmp, 32) < 0 || s->body_len != 32)
			return header_fail(e, line, "invalid ssh-ed25519 stanza");
	} else if (age_stanza_arg_is(s, 0, "scrypt")) {
		const char *d = s->nargs == 3 ? s->args[2] : NULL;
		if (s->nargs != 3 || age_b64_exact(s->args[1], s->arglen[1], tmp, 16) < 0 ||
		    s->body_len != 32 || s->arglen[2] > 2 || d[0] < '1' || d[0] > '9' ||
		    (s->arglen[2] == 2 && (d[1] < '0' || d[1] > '9')))
			return header_fail(e, line, "invalid scrypt stanza");
	}
	return 0;
}

/* "-> a b c": non-empty runs of visible ASCII separated by single spaces. */
static int parse_args(struct age_stanza *s, const char *l, size_t ll, size_t line, struct err *e)
{
	for (size_t i = 3; i <= ll;) {
		size_t start = i;
		while (i < ll && l[i] != ' ') {
			if ((unsigned char)l[i] < 0x21 || (unsigned char)l[i] > 0x7e)
				return header_fail(e, line, "invalid character in stanza");
			i++;
		}
		if (i == start)
			return header_fail(e, line, "empty stanza argument");
		if (s->nargs == AGE_MAX_ARGS)
			return header_fail(e, line, "too many stanza arguments");
		s->args[s->nargs] = l + start;
		s->arglen[s->nargs++] = i - start;
		i++; /* past the space, or past the end */
	}
	return 0;
}

/* Body: full 64-column lines, ended by a shorter (maybe empty) one. */
static int parse_body(struct parser *p, struct age_stanza *s, struct err *e)
{
	size_t body_start = p->pos;
	const char *bl;
	size_t bll;
	long n;

	do {
		int rc = next_line(p, &bl, &bll, e);
		if (rc)
			return rc;
		if (bll > 64)
			return header_fail(e, p->line, "stanza body line longer than 64 columns");
		for (size_t i = 0; i < bll; i++)
			if (age_b64_value((unsigned char)bl[i]) < 0)
				return header_fail(e, p->line, "invalid base64 in stanza body");
		p->pos += bll + 1;
	} while (bll == 64);
	n = age_b64_decode(p->text + body_start, p->pos - body_start, p->h->bodies + p->store_used,
			   p->limit - p->store_used);
	if (n < 0)
		return header_fail(e, p->line, "non-canonical base64 in stanza body");
	s->body = p->h->bodies + p->store_used;
	s->body_len = (size_t)n;
	p->store_used += (size_t)n;
	return 0;
}

static int parse_stanza(struct parser *p, const char *l, size_t ll, struct err *e)
{
	struct age_stanza *s;
	size_t stanza_line = p->line;
	int rc;

	if (ll < 3 || memcmp(l, "-> ", 3) != 0)
		return header_fail(e, p->line, "expected a stanza or the MAC line");
	if (p->h->nstanzas == AGE_MAX_STANZAS)
		return header_fail(e, p->line, "too many stanzas");
	s = &p->h->stanzas[p->h->nstanzas++];
	if ((rc = parse_args(s, l, ll, p->line, e)) != 0)
		return rc;
	p->pos += ll + 1;
	if ((rc = parse_body(p, s, e)) != 0)
		return rc;
	if (age_stanza_arg_is(s, 0, "scrypt"))
		p->has_scrypt = 1;
	return check_stanza(s, stanza_line, e);
}

static int parse_mac_line(struct parser *p, const char *l, size_t ll, struct err *e)
{
	struct age_header *h = p->h;

	if (ll != 4 + 43 || l[3] != ' ' || age_b64_exact(l + 4, 43, h->mac, 32) < 0)
		return header_fail(e, p->line, "invalid MAC line");
	if (h->nstanzas == 0)
		return header_fail(e, p->line, "no recipient stanza");
	if (p->has_scrypt && h->nstanzas != 1)
		return header_fail(e, p->line, "a scrypt stanza must be the only stanza");
	h->mac_input_len = p->pos + 3;
	h->len = p->pos + ll + 1;
	return 0;
}

enum age_status age_header_parse(const unsigned char *buf, size_t len, struct age_header *h,
				 struct err *e)
{
	struct parser p = {.text = (const char *)buf,
			   .len = len,
			   .limit = len < AGE_MAX_HEADER ? len : AGE_MAX_HEADER,
			   .pos = sizeof(AGE_MAGIC) - 1,
			   .line = 1,
			   .h = h};
	int rc;

	memset(h, 0, sizeof(*h));
	if (len < p.pos || memcmp(buf, AGE_MAGIC, p.pos) != 0) {
		err_set(e, "not an age file (no age-encryption.org/v1 header)");
		return AGE_ERR_HEADER;
	}
	h->bodies = malloc(p.limit);
	if (!h->bodies) {
		err_set(e, "out of memory");
		return AGE_ERR_IO;
	}
	for (;;) {
		const char *l;
		size_t ll;

		if ((rc = next_line(&p, &l, &ll, e)) != 0)
			break;
		if (ll >= 3 && memcmp(l, "---", 3) == 0) {
			if ((rc = parse_mac_line(&p, l, ll, e)) == 0)
				return AGE_OK;
			break;
		}
		if ((rc = parse_stanza(&p, l, ll, e)) != 0)
			break;
	}
	age_header_release(h);
	return (enum age_status)rc;
}

void age_header_release(struct age_header *h)
{
	free(h->bodies);
	h->bodies = NULL;
}
