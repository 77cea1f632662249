/* libFuzzer target: state_dir/state.json, as state_load() reads it
 * (state_parse). What loads is written out again (state_text) and must load
 * back to the same text: a save never changes what the next start reads. */
#include "agent/state.h"
#include "base/err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_state st, again;
	struct err e = {{0}};
	char *text, *text2;

	if (state_parse(&st, "/fuzz", (const char *)data, size, &e) < 0) {
		if (!e.msg[0])
			__builtin_trap(); /* an error always says why */
		return 0;
	}
	text = state_text(&st);
	state_release(&st);
	if (!text)
		return 0;
	if (state_parse(&again, "/fuzz", text, strlen(text), &e) < 0)
		__builtin_trap();
	text2 = state_text(&again);
	if (text2 && strcmp(text, text2) != 0)
		__builtin_trap();
	state_release(&again);
	free(text);
	free(text2);
	return 0;
}
