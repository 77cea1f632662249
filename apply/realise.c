#include "apply/realise.h"

#include "base/err.h"
#include "apply/deployfile.h"
#include "apply/spawn.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_SHOWN 300
/* Whatever the host's nix.conf says: every path signed by a trusted key, taken
 * from the substituters, and no negative narinfo cache, so that a path CI
 * pushed after this host last looked is found at once. */
#define REQUIRE_SIGS	  "--option", "require-sigs", "true"
#define SUBSTITUTE	  "--option", "substitute", "true"
#define NO_NEGATIVE_CACHE "--option", "narinfo-cache-negative-ttl", "0"
#define CONFIG_TIMEOUT	  60

/* Messages of a failure that is not the commit's: checked first, so that an
 * unreachable cache is never mistaken for one that lacks the path. */
static const char *const host_markers[] = {
    "unable to download",	      /* curl: an http(s) cache down or refusing */
    "cannot open connection",	      /* ssh:// and daemon stores */
    "No space left on device",	      /* the host's disk */
    "does not exist in binary cache", /* a .narinfo whose NAR is gone: a broken cache */
    "cannot run ",		      /* spawn: nix-store not found */
    NULL,
};
static const char *const untrusted_markers[] = {
    "is not signed by any of the keys", /* nix-store --realise */
    "lacks a valid signature",		/* nix copy */
    "no signature is trusted",		/* later wordings */
    NULL,
};
static const char *const missing_markers[] = {
    "don't know how to build these paths",
    "there is no substituter that can build it",
    NULL,
};

static const char *find_any(const char *out, const char *const markers[])
{
	for (size_t i = 0; markers[i]; i++) {
		const char *hit = strstr(out, markers[i]);
		if (hit)
			return hit;
	}
	return NULL;
}

enum realise_result realise_classify(int status, bool timed_out, const char *output)
{
	if (timed_out)
		return REALISE_HOST_FAULT;
	if (status == 0)
		return REALISE_OK;
	if (status < 0 || status == 127 || status > 128)
		return REALISE_HOST_FAULT; /* did not start, not found, killed */
	if (find_any(output, host_markers))
		return REALISE_HOST_FAULT;
	if (find_any(output, untrusted_markers))
		return REALISE_UNTRUSTED;
	if (find_any(output, missing_markers))
		return REALISE_MISSING;
	return REALISE_HOST_FAULT;
}

bool realise_commit_fault(enum realise_result r)
{
	return r == REALISE_MISSING || r == REALISE_UNTRUSTED;
}

const char *realise_result_name(enum realise_result r)
{
	switch (r) {
	case REALISE_OK:
		return "ok";
	case REALISE_MISSING:
		return "missing";
	case REALISE_UNTRUSTED:
		return "untrusted";
	case REALISE_HOST_FAULT:
		break;
	}
	return "host-fault";
}

/* The whole line of out around hit (or nix's last "error:" line when hit is
 * NULL) into buf, printable and cut short. */
static const char *line_of(const char *out, const char *hit, char *buf, size_t size)
{
	const char *start, *end;
	size_t n = 0;

	if (!hit)
		for (const char *p = strstr(out, "error:"); p; p = strstr(p + 1, "error:"))
			hit = p;
	if (!hit) {
		snprintf(buf, size, "no message");
		return buf;
	}
	for (start = hit; start > out && start[-1] != '\n'; start--)
		;
	end = strchr(hit, '\n');
	end = end ? end : hit + strlen(hit);
	for (const char *p = start; p < end && n + 4 < size && n < LINE_MAX_SHOWN; p++)
		buf[n++] = isprint((unsigned char)*p) ? *p : '?';
	if (start + n < end)
		buf[n++] = '.', buf[n++] = '.', buf[n++] = '.';
	buf[n] = '\0';
	return buf;
}

static void sibling(const char *nix, const char *tool, char *buf, size_t size)
{
	const char *slash = nix ? strrchr(nix, '/') : NULL;

	if (slash)
		snprintf(buf, size, "%.*s/%s", (int)(slash - nix), nix, tool);
	else
		snprintf(buf, size, "%s", tool);
}

/* The host's substituters as nix sees them ("" for none) into buf; -1 when nix
 * cannot tell. */
static int host_substituters(const char *nix, char *buf, size_t size)
{
	const char *argv[] = {nix ? nix : "nix", "--extra-experimental-features", "nix-command",
			      "show-config", NULL};
	struct spawn_opts so = {.timeout = CONFIG_TIMEOUT, .capture_stdout = true};
	struct spawn_result r;
	const char *line, *end;

	if (spawn_run(argv, &so, &r, NULL) < 0)
		return -1;
	line = r.status == 0 ? strstr(r.out, "\nsubstituters = ") : NULL;
	if (!line) {
		spawn_result_release(&r);
		return -1;
	}
	line += strlen("\nsubstituters = ");
	end = strchr(line, '\n');
	snprintf(buf, size, "%.*s", (int)(end ? end - line : (long)strlen(line)), line);
	spawn_result_release(&r);
	return 0;
}

static enum realise_result missing(const char *path, const struct realise_opts *o, struct err *e)
{
	char subs[512];

	if (host_substituters(o->nix, subs, sizeof(subs)) == 0 && subs[0] == '\0') {
		err_set(e,
			"this host has no substituters to take %s from; set substituters and "
			"trusted-public-keys in its nix.conf (nix.settings on NixOS)",
			path);
		return REALISE_HOST_FAULT;
	}
	err_set(e,
		"%s is in none of this host's substituters (%s); push it to the cache "
		"(cim-publish) before committing the deployment file",
		path, subs[0] ? subs : "see nix show-config");
	return REALISE_MISSING;
}

static enum realise_result explain(enum realise_result res, const char *path,
				   const struct spawn_result *r, const struct realise_opts *o,
				   struct err *e)
{
	char said[LINE_MAX_SHOWN + 8];

	if (r->timed_out) {
		err_set(e, "nix-store --realise %s timed out after %us", path, o->timeout);
		return res;
	}
	switch (res) {
	case REALISE_MISSING:
		return missing(path, o, e);
	case REALISE_UNTRUSTED:
		err_set(e,
			"the cache's copy of %s or of a path in its closure is not signed by a key "
			"this host trusts; sign it with the cache key (nix store sign) or add the "
			"cache's public key to trusted-public-keys. nix-store said: %s",
			path,
			line_of(r->out, find_any(r->out, untrusted_markers), said, sizeof(said)));
		return res;
	default:
		err_set(e, "nix-store --realise %s failed (exit status %d)%s: %s", path, r->status,
			r->out_truncated ? ", its output cut short" : "",
			line_of(r->out, find_any(r->out, host_markers), said, sizeof(said)));
		return res;
	}
}

enum realise_result realise_path(const char *path, const struct realise_opts *o, struct err *e)
{
	char tool[PATH_MAX];
	struct spawn_opts so = {.timeout = o->timeout,
				.capture_stdout = true,
				.capture_stderr = true,
				.capture_max = REALISE_OUTPUT_MAX};
	struct spawn_result r;
	enum realise_result res;

	if (!deployfile_store_path_ok(path)) {
		err_set(e, "\"%.300s\" is not a store path", path);
		return REALISE_MISSING;
	}
	sibling(o->nix, "nix-store", tool, sizeof(tool));
	const char *argv[] = {tool, REQUIRE_SIGS, SUBSTITUTE, NO_NEGATIVE_CACHE, "--realise",
			      path, "--add-root", o->gc_root, "--indirect",	 NULL};
	if (spawn_run(argv, &so, &r, e) < 0)
		return REALISE_HOST_FAULT;
	res = realise_classify(r.status, r.timed_out, r.out);
	if (res != REALISE_OK)
		res = explain(res, path, &r, o, e);
	spawn_result_release(&r);
	return res;
}
