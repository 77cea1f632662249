/* pull/pktline: pkt-line framing of untrusted bytes, whole and in pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "pull/pktline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long parse(const char *text, struct pktline *p, struct err *e)
{
	return pktline_parse(text, strlen(text), p, e);
}

static void a_data_packet_and_the_special_ones(void **state)
{
	struct pktline p;
	struct err e = {{0}};

	assert_int_equal(parse("000ahello\nrest", &p, &e), 10);
	assert_int_equal(p.kind, PKTLINE_DATA);
	assert_int_equal(p.len, 6);
	assert_memory_equal(p.data, "hello\n", 6);
	assert_int_equal(pktline_chomp(&p), 5);
	assert_int_equal(parse("000AHELLO\n", &p, &e), 10); /* git reads either case */
	assert_int_equal(parse("0004", &p, &e), 4);
	assert_int_equal(p.kind, PKTLINE_DATA);
	assert_int_equal(p.len, 0);
	assert_int_equal(parse("0000", &p, &e), 4);
	assert_int_equal(p.kind, PKTLINE_FLUSH);
	assert_int_equal(parse("0001", &p, &e), 4);
	assert_int_equal(p.kind, PKTLINE_DELIM);
	assert_int_equal(parse("0002", &p, &e), 4);
	assert_int_equal(p.kind, PKTLINE_RESPONSE_END);
}

static void bad_lengths_are_errors(void **state)
{
	static const char *const bad[] = {"00g1xxxx",
					  "zzzz",
					  " 123",
					  "-001",
					  "0x10",
					  "\xff"
					  "000"};
	struct pktline p;
	struct err e = {{0}};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &p, &e), -1);
		assert_non_null(strstr(e.msg, "not 4 hex digits"));
		assert_null(strchr(e.msg, '\xff'));
	}
	assert_int_equal(parse("0003", &p, &e), -1);
	assert_non_null(strstr(e.msg, "length 3"));
}

static void oversize_packets_are_errors(void **state)
{
	char *big = malloc(PKTLINE_MAX + 1);
	struct pktline p;
	struct err e = {{0}};

	assert_int_equal(parse("fff1", &p, &e), -1);
	assert_non_null(strstr(e.msg, "more than the limit of 65520"));
	assert_int_equal(parse("ffff", &p, &e), -1);
	memset(big, 'x', PKTLINE_MAX + 1);
	memcpy(big, "fff0", 4);
	assert_int_equal(pktline_parse(big, PKTLINE_MAX, &p, &e), PKTLINE_MAX);
	assert_int_equal(p.len, PKTLINE_DATA_MAX);
	free(big);
}

static void truncated_packets_want_more(void **state)
{
	struct pktline p;
	struct err e = {{0}};

	assert_int_equal(parse("", &p, &e), 0);
	assert_int_equal(parse("00", &p, &e), 0);
	assert_int_equal(parse("000ahel", &p, &e), 0);
	assert_int_equal(parse("fff0abc", &p, &e), 0);
}

static void format_round_trips_and_refuses_what_does_not_fit(void **state)
{
	char out[64], data[PKTLINE_DATA_MAX + 1];
	struct pktline p;
	struct err e = {{0}};

	assert_int_equal(pktline_format(out, sizeof(out), "hello\n", 6), 10);
	assert_memory_equal(out, "000ahello\n", 10);
	assert_int_equal(pktline_parse(out, 10, &p, &e), 10);
	assert_memory_equal(p.data, "hello\n", 6);
	assert_int_equal(pktline_format(out, 9, "hello\n", 6), -1);
	assert_int_equal(pktline_format(out, sizeof(out), data, sizeof(data)), -1);
}

/* --- the stream ------------------------------------------------------------ */

struct seen {
	char text[1024];
	int stop_after; /* packets; 0: never */
	int count;
};

static int record(void *arg, const struct pktline *p, struct err *e)
{
	struct seen *s = arg;
	size_t n = strlen(s->text);

	if (p->kind == PKTLINE_DATA)
		snprintf(s->text + n, sizeof(s->text) - n, "[%.*s]", (int)p->len, p->data);
	else
		snprintf(s->text + n, sizeof(s->text) - n, "<%d>", (int)p->kind);
	return ++s->count == s->stop_after ? 1 : 0;
}

static const char stream_text[] = "0007abc0000000fhello there00010006x\n";

static void a_stream_in_pieces_of_any_size(void **state)
{
	for (size_t piece = 1; piece <= sizeof(stream_text); piece++) {
		struct pktline_stream *s = malloc(sizeof(*s));
		struct seen seen = {.stop_after = 0};
		struct err e = {{0}};
		const char *p = stream_text;
		size_t left = sizeof(stream_text) - 1;

		pktline_stream_init(s, 1000, record, &seen);
		while (left) {
			size_t n = left < piece ? left : piece;
			assert_int_equal(pktline_stream_feed(s, p, n, &e), 0);
			p += n;
			left -= n;
		}
		assert_string_equal(seen.text, "[abc]<1>[hello there]<2>[x\n]");
		free(s);
	}
}

static void a_flush_split_in_two_is_seen_at_once(void **state)
{
	struct pktline_stream *s = malloc(sizeof(*s));
	struct seen seen = {.stop_after = 1};
	struct err e = {{0}};

	pktline_stream_init(s, 1000, record, &seen);
	assert_int_equal(pktline_stream_feed(s, "00", 2, &e), 0);
	assert_int_equal(pktline_stream_feed(s, "00", 2, &e), 1);
	assert_string_equal(seen.text, "<1>");
	free(s);
}

static void a_stream_stops_where_its_reader_is_done(void **state)
{
	struct pktline_stream *s = malloc(sizeof(*s));
	struct seen seen = {.stop_after = 2};
	struct err e = {{0}};

	pktline_stream_init(s, 1000, record, &seen);
	assert_int_equal(pktline_stream_feed(s, stream_text, sizeof(stream_text) - 1, &e), 1);
	assert_string_equal(seen.text, "[abc]<1>");
	assert_int_equal(pktline_stream_feed(s, "garbage", 7, &e), 1);
	assert_string_equal(seen.text, "[abc]<1>");
	free(s);
}

static void a_stream_longer_than_its_cap_is_an_error(void **state)
{
	struct pktline_stream *s = malloc(sizeof(*s));
	struct seen seen = {.stop_after = 0};
	struct err e = {{0}};

	pktline_stream_init(s, 20, record, &seen);
	assert_int_equal(pktline_stream_feed(s, "0007abc", 7, &e), 0);
	assert_int_equal(pktline_stream_feed(s, "0007abc0007abc", 14, &e), -1);
	assert_non_null(strstr(e.msg, "longer than the limit of 20 bytes"));
	free(s);
}

static void malformed_input_inside_a_stream_is_an_error(void **state)
{
	static const char *const bad[] = {"0007abcxyzw", "0007ab", "0007abc0003", "0007abcfff1"};
	struct err e = {{0}};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (size_t piece = 1; piece <= strlen(bad[i]); piece++) {
			struct pktline_stream *s = malloc(sizeof(*s));
			struct seen seen = {.stop_after = 0};
			int rc = 0;

			pktline_stream_init(s, 1000, record, &seen);
			for (size_t at = 0; at < strlen(bad[i]) && rc == 0; at += piece) {
				size_t n =
				    strlen(bad[i]) - at < piece ? strlen(bad[i]) - at : piece;
				rc = pktline_stream_feed(s, bad[i] + at, n, &e);
			}
			/* "0007ab" is only truncated: the stream waits for more. */
			assert_int_equal(rc, i == 1 ? 0 : -1);
			free(s);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_data_packet_and_the_special_ones),
	    cmocka_unit_test(bad_lengths_are_errors),
	    cmocka_unit_test(oversize_packets_are_errors),
	    cmocka_unit_test(truncated_packets_want_more),
	    cmocka_unit_test(format_round_trips_and_refuses_what_does_not_fit),
	    cmocka_unit_test(a_stream_in_pieces_of_any_size),
	    cmocka_unit_test(a_flush_split_in_two_is_seen_at_once),
	    cmocka_unit_test(a_stream_stops_where_its_reader_is_done),
	    cmocka_unit_test(a_stream_longer_than_its_cap_is_an_error),
	    cmocka_unit_test(malformed_input_inside_a_stream_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
