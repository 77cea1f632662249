/* cim-agent once / retry / rollback */
#include "agent/cli.h"
#include "agent/config.h"
#include "agent/cycle.h"
#include "base/err.h"
#include "agent/log.h"

#include <stdio.h>

static int outcome_exit(enum cycle_outcome o)
{
	switch (o) {
	case CYCLE_UP_TO_DATE:
	case CYCLE_DEPLOYED:
	case CYCLE_BUILT:
	case CYCLE_SKIPPED:
		return 0;
	default:
		return EXIT_REFUSED;
	}
}

int cmd_once(int argc, char **argv, const char *config_path)
{
	struct config cfg = {0};
	struct cycle_result res;
	struct err e = {{0}};
	int rc;

	if (argc > 1) {
		fprintf(stderr, "usage: cim-agent [-c FILE] once\n");
		return EXIT_USAGE;
	}
	rc = cli_load_config(&cfg, config_path);
	if (rc)
		return rc;
	cli_warn_keyfiles(&cfg);
	if (cycle_run_once(&cfg, &res, &e) < 0) {
		log_print(stderr, "cim-agent: %s\n", e.msg);
		config_release(&cfg);
		return EXIT_REFUSED;
	}
	log_print(stdout, "%s: %s\n", cycle_outcome_name(res.outcome), res.message);
	config_release(&cfg);
	return outcome_exit(res.outcome);
}

int cmd_retry(int argc, char **argv, const char *config_path)
{
	struct config cfg = {0};
	struct err e = {{0}};
	int rc, n;

	if (argc > 2) {
		fprintf(stderr, "usage: cim-agent [-c FILE] retry [COMMIT]\n");
		return EXIT_USAGE;
	}
	rc = cli_load_config(&cfg, config_path);
	if (rc)
		return rc;
	n = cycle_retry(&cfg, argc == 2 ? argv[1] : NULL, &e);
	if (n < 0) {
		log_print(stderr, "cim-agent: %s\n", e.msg);
		rc = EXIT_REFUSED;
	} else {
		printf("forgot %d failed commit%s; the next cycle tries again\n", n,
		       n == 1 ? "" : "s");
	}
	config_release(&cfg);
	return rc;
}

int cmd_rollback(int argc, char **argv, const char *config_path)
{
	struct config cfg = {0};
	struct cycle_result res;
	struct err e = {{0}};
	int rc;

	if (argc > 1) {
		fprintf(stderr, "usage: cim-agent [-c FILE] rollback\n");
		return EXIT_USAGE;
	}
	rc = cli_load_config(&cfg, config_path);
	if (rc)
		return rc;
	if (cycle_manual_rollback(&cfg, &res, &e) < 0) {
		log_print(stderr, "cim-agent: %s\n", e.msg);
		config_release(&cfg);
		return EXIT_REFUSED;
	}
	log_print(stdout, "%s: %s\n", cycle_outcome_name(res.outcome), res.message);
	config_release(&cfg);
	return 0;
}
