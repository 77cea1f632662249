/* The agent's configuration file (INI, /etc/cim-agent/agent.conf by default).
 * Every key is declared in one table in config.c; unknown sections or keys,
 * bad values and missing required keys are errors naming file, line and key. */
#ifndef CIM_CONFIG_H
#define CIM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct err;

#define CONFIG_DEFAULT_PATH "/etc/cim-agent/agent.conf"
#define CONFIG_MAX_BYTES    (64 * 1024)
#define CONFIG_MAX_LIST     32

enum verify_mode { VERIFY_TIP, VERIFY_ALL };
enum agent_mode { MODE_SWITCH, MODE_BOOT, MODE_BUILD };
enum platform { PLATFORM_NIXOS, PLATFORM_DARWIN, PLATFORM_SYSTEM_MANAGER, PLATFORM_PROFILE };

/* A repeatable key: each occurrence appends one value. */
struct config_list {
	char *v[CONFIG_MAX_LIST];
	size_t n;
};

struct config {
	char *path; /* the file it was read from */
	struct {
		char *hostname;
		char *state_dir;
		unsigned poll_interval; /* seconds */
		unsigned poll_jitter;   /* seconds */
		enum agent_mode mode;
		char *status_group; /* may read state_dir (cim-agent status) */
	} agent;
	struct {
		char *url;
		char *branch;
		char *allowed_signers;
		enum verify_mode verify;
		char *token_file;
		char *ssh_key;
		char *known_hosts;
		unsigned fetch_timeout; /* seconds */
	} repo;
	struct {
		enum platform platform;
		char *attr;    /* defaults per platform, {host} replaced */
		char *profile; /* defaults per platform; required for "profile" */
		char *nix;     /* the nix binary */
		char *build_args;
		unsigned build_timeout;
		char *current_system; /* the running system's link (nixos, darwin) */
	} nix;
	struct {
		unsigned timeout;  /* seconds for all checks to pass */
		unsigned interval; /* seconds between attempts */
		unsigned settle;   /* seconds they must then keep passing */
		bool systemd;      /* no unit in the failed state */
		struct config_list url;
		unsigned expect_status; /* 0: any 2xx */
		struct config_list command;
		bool remote; /* the git remote is still reachable */
	} health;
	struct {
		char *url;           /* webhook receiving the state as JSON */
		char *hmac_key_file; /* signs the body: X-Cim-Signature: sha256=<hex> */
		char *metrics_file;  /* Prometheus textfile collector output */
		char *command;       /* hook run after each deployment */
		unsigned timeout;    /* seconds per webhook POST */
		unsigned outbox_max; /* undelivered reports kept */
	} report;
	struct {
		struct config_list identity; /* default SECRETS_DEFAULT_IDENTITY */
		char *manifest;              /* path inside the repository */
		char *dir;                   /* the symlink to the current generation */
		bool allow_persistent;       /* allow a dir not on tmpfs/ramfs */
	} secrets;
	/* Validated, but staged rollouts are not implemented yet: see README. */
	struct {
		char *name;
		unsigned wave;
		char *nats_url;
		char *nats_creds_file;
	} fleet;
};

#define SECRETS_DEFAULT_IDENTITY "/etc/ssh/ssh_host_ed25519_key"

/* Reads and validates path into cfg (which must be zeroed). On failure cfg
 * holds nothing to free beyond what config_release() frees. */
int config_load(struct config *cfg, const char *path, struct err *e);

/* Parses an in-memory file (name is used in messages only). */
int config_parse(struct config *cfg, const char *name, const char *text, size_t len,
		 struct err *e);

/* Prints the effective configuration, defaults included, as INI; credentials
 * embedded in URLs are shown as <redacted>. */
void config_print(const struct config *cfg, FILE *out);

const char *config_platform_name(enum platform p);
const char *config_mode_name(enum agent_mode m);

/* Parses "90", "90s", "5m", "1h30m" into seconds. */
int config_parse_duration(const char *text, unsigned *seconds);

void config_release(struct config *cfg);

#endif
