/* cim-agent once / retry / rollback */
#include "agent/cli.h"
#include "agent/config.h"
#include "agent/cycle.h"
#include "agent/fleet_publish.h"
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
	case CYCLE_WAITING: /* the plan holds it back: nothing is wrong here */
		return 0;
	default:
		return EXIT_REFUSED;
	}
}

int cmd_once(struct cli_call *call)
{
	struct cycle_result res;
	struct err e = {{0}};

	cli_warn_keyfiles(call->cfg);
	if (cycle_run_once(call->cfg, &res, &e) < 0) {
		log_print(stderr, "cim-agent: %s\n", e.msg);
		return EXIT_REFUSED;
	}
	log_print(stdout, "%s: %s\n", cycle_outcome_name(res.outcome), res.message);
	fleet_publish(call->cfg, &res);
	return outcome_exit(res.outcome);
}

int cmd_retry(struct cli_call *call)
{
	struct err e = {{0}};
	int n = cycle_retry(call->cfg, call->argc == 1 ? call->argv[0] : NULL, &e);

	if (n < 0) {
		log_print(stderr, "cim-agent: %s\n", e.msg);
		return EXIT_REFUSED;
	}
	printf("forgot %d failed commit%s; the next cycle tries again\n", n, n == 1 ? "" : "s");
	return 0;
}

int cmd_rollback(struct cli_call *call)
{
	struct cycle_result res;
	struct err e = {{0}};

	if (cycle_manual_rollback(call->cfg, &res, &e) < 0) {
		log_print(stderr, "cim-agent: %s\n", e.msg);
		return EXIT_REFUSED;
	}
	log_print(stdout, "%s: %s\n", cycle_outcome_name(res.outcome), res.message);
	fleet_publish(call->cfg, &res);
	return 0;
}
