#include "apply/activate.h"

#include "base/err.h"
#include "apply/build.h"
#include "apply/spawn.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACTIVATION_TIMEOUT (30 * 60)

void activate_current(const struct nix_settings *nix, char *buf, size_t size)
{
	const char *link = (nix->platform == PLATFORM_NIXOS ||
			    nix->platform == PLATFORM_DARWIN)
				   ? nix->current_system
				   : nix->profile;
	char resolved[PATH_MAX];

	if (realpath(link, resolved))
		snprintf(buf, size, "%s", resolved);
	else
		buf[0] = '\0';
}

static const char *stc_meaning(int status)
{
	switch (status) {
	case 2:
		return " (the activation script failed)";
	case 4:
		return " (a unit failed to start)";
	default:
		return "";
	}
}

/* Runs one activation program; exit 100 from switch-to-configuration means
 * "needs a reboot", which is success with a note. */
static int run_activation(const char *program, const char *arg, struct activate_result *r,
			  struct err *e)
{
	const char *argv[] = {program, arg, NULL};
	/* Half a switch is worse than a whole one: an agent that dies meanwhile
	 * lets it finish before its next start decides. */
	struct spawn_opts o = {
	    .timeout = ACTIVATION_TIMEOUT, .stdout_to_stderr = true, .let_finish = true};
	struct spawn_result sr;

	if (spawn_run(argv, &o, &sr, e) < 0)
		return -1;
	spawn_result_release(&sr);
	if (sr.timed_out)
		return err_set(e, "%s %s timed out after %ds", program, arg ? arg : "",
			       ACTIVATION_TIMEOUT);
	if (sr.status == 100 && r) {
		r->reboot_needed = true;
		return 0;
	}
	if (sr.status != 0)
		return err_set(e, "%s%s%s exited %d%s", program, arg ? " " : "", arg ? arg : "",
			       sr.status, stc_meaning(sr.status));
	return 0;
}

static int activate_program(const struct nix_settings *nix, const char *path, char *buf, size_t size)
{
	switch (nix->platform) {
	case PLATFORM_NIXOS:
		snprintf(buf, size, "%s/bin/switch-to-configuration", path);
		break;
	case PLATFORM_DARWIN:
		snprintf(buf, size, "%s/activate", path);
		break;
	case PLATFORM_SYSTEM_MANAGER:
	case PLATFORM_PROFILE:
		snprintf(buf, size, "%s/bin/activate", path);
		break;
	}
	return access(buf, X_OK) == 0 ? 0 : -1;
}

int activate(const struct nix_settings *nix, const char *path, enum activate_step step,
	     struct activate_result *r, struct err *e)
{
	char program[PATH_MAX];
	bool have_program = activate_program(nix, path, program, sizeof(program)) == 0;

	memset(r, 0, sizeof(*r));
	if (nix->platform == PLATFORM_NIXOS) {
		if (!have_program)
			return err_set(e, "%s is not a NixOS system (no bin/switch-to-configuration)",
				       path);
		if (step == ACTIVATE_TRY)
			return run_activation(program, "test", r, e);
		if (build_set_profile(nix, path, e) < 0)
			return -1;
		return run_activation(program, "boot", r, e);
	}
	/* Other platforms have no "test" activation: the profile moves first. */
	if (step == ACTIVATE_COMMIT)
		return 0;
	if (build_set_profile(nix, path, e) < 0)
		return -1;
	if (step == ACTIVATE_BOOT)
		return 0;
	if (!have_program) {
		if (nix->platform == PLATFORM_PROFILE)
			return 0; /* a plain profile needs no activation */
		return err_set(e, "%s has no activation program %s", path, program);
	}
	return run_activation(program, NULL, r, e);
}

int activate_rollback(const struct nix_settings *nix, const char *previous, struct err *e)
{
	char program[PATH_MAX], profile_now[PATH_MAX];
	struct activate_result r;
	bool have_program;

	if (!previous || !*previous)
		return err_set(e, "no previous system is recorded to roll back to");
	have_program = activate_program(nix, previous, program, sizeof(program)) == 0;
	if (nix->platform == PLATFORM_NIXOS) {
		if (!have_program)
			return err_set(e, "%s has no bin/switch-to-configuration", previous);
		if (run_activation(program, "test", &r, e) < 0)
			return -1;
		/* Only touch the boot default when a commit step had already moved it. */
		if (!realpath(nix->profile, profile_now) || strcmp(profile_now, previous) != 0) {
			if (build_set_profile(nix, previous, e) < 0)
				return -1;
			return run_activation(program, "boot", &r, e);
		}
		return 0;
	}
	if (build_set_profile(nix, previous, e) < 0)
		return -1;
	if (!have_program)
		return 0;
	return run_activation(program, NULL, &r, e);
}
