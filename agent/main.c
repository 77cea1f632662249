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

// clang-format off
static const struct cli_command commands[] = {
	/* name           usage                     parse             operands  config     git    run */
	{"check-config", "check-config",           NULL,                0, CLI_CONFIG,    false, cmd_check_config},
	{"fetch",        "fetch [--allow-rewind]", cmd_fetch_parse,     0, CLI_CONFIG,    true,  cmd_fetch},
	{"once",         "once",                   NULL,                0, CLI_CONFIG,    true,  cmd_once},
	/* the daemon loads its config itself: it reloads it on SIGHUP */
	{"run",          "run",                    NULL,                0, CLI_NO_CONFIG, true,  cmd_run},
	{"trigger",      "trigger",                NULL,                0, CLI_CONFIG,    false, cmd_trigger},
	{"status",       "status [--json]",        cmd_status_parse,    0, CLI_CONFIG,    false, cmd_status},
	{"history",      "history [--json] [-n N]", cmd_history_parse,  0, CLI_CONFIG,    false, cmd_history},
	{"retry",        "retry [COMMIT]",         NULL,                1, CLI_CONFIG,    true,  cmd_retry},
	{"rollback",     "rollback",               NULL,                0, CLI_CONFIG,    true,  cmd_rollback},
	{"fleet",        "fleet status [--json] | fleet trigger [COMMIT]",
	                                           NULL,               -1, CLI_CONFIG,    true,  cmd_fleet},
	{"rollout",      "rollout status [--json] [COMMIT]",
	                                           NULL,               -1, CLI_CONFIG,    true,  cmd_rollout},
	/* verify --repo and secrets decrypt|recipient need no config */
	{"verify", "verify [REV] | verify --repo PATH --allowed-signers FILE REV",
	                                           NULL,               -1, CLI_NO_CONFIG, true,  cmd_verify},
	{"secrets", "secrets decrypt|recipient|install|activate|rollback|commit ...",
	                                           NULL,               -1, CLI_NO_CONFIG, false, cmd_secrets},
};
// clang-format on

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

/* Checks the arguments, loads the config if the command needs it, runs it. */
static int dispatch(const struct cli_command *cmd, int argc, char **argv, const char *config_path)
{
	struct cli_call call = {
	    .config_path = config_path, .argc = argc, .argv = argv, .limit = 20};
	struct config cfg = {0};
	int rc;

	if (cmd->needs_git)
		pull_init();
	if (cmd->max_operands >= 0) {
		call.argc = argc - 1;
		call.argv = argv + 1;
		if ((cmd->parse && cmd->parse(argc, argv, &call) < 0) ||
		    call.argc > cmd->max_operands) {
			fprintf(stderr, "usage: cim-agent [-c FILE] %s\n", cmd->usage);
			return EXIT_USAGE;
		}
	}
	if (cmd->config == CLI_CONFIG) {
		rc = cli_load_config(&cfg, config_path);
		if (rc)
			return rc;
		call.cfg = &cfg;
	}
	rc = cmd->run(&call);
	if (call.cfg)
		config_release(&cfg);
	return rc;
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
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return dispatch(&commands[i], argc - 1, argv + 1, config_path);
	fprintf(stderr, "cim-agent: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
