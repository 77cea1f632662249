/* One revision of one key of the fleet bucket, as fleet/natskv.c reads it and
 * fleet/view.c sorts it out. */
#ifndef CIM_FLEET_ENTRY_H
#define CIM_FLEET_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fleet_entry {
	char *key;	   /* the bucket key: a host name, if the writer played by the rules */
	uint64_t revision; /* the stream sequence: higher is newer, across all keys */
	void *value;	   /* the stored bytes (an envelope), len bytes; NULL when deleted */
	size_t len;
	bool deleted; /* a delete or purge marker */
};

/* Frees what an array of n entries holds, and the array. */
void fleet_entries_free(struct fleet_entry *v, size_t n);

#endif
