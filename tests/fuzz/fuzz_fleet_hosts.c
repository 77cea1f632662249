/* libFuzzer target: the fleet's hosts file. */
#include "base/err.h"
#include "fleet/hosts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fleet_hosts h;
	struct err e = {{0}};

	if (fleet_hosts_parse(&h, "hosts", (const char *)data, size, &e) != 0)
		return 0;
	if (h.n == 0)
		__builtin_trap();
	for (size_t i = 0; i < h.n; i++) {
		char key[128];
		if (!fleet_host_name_ok(h.v[i].name) ||
		    fleet_hosts_index(&h, h.v[i].name) != (long)i ||
		    fleet_key_format(h.v[i].key, key, sizeof(key)) != 0)
			__builtin_trap();
		if (i > 0 && strcmp(h.v[h.by_name[i - 1]].name, h.v[h.by_name[i]].name) >= 0)
			__builtin_trap();
	}
	fleet_hosts_release(&h);
	return 0;
}
