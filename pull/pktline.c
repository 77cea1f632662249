#include "pull/pktline.h"

#include "base/err.h"

#include <stdio.h>
#include <string.h>

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The whole packet's size from its header: 0 while the header is not all
 * there, -1 when it is malformed. */
static long packet_size(const char *buf, size_t len, struct err *e)
{
	char shown[5];
	long n = 0;

	if (len < 4)
		return 0;
	for (int i = 0; i < 4; i++) {
		int v = hex_digit(buf[i]);
		if (v < 0) {
			for (int j = 0; j < 4; j++)
				shown[j] = buf[j] > ' ' && buf[j] < 127 ? buf[j] : '?';
			shown[4] = '\0';
			return err_set(
			    e, "malformed pkt-line: the length \"%s\" is not 4 hex digits", shown);
		}
		n = n * 16 + v;
	}
	if (n <= 2)
		return 4; /* flush, delimiter, response end */
	if (n == 3)
		return err_set(e, "malformed pkt-line: length 3 is shorter than the length itself");
	if (n > PKTLINE_MAX)
		return err_set(e, "malformed pkt-line: %ld bytes, more than the limit of %d", n,
			       PKTLINE_MAX);
	return n;
}

long pktline_parse(const char *buf, size_t len, struct pktline *out, struct err *e)
{
	static const enum pktline_kind special[] = {PKTLINE_FLUSH, PKTLINE_DELIM,
						    PKTLINE_RESPONSE_END};
	long n = packet_size(buf, len, e);

	if (n <= 0 || (size_t)n > len)
		return n < 0 ? -1 : 0;
	memset(out, 0, sizeof(*out));
	if (buf[0] == '0' && buf[1] == '0' && buf[2] == '0' && buf[3] <= '2') {
		out->kind = special[buf[3] - '0'];
		return 4;
	}
	out->kind = PKTLINE_DATA;
	out->data = buf + 4;
	out->len = (size_t)n - 4;
	return n;
}

int pktline_format(char *out, size_t size, const char *data, size_t len)
{
	char head[5];

	if (len > PKTLINE_DATA_MAX || size < len + 4)
		return -1;
	snprintf(head, sizeof(head), "%04zx", len + 4);
	memcpy(out, head, 4);
	memcpy(out + 4, data, len);
	return (int)len + 4;
}

size_t pktline_chomp(const struct pktline *p)
{
	return p->len && p->data[p->len - 1] == '\n' ? p->len - 1 : p->len;
}

void pktline_stream_init(struct pktline_stream *s, size_t max_bytes,
			 int (*on_packet)(void *arg, const struct pktline *p, struct err *e),
			 void *arg)
{
	s->on_packet = on_packet;
	s->arg = arg;
	s->max_bytes = max_bytes;
	s->bytes = 0;
	s->have = 0;
	s->done = false;
}

static int deliver(struct pktline_stream *s, const struct pktline *p, struct err *e)
{
	int rc = s->on_packet(s->arg, p, e);

	if (rc < 0)
		return -1;
	if (rc > 0)
		s->done = true;
	return rc;
}

/* Adds to the unfinished packet in s->buf what it still lacks, and hands it
 * on when it is whole. Returns the bytes taken from data, or -1. */
static long top_up(struct pktline_stream *s, const char *data, size_t len, struct err *e)
{
	size_t taken = 0;
	struct pktline p;

	for (;;) {
		long size = packet_size(s->buf, s->have, e);
		size_t target = size > 0 ? (size_t)size : 4, take;

		if (size < 0)
			return -1;
		take = target - s->have < len - taken ? target - s->have : len - taken;
		memcpy(s->buf + s->have, data + taken, take);
		s->have += take;
		taken += take;
		if (s->have < target)
			return (long)taken;
		if (size > 0) {
			s->have = 0;
			if (pktline_parse(s->buf, target, &p, e) < 0 || deliver(s, &p, e) < 0)
				return -1;
			return (long)taken;
		}
		/* The header is whole now: the next round knows the size. */
	}
}

int pktline_stream_feed(struct pktline_stream *s, const char *data, size_t len, struct err *e)
{
	struct pktline p;
	long n;

	if (s->done)
		return 1;
	if (len > s->max_bytes - s->bytes)
		return err_set(e, "the answer is longer than the limit of %zu bytes", s->max_bytes);
	s->bytes += len;
	while (len > 0 && !s->done) {
		if (s->have) {
			n = top_up(s, data, len, e);
		} else {
			n = pktline_parse(data, len, &p, e);
			if (n == 0) { /* the start of a packet: keep it for the next piece */
				memcpy(s->buf, data, len);
				s->have = len;
				return 0;
			}
			if (n > 0 && deliver(s, &p, e) < 0)
				return -1;
		}
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return s->done ? 1 : 0;
}
