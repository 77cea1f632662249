/* URLs as they may be shown: in messages, the state file, the effective
 * configuration. */
#ifndef CIM_URL_H
#define CIM_URL_H

#include <stddef.h>

/* Copies url to buf with any user:password@ part replaced by <redacted>. */
void url_redact(const char *url, char *buf, size_t size);

#endif
