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

int cmd_fetch(int argc, char **argv, const char *config_path)
{
	static const struct option opts[] = {{"allow-rewind", no_argument, NULL, 'r'},
					     {NULL, 0, NULL, 0}};
	struct config cfg = {0};
	struct pull_outcome po;
	struct err e = {{0}};
	bool allow_rewind = false;
	int c, rc, lock_fd;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'r') {
			fprintf(stderr, "usage: cim-agent [-c FILE] fetch [--allow-rewind]\n");
			return EXIT_USAGE;
		}
		allow_rewind = true;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: cim-agent [-c FILE] fetch [--allow-rewind]\n");
		return EXIT_USAGE;
	}
	rc = cli_load_config(&cfg, config_path);
	if (rc)
		return rc;
	/* A cycle writes the state too: a fetch beside it would write back what
	 * it read before the cycle's last step. */
	lock_fd = dir_create(cfg.agent.state_dir, 0700, &e) < 0
		      ? -1
		      : lock_acquire(cfg.agent.state_dir, LOCK_WAIT_SECONDS, &e);
	if (lock_fd < 0) {
		fprintf(stderr, "cim-agent: fetch: %s\n", e.msg);
		config_release(&cfg);
		return EXIT_REFUSED;
	}
	rc = fetch_locked(&cfg, allow_rewind, &po, &e);
	lock_release(lock_fd);
	if (rc == PULL_ERROR) {
		log_print(stderr, "cim-agent: %s\n", e.msg);
		rc = po.config_error ? EXIT_USAGE : EXIT_REFUSED;
	} else {
		char shown_url[1024];
		url_redact(cfg.repo.url, shown_url, sizeof(shown_url));
		log_print(stdout, "fetched   %s %s\n", shown_url, cfg.repo.branch);
		printf("tip       %s%s\n", po.result.commit, po.changed ? "" : " (unchanged)");
		if (po.precheck[0])
			log_print(stdout, "precheck  %s\n", po.precheck);
		print_result(stdout, &po.result);
		if (po.result.rewound)
			printf("rewind    accepted by --allow-rewind; baseline is now %s\n",
			       po.result.commit);
		rc = rc == PULL_TRUSTED ? 0 : EXIT_REFUSED;
	}
	config_release(&cfg);
	return rc;
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

int cmd_verify(int argc, char **argv, const char *config_path)
{
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
	rc = cli_load_config(&cfg, config_path);
	if (rc)
		return rc;
	snprintf(mirror, sizeof(mirror), "%s/mirror.git", cfg.agent.state_dir);
	rc = verify_in_repo(mirror, cfg.repo.allowed_signers, rev, &cfg);
	config_release(&cfg);
	return rc;
usage:
	fprintf(stderr, "usage: cim-agent [-c FILE] verify [REV]\n"
			"       cim-agent verify --repo PATH --allowed-signers FILE REV\n");
	return EXIT_USAGE;
}
