/* Subcommands of the cim-agent binary. The table in agent/main.c says, per
 * command, its usage, its options, how many operands it takes and whether it
 * needs the config; each returns the exit code: 0 success, 1 the operation
 * failed or was refused, 2 usage or config error. */
#ifndef CIM_CLI_H
#define CIM_CLI_H

#include <stdbool.h>

#define EXIT_REFUSED 1
#define EXIT_USAGE   2

struct config;

/* One call of a subcommand, as the table in agent/main.c prepared it. */
struct cli_call {
	const char *config_path;
	struct config *cfg; /* loaded when the row says CLI_CONFIG, else NULL */
	/* The operands after the options; for a row without an operand limit,
	 * argv as given (argv[0] the command's name). */
	int argc;
	char **argv;
	/* what a parse function found */
	bool json, allow_rewind;
	long limit;
};

enum cli_config_use {
	CLI_NO_CONFIG, /* the command loads one itself, if it needs one */
	CLI_CONFIG,    /* loaded before it runs, released after */
};

struct cli_command {
	const char *name;
	const char *usage;
	/* Reads the options into call (getopt from argv[1]); -1: a usage error.
	 * NULL: the command takes no options. */
	int (*parse)(int argc, char **argv, struct cli_call *call);
	int max_operands; /* more is a usage error; -1: the command checks */
	enum cli_config_use config;
	bool needs_git; /* initialise libgit2 first (it costs ~5 ms: it loads the CA bundle) */
	int (*run)(struct cli_call *call);
};

int cmd_check_config(struct cli_call *call);
int cmd_fetch(struct cli_call *call);
int cmd_fetch_parse(int argc, char **argv, struct cli_call *call);
int cmd_verify(struct cli_call *call);
int cmd_once(struct cli_call *call);
int cmd_retry(struct cli_call *call);
int cmd_rollback(struct cli_call *call);
int cmd_run(struct cli_call *call);
int cmd_trigger(struct cli_call *call);
int cmd_status(struct cli_call *call);
int cmd_status_parse(int argc, char **argv, struct cli_call *call);
int cmd_history(struct cli_call *call);
int cmd_history_parse(int argc, char **argv, struct cli_call *call);
int cmd_secrets(struct cli_call *call);
int cmd_fleet(struct cli_call *call); /* agent/cmd_fleet.c */
int cmd_rollout(struct cli_call *call);

/* The running daemon's pid (from state_dir/daemon.pid), 0 when none is alive. */
long daemon_running_pid(const struct config *cfg);

/* Loads the config or prints why not; returns 0 or EXIT_USAGE. */
int cli_load_config(struct config *cfg, const char *config_path);

/* Logs a warning for each credential file others can read (agent/keyfiles.h). */
void cli_warn_keyfiles(const struct config *cfg);

#endif
