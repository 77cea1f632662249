/* Error reporting for library code: functions fill a struct err and return -1;
 * only agent/ prints, once, with context. */
#ifndef CIM_ERR_H
#define CIM_ERR_H

#include <stddef.h>

struct err {
	char msg[1024];
};

/* Formats msg into e (when e is not NULL) and returns -1. */
int err_set(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to the message already in e; returns -1. */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
