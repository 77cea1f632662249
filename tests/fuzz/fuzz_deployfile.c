/* libFuzzer target: the deployment file of [nix] source = cache. */
#include "base/err.h"
#include "apply/deployfile.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct deployfile d;
	struct err e = {{0}};

	if (deployfile_parse(&d, "deploy/hosts.json", (const char *)data, size, &e) != 0) {
		/* A refusal always says why, and names the file. */
		if (strncmp(e.msg, "deploy/hosts.json", 17) != 0 || d.v || d.n)
			__builtin_trap();
		return 0;
	}
	for (size_t i = 0; i < d.n; i++) {
		const struct deployfile_host *h = &d.v[i];
		if (!deployfile_store_path_ok(h->path) || deployfile_find(&d, h->name) != h)
			__builtin_trap();
		if (h->system[0] && !deployfile_system_ok(h->system))
			__builtin_trap();
	}
	deployfile_release(&d);
	return 0;
}
