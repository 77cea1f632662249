/* The agent's configuration file (INI, /etc/cim-agent/agent.conf by default).
 * Every key is declared in one table in config.c; unknown sections or keys,
 * bad values and missing required keys are errors naming file, line and key. */
#ifndef CIM_CONFIG_H
#define CIM_CONFIG_H

#include "apply/settings.h"
#include "pull/settings.h"
#include "secrets/settings.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct err;

/* [fleet]: see README "Staged rollouts"; checked by config_fleet_check(). */
struct fleet_settings {
	char *name;		 /* this host in the hosts file and the bucket; default hostname */
	struct strlist nats_url; /* nats://host:port or tls://host:port, repeatable */
	char *nats_creds_file;	 /* .creds (user JWT and NKey seed) */
	char *nats_ca_file;	 /* TLS */
	char *nats_cert_file;	 /* TLS client certificate and its key */
	char *nats_key_file;
	char *bucket;		 /* the JetStream key-value bucket */
	char *plan;		 /* the plan's path in the repository */
	char *host_key;		 /* signs the reports; default the first [secrets] identity */
	char *trigger_subject;	 /* where `cim-agent fleet trigger` publishes */
	unsigned trigger_spread; /* seconds a triggered fetch is spread over */
};

#define CONFIG_DEFAULT_PATH "/etc/cim-agent/agent.conf"
#define CONFIG_MAX_BYTES    (64 * 1024)
#define CONFIG_MAX_LIST	    STRLIST_MAX
/* The longest [nix] deploy_file, a path inside the repository. */
#define CONFIG_DEPLOY_FILE_MAX 1024
/* check-config refuses a poll_interval below this (seconds); loading refuses 0. */
#define CONFIG_POLL_FLOOR 5

enum agent_mode { MODE_SWITCH, MODE_BOOT, MODE_BUILD };

/* One member per section, named as the section; the layers below own the
 * types of theirs. */
struct config {
	char *path; /* the file it was read from */
	struct {
		char *hostname;
		char *state_dir;
		unsigned poll_interval; /* seconds */
		unsigned poll_jitter;	/* seconds */
		enum agent_mode mode;
		char *status_group; /* may read state_dir (cim-agent status) */
	} agent;
	struct pull_settings repo;
	struct nix_settings nix;
	struct health_settings health;
	struct {
		char *url;	     /* webhook receiving the state as JSON */
		char *hmac_key_file; /* signs the body: X-Cim-Signature: sha256=<hex> */
		char *metrics_file;  /* Prometheus textfile collector output */
		char *command;	     /* hook run after each deployment */
		unsigned timeout;    /* seconds per webhook POST */
		unsigned outbox_max; /* undelivered reports kept */
	} report;
	struct secrets_settings secrets;
	/* Staged rollouts (agent/fleet_*.c); off without nats_url. */
	struct fleet_settings fleet;
};

/* Reads and validates path into cfg (which must be zeroed). On failure cfg
 * holds nothing to free beyond what config_release() frees. */
int config_load(struct config *cfg, const char *path, struct err *e);

/* Parses an in-memory file (name is used in messages only). */
int config_parse(struct config *cfg, const char *name, const char *text, size_t len, struct err *e);

/* Prints the effective configuration, defaults included, as INI; credentials
 * embedded in URLs are shown as <redacted>. */
void config_print(const struct config *cfg, FILE *out);

const char *config_platform_name(enum platform p);
const char *config_mode_name(enum agent_mode m);
/* True when [fleet] nats_url is set: the agent takes part in staged rollouts. */
bool config_fleet_enabled(const struct config *cfg);

/* The [fleet] checks once every key is read (agent/config_fleet.c): defaults
 * that depend on other sections, URLs, names. name is the file, for messages. */
int config_fleet_check(struct config *cfg, const char *name, struct err *e);

/* A key that is no longer accepted, with the fix; NULL when key is not one. */
const char *config_removed_key(const char *section, const char *key);

/* Replaces every "{host}" in tmpl with host; returns a heap string, NULL
 * when out of memory. */
char *config_expand_host(const char *tmpl, const char *host);

/* Parses "90", "90s", "5m", "1h30m" into seconds. */
int config_parse_duration(const char *text, unsigned *seconds);

void config_release(struct config *cfg);

#endif
