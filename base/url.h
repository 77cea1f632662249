/* URLs as they may be shown: in messages, the state file, the effective
 * configuration. */
#ifndef CIM_URL_H
#define CIM_URL_H

#include <stddef.h>

/* Copies url to buf with credentials replaced by <redacted>: the whole
 * user:password@ part of an http(s) URL (the user may be a token), only the
 * password of an ssh:// one (ssh://git@host stays as it is). */
void url_redact(const char *url, char *buf, size_t size);

#endif
