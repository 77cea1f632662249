/* Reading an age file for age_decrypt() in bounded buffers: from an fd, or
 * ASCII armor decoded on the fly, one base64 line at a time, whether the
 * armored text comes from an fd or from memory. (Binary input in memory needs
 * no reader: age_decrypt() works on it in place.)
 *
 * The armor as age writes it: optional whitespace, the BEGIN line, padded
 * base64 in lines of 64 columns (the last one may be shorter), the END line
 * (its newline may be missing), then only whitespace. A CR before each
 * newline is accepted. Anything else is refused with the line it is on. */
#ifndef CIM_SECRETS_AGE_INPUT_H
#define CIM_SECRETS_AGE_INPUT_H

#include "secrets/age.h"

#include <stdbool.h>
#include <stddef.h>

struct err;

struct age_input {
	int fd;	      /* raw bytes come from it; -1: all are in the window already */
	bool raw_eof; /* the fd has no more bytes */
	bool armored; /* set by age_input_dearmor() */
	bool eof;     /* no more decoded bytes (armor: the end was checked) */
	/* armor: the raw text window t[tpos..tlen), refilled from fd into text */
	unsigned char *text; /* owned, tcap bytes; NULL when decoding from memory */
	size_t tcap;
	const unsigned char *t;
	size_t tlen, tpos;
	size_t line;			/* the last line looked at, for messages */
	bool began, short_line, padded; /* BEGIN seen; a short or padded line seen */
	unsigned char pend[48];		/* a decoded line that did not fit */
	size_t pend_len, pend_pos;
};

/* Reads from fd (its current offset on). */
void age_input_from_fd(struct age_input *in, int fd);

/* True when buf (len bytes, the start of the input) is ASCII armor. */
bool age_input_is_armored(const unsigned char *buf, size_t len);

/* Decodes armor from here on; the raw text read so far is text[0..len), a
 * malloc'ed buffer of cap bytes that in takes over (freed by release). For
 * armor in memory, text = NULL and data/len is the whole file. */
void age_input_dearmor(struct age_input *in, unsigned char *text, size_t cap, size_t len,
		       const unsigned char *data);

/* Adds to buf (cap bytes, *used of them filled) until at least want bytes
 * are there or the input ends (in->eof); want <= cap. A binary read asks for
 * no more than is missing, so that a pipe is decrypted as it comes. Returns
 * AGE_OK, AGE_ERR_IO (reading), AGE_ERR_HEADER (bad armor) or
 * AGE_ERR_PAYLOAD (data after the armor), e filled. */
enum age_status age_input_fill(struct age_input *in, unsigned char *buf, size_t cap, size_t want,
			       size_t *used, struct err *e);

void age_input_release(struct age_input *in);

#endif
