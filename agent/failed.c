#include "agent/failed.h"

#include <string.h>
#include <time.h>

static const char *field(json_t *item, const char *key)
{
	const char *v = json_string_value(json_object_get(item, key));
	return v ? v : "";
}

json_t *failed_find(json_t *root, const char *commit, const char *digest)
{
	json_t *item;
	size_t i;

	json_array_foreach(json_object_get(root, "failed_commits"), i, item)
	{
		if (strcmp(field(item, "commit"), commit) == 0)
			return item;
		if (digest && digest[0] && strcmp(field(item, "signed"), digest) == 0)
			return item;
	}
	return NULL;
}

void failed_remember(json_t *root, const char *commit, const char *digest, const char *reason)
{
	json_t *failed = json_object_get(root, "failed_commits");

	if (!json_is_array(failed)) {
		failed = json_array();
		json_object_set_new(root, "failed_commits", failed);
	}
	json_array_append_new(failed, json_pack("{s:s, s:s*, s:s, s:I}", "commit", commit, "signed",
						digest && digest[0] ? digest : NULL, "reason",
						reason, "at", (json_int_t)time(NULL)));
	while (json_array_size(failed) > FAILED_MAX)
		json_array_remove(failed, 0);
}

int failed_forget(json_t *root, const char *prefix)
{
	json_t *kept = json_array(), *item;
	int forgotten = 0;
	size_t i;

	json_array_foreach(json_object_get(root, "failed_commits"), i, item)
	{
		const char *id = json_string_value(json_object_get(item, "commit"));
		if (!prefix || (id && strncmp(id, prefix, strlen(prefix)) == 0))
			forgotten++;
		else
			json_array_append(kept, item);
	}
	json_object_set_new(root, "failed_commits", kept);
	return forgotten;
}
