/* Making a built system the running one, per platform, and undoing it.
 *   nixos:  try = switch-to-configuration test (profile untouched, so a bad
 *           system never becomes the boot default); commit = set the profile
 *           and switch-to-configuration boot.
 *   darwin: try = set the profile, <out>/activate.
 *   system-manager: try = set the profile, <out>/bin/activate.
 *   profile: try = set the profile, <out>/bin/activate when present. */
#ifndef CIM_ACTIVATE_H
#define CIM_ACTIVATE_H

#include "apply/settings.h"

#include <stdbool.h>
#include <stddef.h>

struct err;

enum activate_step {
	ACTIVATE_TRY,    /* run the new system */
	ACTIVATE_COMMIT, /* after health checks passed: make it the boot default */
	ACTIVATE_BOOT,   /* mode = boot: only the profile and boot entry */
};

struct activate_result {
	bool reboot_needed; /* switch-to-configuration exited 100 */
};

int activate(const struct nix_settings *nix, const char *path, enum activate_step step,
	     struct activate_result *r, struct err *e);

/* Re-activates exactly previous (a store path) and points the profile at it. */
int activate_rollback(const struct nix_settings *nix, const char *previous, struct err *e);

/* The store path of the running system (nixos, darwin: the current_system
 * link; otherwise the profile), or "" when there is none yet. */
void activate_current(const struct nix_settings *nix, char *buf, size_t size);

#endif
