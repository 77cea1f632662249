/* What pull/ is configured with: the [repo] section of agent.conf (the
 * agent's config.c fills it; README "Configuration" documents each key). */
#ifndef CIM_PULL_SETTINGS_H
#define CIM_PULL_SETTINGS_H

enum verify_mode { VERIFY_TIP, VERIFY_ALL };

/* Whose key may sign: committer (the principal of the key's allowed_signers
 * line must match the committer's email), or any allowed key, as git
 * verify-commit accepts (README "What is trusted"). */
enum signer_policy { SIGNER_COMMITTER, SIGNER_ANY };

struct pull_settings {
	char *url;
	char *branch;
	char *allowed_signers;
	enum verify_mode verify;
	enum signer_policy signer;
	char *token_file;	/* https: the token is the password */
	char *ssh_key;		/* ssh: private key of the deploy key */
	char *known_hosts;	/* ssh: required, the host key must be listed */
	unsigned fetch_timeout; /* seconds for the whole fetch, a hard limit */
};

#endif
