/* cim-agent check-config [--syntax-only] */
#include "agent/cli.h"
#include "agent/config.h"
#include "agent/config_check.h"

#include <getopt.h>
#include <stdio.h>

int cmd_check_config_parse(int argc, char **argv, struct cli_call *call)
{
	static const struct option opts[] = {{"syntax-only", no_argument, NULL, 's'},
					     {NULL, 0, NULL, 0}};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 's')
			return -1;
		call->syntax_only = true;
	}
	call->argc = argc - optind;
	call->argv = argv + optind;
	return 0;
}

static void print_problem(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "cim-agent: %s\n", msg);
}

int cmd_check_config(struct cli_call *call)
{
	int problems = 0;

	config_print(call->cfg, stdout);
	if (!call->syntax_only)
		problems = config_check_host(call->cfg, print_problem, NULL);
	if (problems) {
		fprintf(stderr,
			"cim-agent: %s: %d problem%s on this host (--syntax-only checks only the "
			"file)\n",
			call->config_path, problems, problems == 1 ? "" : "s");
		return EXIT_USAGE;
	}
	fprintf(stderr, "cim-agent: %s is valid%s\n", call->config_path,
		call->syntax_only ? " (syntax only: files not checked)" : "");
	return 0;
}
