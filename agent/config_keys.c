#include "agent/config_keys.h"

#include "agent/config.h"

#include <stddef.h>

#define K(sec, field, key, type, req, def)                                                         \
	{                                                                                          \
#sec, key, type, offsetof(struct config, sec.field), req, def, NULL                \
	}
#define E(sec, field, key, names, def)                                                             \
	{                                                                                          \
#sec, key, T_ENUM, offsetof(struct config, sec.field), false, def, names           \
	}

static const char *const verify_names[] = {[VERIFY_TIP] = "tip", [VERIFY_ALL] = "all", NULL};
static const char *const signer_names[] = {
    [SIGNER_COMMITTER] = "committer", [SIGNER_ANY] = "any", NULL};
static const char *const mode_names[] = {
    [MODE_SWITCH] = "switch", [MODE_BOOT] = "boot", [MODE_BUILD] = "build", NULL};
static const char *const platform_names[] = {[PLATFORM_NIXOS] = "nixos",
					     [PLATFORM_DARWIN] = "darwin",
					     [PLATFORM_SYSTEM_MANAGER] = "system-manager",
					     [PLATFORM_PROFILE] = "profile",
					     NULL};
static const char *const source_names[] = {
    [SOURCE_BUILD] = "build", [SOURCE_CACHE] = "cache", NULL};

const char *config_platform_name(enum platform p)
{
	return platform_names[p];
}

const char *config_mode_name(enum agent_mode m)
{
	return mode_names[m];
}

const struct key config_keys[] = {
    K(agent, hostname, "hostname", T_STRING, false, NULL),
    K(agent, state_dir, "state_dir", T_PATH, false, "/var/lib/cim-agent"),
    K(agent, poll_interval, "poll_interval", T_DURATION, false, "60s"),
    K(agent, poll_jitter, "poll_jitter", T_DURATION, false, "10s"),
    E(agent, mode, "mode", mode_names, "switch"),
    K(agent, status_group, "status_group", T_STRING, false, "cim-agent"),
    K(repo, url, "url", T_URL, true, NULL),
    K(repo, branch, "branch", T_STRING, false, "main"),
    K(repo, allowed_signers, "allowed_signers", T_PATH, true, NULL),
    E(repo, verify, "verify", verify_names, "tip"),
    E(repo, signer, "signer", signer_names, "committer"),
    K(repo, token_file, "token_file", T_PATH, false, NULL),
    K(repo, ssh_key, "ssh_key", T_PATH, false, NULL),
    K(repo, known_hosts, "known_hosts", T_PATH, false, NULL),
    K(repo, fetch_timeout, "fetch_timeout", T_DURATION, false, "120s"),
    E(nix, platform, "platform", platform_names, "nixos"),
    K(nix, attr, "attr", T_STRING, false, NULL),
    K(nix, profile, "profile", T_PATH, false, NULL),
    K(nix, nix, "nix", T_STRING, false, "nix"),
    K(nix, build_args, "build_args", T_STRING, false, NULL),
    K(nix, build_timeout, "build_timeout", T_DURATION, false, "1h"),
    K(nix, current_system, "current_system", T_PATH, false, "/run/current-system"),
    E(nix, source, "source", source_names, "build"),
    K(nix, deploy_file, "deploy_file", T_STRING, false, "deploy/hosts.json"),
    K(health, timeout, "timeout", T_DURATION, false, "120s"),
    K(health, interval, "interval", T_DURATION, false, "5s"),
    K(health, settle, "settle", T_DURATION, false, "30s"),
    K(health, systemd, "systemd", T_BOOL, false, "no"),
    K(health, url, "url", T_LIST, false, NULL),
    K(health, expect_status, "expect_status", T_UINT, false, NULL),
    K(health, command, "command", T_LIST, false, NULL),
    K(health, remote, "remote", T_BOOL, false, "no"),
    K(secrets, identity, "identity", T_LIST, false, SECRETS_DEFAULT_IDENTITY),
    K(secrets, manifest, "manifest", T_STRING, false, "secrets/secrets.conf"),
    K(secrets, dir, "dir", T_PATH, false, "/run/cim-agent/secrets"),
    K(secrets, allow_persistent, "allow_persistent", T_BOOL, false, "no"),
    K(report, url, "url", T_URL, false, NULL),
    K(report, hmac_key_file, "hmac_key_file", T_PATH, false, NULL),
    K(report, metrics_file, "metrics_file", T_PATH, false, NULL),
    K(report, command, "command", T_STRING, false, NULL),
    K(report, timeout, "timeout", T_DURATION, false, "10s"),
    K(report, outbox_max, "outbox_max", T_UINT, false, "1000"),
    K(fleet, name, "name", T_STRING, false, NULL),
    K(fleet, nats_url, "nats_url", T_LIST, false, NULL),
    K(fleet, nats_creds_file, "nats_creds_file", T_PATH, false, NULL),
    K(fleet, nats_ca_file, "nats_ca_file", T_PATH, false, NULL),
    K(fleet, nats_cert_file, "nats_cert_file", T_PATH, false, NULL),
    K(fleet, nats_key_file, "nats_key_file", T_PATH, false, NULL),
    K(fleet, bucket, "bucket", T_STRING, false, "cim-fleet"),
    K(fleet, plan, "plan", T_STRING, false, "rollout.conf"),
    K(fleet, host_key, "host_key", T_PATH, false, NULL),
    K(fleet, trigger_subject, "trigger_subject", T_STRING, false, "cim.fleet.trigger"),
    K(fleet, trigger_spread, "trigger_spread", T_DURATION, false, "10s"),
};

const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);
_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) <= CONFIG_MAX_KEYS,
	       "raise CONFIG_MAX_KEYS");
