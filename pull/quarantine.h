/* Where a fetch puts what it downloads until the new tip is known complete:
 * a separate object directory, <mirror>/cim-incoming, in front of the
 * mirror's own objects. Accepting moves its packs into the mirror; anything
 * else (an incomplete pack, a killed fetch) leaves the mirror as it was, so
 * no ref there names an incomplete commit and the next fetch asks the
 * server for everything that is missing. */
#ifndef CIM_QUARANTINE_H
#define CIM_QUARANTINE_H

#include <git2.h>
#include <limits.h>
#include <stdbool.h>

struct err;

#define QUARANTINE_DIR "cim-incoming"

struct quarantine {
	char dir[PATH_MAX];	       /* <mirror>/cim-incoming */
	char mirror_objects[PATH_MAX]; /* <mirror>/objects */
};

/* Empties the quarantine and makes repo (the mirror) read from it and the
 * mirror's objects, and write new objects to it only. */
int quarantine_begin(struct quarantine *q, git_repository *repo, const char *mirror, struct err *e);

/* Whether the quarantine received any object. */
bool quarantine_received(const struct quarantine *q);

/* Moves the received objects into the mirror (each pack before its index, so
 * a reader never sees an index without its pack) and empties the quarantine.
 * Close every repository handle that read from it first. */
int quarantine_accept(struct quarantine *q, struct err *e);

/* Removes the quarantine and what it holds. */
void quarantine_discard(const struct quarantine *q);

/* Removes dir and everything below it (symlinks are removed, not followed). */
int quarantine_remove_tree(const char *dir);

#endif
