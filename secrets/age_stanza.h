/* Unwrapping the file key from a header's recipient stanzas with our
 * identities: X25519, ssh-ed25519 and scrypt (age-encryption.org/v1). */
#ifndef CIM_SECRETS_AGE_STANZA_H
#define CIM_SECRETS_AGE_STANZA_H

#include "secrets/age.h"

struct age_header;
struct age_identities;
struct err;

#define AGE_MAX_LOG_N 22 /* scrypt work factor cap, as the reference has it */

/* Finds a stanza that one of ids (or its passphrase) opens and writes the
 * file key to file_key (which should be locked memory). Returns AGE_OK or
 * AGE_ERR_NO_IDENTITY, AGE_ERR_UNSUPPORTED (ssh-rsa only, scrypt work factor),
 * AGE_ERR_HEADER (a low-order share), AGE_ERR_IO, with e filled. Every
 * intermediate secret is wiped. */
enum age_status age_stanza_unwrap(const struct age_header *h, const struct age_identities *ids,
				  unsigned char file_key[16], struct err *e);

#endif
