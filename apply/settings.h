/* What apply/ is configured with: the [nix] and [health] sections of
 * agent.conf (the agent's config.c fills them; README "Configuration"
 * documents each key). */
#ifndef CIM_APPLY_SETTINGS_H
#define CIM_APPLY_SETTINGS_H

#include "base/strlist.h"

#include <stdbool.h>

enum platform { PLATFORM_NIXOS, PLATFORM_DARWIN, PLATFORM_SYSTEM_MANAGER, PLATFORM_PROFILE };

/* Where the system comes from: built on the host from the verified flake, or
 * a prebuilt one the verified commit's deployment file names, substituted
 * from the host's binary caches (apply/realise.h). */
enum nix_source { SOURCE_BUILD, SOURCE_CACHE };

struct nix_settings {
	enum platform platform;
	char *attr;    /* defaults per platform, {host} replaced */
	char *profile; /* defaults per platform; required for "profile" */
	char *nix;     /* the nix binary */
	char *build_args;
	unsigned build_timeout;
	char *current_system; /* the running system's link (nixos, darwin) */
	enum nix_source source;
	char *deploy_file; /* source = cache: the deployment file, in the commit's tree */
};

struct health_settings {
	unsigned timeout;  /* seconds for all checks to pass */
	unsigned interval; /* seconds between attempts */
	unsigned settle;   /* seconds they must then keep passing */
	bool systemd;	   /* no unit in the failed state */
	struct strlist url;
	unsigned expect_status; /* 0: any 2xx */
	struct strlist command;
	bool remote; /* the git remote is still reachable */
};

#endif
