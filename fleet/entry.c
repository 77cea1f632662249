#include "fleet/entry.h"

#include <stdlib.h>

void fleet_entries_free(struct fleet_entry *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}
