/* A driver for the shell tests of source = cache (tests/t/t0350-cache-realise.t)
 * until the cycle calls these modules itself:
 *   cache-tool host FILE NAME              the deployment file's entry for NAME:
 *                                          "PATH SYSTEM" on stdout; exit 3 when absent
 *   cache-tool realise PATH ROOT [SECONDS] realise_path(); the result's name on
 *                                          stdout, the message on stderr
 * Exit 0 for success, 1 for a refused file or a commit fault (missing,
 * untrusted), 2 for a host fault. */
#include "base/err.h"
#include "apply/deployfile.h"
#include "apply/realise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_all(const char *name, char **text, size_t *len)
{
	FILE *f = fopen(name, "rb");
	size_t cap = DEPLOYFILE_MAX_BYTES + 2;

	if (!f)
		return -1;
	*text = malloc(cap);
	*len = *text ? fread(*text, 1, cap, f) : 0;
	fclose(f);
	return *text ? 0 : -1;
}

static int host(const char *file, const char *name)
{
	struct deployfile d;
	struct err e = {{0}};
	const struct deployfile_host *h;
	char *text;
	size_t len;

	if (read_all(file, &text, &len) < 0) {
		perror(file);
		return 2;
	}
	int rc = deployfile_parse(&d, file, text, len, &e);
	free(text);
	if (rc < 0) {
		fprintf(stderr, "cache-tool: %s\n", e.msg);
		return 1;
	}
	h = deployfile_find(&d, name);
	if (h)
		printf("%s %s\n", h->path, h->system[0] ? h->system : "-");
	else
		fprintf(stderr, "cache-tool: %s names no host %s\n", file, name);
	deployfile_release(&d);
	return h ? 0 : 3;
}

static int realise(const char *path, const char *root, const char *seconds)
{
	struct realise_opts o = {.nix = getenv("CIM_NIX"),
				 .gc_root = root,
				 .timeout = seconds ? (unsigned)strtoul(seconds, NULL, 10) : 600};
	struct err e = {{0}};
	enum realise_result r = realise_path(path, &o, &e);

	printf("%s\n", realise_result_name(r));
	if (r != REALISE_OK)
		fprintf(stderr, "cache-tool: %s\n", e.msg);
	return r == REALISE_OK ? 0 : realise_commit_fault(r) ? 1 : 2;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "host") == 0)
		return host(argv[2], argv[3]);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "realise") == 0)
		return realise(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	fprintf(stderr, "usage: cache-tool host FILE NAME | realise PATH ROOT [SECONDS]\n");
	return 2;
}
