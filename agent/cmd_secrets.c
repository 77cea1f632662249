/* cim-agent secrets decrypt|recipient|install|activate|rollback|commit */
#include "agent/cli.h"
#include "agent/config.h"
#include "agent/secrets_step.h"
#include "base/err.h"
#include "base/fileio.h"
#include "agent/lock.h"
#include "secrets/activate.h"
#include "secrets/age.h"
#include "secrets/identity.h"
#include "secrets/install.h"
#include "secrets/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRETS_USAGE                                                                              \
	"usage: cim-agent [-c CONFIG] secrets decrypt [-i IDENTITY]... [--passphrase-file F] "     \
	"FILE\n"                                                                                   \
	"       cim-agent secrets recipient [-i KEY]...\n"                                         \
	"       cim-agent [-c CONFIG] secrets install --repo DIR\n"                                \
	"       cim-agent [-c CONFIG] secrets activate MANIFEST\n"                                 \
	"       cim-agent [-c CONFIG] secrets rollback|commit\n"

static int usage_error(const char *what)
{
	if (what)
		fprintf(stderr, "cim-agent: secrets: %s\n", what);
	fputs(SECRETS_USAGE, stderr);
	return EXIT_USAGE;
}

static const struct option decrypt_options[] = {
    {"identity", required_argument, NULL, 'i'},
    {"passphrase-file", required_argument, NULL, 'p'},
    {NULL, 0, NULL, 0},
};

/* Without -i: the identities of the config, as the cycle uses them. */
static int load_configured_identities(struct age_identities *ids, const char *config_path)
{
	struct config cfg = {0};
	struct err e = {{0}};
	int rc = 0;

	if (config_load(&cfg, config_path, &e) < 0) {
		fprintf(stderr,
			"cim-agent: secrets: decrypt needs -i IDENTITY, --passphrase-file, or a "
			"config with [secrets] identity: %s\n",
			e.msg);
		rc = usage_error(NULL);
	}
	for (size_t i = 0; rc == 0 && i < cfg.secrets.identity.n; i++)
		if (identity_load_file(ids, cfg.secrets.identity.v[i], &e) < 0) {
			fprintf(stderr, "cim-agent: [secrets] identity: %s\n", e.msg);
			rc = EXIT_USAGE;
		}
	if (rc == 0 && cfg.secrets.identity.n == 0)
		rc = usage_error("decrypt needs -i IDENTITY, --passphrase-file, or [secrets] "
				 "identity in the config");
	config_release(&cfg);
	return rc;
}

static int secrets_decrypt(int argc, char **argv, const char *config_path)
{
	struct age_identities ids = {0};
	struct err e = {{0}};
	enum age_status st;
	struct age_source src = {.fd = -1};
	int out_fd = STDOUT_FILENO, c, have_any = 0;

	if (identity_sodium_init(&e) < 0) {
		fprintf(stderr, "cim-agent: %s\n", e.msg);
		return EXIT_REFUSED;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:", decrypt_options, NULL)) != -1) {
		int rc = 0;
		if (c == 'i')
			rc = identity_load_file(&ids, optarg, &e);
		else if (c == 'p')
			rc = identity_load_passphrase(&ids, optarg, &e);
		else {
			identities_release(&ids);
			return usage_error(NULL);
		}
		if (rc < 0) {
			fprintf(stderr, "cim-agent: %s\n", e.msg);
			identities_release(&ids);
			return EXIT_USAGE;
		}
		have_any = 1;
	}
	if (optind != argc - 1) {
		identities_release(&ids);
		return usage_error("decrypt takes one FILE");
	}
	if (!have_any && (c = load_configured_identities(&ids, config_path)) != 0) {
		identities_release(&ids);
		return c;
	}
	if (strcmp(argv[optind], "-") == 0)
		src.fd = STDIN_FILENO;
	else
		src.fd = open(argv[optind], O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (src.fd < 0) {
		fprintf(stderr, "cim-agent: %s: %s\n", argv[optind], strerror(errno));
		identities_release(&ids);
		return EXIT_REFUSED;
	}
	st = age_decrypt(&src, age_write_fd, &out_fd, &ids, &e);
	if (src.fd != STDIN_FILENO)
		close(src.fd);
	identities_release(&ids);
	if (st != AGE_OK) {
		fprintf(stderr, "cim-agent: %s: %s\n", argv[optind], e.msg);
		return EXIT_REFUSED;
	}
	return 0;
}

/* Prints the recipient strings of one key file; a public key file
 * ("ssh-ed25519 AAAA... comment") is echoed in its canonical two-field form. */
static int print_recipients(const char *path)
{
	struct age_identities ids = {0};
	struct err e = {{0}};
	char *text;
	size_t len;

	if (file_read_capped(path, IDENTITY_FILE_MAX, &text, &len, &e) < 0) {
		fprintf(stderr, "cim-agent: %s\n", e.msg);
		return EXIT_USAGE;
	}
	if (strncmp(text, "ssh-ed25519 ", 12) == 0) {
		size_t n = strcspn(text + 12, " \t\r\n");
		printf("ssh-ed25519 %.*s\n", (int)n, text + 12);
		free(text);
		return 0;
	}
	if (identity_parse(&ids, path, text, len, &e) < 0) {
		sodium_memzero(text, len);
		free(text);
		fprintf(stderr, "cim-agent: %s\n", e.msg);
		return EXIT_USAGE;
	}
	sodium_memzero(text, len);
	free(text);
	for (size_t i = 0; i < ids.n; i++) {
		char age1[128], ssh[128];
		if (identity_recipient(ids.keys[i], age1, sizeof(age1), ssh, sizeof(ssh), &e) < 0) {
			fprintf(stderr, "cim-agent: %s\n", e.msg);
			identities_release(&ids);
			return EXIT_REFUSED;
		}
		if (*ssh)
			printf("%s\n", ssh);
		if (*age1)
			printf("%s\n", age1);
	}
	identities_release(&ids);
	return 0;
}

static int secrets_recipient(int argc, char **argv, const char *config_path)
{
	const char *keys[CONFIG_MAX_LIST];
	size_t nkeys = 0;
	struct config cfg = {0};
	int c, rc = 0, have_cfg = 0;
	struct err e = {{0}};

	if (identity_sodium_init(&e) < 0) {
		fprintf(stderr, "cim-agent: %s\n", e.msg);
		return EXIT_REFUSED;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:", decrypt_options, NULL)) != -1) {
		if (c != 'i')
			return usage_error(NULL);
		if (nkeys == CONFIG_MAX_LIST)
			return usage_error("too many -i");
		keys[nkeys++] = optarg;
	}
	if (optind != argc)
		return usage_error("recipient takes no operands");
	if (nkeys == 0) {
		rc = cli_load_config(&cfg, config_path);
		if (rc)
			return rc;
		have_cfg = 1;
		for (size_t i = 0; i < cfg.secrets.identity.n; i++)
			keys[nkeys++] = cfg.secrets.identity.v[i];
	}
	for (size_t i = 0; i < nkeys && rc == 0; i++)
		rc = print_recipients(keys[i]);
	if (have_cfg)
		config_release(&cfg);
	return rc;
}

static const struct option manage_options[] = {
    {"repo", required_argument, NULL, 'r'},
    {NULL, 0, NULL, 0},
};

static int secrets_install_repo(const struct config *cfg, char *repo)
{
	struct err e = {{0}};
	unsigned gen = 0;
	size_t count = 0;

	if (secrets_step_install_from(cfg, secrets_dir_read_blob, repo, true, false, &gen, &count,
				      &e) < 0) {
		fprintf(stderr, "cim-agent: secrets install: %s\n", e.msg);
		return EXIT_REFUSED;
	}
	fprintf(stderr, "cim-agent: installed %zu secret%s for %s as generation %u in %s\n", count,
		count == 1 ? "" : "s", cfg->agent.hostname, gen, cfg->secrets.dir);
	return 0;
}

/* Back to the generation before the current one; without one, nothing
 * changes: removing the secrets would take them from the running system. */
static int secrets_rollback_older(const struct config *cfg, struct err *e)
{
	unsigned gen = 0, current = 0;

	if (secrets_current(cfg->secrets.dir, &current, e) < 0 ||
	    secrets_previous(cfg->secrets.dir, &gen, e) < 0)
		return EXIT_REFUSED;
	if (current && !gen) {
		err_set(e,
			"%s: there is no older generation than %u to roll back to; nothing changed",
			cfg->secrets.dir, current);
		return EXIT_REFUSED;
	}
	if (secrets_rollback(cfg->secrets.dir, &gen, e) < 0)
		return EXIT_REFUSED;
	fprintf(stderr, "cim-agent: %s is back at generation %u\n", cfg->secrets.dir, gen);
	return 0;
}

static int secrets_manage(int argc, char **argv, const char *config_path)
{
	const char *verb = argv[0];
	char *repo = NULL;
	struct config cfg = {0};
	struct err e = {{0}};
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", manage_options, NULL)) != -1) {
		if (c != 'r' || strcmp(verb, "install") != 0)
			return usage_error(NULL);
		repo = optarg;
	}
	if (optind != argc)
		return usage_error("unexpected operand");
	if (strcmp(verb, "install") == 0 && !repo)
		return usage_error("install needs --repo DIR");
	rc = cli_load_config(&cfg, config_path);
	if (rc)
		return rc;
	/* The daemon's cycle switches generations too: never both at once. */
	int lock_fd = -1;
	if (dir_create(cfg.agent.state_dir, 0700, &e) < 0 ||
	    (lock_fd = lock_acquire(cfg.agent.state_dir, LOCK_WAIT_SECONDS, &e)) < 0) {
		fprintf(stderr, "cim-agent: secrets %s: %s\n", verb, e.msg);
		config_release(&cfg);
		return EXIT_REFUSED;
	}
	if (strcmp(verb, "install") == 0) {
		rc = secrets_install_repo(&cfg, repo);
	} else if (strcmp(verb, "rollback") == 0) {
		rc = secrets_rollback_older(&cfg, &e);
	} else {
		rc = secrets_commit(cfg.secrets.dir, &e) < 0 ? EXIT_REFUSED : 0;
	}
	if (rc == EXIT_REFUSED && e.msg[0])
		fprintf(stderr, "cim-agent: secrets %s: %s\n", verb, e.msg);
	lock_release(lock_fd);
	config_release(&cfg);
	return rc;
}

/* The activation snippet's command. It takes no lock: the agent holds its
 * lock while it activates a system, whose snippet runs this; two activations
 * at once cannot share a generation (mkdir of a new one fails). */
static int secrets_activate_manifest(int argc, char **argv, const char *config_path)
{
	struct age_identities ids = {0};
	struct config cfg = {0};
	struct err e = {{0}};
	unsigned gen = 0;
	size_t count = 0;
	int rc;

	if (argc != 2)
		return usage_error("activate takes one MANIFEST");
	rc = cli_load_config(&cfg, config_path);
	if (rc)
		return rc;
	const struct secrets_activate_opts o = {
	    .dir = cfg.secrets.dir,
	    .allow_persistent = cfg.secrets.allow_persistent,
	    .ids = &ids,
	};
	rc = EXIT_REFUSED;
	if (identity_sodium_init(&e) < 0)
		goto out;
	for (size_t i = 0; i < cfg.secrets.identity.n; i++)
		if (identity_load_file(&ids, cfg.secrets.identity.v[i], &e) < 0)
			goto out;
	if (secrets_activate(argv[1], &o, &gen, &count, &e) < 0)
		goto out;
	fprintf(stderr, "cim-agent: installed %zu secret%s as generation %u in %s\n", count,
		count == 1 ? "" : "s", gen, cfg.secrets.dir);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "cim-agent: secrets activate: %s\n", e.msg);
	identities_release(&ids);
	config_release(&cfg);
	return rc;
}

int cmd_secrets(struct cli_call *call)
{
	int argc = call->argc;
	char **argv = call->argv;
	const char *config_path = call->config_path;

	if (argc < 2)
		return usage_error(NULL);
	if (strcmp(argv[1], "decrypt") == 0)
		return secrets_decrypt(argc - 1, argv + 1, config_path);
	if (strcmp(argv[1], "recipient") == 0)
		return secrets_recipient(argc - 1, argv + 1, config_path);
	if (strcmp(argv[1], "activate") == 0)
		return secrets_activate_manifest(argc - 1, argv + 1, config_path);
	if (strcmp(argv[1], "install") == 0 || strcmp(argv[1], "rollback") == 0 ||
	    strcmp(argv[1], "commit") == 0)
		return secrets_manage(argc - 1, argv + 1, config_path);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(SECRETS_USAGE, stdout);
		return 0;
	}
	return usage_error("unknown secrets command");
}
