/* cim-agent check-config */
#include "agent/cli.h"
#include "agent/config.h"

#include <stdio.h>

int cmd_check_config(int argc, char **argv, const char *config_path)
{
	struct config cfg = {0};
	int rc;

	if (argc > 1) {
		fprintf(stderr, "usage: cim-agent [-c FILE] check-config\n");
		return EXIT_USAGE;
	}
	rc = cli_load_config(&cfg, config_path);
	if (rc)
		return rc;
	cli_warn_keyfiles(&cfg);
	config_print(&cfg, stdout);
	fprintf(stderr, "cim-agent: %s is valid\n", config_path);
	config_release(&cfg);
	return 0;
}
