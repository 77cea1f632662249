#include "agent/config.h"
#include "agent/config_keys.h"
#include "apply/deployfile.h"

#include "base/err.h"
#include "base/url.h"
#include "base/fileio.h"
#include "base/ini_lines.h"
#include "base/relpath.h"

#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* inih's compiled-in line buffer; longer lines are refused by line_reader(). */
#define CONFIG_MAX_LINE 200

struct parse {
	struct config *cfg;
	const char *name;
	struct ini_lines lines;
	int lineno;
	int section_line;		/* line of the current [section] header */
	int seen_line[CONFIG_MAX_KEYS]; /* line where each key was set; 0 when unset */
	struct err *e;
	bool failed;
};

static int fail(struct parse *ps, const char *section, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct parse *ps, const char *section, const char *key, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (ps->failed)
		return 0; /* the first error is the one reported */
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (key)
		err_set(ps->e, "%s:%d: [%s] %s: %s", ps->name, ps->lineno, section, key, what);
	else if (section)
		err_set(ps->e, "%s:%d: [%s]: %s", ps->name, ps->section_line, section, what);
	else
		err_set(ps->e, "%s:%d: %s", ps->name, ps->lineno, what);
	ps->failed = true;
	return 0;
}

static int set_string(char **s, const struct key *k, const char *value, char *why, size_t whylen)
{
	if (!*value) {
		snprintf(why, whylen, "has no value");
		return -1;
	}
	if (k->type == T_PATH && value[0] != '/') {
		snprintf(why, whylen, "'%s' is not an absolute path", value);
		return -1;
	}
	for (const char *c = value; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			snprintf(why, whylen, "contains a control character");
			return -1;
		}
	}
	free(*s);
	*s = strdup(value);
	return *s ? 0 : -1;
}

static int set_list(struct strlist *l, const char *value, char *why, size_t whylen)
{
	if (!*value) {
		snprintf(why, whylen, "has no value");
		return -1;
	}
	if (l->n == CONFIG_MAX_LIST) {
		snprintf(why, whylen, "given more than %d times", CONFIG_MAX_LIST);
		return -1;
	}
	l->v[l->n] = strdup(value);
	if (!l->v[l->n])
		return -1;
	l->n++;
	return 0;
}

static int set_enum(int *field, const struct key *k, const char *value, char *why, size_t whylen)
{
	char choices[200] = "";

	for (size_t i = 0; k->names[i]; i++) {
		if (strcmp(value, k->names[i]) == 0) {
			*field = (int)i;
			return 0;
		}
		snprintf(choices + strlen(choices), sizeof(choices) - strlen(choices), "%s%s",
			 i ? ", " : "", k->names[i]);
	}
	snprintf(why, whylen, "'%s' is not one of: %s", value, choices);
	return -1;
}

static int set_uint(unsigned *field, const char *value, char *why, size_t whylen)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (!*value || *end || errno || v > 100000 || value[0] == '-') {
		snprintf(why, whylen, "'%s' is not a number", value);
		return -1;
	}
	*field = (unsigned)v;
	return 0;
}

static int set_bool(bool *field, const char *value, char *why, size_t whylen)
{
	if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0) {
		*field = true;
		return 0;
	}
	if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0) {
		*field = false;
		return 0;
	}
	snprintf(why, whylen, "'%s' is not yes or no", value);
	return -1;
}

static int set_value(struct config *cfg, const struct key *k, const char *value, char *why,
		     size_t whylen)
{
	void *field = (char *)cfg + k->offset;

	switch (k->type) {
	case T_STRING:
	case T_PATH:
	case T_URL:
		return set_string(field, k, value, why, whylen);
	case T_DURATION:
		if (config_parse_duration(value, field) < 0) {
			snprintf(why, whylen,
				 "'%s' is not a duration (a number with s, m or h, e.g. 90s, 5m, "
				 "1h30m)",
				 value);
			return -1;
		}
		return 0;
	case T_BOOL:
		return set_bool(field, value, why, whylen);
	case T_LIST:
		return set_list(field, value, why, whylen);
	case T_ENUM:
		return set_enum(field, k, value, why, whylen);
	case T_UINT:
		return set_uint(field, value, why, whylen);
	}
	return -1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;
	char why[400];
	bool section_known = false;

	for (size_t i = 0; i < config_nkeys; i++) {
		if (strcmp(config_keys[i].section, section) != 0)
			continue;
		section_known = true;
		if (strcmp(config_keys[i].name, name) != 0)
			continue;
		if (ps->seen_line[i] && config_keys[i].type != T_LIST)
			return fail(ps, section, name, "set twice (first on line %d)",
				    ps->seen_line[i]);
		ps->seen_line[i] = ps->lineno;
		if (set_value(ps->cfg, &config_keys[i], value, why, sizeof(why)) < 0)
			return fail(ps, section, name, "%s", why);
		return 1;
	}
	if (config_removed_key(section, name))
		return fail(ps, section, name, "%s", config_removed_key(section, name));
	if (!*section)
		return fail(ps, NULL, NULL, "'%s' is outside any [section]", name);
	if (!section_known)
		return fail(ps, section, NULL, "unknown section");
	return fail(ps, section, name, "unknown key");
}

static bool section_known(const char *name, size_t len)
{
	for (size_t i = 0; i < config_nkeys; i++)
		if (strlen(config_keys[i].section) == len &&
		    strncmp(config_keys[i].section, name, len) == 0)
			return true;
	return false;
}

/* Catches what inih would accept silently: an unknown section with no keys
 * under it, and indented lines (inih's continuation lines, which would turn a
 * stray indent into "set twice"). */
static void check_line_shape(struct parse *ps, const char *line)
{
	size_t indent = strspn(line, " \t");
	const char *p = line + indent;

	if (*p == '[') {
		const char *end = strchr(p, ']');
		ps->section_line = ps->lineno;
		if (end && !section_known(p + 1, (size_t)(end - p - 1))) {
			char name[128];
			snprintf(name, sizeof(name), "%.*s", (int)(end - p - 1), p + 1);
			fail(ps, name, NULL, "unknown section");
		}
		return;
	}
	if (indent && *p && *p != '\n' && *p != '\r' && *p != '#' && *p != ';')
		fail(ps, NULL, NULL, "indented line (continuation lines are not supported)");
}

/* A '#' after a space or tab starts a comment, as inih does for ';':
 * "branch = main # prod" is the branch "main". */
static void strip_hash_comment(char *line)
{
	char *p = line + strspn(line, " \t");

	if (*p == '#' || *p == ';' || *p == '[')
		return;
	for (p++; *p; p++) {
		if (*p == '#' && (p[-1] == ' ' || p[-1] == '\t')) {
			p[0] = '\n';
			p[1] = '\0';
			return;
		}
	}
}

/* inih's line source: see base/ini_lines.h. */
static char *line_reader(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	char why[64];
	char *line = ini_lines_next(&ps->lines, str, num, why, sizeof(why));

	ps->lineno = ps->lines.lineno;
	if (line && strncmp(why, "line is longer", 14) == 0)
		fail(ps, NULL, NULL,
		     "%s, the limit of the INI parser (a longer command goes into "
		     "a script that the line names)",
		     why);
	else if (line && why[0])
		fail(ps, NULL, NULL, "%s", why);
	else if (line) {
		check_line_shape(ps, str);
		strip_hash_comment(str);
	}
	return line;
}

static int platform_defaults(struct parse *ps)
{
	static const char *const attrs[] = {
	    [PLATFORM_NIXOS] = "nixosConfigurations.{host}.config.system.build.toplevel",
	    [PLATFORM_DARWIN] = "darwinConfigurations.{host}.system",
	    [PLATFORM_SYSTEM_MANAGER] = "systemConfigs.{host}",
	    [PLATFORM_PROFILE] = NULL,
	};
	static const char *const profiles[] = {
	    [PLATFORM_NIXOS] = "/nix/var/nix/profiles/system",
	    [PLATFORM_DARWIN] = "/nix/var/nix/profiles/system",
	    [PLATFORM_SYSTEM_MANAGER] =
		"/nix/var/nix/profiles/system-manager-profiles/system-manager",
	    [PLATFORM_PROFILE] = NULL,
	};
	struct config *cfg = ps->cfg;
	enum platform p = cfg->nix.platform;
	char *expanded;

	if (!cfg->nix.attr && !attrs[p])
		return err_set(ps->e, "%s: [nix] attr is required with platform = %s", ps->name,
			       config_platform_name(p));
	if (!cfg->nix.profile && !profiles[p])
		return err_set(ps->e, "%s: [nix] profile is required with platform = %s", ps->name,
			       config_platform_name(p));
	if (!cfg->nix.profile && !(cfg->nix.profile = strdup(profiles[p])))
		return err_set(ps->e, "out of memory");
	expanded =
	    config_expand_host(cfg->nix.attr ? cfg->nix.attr : attrs[p], cfg->agent.hostname);
	if (!expanded)
		return err_set(ps->e, "out of memory");
	free(cfg->nix.attr);
	cfg->nix.attr = expanded;
	return 0;
}

static int line_of(const struct parse *ps, size_t offset)
{
	for (size_t i = 0; i < config_nkeys; i++)
		if (config_keys[i].offset == offset)
			return ps->seen_line[i];
	return 0;
}

/* The mirror is built as git+file://<state_dir>/mirror.git?ref=...: nix
 * refuses a URL whose path holds a space, '#', '?', '%' or '[' (among
 * others), so every build would fail. Only what is known to pass is taken. */
static int check_state_dir(struct parse *ps)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789/._-+@=,~:";
	const char *dir = ps->cfg->agent.state_dir;
	size_t bad = strspn(dir, safe);
	char what[32];
	int line;

	if (!dir[bad])
		return 0;
	line = line_of(ps, offsetof(struct config, agent.state_dir));
	if ((unsigned char)dir[bad] >= 0x80)
		snprintf(what, sizeof(what), "a non-ASCII character");
	else
		snprintf(what, sizeof(what), "'%c'", dir[bad]);
	return err_set(ps->e,
		       "%s:%d: [agent] state_dir: '%s' holds %s, which the nix URL of the "
		       "mirror cannot carry; use only letters, digits and / . _ - + @ = , ~ :",
		       ps->name, line, dir, what);
}

/* Values that parse but cannot be meant. */
static int check_policy(struct parse *ps)
{
	const struct config *cfg = ps->cfg;

	if (cfg->agent.poll_interval == 0)
		return err_set(ps->e,
			       "%s:%d: [agent] poll_interval: 0s would fetch without a pause; use "
			       "%us or more",
			       ps->name, line_of(ps, offsetof(struct config, agent.poll_interval)),
			       CONFIG_POLL_FLOOR);
	if (cfg->repo.signer == SIGNER_ANY && cfg->repo.verify == VERIFY_ALL)
		return err_set(ps->e,
			       "%s:%d: [repo] signer: 'any' together with verify = all is refused: "
			       "verify = all checks who signed each commit, and 'any' drops that "
			       "check; use signer = committer, or verify = tip",
			       ps->name, line_of(ps, offsetof(struct config, repo.signer)));
	return 0;
}

/* With source = cache the host looks itself up in a file of the repository:
 * a path that cannot be in a tree, or a name the file cannot hold, would
 * fail or skip every commit. */
static int check_cache_source(struct parse *ps)
{
	const struct config *cfg = ps->cfg;
	int line;

	if (cfg->nix.source != SOURCE_CACHE)
		return 0;
	if (!relpath_ok(cfg->nix.deploy_file, CONFIG_DEPLOY_FILE_MAX))
		return err_set(ps->e,
			       "%s:%d: [nix] deploy_file: '%.100s' is not a path in the "
			       "repository; give a relative path of at most %d bytes without "
			       "'.' or '..', e.g. deploy/hosts.json",
			       ps->name, line_of(ps, offsetof(struct config, nix.deploy_file)),
			       cfg->nix.deploy_file, CONFIG_DEPLOY_FILE_MAX);
	if (deployfile_host_name_ok(cfg->agent.hostname))
		return 0;
	line = line_of(ps, offsetof(struct config, agent.hostname));
	if (!line)
		return err_set(ps->e,
			       "%s: this machine's hostname '%.100s' cannot be a host of %s with "
			       "source = cache; set [agent] hostname to the name CI gives it: "
			       "letters, digits, '.', '_' and '-', starting with a letter or digit",
			       ps->name, cfg->agent.hostname, cfg->nix.deploy_file);
	return err_set(ps->e,
		       "%s:%d: [agent] hostname: '%.100s' cannot be a host of %s with source = "
		       "cache; use letters, digits, '.', '_' and '-', starting with a letter "
		       "or digit",
		       ps->name, line, cfg->agent.hostname, cfg->nix.deploy_file);
}

static int apply_defaults(struct parse *ps)
{
	char why[400];

	for (size_t i = 0; i < config_nkeys; i++) {
		if (ps->seen_line[i])
			continue;
		if (config_keys[i].required)
			return err_set(ps->e, "%s: [%s] %s is required but not set", ps->name,
				       config_keys[i].section, config_keys[i].name);
		if (config_keys[i].fallback &&
		    set_value(ps->cfg, &config_keys[i], config_keys[i].fallback, why, sizeof(why)) <
			0)
			return err_set(ps->e, "out of memory");
	}
	if (check_state_dir(ps) < 0)
		return -1;
	if (!ps->cfg->agent.hostname) {
		char host[HOST_NAME_MAX + 1] = "";
		if (gethostname(host, sizeof(host) - 1) < 0 || !*host)
			return err_set(ps->e,
				       "%s: [agent] hostname is not set and the system has none",
				       ps->name);
		ps->cfg->agent.hostname = strdup(host);
		if (!ps->cfg->agent.hostname)
			return err_set(ps->e, "out of memory");
	}
	if (check_policy(ps) < 0 || check_cache_source(ps) < 0)
		return -1;
	if (config_fleet_check(ps->cfg, ps->name, ps->e) < 0)
		return -1;
	return platform_defaults(ps);
}

int config_parse(struct config *cfg, const char *name, const char *text, size_t len, struct err *e)
{
	struct parse ps = {.cfg = cfg, .name = name, .lines = {.text = text, .len = len}, .e = e};
	int rc;

	if (len > CONFIG_MAX_BYTES)
		return err_set(e, "%s: larger than %d bytes", name, CONFIG_MAX_BYTES);
	rc = ini_parse_stream(line_reader, &ps, handler, &ps);
	if (ps.failed)
		return -1;
	if (rc != 0)
		return err_set(e, "%s:%d: not a 'key = value' line or a [section] header", name,
			       rc);
	if (apply_defaults(&ps) < 0)
		return -1;
	cfg->path = strdup(name);
	return cfg->path ? 0 : err_set(e, "out of memory");
}

int config_load(struct config *cfg, const char *path, struct err *e)
{
	char *text;
	size_t len;
	int rc;

	if (file_read_capped(path, CONFIG_MAX_BYTES, &text, &len, e) < 0)
		return -1;
	rc = config_parse(cfg, path, text, len, e);
	free(text);
	return rc;
}

static void print_value(FILE *out, const char *name, const char *value, bool is_url)
{
	char redacted[1024];

	if (is_url)
		url_redact(value, redacted, sizeof(redacted));
	fprintf(out, "%s = %s\n", name, is_url ? redacted : value);
}

void config_print(const struct config *cfg, FILE *out)
{
	const char *section = "";

	fprintf(out, "# effective configuration of %s\n", cfg->path ? cfg->path : "(none)");
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct key *k = &config_keys[i];
		const void *field = (const char *)cfg + k->offset;

		if (strcmp(section, k->section) != 0) {
			fprintf(out, "%s[%s]\n", *section ? "\n" : "", k->section);
			section = k->section;
		}
		switch (k->type) {
		case T_STRING:
		case T_PATH:
		case T_URL: {
			const char *s = *(char *const *)field;
			if (!s) {
				fprintf(out, "# %s is not set\n", k->name);
				continue;
			}
			print_value(out, k->name, s, k->type == T_URL);
			break;
		}
		case T_DURATION:
			fprintf(out, "%s = %us\n", k->name, *(const unsigned *)field);
			break;
		case T_BOOL:
			fprintf(out, "%s = %s\n", k->name, *(const bool *)field ? "yes" : "no");
			break;
		case T_LIST: {
			const struct strlist *l = field;
			if (l->n == 0)
				fprintf(out, "# %s is not set\n", k->name);
			/* [health] url, [fleet] nats_url: no credentials shown */
			for (size_t j = 0; j < l->n; j++)
				print_value(out, k->name, l->v[j],
					    strlen(k->name) >= 3 &&
						strcmp(k->name + strlen(k->name) - 3, "url") == 0);
			break;
		}
		case T_ENUM:
			fprintf(out, "%s = %s\n", k->name, k->names[*(const int *)field]);
			break;
		case T_UINT:
			if (*(const unsigned *)field)
				fprintf(out, "%s = %u\n", k->name, *(const unsigned *)field);
			else
				fprintf(out, "# %s is not set\n", k->name);
			break;
		}
	}
}

void config_release(struct config *cfg)
{
	for (size_t i = 0; i < config_nkeys; i++) {
		if (config_keys[i].type == T_STRING || config_keys[i].type == T_PATH ||
		    config_keys[i].type == T_URL) {
			char **s = (char **)((char *)cfg + config_keys[i].offset);
			free(*s);
			*s = NULL;
		} else if (config_keys[i].type == T_LIST) {
			struct strlist *l = (struct strlist *)((char *)cfg + config_keys[i].offset);
			for (size_t j = 0; j < l->n; j++)
				free(l->v[j]);
			l->n = 0;
		}
	}
	free(cfg->path);
	cfg->path = NULL;
}
