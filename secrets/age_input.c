#include "secrets/age_input.h"

#include "base/err.h"
#include "secrets/age_b64.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARMOR_BEGIN "-----BEGIN AGE ENCRYPTED FILE-----"
#define ARMOR_END   "-----END AGE ENCRYPTED FILE-----"
#define ARMOR_COLS  64
/* The most a line may take with its CR and newline. */
#define ARMOR_LINE_MAX (ARMOR_COLS + 2)

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void age_input_from_fd(struct age_input *in, int fd)
{
	*in = (struct age_input){.fd = fd};
}

bool age_input_is_armored(const unsigned char *buf, size_t len)
{
	size_t i = 0;

	while (i < len && is_space(buf[i]))
		i++;
	return len - i >= sizeof(ARMOR_BEGIN) - 1 &&
	       memcmp(buf + i, ARMOR_BEGIN, sizeof(ARMOR_BEGIN) - 1) == 0;
}

void age_input_dearmor(struct age_input *in, unsigned char *text, size_t cap, size_t len,
		       const unsigned char *data)
{
	in->armored = true;
	in->eof = false; /* a binary read may have seen the end of the raw input */
	in->text = text;
	in->tcap = cap;
	in->t = text ? text : data;
	in->tlen = len;
	in->tpos = 0;
	if (!text)
		in->raw_eof = true;
}

void age_input_release(struct age_input *in)
{
	free(in->text);
	in->text = NULL;
}

/* One read(2) of at most n bytes into buf; *got = 0 at the end of the input. */
static enum age_status raw_read(struct age_input *in, unsigned char *buf, size_t n, size_t *got,
				struct err *e)
{
	ssize_t r;

	do
		r = read(in->fd, buf, n);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		err_set(e, "reading the age file: %s", strerror(errno));
		return AGE_ERR_IO;
	}
	if (r == 0)
		in->raw_eof = true;
	*got = (size_t)r;
	return AGE_OK;
}

static enum age_status binary_fill(struct age_input *in, unsigned char *buf, size_t want,
				   size_t *used, struct err *e)
{
	while (*used < want && !in->raw_eof) {
		size_t got;
		enum age_status st = raw_read(in, buf + *used, want - *used, &got, e);
		if (st != AGE_OK)
			return st;
		*used += got;
	}
	in->eof = in->raw_eof;
	return AGE_OK;
}

static enum age_status armor_fail(const struct age_input *in, const char *what, struct err *e)
{
	err_set(e, "malformed age file: invalid ASCII armor (line %zu: %s)", in->line, what);
	return AGE_ERR_HEADER;
}

/* Moves what is left of the window to the front of text and reads more. */
static enum age_status refill(struct age_input *in, struct err *e)
{
	size_t got;
	enum age_status st;

	memmove(in->text, in->text + in->tpos, in->tlen - in->tpos);
	in->tlen -= in->tpos;
	in->tpos = 0;
	st = raw_read(in, in->text + in->tlen, in->tcap - in->tlen, &got, e);
	in->tlen += got;
	return st;
}

/* Skips whitespace; stops at the first other byte or the end of the input. */
static enum age_status skip_space(struct age_input *in, size_t *lines, struct err *e)
{
	for (;;) {
		while (in->tpos < in->tlen && is_space(in->t[in->tpos]))
			*lines += in->t[in->tpos++] == '\n';
		if (in->tpos < in->tlen || in->raw_eof)
			return AGE_OK;
		enum age_status st = refill(in, e);
		if (st != AGE_OK)
			return st;
	}
}

/* The next line, without its newline and a CR before it: *l and *ll, with
 * *nl false for a last line that has no newline; *ll = 0 and *nl false at
 * the end of the input. */
static enum age_status next_line(struct age_input *in, const unsigned char **l, size_t *ll,
				 bool *nl, struct err *e)
{
	for (;;) {
		const unsigned char *p = in->t + in->tpos, *end;
		size_t avail = in->tlen - in->tpos;

		end = memchr(p, '\n', avail < ARMOR_LINE_MAX ? avail : ARMOR_LINE_MAX);
		if (end || avail >= ARMOR_LINE_MAX || in->raw_eof) {
			in->line++;
			if (!end && avail >= ARMOR_LINE_MAX)
				return armor_fail(in, "longer than 64 columns", e);
			*l = p;
			*ll = end ? (size_t)(end - p) : avail;
			*nl = end != NULL;
			in->tpos += *ll + (end != NULL);
			if (*ll > 0 && p[*ll - 1] == '\r')
				(*ll)--;
			return AGE_OK;
		}
		enum age_status st = refill(in, e);
		if (st != AGE_OK)
			return st;
	}
}

static bool line_is(const unsigned char *l, size_t ll, const char *want)
{
	return ll == strlen(want) && memcmp(l, want, ll) == 0;
}

static enum age_status armor_begin(struct age_input *in, struct err *e)
{
	const unsigned char *l;
	size_t ll, lines = 0;
	bool nl;
	enum age_status st = skip_space(in, &lines, e);

	in->line += lines;
	if (st == AGE_OK)
		st = next_line(in, &l, &ll, &nl, e);
	if (st != AGE_OK)
		return st;
	if (!nl || !line_is(l, ll, ARMOR_BEGIN))
		return armor_fail(in, "no BEGIN line", e);
	in->began = true;
	return AGE_OK;
}

/* After the END line: only whitespace up to the end of the input. */
static enum age_status armor_end(struct age_input *in, struct err *e)
{
	size_t lines = 0;
	enum age_status st = skip_space(in, &lines, e);

	if (st != AGE_OK)
		return st;
	if (in->tpos < in->tlen) {
		err_set(e, "payload corrupt or truncated: trailing data after the armor");
		return AGE_ERR_PAYLOAD;
	}
	in->eof = true;
	return AGE_OK;
}

/* The final quad "xx==" or "xxx=": 1 or 2 bytes, with zero trailing bits. */
static int last_quad(const unsigned char *q, size_t pad, unsigned char *out)
{
	int a = age_b64_value(q[0]), b = age_b64_value(q[1]);
	int c = pad == 1 ? age_b64_value(q[2]) : 0;

	if (a < 0 || b < 0 || c < 0)
		return -1;
	out[0] = (unsigned char)(a << 2 | b >> 4);
	if (pad == 2)
		return (b & 0x0f) ? -1 : 1;
	out[1] = (unsigned char)((b & 0x0f) << 4 | c >> 2);
	return (c & 0x03) ? -1 : 2;
}

/* Decodes one data line into out (room for 48 bytes); *n bytes. */
static enum age_status data_line(struct age_input *in, const unsigned char *l, size_t ll,
				 unsigned char *out, size_t *n, struct err *e)
{
	size_t pad = 0, quads;
	int tail = 0;

	if (in->short_line || in->padded)
		return armor_fail(in, "base64 after the last line", e);
	if (ll == 0)
		return armor_fail(in, "an empty line", e);
	if (ll > ARMOR_COLS || ll % 4 != 0)
		return armor_fail(in, "not a whole number of base64 groups", e);
	in->short_line = ll < ARMOR_COLS;
	if (l[ll - 1] == '=')
		pad = l[ll - 2] == '=' ? 2 : 1;
	quads = ll / 4 - (pad > 0);
	if (age_b64_quads((const char *)l, quads, out) < 0 ||
	    (pad && (tail = last_quad(l + 4 * quads, pad, out + 3 * quads)) < 0))
		return armor_fail(in, "invalid or non-canonical base64", e);
	in->padded = pad > 0;
	*n = 3 * quads + (size_t)tail;
	return AGE_OK;
}

/* Decodes one line of armor into buf, or into pend when buf has no room
 * for a whole line. */
static enum age_status armor_step(struct age_input *in, unsigned char *buf, size_t room,
				  size_t *used, struct err *e)
{
	const unsigned char *l;
	size_t ll, n;
	bool nl;
	enum age_status st;

	if (!in->began)
		return armor_begin(in, e);
	st = next_line(in, &l, &ll, &nl, e);
	if (st != AGE_OK)
		return st;
	if (line_is(l, ll, ARMOR_END))
		return armor_end(in, e);
	if (!nl)
		return armor_fail(
		    in, ll ? "the END line is missing" : "the input ends before the END line", e);
	if (room >= sizeof(in->pend)) {
		st = data_line(in, l, ll, buf + *used, &n, e);
		*used += n;
		return st;
	}
	in->pend_pos = 0;
	return data_line(in, l, ll, in->pend, &in->pend_len, e);
}

static enum age_status armor_fill(struct age_input *in, unsigned char *buf, size_t cap, size_t want,
				  size_t *used, struct err *e)
{
	while (*used < want && !in->eof) {
		enum age_status st;

		if (in->pend_pos < in->pend_len) {
			size_t n = in->pend_len - in->pend_pos;
			if (n > cap - *used)
				n = cap - *used;
			memcpy(buf + *used, in->pend + in->pend_pos, n);
			in->pend_pos += n;
			*used += n;
			continue;
		}
		st = armor_step(in, buf, cap - *used, used, e);
		if (st != AGE_OK)
			return st;
	}
	return AGE_OK;
}

enum age_status age_input_fill(struct age_input *in, unsigned char *buf, size_t cap, size_t want,
			       size_t *used, struct err *e)
{
	if (in->armored)
		return armor_fill(in, buf, cap, want, used, e);
	if (in->fd < 0) {
		in->eof = true;
		return AGE_OK;
	}
	return binary_fill(in, buf, want, used, e);
}
