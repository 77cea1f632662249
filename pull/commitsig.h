/* The signature of a commit object, found the way git finds it
 * (parse_buffer_signed_by_header for a SHA-1 repository): only a "gpgsig"
 * header of the commit's header counts, and what it signs is the object
 * without any "gpgsig*" header (so a gpgsig-sha256 next to it is left out, as
 * git leaves it out). A gpgsig block in the message body is message text. */
#ifndef CIM_COMMITSIG_H
#define CIM_COMMITSIG_H

#include <stddef.h>

struct err;

#define COMMITSIG_MAX_BYTES  (1024 * 1024) /* a commit object larger than this is refused */
#define COMMITSIG_DIGEST_HEX 65		   /* SHA-256 in hex, NUL included */

struct commitsig {
	char *signature; /* armored text, continuation spaces removed; NULL: unsigned */
	size_t signature_len;
	char *payload; /* the bytes the signature covers */
	size_t payload_len;
};

/* Splits a raw commit object. A NUL byte anywhere, a second gpgsig header or
 * an object over COMMITSIG_MAX_BYTES is an error whose message completes
 * "commit <id> ...". The caller releases out, also after an error. */
int commitsig_split(const char *obj, size_t len, struct commitsig *out, struct err *e);

void commitsig_release(struct commitsig *s);

/* Hex SHA-256 of the payload: the same for every commit object that carries
 * the same signed content, however its signature is encoded. */
void commitsig_digest(const struct commitsig *s, char out[COMMITSIG_DIGEST_HEX]);

#endif
