/* [fleet] of agent.conf: the checks that need every key read, and the keys
 * that are gone. The key rows themselves are in agent/config.c. */
#include "agent/config.h"

#include "base/err.h"

#include <stdlib.h>
#include <string.h>

bool config_fleet_enabled(const struct config *cfg)
{
	return cfg->fleet.nats_url.n > 0;
}

const char *config_removed_key(const char *section, const char *key)
{
	if (strcmp(section, "fleet") == 0 && strcmp(key, "wave") == 0)
		return "the key is gone: the plan decides (rollout.conf in the repository assigns "
		       "each host its wave); remove this line";
	return NULL;
}

/* nats://host:port or tls://host:port (an optional user:password@ before
 * the host), one server each. */
static int check_url(const char *file, const char *url, struct err *e)
{
	const char *rest = NULL;

	if (strncmp(url, "nats://", 7) == 0 || strncmp(url, "tls://", 6) == 0)
		rest = strstr(url, "://") + 3;
	if (!rest || !*rest || strchr(rest, ',') || strchr(rest, ' ') || strchr(rest, '/'))
		return err_set(e,
			       "%s: [fleet] nats_url: '%.200s' is not one NATS server URL; write "
			       "nats://host:4222 or tls://host:4222, one nats_url line per server",
			       file, url);
	return 0;
}

static bool bucket_name_ok(const char *b)
{
	return strlen(b) <= 64 &&
	       strspn(b, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
		   strlen(b);
}

/* A NATS subject: tokens of printable characters without wildcards. */
static bool subject_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 255 || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
		return false;
	for (const char *c = s; *c; c++)
		if (*c == ' ' || *c == '*' || *c == '>' || (unsigned char)*c >= 0x7f)
			return false;
	return true;
}

/* The plan's path: relative and clean, as [rollout] hosts is. */
static bool plan_path_ok(const char *p)
{
	if (p[0] == '/' || strlen(p) > 1024)
		return false;
	for (const char *seg = p; seg;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		if (len == 0 || (len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		seg = slash ? slash + 1 : NULL;
	}
	return true;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 253 || s[n - 1] == '.' || strstr(s, "..") ||
	    !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", s[0]))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int check_names(struct config *cfg, const char *file, struct err *e)
{
	struct fleet_settings *f = &cfg->fleet;

	if (!bucket_name_ok(f->bucket))
		return err_set(e,
			       "%s: [fleet] bucket: '%.100s' is not a bucket name; use letters, "
			       "digits, '_' and '-' (64 at most)",
			       file, f->bucket);
	if (!subject_ok(f->trigger_subject))
		return err_set(e,
			       "%s: [fleet] trigger_subject: '%.100s' is not a NATS subject; use "
			       "dot-separated tokens without spaces or wildcards, e.g. "
			       "cim.fleet.trigger",
			       file, f->trigger_subject);
	if (!plan_path_ok(f->plan))
		return err_set(e,
			       "%s: [fleet] plan: '%.100s' is not a path in the repository; give "
			       "a relative path without '.' or '..', e.g. rollout.conf",
			       file, f->plan);
	if (!name_ok(f->name))
		return err_set(e,
			       "%s: [fleet] name: '%.100s' cannot be a host of the fleet; use "
			       "letters, digits, '.', '_' and '-', starting with a letter or "
			       "digit (set [fleet] name when the hostname is not such a name)",
			       file, f->name);
	return 0;
}

int config_fleet_check(struct config *cfg, const char *file, struct err *e)
{
	struct fleet_settings *f = &cfg->fleet;
	bool other = f->name || f->nats_creds_file || f->nats_ca_file || f->nats_cert_file ||
		     f->nats_key_file || f->host_key;

	if (!config_fleet_enabled(cfg)) {
		if (other)
			return err_set(e,
				       "%s: [fleet] is set but nats_url is not; add nats_url = "
				       "nats://host:4222, or remove [fleet] to deploy alone",
				       file);
		return 0;
	}
	for (size_t i = 0; i < f->nats_url.n; i++)
		if (check_url(file, f->nats_url.v[i], e) < 0)
			return -1;
	if (f->nats_url.n > 16)
		return err_set(e, "%s: [fleet] nats_url: at most 16 servers", file);
	if (!f->nats_cert_file != !f->nats_key_file)
		return err_set(e,
			       "%s: [fleet] nats_cert_file and nats_key_file go together (a TLS "
			       "client certificate and its key); set both or neither",
			       file);
	if (!f->name && cfg->agent.hostname && !(f->name = strdup(cfg->agent.hostname)))
		return err_set(e, "out of memory");
	if (!f->host_key && cfg->secrets.identity.n &&
	    !(f->host_key = strdup(cfg->secrets.identity.v[0])))
		return err_set(e, "out of memory");
	if (!f->host_key)
		return err_set(e,
			       "%s: [fleet] host_key is not set and [secrets] has no identity; "
			       "name the host's ed25519 key (e.g. /etc/ssh/ssh_host_ed25519_key)",
			       file);
	return check_names(cfg, file, e);
}
