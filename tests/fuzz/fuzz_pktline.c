/* libFuzzer target: pkt-line framing and the protocol v2 answers of the
 * ls-refs pre-check, from an untrusted server. The first byte sets the size
 * of the pieces the rest arrives in; the rest is read as a capability
 * advertisement, as an ls-refs answer, and packet by packet. */
#include "base/err.h"
#include "pull/lsrefs.h"
#include "pull/pktline.h"

#include <git2.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void feed(struct pktline_stream *s, const char *text, size_t len, size_t piece)
{
	struct err e;

	for (size_t at = 0; at < len; at += piece)
		if (pktline_stream_feed(s, text + at, len - at < piece ? len - at : piece, &e) != 0)
			return;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pktline_stream s;
	static bool ready;
	const char *text = (const char *)data + 1;
	struct lsrefs_answer a;
	struct pktline p;
	struct err e;
	size_t piece, len, at = 0;
	long n;

	if (!ready) {
		git_libgit2_init();
		ready = true;
	}
	if (size < 1)
		return 0;
	piece = (size_t)data[0] % 64 + 1;
	len = size - 1;
	if (lsrefs_answer_init(&a, "main", &e) < 0)
		abort();
	pktline_stream_init(&s, LSREFS_CAPS_MAX, lsrefs_caps_packet, &a);
	feed(&s, text, len, piece);
	a.stage = LSREFS_REFS; /* the same bytes as the ls-refs answer */
	pktline_stream_init(&s, LSREFS_ANSWER_MAX, lsrefs_refs_packet, &a);
	feed(&s, text, len, piece);
	while (at < len && (n = pktline_parse(text + at, len - at, &p, &e)) > 0) {
		if (p.kind == PKTLINE_DATA && (p.len > PKTLINE_DATA_MAX || p.data != text + at + 4))
			abort();
		at += (size_t)n;
	}
	return 0;
}
