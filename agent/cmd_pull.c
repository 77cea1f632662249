/* cim-agent fetch / verify: the verified pull. */
#include "agent/cli.h"
#include "agent/config.h"
#include "base/err.h"
#include "base/url.h"
#include "base/fileio.h"
#include "agent/lock.h"
#include "agent/log.h"
#include "agent/pull_step.h"
#include "agent/state.h"
#include "pull/pull.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void print_result(FILE *out, const struct verify_result *r)
{
	log_print(out, "commit    %s\n", r->commit);
	if (r->fingerprint[0])
		log_print(out, "key       %s\n", r->fingerprint);
	if (r->trusted) {
		log_print(out, "signer    %s (allowed_signers principals: %s)\n", r->identity,
			  r->principals);
		log_print(out, "verdict   trusted\n");
	} else {
		log_print(out, "committer %s\n", r->identity);
		log_print(out, "verdict   NOT trusted: %s\n", r->reason);
	}
}

static void print_fetched(const struct config *cfg, const struct pull_outcome *po)
{
	char shown_url[1024];

	url_redact(cfg->repo.url, shown_url, sizeof(shown_url));
	log_print(stdout, "fetched   %s %s\n", shown_url, cfg->repo.branch);
	printf("tip       %s%s\n", po->result.commit, po->changed ? "" : " (unchanged)");
	if (po->precheck[0])
		log_print(stdout, "precheck  %s\n", po->precheck);
	print_result(stdout, &po->result);
	/* Without --allow-rewind a rewind is refused (the verdict says why). */
	if (po->result.rewound && po->result.trusted)
		printf("rewind    accepted by --allow-rewind; baseline is now %s\n",
		       po->result.commit);
}

/* The pull step under the lock, with the state it records into. */
static int fetch_locked(const struct config *cfg, bool allow_rewind, struct pull_outcome *po,
			struct err *e)
{
	struct agent_state st;
	int rc = PULL_ERROR;

	memset(po, 0, sizeof(*po));
	if (state_load(&st, cfg->agent.state_dir, e) == 0)
		rc = pull_step(cfg, &st, allow_rewind, po, e);
	if (rc != PULL_ERROR && state_save(&st, e) < 0)
		rc = PULL_ERROR;
	state_release(&st);
	return rc;
}

int cmd_fetch_parse(int argc, char **argv, struct cli_call *call)
{
	static const struct option opts[] = {{"allow-rewind", no_argument, NULL, 'r'},
					     {NULL, 0, NULL, 0}};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'r')
			return -1;
		call->allow_rewind = true;
	}
	call->argc = argc - optind;
	call->argv = argv + optind;
	return 0;
}

int cmd_fetch(struct cli_call *call)
{
	const struct config *cfg = call->cfg;
	struct pull_outcome po;
	struct err e = {{0}};
	int rc, lock_fd;

	/* A cycle writes the state too: a fetch beside it would write back what
	 * it read before the cycle's last step. */
	lock_fd = dir_create(cfg->agent.state_dir, 0700, &e) < 0
		      ? -1
		      : lock_acquire(cfg->agent.state_dir, LOCK_WAIT_SECONDS, &e);
	if (lock_fd < 0) {
		fprintf(stderr, "cim-agent: fetch: %s\n", e.msg);
		return EXIT_REFUSED;
	}
	rc = fetch_locked(cfg, call->allow_rewind, &po, &e);
	lock_release(lock_fd);
	if (rc == PULL_ERROR) {
		log_print(stderr, "cim-agent: %s\n", e.msg);
		return po.config_error ? EXIT_USAGE : EXIT_REFUSED;
	}
	print_fetched(cfg, &po);
	return rc == PULL_TRUSTED ? 0 : EXIT_REFUSED;
}

/* Judges rev (NULL: the fetched tip) in repo_path; with cfg, in the mirror
 * and by the policy a deployment applies. */
static int verify_in_repo(const char *repo_path, const char *signers, const char *rev,
			  const struct config *cfg)
{
	struct pull_verify_request rq = {.repo = repo_path, .allowed_signers = signers, .rev = rev};
	struct verify_result r;
	struct agent_state st = {0};
	struct err e = {{0}};
	int rc = EXIT_USAGE;

	if (cfg) {
		if (state_load(&st, cfg->agent.state_dir, &e) < 0) {
			log_print(stderr, "cim-agent: %s\n", e.msg);
			return EXIT_USAGE;
		}
		rq.branch = cfg->repo.branch;
		rq.policy = true;
		rq.mode = cfg->repo.verify;
		rq.baseline = st.baseline;
	}
	switch (pull_verify(&rq, &r, &e)) {
	case PULL_VERIFY_JUDGED:
		print_result(stdout, &r);
		rc = r.trusted ? 0 : EXIT_REFUSED;
		break;
	case PULL_VERIFY_BAD_INPUT:
		log_print(stderr, "cim-agent: %s\n", e.msg);
		break;
	case PULL_VERIFY_NO_MIRROR:
	case PULL_VERIFY_UNREADABLE:
		log_print(stderr, "cim-agent: %s\n", e.msg);
		rc = EXIT_REFUSED;
		break;
	}
	state_release(&st);
	return rc;
}

int cmd_verify(struct cli_call *call)
{
	int argc = call->argc;
	char **argv = call->argv;
	static const struct option opts[] = {{"repo", required_argument, NULL, 'r'},
					     {"allowed-signers", required_argument, NULL, 'a'},
					     {NULL, 0, NULL, 0}};
	const char *repo = NULL, *signers = NULL, *rev;
	struct config cfg = {0};
	char mirror[4096];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			repo = optarg;
			break;
		case 'a':
			signers = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind > 1)
		goto usage;
	rev = optind < argc ? argv[optind] : NULL;
	if (repo || signers) {
		if (!repo || !signers || !rev)
			goto usage;
		return verify_in_repo(repo, signers, rev, NULL);
	}
	rc = cli_load_config(&cfg, call->config_path);
	if (rc)
		return rc;
	/* In the mirror, HEAD is what the fetch brought: the tip of the branch. */
	if (rev && strcmp(rev, "HEAD") == 0)
		rev = NULL;
	snprintf(mirror, sizeof(mirror), "%s/mirror.git", cfg.agent.state_dir);
	rc = verify_in_repo(mirror, cfg.repo.allowed_signers, rev, &cfg);
	config_release(&cfg);
	return rc;
usage:
	fprintf(stderr, "usage: cim-agent [-c FILE] verify [REV]\n"
			"       cim-agent verify --repo PATH --allowed-signers FILE REV\n");
	return EXIT_USAGE;
}
