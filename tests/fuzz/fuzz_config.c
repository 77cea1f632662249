/* libFuzzer target: config_parse then config_release on a zeroed config. */
#include "agent/config.h"
#include "base/err.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct err e;

	memset(&cfg, 0, sizeof(cfg));
	config_parse(&cfg, "fuzz.conf", (const char *)data, size, &e);
	config_release(&cfg);
	return 0;
}
