/* cim-agent: entry point and subcommand dispatch. */
#include "agent/cli.h"
#include "agent/config.h"
#include "base/err.h"
#include "pull/pull.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_command commands[] = {
	{"check-config", cmd_check_config, "check-config", false},
	{"fetch", cmd_fetch, "fetch [--allow-rewind]", true},
	{"once", cmd_once, "once", true},
	{"run", cmd_run, "run", true},
	{"trigger", cmd_trigger, "trigger", false},
	{"status", cmd_status, "status [--json]", false},
	{"history", cmd_history, "history [--json] [-n N]", false},
	{"retry", cmd_retry, "retry [COMMIT]", true},
	{"rollback", cmd_rollback, "rollback", true},
	{"verify", cmd_verify, "verify [REV] | verify --repo PATH --allowed-signers FILE REV", true},
	{"secrets", cmd_secrets, "secrets decrypt|recipient|install|activate|rollback|commit ...", false},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: cim-agent [-c FILE] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  cim-agent %s\n", commands[i].usage);
	fprintf(out, "  cim-agent version\n\n-c FILE  configuration file (default %s)\n",
		CONFIG_DEFAULT_PATH);
}

/* Removes "-c FILE" wherever it stands so every command accepts it. */
static int take_config_option(int *argc, char **argv, const char **config_path)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "cim-agent: %s needs a file\n", argv[i]);
				return -1;
			}
			*config_path = argv[++i];
			continue;
		}
		if (strncmp(argv[i], "--config=", 9) == 0) {
			*config_path = argv[i] + 9;
			continue;
		}
		argv[out++] = argv[i];
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	const char *config_path = CONFIG_DEFAULT_PATH;

	/* An inherited SIG_IGN would make children vanish unreaped, and every
	 * build, activation and check would then look like a success. */
	signal(SIGCHLD, SIG_DFL);
	if (sodium_init() < 0) {
		fprintf(stderr, "cim-agent: libsodium failed to initialise\n");
		return EXIT_REFUSED;
	}

	if (take_config_option(&argc, argv, &config_path) < 0)
		return EXIT_USAGE;
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("cim-agent %s\n", CIM_VERSION);
		return 0;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		if (commands[i].needs_git)
			pull_init();
		return commands[i].run(argc - 1, argv + 1, config_path);
	}
	fprintf(stderr, "cim-agent: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
