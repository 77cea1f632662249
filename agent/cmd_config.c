/* cim-agent check-config */
#include "agent/cli.h"
#include "agent/config.h"

#include <stdio.h>

int cmd_check_config(struct cli_call *call)
{
	cli_warn_keyfiles(call->cfg);
	config_print(call->cfg, stdout);
	fprintf(stderr, "cim-agent: %s is valid\n", call->config_path);
	return 0;
}
