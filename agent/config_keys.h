/* The table of agent.conf's keys, for agent/config*.c only: each key's
 * section, name, type, field of struct config, and default. */
#ifndef CIM_CONFIG_KEYS_H
#define CIM_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>

/* T_LIST keys may repeat: each occurrence appends (a struct strlist). */
enum key_type { T_STRING, T_PATH, T_URL, T_DURATION, T_ENUM, T_BOOL, T_LIST, T_UINT };

struct key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	bool required;
	const char *fallback;	  /* default, as text; NULL when none */
	const char *const *names; /* T_ENUM: the accepted words, NULL-terminated */
};

#define CONFIG_MAX_KEYS 128

extern const struct key config_keys[];
extern const size_t config_nkeys;

#endif
