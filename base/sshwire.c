#include "base/sshwire.h"

#include <string.h>

struct sshwire sshwire_init(const void *buf, size_t len)
{
	return (struct sshwire){.p = buf, .len = len, .off = 0};
}

size_t sshwire_left(const struct sshwire *w)
{
	return w->len - w->off;
}

int sshwire_bytes(struct sshwire *w, size_t n, const uint8_t **s)
{
	if (sshwire_left(w) < n)
		return -1;
	*s = w->p + w->off;
	w->off += n;
	return 0;
}

int sshwire_u8(struct sshwire *w, uint8_t *v)
{
	const uint8_t *b;

	if (sshwire_bytes(w, 1, &b) < 0)
		return -1;
	*v = b[0];
	return 0;
}

int sshwire_u32(struct sshwire *w, uint32_t *v)
{
	const uint8_t *b;

	if (sshwire_bytes(w, 4, &b) < 0)
		return -1;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
	return 0;
}

int sshwire_string(struct sshwire *w, const uint8_t **s, size_t *len)
{
	size_t start = w->off;
	uint32_t n;

	if (sshwire_u32(w, &n) < 0)
		return -1;
	if (sshwire_bytes(w, n, s) < 0) {
		w->off = start;
		return -1;
	}
	*len = n;
	return 0;
}

bool sshwire_eq(const uint8_t *s, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

uint8_t *sshwire_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

uint8_t *sshwire_put_string(uint8_t *p, const void *s, size_t len)
{
	p = sshwire_put_u32(p, (uint32_t)len);
	if (len)
		memcpy(p, s, len);
	return p + len;
}
