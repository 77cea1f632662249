/* What check-config checks beyond the syntax: that the host has what the
 * configuration names (README "Configuration", check-config). */
#ifndef CIM_CONFIG_CHECK_H
#define CIM_CONFIG_CHECK_H

struct config;

/* Checks the files (allowed_signers, known_hosts, token_file, ssh_key,
 * hmac_key_file, nats_creds_file, each identity: present, readable, parsed
 * where the agent parses them, not readable by others when secret, not
 * writable by others when they hold trust), the profile's parent directory,
 * a local repository path, known_hosts for an ssh URL and the poll_interval
 * floor. Calls problem(ctx, message) for each problem, a message that names
 * the key and the fix; returns how many there were. */
int config_check_host(const struct config *cfg, void (*problem)(void *ctx, const char *msg),
		      void *ctx);

#endif
