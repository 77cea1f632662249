#include "agent/host_check.h"

#include "agent/config.h"
#include "apply/build.h"
#include "base/err.h"
#include "secrets/identity.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Less room than this is a full disk: the state files are small, a build
 * needs more. */
#define STATE_MIN_FREE_BYTES (256ULL * 1024)
#define STORE_MIN_FREE_BYTES (16ULL * 1024 * 1024)

static int fault(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fault(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return 1;
}

/* A program named like PATH lookup would find it: true when it can run. */
static bool program_found(const char *program)
{
	const char *path = getenv("PATH");
	char candidate[PATH_MAX];

	if (strchr(program, '/'))
		return access(program, X_OK) == 0;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		snprintf(candidate, sizeof(candidate), "%.*s/%s", n ? (int)n : 1, n ? p : ".",
			 program);
		if (access(candidate, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

static int check_program(const char *program, const char *key, char *why, size_t size)
{
	if (program_found(program))
		return 0;
	if (strchr(program, '/'))
		return fault(why, size,
			     "%s is not found or not executable: install nix, or set %s to "
			     "its path",
			     program, key);
	return fault(why, size, "%s is not in PATH: install nix, or set %s to its full path",
		     program, key);
}

/* The profile link is made in its directory, which nix-env does not create. */
static int check_profile_dir(const struct config *cfg, char *why, size_t size)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(cfg->nix.profile, '/');
	struct stat sb;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - cfg->nix.profile) : 1,
		 slash ? cfg->nix.profile : ".");
	if (!dir[0])
		snprintf(dir, sizeof(dir), "/");
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return fault(why, size,
			     "the profile's directory %s does not exist: create it "
			     "(mkdir -p %s), or set [nix] profile",
			     dir, dir);
	if (access(dir, W_OK) < 0)
		return fault(why, size,
			     "the profile's directory %s is not writable by the agent: fix "
			     "its owner or mode, or set [nix] profile",
			     dir);
	return 0;
}

static int check_room(const char *path, unsigned long long min_free, char *why, size_t size)
{
	struct statvfs sv;
	char what[PATH_MAX + 64];

	if (statvfs(path, &sv) < 0)
		return 0; /* not there (yet): the step's own error says so */
	if ((unsigned long long)sv.f_bavail * sv.f_frsize >= min_free &&
	    (sv.f_files == 0 || sv.f_favail > 0))
		return 0;
	snprintf(what, sizeof(what), "%llu KiB free",
		 (unsigned long long)sv.f_bavail * sv.f_frsize / 1024);
	return fault(why, size,
		     "the file system of %s is full (%s): free some space "
		     "(nix-collect-garbage, old logs)",
		     path, what);
}

static int check_disk(const struct config *cfg, char *why, size_t size)
{
	const char *store = getenv("NIX_STORE_DIR");

	return check_room(cfg->agent.state_dir, STATE_MIN_FREE_BYTES, why, size) ||
	       check_room(store && *store ? store : "/nix/store", STORE_MIN_FREE_BYTES, why, size);
}

/* nix-env sets the profile: the activation and the commit need it. */
static int check_switch(const struct config *cfg, char *why, size_t size)
{
	char nix_env[PATH_MAX];

	build_nix_tool(&cfg->nix, "nix-env", nix_env, sizeof(nix_env));
	return check_program(nix_env, "[nix] nix", why, size) || check_profile_dir(cfg, why, size);
}

int host_check_cycle(const struct config *cfg, char *why, size_t size)
{
	return check_program(cfg->nix.nix, "[nix] nix", why, size) ||
	       (cfg->agent.mode != MODE_BUILD && check_switch(cfg, why, size)) ||
	       check_disk(cfg, why, size);
}

/* Every identity loads: a missing, unreadable or wrong file is the host's. */
static int check_identities(const struct config *cfg, char *why, size_t size)
{
	for (size_t i = 0; i < cfg->secrets.identity.n; i++) {
		struct age_identities ids = {0};
		struct err e = {{0}};
		int rc = identity_load_file(&ids, cfg->secrets.identity.v[i], &e);

		identities_release(&ids);
		if (rc < 0)
			return fault(why, size,
				     "[secrets] identity: %s: fix the path in [secrets] "
				     "identity or the key file",
				     e.msg);
	}
	return 0;
}

/* The nearest directory that exists on the way to the secrets is writable. */
static int check_secrets_dir(const struct config *cfg, char *why, size_t size)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", cfg->secrets.dir);
	while ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if (access(dir, F_OK) == 0)
			break;
	}
	if (access(dir, W_OK) < 0 && errno != ENOENT)
		return fault(why, size,
			     "%s (on the way to [secrets] dir) is not writable by the "
			     "agent: fix its owner or mode, or set [secrets] dir",
			     dir);
	return 0;
}

int host_check_failure(const struct config *cfg, enum cycle_phase phase, char *why, size_t size)
{
	switch (phase) {
	case PHASE_BUILD:
		return check_program(cfg->nix.nix, "[nix] nix", why, size) ||
		       check_disk(cfg, why, size);
	case PHASE_SECRETS:
		return check_identities(cfg, why, size) || check_secrets_dir(cfg, why, size) ||
		       check_disk(cfg, why, size);
	case PHASE_ACTIVATE:
	case PHASE_COMMIT:
		return check_switch(cfg, why, size) || check_disk(cfg, why, size);
	default:
		return 0;
	}
}
