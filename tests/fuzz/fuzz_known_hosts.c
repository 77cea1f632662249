/* libFuzzer target: known_hosts_check over arbitrary known_hosts text, with a
 * fixed host and key, so every line shape reaches the matcher. */
#include "base/err.h"
#include "pull/known_hosts.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[] = {0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2',
					    '5', '5', '1', '9', 0, 0, 0, 32, 1, 2, 3};
	struct err e;

	known_hosts_check((const char *)data, size, "fuzz_known_hosts", "git.example.com", 22, key,
			  sizeof(key), &e);
	known_hosts_check((const char *)data, size, "fuzz_known_hosts", "git.example.com", 2222,
			  key, sizeof(key), &e);
	return 0;
}
