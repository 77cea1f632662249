/* Helpers shared by the subcommands. Kept out of main.c so that every object
 * of the library links on its own (the fuzz targets link them without main). */
#include "agent/cli.h"
#include "agent/config.h"
#include "base/err.h"
#include "agent/keyfiles.h"
#include "agent/log.h"

#include <stdio.h>

int cli_load_config(struct config *cfg, const char *config_path)
{
	struct err e = {{0}};

	if (config_load(cfg, config_path, &e) < 0) {
		fprintf(stderr, "cim-agent: %s\n", e.msg);
		config_release(cfg);
		return EXIT_USAGE;
	}
	return 0;
}

static void warn_log(void *ctx, const char *msg)
{
	(void)ctx;
	log_msg(LOG_WARNING, NULL, NULL, "%s", msg);
}

void cli_warn_keyfiles(const struct config *cfg)
{
	keyfiles_check(cfg, warn_log, NULL);
}
