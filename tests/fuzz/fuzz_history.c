/* libFuzzer target: state_dir/history.json, as history_load() reads it
 * (history_parse), then every entry as status, metrics and the hook read it. */
#include "agent/history.h"
#include "base/err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = {{0}};
	json_t *arr = history_parse("history.json", (const char *)data, size, &e), *item;
	size_t i;

	if (!arr) {
		if (!e.msg[0])
			__builtin_trap(); /* an error always says why */
		return 0;
	}
	json_array_foreach(arr, i, item)
	{
		struct history_entry h;
		history_entry_read(item, &h);
		/* what history_parse() promises its readers */
		if (!h.commit || !h.outcome)
			__builtin_trap();
	}
	json_decref(arr);
	return 0;
}
