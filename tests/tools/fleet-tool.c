/* A driver for the fleet's shell tests (tests/t/t09xx-fleet-*.t): it plays a
 * host, or an attacker, on the fleet bucket.
 *
 *   fleet-tool put URL BUCKET NAME KEYFILE [FIELD=VALUE]...
 *       signs a report with KEYFILE (an OpenSSH ed25519 private key) and puts
 *       it under NAME. Fields: seq (default 1), time (default now), host
 *       (the payload's host, default NAME), wave, deployed, target (default
 *       deployed), since (healthy since; default time; with deployed, the
 *       report is healthy), fail (a commit that failed here, rolled back).
 *       Prints the revision.
 *   fleet-tool get URL BUCKET NAME
 *       every revision the bucket keeps under NAME, oldest first:
 *       "REVISION VALUE" per line ("REVISION -" for a delete marker).
 *   fleet-tool put-raw URL BUCKET NAME FILE
 *       puts FILE's bytes under NAME (a replay, or garbage). Prints the revision.
 *   fleet-tool publish URL SUBJECT TEXT
 *       a plain NATS message (a trigger from someone who is not cim-agent).
 * Exit 0 for success, 1 for an error (on stderr), 2 for bad usage. */
#include "base/err.h"
#include "base/fileio.h"
#include "fleet/natskv.h"
#include "fleet/report.h"
#include "secrets/identity.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void)
{
	fprintf(stderr, "usage: fleet-tool put URL BUCKET NAME KEYFILE [FIELD=VALUE]...\n"
			"       fleet-tool get URL BUCKET NAME\n"
			"       fleet-tool put-raw URL BUCKET NAME FILE\n"
			"       fleet-tool publish URL SUBJECT TEXT\n");
	return 2;
}

static int fail(const struct err *e)
{
	fprintf(stderr, "fleet-tool: %s\n", e->msg);
	return 1;
}

static int connect_to(struct fleet_nats **n, const char *url, const char *bucket, struct err *e)
{
	const char *urls[1] = {url};
	struct fleet_nats_options o = {.urls = urls,
				       .nurls = 1,
				       .bucket = bucket,
				       .history = 5,
				       .timeout_ms = 5000,
				       .name = "fleet-tool"};

	return fleet_nats_connect(n, &o, e);
}

/* The value of FIELD= among the arguments, or NULL. */
static const char *field(int argc, char **argv, const char *name)
{
	size_t len = strlen(name);

	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], name, len) == 0 && argv[i][len] == '=')
			return argv[i] + len + 1;
	return NULL;
}

static int64_t number(const char *text, int64_t fallback)
{
	return text ? strtoll(text, NULL, 10) : fallback;
}

static int fill_report(struct fleet_report *r, const char *name, int argc, char **argv,
		       struct err *e)
{
	const char *deployed = field(argc, argv, "deployed");
	const char *target = field(argc, argv, "target");
	const char *fail_commit = field(argc, argv, "fail");
	const char *host = field(argc, argv, "host");
	const char *wave = field(argc, argv, "wave");

	snprintf(r->host, sizeof(r->host), "%s", host ? host : name);
	r->seq = (uint64_t)number(field(argc, argv, "seq"), 1);
	r->time = number(field(argc, argv, "time"), (int64_t)time(NULL));
	snprintf(r->wave, sizeof(r->wave), "%s", wave ? wave : "");
	snprintf(r->deployed, sizeof(r->deployed), "%s", deployed ? deployed : "");
	snprintf(r->target, sizeof(r->target), "%s", target ? target : r->deployed);
	if (deployed) {
		r->healthy = true;
		if (fleet_report_lineage_add(r, deployed,
					     number(field(argc, argv, "since"), r->time), e) < 0)
			return -1;
	}
	if (fail_commit &&
	    fleet_report_add_failure(r, fail_commit, r->time, true,
				     "fleet-tool: a failure made up for a test", e) < 0)
		return -1;
	return 0;
}

static int put(int argc, char **argv)
{
	struct age_identities ids = {0};
	struct fleet_report r = {0};
	struct fleet_nats *n = NULL;
	struct err e = {{0}};
	char *env = NULL;
	size_t len = 0;
	uint64_t rev = 0;
	int rc = 1;

	if (identity_sodium_init(&e) < 0 || identity_load_file(&ids, argv[3], &e) < 0)
		goto out;
	if (ids.n != 1 || ids.keys[0]->type != AGE_KEY_SSH_ED25519) {
		err_set(&e, "%s: not one OpenSSH ed25519 key", argv[3]);
		goto out;
	}
	if (fill_report(&r, argv[2], argc - 4, argv + 4, &e) < 0 ||
	    fleet_report_sign(&r, ids.keys[0]->ed_secret, &env, &len, &e) < 0 ||
	    connect_to(&n, argv[0], argv[1], &e) < 0 ||
	    fleet_nats_put(n, argv[2], env, len, &rev, &e) < 0)
		goto out;
	printf("%" PRIu64 "\n", rev);
	rc = 0;
out:
	if (rc)
		fail(&e);
	fleet_nats_close(n);
	free(env);
	fleet_report_release(&r);
	identities_release(&ids);
	return rc;
}

static int get(char **argv)
{
	struct fleet_nats *n = NULL;
	struct fleet_entry *v = NULL;
	size_t count = 0;
	struct err e = {{0}};

	if (connect_to(&n, argv[0], argv[1], &e) < 0 ||
	    fleet_nats_read_all(n, argv[2], &v, &count, &e) < 0) {
		fleet_nats_close(n);
		return fail(&e);
	}
	for (size_t i = 0; i < count; i++) {
		printf("%" PRIu64 " ", v[i].revision);
		if (v[i].deleted)
			fputs("-", stdout);
		else
			fwrite(v[i].value, 1, v[i].len, stdout);
		fputc('\n', stdout);
	}
	fleet_entries_free(v, count);
	fleet_nats_close(n);
	return 0;
}

static int put_raw(char **argv)
{
	struct fleet_nats *n = NULL;
	struct err e = {{0}};
	char *text = NULL;
	size_t len = 0;
	uint64_t rev = 0;
	int rc = 0;

	if (file_read_capped(argv[3], FLEET_NATS_VALUE_MAX, &text, &len, &e) < 0 ||
	    connect_to(&n, argv[0], argv[1], &e) < 0 ||
	    fleet_nats_put(n, argv[2], text, len, &rev, &e) < 0)
		rc = fail(&e);
	else
		printf("%" PRIu64 "\n", rev);
	fleet_nats_close(n);
	free(text);
	return rc;
}

static int publish(char **argv)
{
	struct fleet_nats *n = NULL;
	struct err e = {{0}};
	int rc = 0;

	if (connect_to(&n, argv[0], NULL, &e) < 0 ||
	    fleet_nats_publish(n, argv[1], argv[2], strlen(argv[2]), &e) < 0)
		rc = fail(&e);
	fleet_nats_close(n);
	return rc;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc >= 6 && strcmp(argv[1], "put") == 0)
		rc = put(argc - 2, argv + 2);
	else if (argc == 5 && strcmp(argv[1], "get") == 0)
		rc = get(argv + 2);
	else if (argc == 6 && strcmp(argv[1], "put-raw") == 0)
		rc = put_raw(argv + 2);
	else if (argc == 5 && strcmp(argv[1], "publish") == 0)
		rc = publish(argv + 2);
	else
		return usage();
	fleet_nats_shutdown();
	return rc;
}
