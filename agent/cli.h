/* Subcommands of the cim-agent binary. Each takes the arguments after its
 * name (argv[0] is the subcommand) and the -c path, and returns the exit code:
 * 0 success, 1 the operation failed or was refused, 2 usage or config error. */
#ifndef CIM_CLI_H
#define CIM_CLI_H

#define EXIT_REFUSED 1
#define EXIT_USAGE   2

struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv, const char *config_path);
	const char *usage;
};

int cmd_check_config(int argc, char **argv, const char *config_path);
int cmd_fetch(int argc, char **argv, const char *config_path);
int cmd_verify(int argc, char **argv, const char *config_path);
int cmd_secrets(int argc, char **argv, const char *config_path);

/* Loads the config or prints why not; returns 0 or EXIT_USAGE. */
struct config;
int cli_load_config(struct config *cfg, const char *config_path);

#endif
