/* Git's pkt-line framing (gitprotocol-common, gitprotocol-v2): four hex
 * digits of length, the four included, then the data; 0000 flush, 0001
 * delimiter, 0002 response end. What a server sends is untrusted: a packet
 * is at most PKTLINE_MAX bytes and a stream at most the cap its reader sets. */
#ifndef CIM_PKTLINE_H
#define CIM_PKTLINE_H

#include <stdbool.h>
#include <stddef.h>

struct err;

#define PKTLINE_MAX	 65520
#define PKTLINE_DATA_MAX (PKTLINE_MAX - 4)

enum pktline_kind {
	PKTLINE_DATA,
	PKTLINE_FLUSH,
	PKTLINE_DELIM,
	PKTLINE_RESPONSE_END,
};

struct pktline {
	enum pktline_kind kind;
	const char *data; /* PKTLINE_DATA: len bytes, not NUL-terminated */
	size_t len;
};

/* One packet from the start of buf. Returns the bytes it takes (> 0), 0 when
 * buf holds only the start of one, -1 when it is malformed (e says how). */
long pktline_parse(const char *buf, size_t len, struct pktline *out, struct err *e);

/* Writes data as one packet into out. Returns its length, or -1 when data
 * is longer than PKTLINE_DATA_MAX or out is too small. */
int pktline_format(char *out, size_t size, const char *data, size_t len);

/* The packet's data without one trailing newline. */
size_t pktline_chomp(const struct pktline *p);

/* A packet stream that arrives in pieces of any size. on_packet sees each
 * whole packet and returns 0 for more, 1 when it has what it wanted, -1 to
 * give up (it sets e). */
struct pktline_stream {
	int (*on_packet)(void *arg, const struct pktline *p, struct err *e);
	void *arg;
	size_t max_bytes; /* the whole stream; more is an error */
	size_t bytes;	  /* fed so far */
	size_t have;	  /* bytes of an unfinished packet in buf */
	bool done;
	char buf[PKTLINE_MAX];
};

void pktline_stream_init(struct pktline_stream *s, size_t max_bytes,
			 int (*on_packet)(void *arg, const struct pktline *p, struct err *e),
			 void *arg);

/* Feeds the next bytes. Returns 0 when it wants more, 1 once on_packet has
 * said it is done (later bytes are not looked at), -1 on a malformed or
 * oversized stream or when on_packet gave up (e says why). */
int pktline_stream_feed(struct pktline_stream *s, const char *data, size_t len, struct err *e);

#endif
