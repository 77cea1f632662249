#include "fleet/plan.h"

#include "base/duration.h"
#include "base/err.h"
#include "base/ini_lines.h"
#include "base/relpath.h"

#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum section { S_NONE, S_ROLLOUT, S_WAVE };
enum rkey { R_HOSTS, R_SOAK, R_MAX_FAILURES, R_STALE_AFTER, R_MIN_HEALTHY, R_NKEYS };
enum wkey { W_HOSTS, W_PERCENT, W_SOAK, W_MAX_FAILURES, W_MIN_HEALTHY, W_NKEYS };

static const char *const rollout_keys[R_NKEYS] = {"hosts", "soak", "max_failures", "stale_after",
						  "min_healthy"};
static const char *const wave_keys[W_NKEYS] = {"hosts", "percent", "soak", "max_failures",
					       "min_healthy"};

struct pparse {
	struct fleet_plan *p;
	const char *name;
	struct ini_lines lines;
	int lineno;
	enum section section;
	int rollout_line;
	int rollout_seen[R_NKEYS]; /* line each [rollout] key was set on; 0 when unset */
	int wave_seen[FLEET_PLAN_MAX_WAVES][W_NKEYS];
	size_t npatterns;
	struct err *e;
	bool failed;
};

static int pfail(struct pparse *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int pfail(struct pparse *ps, int line, const char *fmt, ...)
{
	char what[700];
	va_list ap;

	if (ps->failed)
		return 0; /* the first error is the one reported */
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	err_set(ps->e, "%s:%d: %s", ps->name, line, what);
	ps->failed = true;
	return 0;
}

int fleet_parse_duration(const char *text, unsigned *seconds)
{
	return duration_parse(text, FLEET_DURATION_MAX, seconds);
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned long n = 0;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
		return -1;
	n = strtoul(s, NULL, 10);
	if (n > max)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* "N" or "N%" */
static int parse_count(const char *s, struct fleet_count *c)
{
	char buf[16];
	size_t n = strlen(s);

	c->percent = n > 0 && s[n - 1] == '%';
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n + 1);
	if (c->percent)
		buf[n - 1] = '\0';
	if (parse_uint(buf, c->percent ? 100 : 1000000, &c->value) < 0 || c->value == 0)
		return -1;
	return 0;
}

/* "N" or "N%", 1 to 100 */
static int parse_percent(const char *s, unsigned *out)
{
	struct fleet_count c;

	if (parse_count(s, &c) < 0 || c.value > 100)
		return -1;
	*out = c.value;
	return 0;
}

static bool path_ok(const char *path)
{
	return relpath_ok(path, FLEET_PATH_MAX);
}

static bool wave_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= FLEET_WAVE_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int add_wave(struct pparse *ps, const char *wname)
{
	struct fleet_plan *p = ps->p;
	struct fleet_plan_wave *w;

	if (!wave_name_ok(wname))
		return pfail(ps, ps->lineno,
			     "[wave %s]: a wave's name is 1 to %d letters, digits, '.', '_' or '-'",
			     wname, FLEET_WAVE_NAME_MAX);
	for (size_t i = 0; i < p->nwaves; i++)
		if (strcmp(p->waves[i].name, wname) == 0)
			return pfail(ps, ps->lineno,
				     "[wave %s] is defined twice (first on line %d)", wname,
				     p->waves[i].line);
	if (p->nwaves == FLEET_PLAN_MAX_WAVES)
		return pfail(ps, ps->lineno, "more than %d waves", FLEET_PLAN_MAX_WAVES);
	w = &p->waves[p->nwaves++];
	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "%s", wname);
	w->line = ps->lineno;
	ps->section = S_WAVE;
	return 0;
}

/* Reads a [section] header; inih would truncate long names and skips
 * sections without keys, so headers are handled here, not in the handler. */
static void begin_section(struct pparse *ps, const char *line)
{
	const char *open = strchr(line, '['), *close = strchr(open, ']');
	char inner[FLEET_WAVE_NAME_MAX + 16];
	size_t n;
	char *s;

	if (!close)
		return; /* inih reports the line */
	while (++open < close && (*open == ' ' || *open == '\t'))
		;
	n = (size_t)(close - open);
	while (n > 0 && (open[n - 1] == ' ' || open[n - 1] == '\t'))
		n--;
	ps->section = S_NONE;
	if (n >= sizeof(inner)) {
		pfail(ps, ps->lineno, "[%.*s...]: a section name is too long", 20, open);
		return;
	}
	memcpy(inner, open, n);
	inner[n] = '\0';
	if (strcmp(inner, "rollout") == 0) {
		if (ps->rollout_line)
			pfail(ps, ps->lineno, "[rollout] is given twice (first on line %d)",
			      ps->rollout_line);
		ps->rollout_line = ps->lineno;
		ps->section = S_ROLLOUT;
		return;
	}
	if (strcmp(inner, "wave") == 0) {
		pfail(ps, ps->lineno, "[wave] needs a name, e.g. [wave canary]");
		return;
	}
	if (strncmp(inner, "wave", 4) != 0 || (inner[4] != ' ' && inner[4] != '\t')) {
		pfail(ps, ps->lineno,
		      "unknown section [%s]; a plan has [rollout] and [wave NAME] sections", inner);
		return;
	}
	s = inner + 4;
	s += strspn(s, " \t");
	add_wave(ps, s);
}

static int add_patterns(struct pparse *ps, struct fleet_plan_wave *w, const char *value)
{
	const char *p = value;

	for (;;) {
		size_t n;
		char **pats;
		int *lines;

		p += strspn(p, " \t,");
		if (!*p)
			return 1;
		n = strcspn(p, " \t,");
		if (n > FLEET_PATTERN_MAX)
			return pfail(ps, ps->lineno, "[wave %s] hosts: a pattern is longer than %d",
				     w->name, FLEET_PATTERN_MAX);
		if (strspn(p,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-*?") <
		    n)
			return pfail(ps, ps->lineno,
				     "[wave %s] hosts: '%.*s' is not a host name pattern (letters, "
				     "digits, '.', '_', '-', and the wildcards '*' and '?')",
				     w->name, (int)n, p);
		if (ps->npatterns == FLEET_PLAN_MAX_PATTERNS)
			return pfail(ps, ps->lineno, "more than %d host patterns in the plan",
				     FLEET_PLAN_MAX_PATTERNS);
		pats = realloc(w->patterns, (w->npatterns + 1) * sizeof(*pats));
		if (pats)
			w->patterns = pats;
		lines = realloc(w->pattern_lines, (w->npatterns + 1) * sizeof(*lines));
		if (lines)
			w->pattern_lines = lines;
		if (!pats || !lines || !(pats[w->npatterns] = strndup(p, n)))
			return pfail(ps, ps->lineno, "out of memory");
		lines[w->npatterns++] = ps->lineno;
		ps->npatterns++;
		p += n;
	}
}

static bool no_control(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

#define DURATION_HINT "a duration (a number with s, m or h, e.g. 90s, 5m, 1h30m)"
#define COUNT_HINT    "a number of hosts of at least 1, or a percentage such as 50%"

/* soak, max_failures and min_healthy, in [rollout] or in a wave. */
static int set_common(struct pparse *ps, const char *where, const char *key, const char *value,
		      unsigned *soak, unsigned *max_failures, struct fleet_count *min_healthy)
{
	if (strcmp(key, "soak") == 0) {
		if (fleet_parse_duration(value, soak) < 0)
			return pfail(ps, ps->lineno, "%s soak: '%s' is not %s", where, value,
				     DURATION_HINT);
	} else if (strcmp(key, "max_failures") == 0) {
		if (parse_uint(value, 1000000, max_failures) < 0)
			return pfail(ps, ps->lineno,
				     "%s max_failures: '%s' is not a number of failures (0 halts "
				     "at the first)",
				     where, value);
	} else if (parse_count(value, min_healthy) < 0) {
		return pfail(ps, ps->lineno,
			     "%s min_healthy: '%s' is not %s (0 would let silent hosts pass)",
			     where, value, COUNT_HINT);
	}
	return 1;
}

static int rollout_key(struct pparse *ps, int k, const char *value)
{
	struct fleet_plan *p = ps->p;

	if (k == R_HOSTS) {
		if (!path_ok(value))
			return pfail(ps, ps->lineno,
				     "[rollout] hosts: '%s' must be a path inside the repository "
				     "(relative, without '.' or '..'), e.g. fleet/hosts",
				     value);
		if (!(p->hosts_path = strdup(value)))
			return pfail(ps, ps->lineno, "out of memory");
		p->hosts_line = ps->lineno;
		return 1;
	}
	if (k == R_STALE_AFTER) {
		if (fleet_parse_duration(value, &p->stale_after) < 0 || p->stale_after == 0)
			return pfail(ps, ps->lineno,
				     "[rollout] stale_after: '%s' is not %s above 0", value,
				     DURATION_HINT);
		return 1;
	}
	return set_common(ps, "[rollout]", rollout_keys[k], value, &p->soak, &p->max_failures,
			  &p->min_healthy);
}

static int wave_key(struct pparse *ps, struct fleet_plan_wave *w, int k, const char *value,
		    const char *where)
{
	if (k == W_HOSTS) {
		if (!w->hosts_line)
			w->hosts_line = ps->lineno;
		return add_patterns(ps, w, value);
	}
	if (k == W_PERCENT) {
		if (parse_percent(value, &w->percent) < 0)
			return pfail(ps, ps->lineno,
				     "%s percent: '%s' is not a percentage from 1 to 100", where,
				     value);
		w->percent_line = ps->lineno;
		return 1;
	}
	return set_common(ps, where, wave_keys[k], value, &w->soak, &w->max_failures,
			  &w->min_healthy);
}

static int find_key(const char *const *names, int n, const char *key)
{
	for (int k = 0; k < n; k++)
		if (strcmp(names[k], key) == 0)
			return k;
	return -1;
}

static int phandler(void *user, const char *section, const char *key, const char *value)
{
	struct pparse *ps = user;
	bool wave = ps->section == S_WAVE;
	char where[FLEET_WAVE_NAME_MAX + 8];
	int k, *seen;

	(void)section; /* begin_section() tracks sections */
	if (ps->failed)
		return 1;
	if (ps->section == S_NONE)
		return pfail(ps, ps->lineno, "'%s' is outside a [rollout] or [wave NAME] section",
			     key);
	snprintf(where, sizeof(where), wave ? "[wave %s]" : "[rollout]",
		 wave ? ps->p->waves[ps->p->nwaves - 1].name : "");
	k = wave ? find_key(wave_keys, W_NKEYS, key) : find_key(rollout_keys, R_NKEYS, key);
	if (k < 0)
		return pfail(ps, ps->lineno, "%s %s: unknown key (%s)", where, key,
			     wave ? "a wave has hosts, percent, soak, max_failures, min_healthy"
				  : "[rollout] has hosts, soak, max_failures, stale_after, "
				    "min_healthy");
	seen = wave ? ps->wave_seen[ps->p->nwaves - 1] : ps->rollout_seen;
	if (seen[k] && !(wave && k == W_HOSTS))
		return pfail(ps, ps->lineno, "%s %s: set twice (first on line %d)", where, key,
			     seen[k]);
	if (!*value)
		return pfail(ps, ps->lineno, "%s %s: has no value", where, key);
	if (!no_control(value))
		return pfail(ps, ps->lineno, "%s %s: contains a control character", where, key);
	if (wave && ((k == W_HOSTS && seen[W_PERCENT]) || (k == W_PERCENT && seen[W_HOSTS])))
		return pfail(ps, ps->lineno,
			     "%s %s: a wave selects by hosts or by percent, not both (the other "
			     "is on line %d)",
			     where, key, seen[k == W_HOSTS ? W_PERCENT : W_HOSTS]);
	if (!seen[k])
		seen[k] = ps->lineno;
	return wave ? wave_key(ps, &ps->p->waves[ps->p->nwaves - 1], k, value, where)
		    : rollout_key(ps, k, value);
}

static char *pline_reader(char *str, int num, void *stream)
{
	struct pparse *ps = stream;
	char why[64];
	char *line = ini_lines_next(&ps->lines, str, num, why, sizeof(why));

	ps->lineno = ps->lines.lineno;
	if (!line)
		return NULL;
	if (why[0]) {
		pfail(ps, ps->lineno, "%s", why);
		return line;
	}
	/* Without leading blanks inih sees no continuation lines: an indented
	 * "soak = 5m" under "hosts = ..." stays a key of its own. */
	if (ps->lineno == 1 && strncmp(str, "\xEF\xBB\xBF", 3) == 0)
		memmove(str, str + 3, strlen(str + 3) + 1); /* a UTF-8 BOM */
	memmove(str, str + strspn(str, " \t"), strlen(str + strspn(str, " \t")) + 1);
	if (str[0] == '[')
		begin_section(ps, str);
	return line;
}

/* What the file says, checked as a whole; [rollout] defaults go to the waves. */
static int finish(struct pparse *ps)
{
	struct fleet_plan *p = ps->p;

	if (!ps->rollout_line)
		return err_set(ps->e,
			       "%s:1: no [rollout] section; a plan starts with [rollout] and "
			       "hosts = PATH of the hosts file",
			       ps->name);
	if (!p->hosts_path)
		return err_set(ps->e,
			       "%s:%d: [rollout] hosts is required: the path of the fleet's hosts "
			       "file in the repository, e.g. hosts = fleet/hosts",
			       ps->name, ps->rollout_line);
	if (p->nwaves == 0)
		return err_set(ps->e, "%s:%d: the plan has no [wave NAME] section", ps->name,
			       ps->rollout_line);
	if (!ps->rollout_seen[R_SOAK])
		p->soak = FLEET_DEFAULT_SOAK;
	if (!ps->rollout_seen[R_STALE_AFTER])
		p->stale_after = FLEET_DEFAULT_STALE_AFTER;
	if (!ps->rollout_seen[R_MIN_HEALTHY])
		p->min_healthy = (struct fleet_count){1, false};
	for (size_t i = 0; i < p->nwaves; i++) {
		struct fleet_plan_wave *w = &p->waves[i];
		const int *seen = ps->wave_seen[i];
		if (!seen[W_SOAK])
			w->soak = p->soak;
		if (!seen[W_MAX_FAILURES])
			w->max_failures = p->max_failures;
		if (!seen[W_MIN_HEALTHY])
			w->min_healthy = p->min_healthy;
	}
	return (p->source = strdup(ps->name)) ? 0 : err_set(ps->e, "out of memory");
}

int fleet_plan_parse(struct fleet_plan *p, const char *name, const char *text, size_t len,
		     struct err *e)
{
	struct pparse *ps;
	int rc;

	memset(p, 0, sizeof(*p));
	if (len > FLEET_PLAN_MAX_BYTES)
		return err_set(e, "%s: larger than %d bytes", name, FLEET_PLAN_MAX_BYTES);
	ps = calloc(1, sizeof(*ps));
	p->waves = calloc(FLEET_PLAN_MAX_WAVES, sizeof(*p->waves));
	if (!ps || !p->waves) {
		free(ps);
		fleet_plan_release(p);
		return err_set(e, "out of memory");
	}
	*ps = (struct pparse){.p = p, .name = name, .lines = {.text = text, .len = len}, .e = e};
	rc = ini_parse_stream(pline_reader, ps, phandler, ps);
	if (!ps->failed && rc != 0)
		err_set(e, "%s:%d: not a 'key = value' line or a [section] header", name, rc);
	if (ps->failed || rc != 0 || finish(ps) < 0) {
		free(ps);
		fleet_plan_release(p);
		return -1;
	}
	free(ps);
	return 0;
}

void fleet_plan_release(struct fleet_plan *p)
{
	for (size_t i = 0; p->waves && i < p->nwaves; i++) {
		for (size_t j = 0; j < p->waves[i].npatterns; j++)
			free(p->waves[i].patterns[j]);
		free(p->waves[i].patterns);
		free(p->waves[i].pattern_lines);
	}
	free(p->waves);
	free(p->source);
	free(p->hosts_path);
	memset(p, 0, sizeof(*p));
}
