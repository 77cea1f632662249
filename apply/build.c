#include "apply/build.h"

#include "base/err.h"
#include "apply/spawn.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NIX_FEATURES "nix-command flakes"

void build_nix_tool(const struct nix_settings *nix, const char *tool, char *buf, size_t size)
{
	const char *slash = strrchr(nix->nix, '/');

	if (slash)
		snprintf(buf, size, "%.*s/%s", (int)(slash - nix->nix), nix->nix, tool);
	else
		snprintf(buf, size, "%s", tool);
}

static int run_checked(const char *const argv[], unsigned timeout, bool capture,
		       struct spawn_result *r, const char *what, struct err *e)
{
	struct spawn_opts o = {.timeout = timeout,
			       .capture_stdout = capture,
			       .capture_max = 256 * 1024,
			       .stdout_to_stderr = true};

	if (spawn_run(argv, &o, r, e) < 0)
		return -1;
	if (r->timed_out) {
		spawn_result_release(r);
		return err_set(e, "%s timed out after %us", what, timeout);
	}
	if (r->status != 0) {
		int status = r->status;
		spawn_result_release(r);
		return err_set(e, "%s failed (exit status %d)", what, status);
	}
	return 0;
}

int build_system(const struct nix_settings *nix, const char *mirror, const char *commit,
		 const char *out_link, char *store_path, size_t size, struct err *e)
{
	const char *argv[12 + BUILD_MAX_ARGS];
	char ref[PATH_MAX + 512], *args_copy = NULL, *save = NULL;
	struct spawn_result r;
	ssize_t n;
	int argc = 0;

	/* Nix fetches "ref" into its cache and then checks out "rev": name a ref
	 * that holds exactly the verified commit (see BUILD_REF). */
	snprintf(ref, sizeof(ref), "git+file://%s?ref=" BUILD_REF "&rev=%s#%s", mirror, commit,
		 nix->attr);
	argv[argc++] = nix->nix;
	argv[argc++] = "--extra-experimental-features";
	argv[argc++] = NIX_FEATURES;
	argv[argc++] = "build";
	argv[argc++] = "--print-build-logs";
	argv[argc++] = "--out-link";
	argv[argc++] = out_link;
	if (nix->build_args) {
		args_copy = strdup(nix->build_args);
		if (!args_copy)
			return err_set(e, "out of memory");
		for (char *tok = strtok_r(args_copy, " \t", &save); tok;
		     tok = strtok_r(NULL, " \t", &save)) {
			if (argc >= 8 + BUILD_MAX_ARGS) {
				free(args_copy);
				return err_set(e, "[nix] build_args: more than %d arguments",
					       BUILD_MAX_ARGS);
			}
			argv[argc++] = tok;
		}
	}
	argv[argc++] = ref;
	argv[argc] = NULL;
	unlink(out_link);
	int rc = run_checked(argv, nix->build_timeout, false, &r, "nix build", e);
	free(args_copy);
	if (rc < 0)
		return err_prefix(e, "building %s", ref);
	spawn_result_release(&r);
	n = readlink(out_link, store_path, size - 1);
	if (n <= 0)
		return err_set(e, "nix build left no result at %s", out_link);
	store_path[n] = '\0';
	return 0;
}

int build_add_root(const struct nix_settings *nix, const char *path, const char *link, struct err *e)
{
	char tool[PATH_MAX];
	struct spawn_result r;

	build_nix_tool(nix, "nix-store", tool, sizeof(tool));
	const char *argv[] = {tool, "--realise", path, "--add-root", link, "--indirect", NULL};
	if (run_checked(argv, 300, true, &r, "nix-store --add-root", e) < 0)
		return -1;
	spawn_result_release(&r);
	return 0;
}

int build_diff_closures(const struct nix_settings *nix, const char *from, const char *to, char **out,
			struct err *e)
{
	const char *argv[] = {nix->nix, "--extra-experimental-features", NIX_FEATURES,
			      "store", "diff-closures", from, to, NULL};
	struct spawn_result r;

	if (run_checked(argv, 300, true, &r, "nix store diff-closures", e) < 0)
		return -1;
	*out = r.out;
	return 0;
}

int build_set_profile(const struct nix_settings *nix, const char *path, struct err *e)
{
	char tool[PATH_MAX];
	struct spawn_result r;

	build_nix_tool(nix, "nix-env", tool, sizeof(tool));
	const char *argv[] = {tool, "--profile", nix->profile, "--set", path, NULL};
	if (run_checked(argv, 300, false, &r, "nix-env --set", e) < 0)
		return err_prefix(e, "setting profile %s to %s", nix->profile, path);
	spawn_result_release(&r);
	return 0;
}
