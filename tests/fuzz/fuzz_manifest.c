/* libFuzzer target: the secrets manifest parser (both variants) and host matching. */
#include "base/err.h"
#include "secrets/manifest.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct manifest m;
	struct err e = {{0}};

	memset(&m, 0, sizeof(m));
	if (manifest_parse(&m, "fuzz.conf", (const char *)data, size, &e) == 0) {
		for (size_t i = 0; i < m.n; i++) {
			const struct manifest_secret *s = &m.v[i];
			if (!s->file || !s->path || !s->owner || !manifest_path_ok(s->file) ||
			    s->mode > 0777)
				__builtin_trap();
			manifest_applies(s, "web-1");
		}
	}
	manifest_release(&m);
	/* The rendered variant: absolute files and symlinks, never hosts. */
	memset(&m, 0, sizeof(m));
	if (manifest_parse_rendered(&m, "fuzz.conf", (const char *)data, size, &e) == 0) {
		for (size_t i = 0; i < m.n; i++) {
			const struct manifest_secret *s = &m.v[i];
			if (!s->file || s->file[0] != '/' || !manifest_path_ok(s->file + 1) ||
			    s->hosts || (s->symlink && s->symlink[0] != '/') || s->mode > 0777)
				__builtin_trap();
		}
	}
	manifest_release(&m);
	return 0;
}
