/* The header of an age v1 file: the version line, recipient stanzas and the
 * MAC line (age-encryption.org/v1). Parsing only: the MAC is checked by
 * age_decrypt() once a stanza yielded the file key. */
#ifndef CIM_SECRETS_AGE_HEADER_H
#define CIM_SECRETS_AGE_HEADER_H

#include "secrets/age.h"

#include <stddef.h>

struct err;

#define AGE_MAX_HEADER	(64 * 1024) /* bytes, up to and including the MAC line */
#define AGE_MAX_STANZAS 64
#define AGE_MAX_ARGS	16 /* per stanza, the type included */

/* A parsed stanza: args[0] is the type; args point into the parsed buffer (not
 * NUL-terminated); body is decoded into memory owned by the header. */
struct age_stanza {
	const char *args[AGE_MAX_ARGS];
	size_t arglen[AGE_MAX_ARGS];
	size_t nargs;
	const unsigned char *body;
	size_t body_len;
};

struct age_header {
	struct age_stanza stanzas[AGE_MAX_STANZAS];
	size_t nstanzas;
	size_t mac_input_len; /* bytes covered by the MAC: up to and including "---" */
	unsigned char mac[32];
	size_t len;	       /* header length including the MAC line's newline */
	unsigned char *bodies; /* storage of the decoded bodies */
};

/* Parses the header at the start of buf (len bytes, which may include the
 * payload). Returns AGE_OK, AGE_ERR_HEADER or AGE_ERR_IO (e filled). On AGE_OK,
 * release h with age_header_release(); it points into buf. Recognized stanza
 * types are checked for their shape (argument count and sizes) here. */
enum age_status age_header_parse(const unsigned char *buf, size_t len, struct age_header *h,
				 struct err *e);

void age_header_release(struct age_header *h);

/* True when argument i of s is exactly want. */
int age_stanza_arg_is(const struct age_stanza *s, size_t i, const char *want);

#endif
