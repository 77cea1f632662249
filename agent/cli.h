/* Subcommands of the cim-agent binary. Each takes the arguments after its
 * name (argv[0] is the subcommand) and the -c path, and returns the exit code:
 * 0 success, 1 the operation failed or was refused, 2 usage or config error. */
#ifndef CIM_CLI_H
#define CIM_CLI_H

#include <stdbool.h>

#define EXIT_REFUSED 1
#define EXIT_USAGE   2

struct config;

struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv, const char *config_path);
	const char *usage;
	bool needs_git; /* initialise libgit2 first (it costs ~5 ms: it loads the CA bundle) */
};

int cmd_check_config(int argc, char **argv, const char *config_path);
int cmd_fetch(int argc, char **argv, const char *config_path);
int cmd_verify(int argc, char **argv, const char *config_path);
int cmd_once(int argc, char **argv, const char *config_path);
int cmd_retry(int argc, char **argv, const char *config_path);
int cmd_rollback(int argc, char **argv, const char *config_path);
int cmd_run(int argc, char **argv, const char *config_path);
int cmd_trigger(int argc, char **argv, const char *config_path);
int cmd_status(int argc, char **argv, const char *config_path);
int cmd_history(int argc, char **argv, const char *config_path);

/* The running daemon's pid (from state_dir/daemon.pid), 0 when none is alive. */
long daemon_running_pid(const struct config *cfg);

int cmd_secrets(int argc, char **argv, const char *config_path);

/* Loads the config or prints why not; returns 0 or EXIT_USAGE. */
int cli_load_config(struct config *cfg, const char *config_path);

/* Logs a warning for each credential file others can read (agent/keyfiles.h). */
void cli_warn_keyfiles(const struct config *cfg);

#endif
