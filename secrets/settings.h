/* What secrets/ is configured with: the [secrets] section of agent.conf (the
 * agent's config.c fills it; README "Configuration" documents each key). */
#ifndef CIM_SECRETS_SETTINGS_H
#define CIM_SECRETS_SETTINGS_H

#include "base/strlist.h"

#include <stdbool.h>

#define SECRETS_DEFAULT_IDENTITY "/etc/ssh/ssh_host_ed25519_key"

struct secrets_settings {
	struct strlist identity; /* default SECRETS_DEFAULT_IDENTITY */
	char *manifest;		 /* path inside the repository */
	char *dir;		 /* the symlink to the current generation */
	bool allow_persistent;	 /* allow a dir not on tmpfs/ramfs */
};

#endif
