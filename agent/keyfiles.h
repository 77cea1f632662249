/* Credential files of the configuration that others can read: the token,
 * the deploy key, the webhook's HMAC key, the NATS credentials and the age
 * identities. The agent still uses them, but says so. */
#ifndef CIM_KEYFILES_H
#define CIM_KEYFILES_H

struct config;

/* Calls warn(ctx, message) for each such file that group or others may
 * read; a file that is absent or cannot be stat()ed is left to the code
 * that opens it. Returns how many were found. */
int keyfiles_check(const struct config *cfg, void (*warn)(void *ctx, const char *msg), void *ctx);

#endif
