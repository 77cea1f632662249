/* Unit tests of fleet/report.c: signed host reports. The keys are made by
 * ssh-keygen and read by secrets/identity.c, as the agent will read its host key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "base/fileio.h"
#include "fleet/hosts.h"
#include "fleet/report.h"
#include "secrets/identity.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define C1 "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
#define C2 "2222222222222222222222222222222222222222"
#define C3 "3333333333333333333333333333333333333333"

struct keys {
	char dir[256];
	struct age_identities a, b;
	struct fleet_hosts hosts; /* web-01 has a's key, web-02 b's */
};

static struct keys K;

static void keygen(const char *name, struct age_identities *ids, char *pub, size_t size)
{
	char cmd[600], path[300];
	struct err e = {{0}};
	char *text;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", K.dir, name);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t ed25519 -N '' -C %s -f '%s'", name, path);
	if (system(cmd) != 0 || identity_load_file(ids, path, &e) != 0)
		fail_msg("ssh-keygen or identity_load_file: %s", e.msg);
	assert_int_equal(ids->keys[0]->type, AGE_KEY_SSH_ED25519);
	snprintf(path + strlen(path), 8, ".pub");
	if (file_read_capped(path, 4096, &text, &len, &e) != 0)
		fail_msg("%s", e.msg);
	text[strcspn(text, "\n")] = '\0';
	snprintf(pub, size, "%s", text);
	free(text);
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char pa[256], pb[256], text[700];
	struct err e = {{0}};

	snprintf(K.dir, sizeof(K.dir), "%s/fleet-report.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(K.dir) || identity_sodium_init(&e) != 0)
		return -1;
	keygen("a", &K.a, pa, sizeof(pa));
	keygen("b", &K.b, pb, sizeof(pb));
	/* The .pub file's comment becomes the hosts file's comment. */
	snprintf(text, sizeof(text), "web-01 %s\nweb-02 %s\n", pa, pb);
	return fleet_hosts_parse(&K.hosts, "fleet/hosts", text, strlen(text), &e);
}

static int teardown(void **state)
{
	char cmd[300];

	identities_release(&K.a);
	identities_release(&K.b);
	fleet_hosts_release(&K.hosts);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", K.dir);
	return system(cmd);
}

static const unsigned char *sk_a(void)
{
	return K.a.keys[0]->ed_secret;
}

static const unsigned char *sk_b(void)
{
	return K.b.keys[0]->ed_secret;
}

/* A healthy web-01 on C2, which it reached from C1. */
static void sample(struct fleet_report *r, const char *host)
{
	struct err e = {{0}};

	memset(r, 0, sizeof(*r));
	snprintf(r->host, sizeof(r->host), "%s", host);
	r->seq = 7;
	r->time = 1700000100;
	snprintf(r->wave, sizeof(r->wave), "canary");
	snprintf(r->deployed, sizeof(r->deployed), C2);
	snprintf(r->target, sizeof(r->target), C2);
	r->healthy = true;
	assert_int_equal(fleet_report_lineage_add(r, C1, 1700000000, &e), 0);
	assert_int_equal(fleet_report_lineage_add(r, C2, 1700000060, &e), 0);
	assert_int_equal(
	    fleet_report_add_failure(r, C3, 1699999000, true, "http://h/healthz answered 500", &e),
	    0);
	r->status = json_pack("{s:s, s:i}", "state", "idle", "generation", 12);
}

static char *sign(const struct fleet_report *r, const unsigned char *sk)
{
	struct err e = {{0}};
	char *env = NULL;
	size_t len = 0;

	if (fleet_report_sign(r, sk, &env, &len, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(strlen(env), len);
	return env;
}

static enum fleet_open_result open_as(const char *key, const char *env, struct fleet_report *out,
				      struct err *e)
{
	return fleet_report_open(&K.hosts, key, env, strlen(env), out, e);
}

/* An envelope written by hand from the documented format, over any payload. */
static char *envelope(const char *payload, const unsigned char *sk)
{
	size_t plen = strlen(payload), ctx = sizeof(FLEET_SIGN_CONTEXT);
	unsigned char *m = malloc(ctx + plen), sig[64];
	char p64[70000], s64[100], *out;
	json_t *env;

	assert_non_null(m);
	memcpy(m, "cim-fleet-report-v1", ctx);
	memcpy(m + ctx, payload, plen);
	crypto_sign_detached(sig, NULL, m, ctx + plen, sk);
	free(m);
	sodium_bin2base64(p64, sizeof(p64), (const unsigned char *)payload, plen,
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(s64, sizeof(s64), sig, 64, sodium_base64_VARIANT_ORIGINAL);
	env = json_pack("{s:s, s:s}", "payload", p64, "sig", s64);
	out = json_dumps(env, JSON_COMPACT);
	json_decref(env);
	return out;
}

static void test_a_signed_report_reads_back(void **state)
{
	struct fleet_report r, got;
	struct err e = {{0}};
	char *env;

	sample(&r, "web-01");
	env = sign(&r, sk_a());
	assert_int_equal(open_as("web-01", env, &got, &e), FLEET_OPEN_OK);
	assert_string_equal(got.host, "web-01");
	assert_int_equal(got.seq, 7);
	assert_int_equal(got.time, 1700000100);
	assert_string_equal(got.wave, "canary");
	assert_string_equal(got.deployed, C2);
	assert_string_equal(got.target, C2);
	assert_true(got.healthy);
	assert_int_equal(got.nlineage, 2);
	assert_string_equal(got.lineage[0].commit, C1);
	assert_int_equal(got.lineage[1].since, 1700000060);
	assert_int_equal(got.nfailures, 1);
	assert_string_equal(got.failures[0].commit, C3);
	assert_true(got.failures[0].rolled_back);
	assert_string_equal(got.failures[0].reason, "http://h/healthz answered 500");
	assert_true(json_equal(got.status, r.status));
	fleet_report_release(&got);
	free(env);
	/* Nulls round-trip too. */
	r.wave[0] = r.target[0] = '\0';
	r.healthy = false;
	json_decref(r.status);
	r.status = NULL;
	env = sign(&r, sk_a());
	assert_int_equal(open_as("web-01", env, &got, &e), FLEET_OPEN_OK);
	assert_string_equal(got.wave, "");
	assert_false(got.healthy);
	assert_null(got.status);
	fleet_report_release(&got);
	fleet_report_release(&r);
	free(env);
}

static void test_the_signed_bytes_are_the_context_and_the_payload(void **state)
{
	struct fleet_report r;
	char *env;
	json_t *o, *payload;
	unsigned char p[FLEET_PAYLOAD_MAX_BYTES], sig[64], m[FLEET_PAYLOAD_MAX_BYTES + 32];
	size_t plen = 0, siglen = 0;
	char key[128];

	sample(&r, "web-01");
	env = sign(&r, sk_a());
	o = json_loads(env, 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_object_size(o), 3);
	assert_int_equal(fleet_key_format(K.hosts.v[0].key, key, sizeof(key)), 0);
	assert_string_equal(json_string_value(json_object_get(o, "key")), key);
	assert_int_equal(sodium_base642bin(p, sizeof(p),
					   json_string_value(json_object_get(o, "payload")),
					   json_string_length(json_object_get(o, "payload")), NULL,
					   &plen, NULL, sodium_base64_VARIANT_ORIGINAL),
			 0);
	assert_int_equal(sodium_base642bin(sig, sizeof(sig),
					   json_string_value(json_object_get(o, "sig")),
					   json_string_length(json_object_get(o, "sig")), NULL,
					   &siglen, NULL, sodium_base64_VARIANT_ORIGINAL),
			 0);
	assert_int_equal(siglen, 64);
	memcpy(m, "cim-fleet-report-v1\0", 20);
	memcpy(m + 20, p, plen);
	assert_int_equal(crypto_sign_verify_detached(sig, m, 20 + plen, K.hosts.v[0].key), 0);
	/* Without the context the signature means nothing. */
	assert_int_equal(crypto_sign_verify_detached(sig, p, plen, K.hosts.v[0].key), -1);
	payload = json_loadb((const char *)p, plen, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(payload, "v")), 1);
	assert_int_equal(json_integer_value(json_object_get(payload, "healthy_since")), 1700000000);
	assert_string_equal(json_string_value(json_object_get(payload, "host")), "web-01");
	json_decref(payload);
	json_decref(o);
	fleet_report_release(&r);
	free(env);
}

static void test_a_hand_written_envelope_of_the_documented_format_opens(void **state)
{
	char *env = envelope("{\"v\":1,\"host\":\"web-02\",\"seq\":3,\"time\":5,\"wave\":null,"
			     "\"deployed\":null,\"target\":null,\"healthy\":false,"
			     "\"healthy_since\":null,\"lineage\":[],\"failures\":[],"
			     "\"status\":null,\"later\":\"ignored\"}",
			     sk_b());
	struct fleet_report got;
	struct err e = {{0}};

	assert_int_equal(open_as("web-02", env, &got, &e), FLEET_OPEN_OK);
	assert_int_equal(got.seq, 3);
	fleet_report_release(&got);
	free(env);
}

static void test_forged_reports(void **state)
{
	struct fleet_report r, got;
	struct err e = {{0}};
	unsigned char pk[32], sk[64];
	char *env;

	/* A report for web-01 signed by web-02, another member. */
	sample(&r, "web-01");
	env = sign(&r, sk_b());
	assert_int_equal(open_as("web-01", env, &got, &e), FLEET_OPEN_FORGED);
	assert_string_equal(e.msg, "report of web-01: forged: the signature does not verify "
				   "with the host's key");
	assert_null(got.lineage);
	free(env);
	/* web-01's genuine report copied under web-02's key. */
	env = sign(&r, sk_a());
	assert_int_equal(open_as("web-02", env, &got, &e), FLEET_OPEN_FORGED);
	free(env);
	/* Valid JSON claiming health, signed by a key of no member. */
	crypto_sign_keypair(pk, sk);
	env = sign(&r, sk);
	assert_int_equal(open_as("web-01", env, &got, &e), FLEET_OPEN_FORGED);
	free(env);
	/* Not a member at all. */
	snprintf(r.host, sizeof(r.host), "web-03");
	env = sign(&r, sk);
	assert_int_equal(open_as("web-03", env, &got, &e), FLEET_OPEN_NOT_MEMBER);
	assert_string_equal(e.msg, "report of web-03: not a member of the fleet (not in "
				   "fleet/hosts)");
	free(env);
	/* web-01 signing a report that names web-02: authentic, but invalid. */
	snprintf(r.host, sizeof(r.host), "web-02");
	env = sign(&r, sk_a());
	assert_int_equal(open_as("web-01", env, &got, &e), FLEET_OPEN_INVALID);
	assert_string_equal(e.msg, "report of web-01: invalid: it names host 'web-02'");
	free(env);
	fleet_report_release(&r);
}

static void test_a_tampered_payload_is_forged(void **state)
{
	struct fleet_report r, got;
	struct err e = {{0}};
	char *env, *good, *bad;
	json_t *o;

	sample(&r, "web-01");
	r.healthy = false;
	good = sign(&r, sk_a());
	r.healthy = true;
	env = sign(&r, sk_a());
	/* The healthy payload with the signature of the unhealthy one. */
	o = json_loads(env, 0, NULL);
	json_t *g = json_loads(good, 0, NULL);
	json_object_set(o, "sig", json_object_get(g, "sig"));
	bad = json_dumps(o, JSON_COMPACT);
	assert_int_equal(open_as("web-01", bad, &got, &e), FLEET_OPEN_FORGED);
	json_decref(o);
	json_decref(g);
	free(bad);
	free(good);
	free(env);
	fleet_report_release(&r);
}

static void test_malformed_envelopes_are_forged(void **state)
{
	static const char *const junk[] = {
	    "",
	    "{}",
	    "[]",
	    "null",
	    "{\"payload\":\"e30=\"}",
	    "{\"payload\":\"e30=\",\"sig\":\"AAAA\"}",
	    "{\"payload\":\"e30\",\"sig\":\"AAAA\"}",
	    "{\"payload\":1,\"sig\":\"AAAA\"}",
	    "{\"payload\":\"e30=\",\"payload\":\"e30=\",\"sig\":\"AAAA\"}",
	};
	struct fleet_report got;
	struct err e = {{0}};
	char *big = malloc(FLEET_REPORT_MAX_BYTES + 2);

	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		if (open_as("web-01", junk[i], &got, &e) != FLEET_OPEN_FORGED)
			fail_msg("'%s' was not forged", junk[i]);
	assert_non_null(big);
	memset(big, ' ', FLEET_REPORT_MAX_BYTES + 1);
	big[FLEET_REPORT_MAX_BYTES + 1] = '\0';
	assert_int_equal(open_as("web-01", big, &got, &e), FLEET_OPEN_FORGED);
	assert_string_equal(e.msg, "report of web-01: forged: larger than 65536 bytes");
	free(big);
}

#define OK_FIELDS                                                                                  \
	"\"host\":\"web-01\",\"seq\":3,\"time\":5,\"wave\":null,\"target\":null,"                  \
	"\"failures\":[],\"status\":null"
#define HEALTHY                                                                                    \
	"\"deployed\":\"" C2                                                                       \
	"\",\"healthy\":true,\"healthy_since\":4,\"lineage\":[{\"commit\":\"" C2                   \
	"\",\"since\":4}]"

static void test_signed_but_malformed_payloads_are_invalid(void **state)
{
	static const char *const bad[] = {
	    "[]",
	    "{\"v\":2," OK_FIELDS "," HEALTHY "}",
	    "{" OK_FIELDS "," HEALTHY "}",
	    "{\"v\":1," HEALTHY "}",
	    /* healthy without a lineage ending with the deployed commit */
	    "{\"v\":1," OK_FIELDS ",\"deployed\":\"" C2 "\",\"healthy\":true,\"healthy_since\":4,"
	    "\"lineage\":[]}",
	    "{\"v\":1," OK_FIELDS ",\"deployed\":\"" C2 "\",\"healthy\":true,\"healthy_since\":4,"
	    "\"lineage\":[{\"commit\":\"" C1 "\",\"since\":4}]}",
	    /* healthy_since that is not the start of the streak */
	    "{\"v\":1," OK_FIELDS ",\"deployed\":\"" C2 "\",\"healthy\":true,\"healthy_since\":1,"
	    "\"lineage\":[{\"commit\":\"" C2 "\",\"since\":4}]}",
	    "{\"v\":1," OK_FIELDS ",\"deployed\":null,\"healthy\":false,\"healthy_since\":4,"
	    "\"lineage\":[]}",
	    "{\"v\":1,\"host\":\"web-01\",\"seq\":0,\"time\":5,\"wave\":null,\"target\":null,"
	    "\"failures\":[],\"status\":null," HEALTHY "}",
	    "{\"v\":1,\"host\":\"web-01\",\"seq\":3,\"time\":-5,\"wave\":null,\"target\":null,"
	    "\"failures\":[],\"status\":null," HEALTHY "}",
	    "{\"v\":1,\"host\":\"web-01\",\"seq\":3,\"time\":5,\"wave\":null,\"target\":\"HEAD\","
	    "\"failures\":[],\"status\":null," HEALTHY "}",
	    "{\"v\":1,\"host\":\"web-01\",\"seq\":3,\"time\":5,\"wave\":\"a b\",\"target\":null,"
	    "\"failures\":[],\"status\":null," HEALTHY "}",
	    "{\"v\":1,\"host\":\"web-01\",\"seq\":3,\"time\":5,\"wave\":null,\"target\":null,"
	    "\"failures\":[],\"status\":[]," HEALTHY "}",
	    "{\"v\":1,\"host\":\"web-01\",\"seq\":3,\"time\":5,\"wave\":null,\"target\":null,"
	    "\"failures\":[{\"commit\":\"" C1 "\",\"time\":1,\"rolled_back\":true,\"reason\":"
	    "\"\\u001b[31mred\"}],\"status\":null," HEALTHY "}",
	    "{\"v\":1,\"host\":\"web-01\",\"seq\":3,\"time\":5,\"wave\":null,\"target\":null,"
	    "\"failures\":[{\"commit\":\"" C1
	    "\",\"time\":1,\"reason\":\"x\"}],\"status\":null," HEALTHY "}",
	    "{\"v\":1,\"host\":\"web-01\",\"host\":\"web-01\",\"seq\":3,\"time\":5,\"wave\":null,"
	    "\"target\":null,\"failures\":[],\"status\":null," HEALTHY "}",
	    "{\"v\":1,\"host\":\"web\\u0000-01\",\"seq\":3,\"time\":5,\"wave\":null,"
	    "\"target\":null,\"failures\":[],\"status\":null," HEALTHY "}",
	    "{\"v\":1,",
	};
	struct fleet_report got;
	struct err e = {{0}};
	char *env = envelope("{\"v\":1," OK_FIELDS "," HEALTHY "}", sk_a());

	assert_int_equal(open_as("web-01", env, &got, &e), FLEET_OPEN_OK);
	fleet_report_release(&got);
	free(env);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env = envelope(bad[i], sk_a());
		if (open_as("web-01", env, &got, &e) != FLEET_OPEN_INVALID)
			fail_msg("payload %zu was not invalid: %s", i, bad[i]);
		assert_non_null(strstr(e.msg, "report of web-01: invalid: "));
		assert_null(got.lineage);
		free(env);
	}
}

static void test_too_many_entries_are_invalid(void **state)
{
	char payload[8192];
	size_t len = (size_t)snprintf(payload, sizeof(payload),
				      "{\"v\":1," OK_FIELDS ",\"deployed\":\"" C2 "\","
				      "\"healthy\":true,\"healthy_since\":4,\"lineage\":[");
	struct fleet_report got;
	struct err e = {{0}};
	char *env;

	for (int i = 0; i < FLEET_REPORT_MAX_LINEAGE; i++)
		len += (size_t)snprintf(payload + len, sizeof(payload) - len,
					"{\"commit\":\"" C1 "\",\"since\":4},");
	snprintf(payload + len, sizeof(payload) - len, "{\"commit\":\"" C2 "\",\"since\":4}]}");
	env = envelope(payload, sk_a());
	assert_int_equal(open_as("web-01", env, &got, &e), FLEET_OPEN_INVALID);
	free(env);
}

static void test_the_lineage_stays_spread_over_the_streak(void **state)
{
	struct fleet_report r;
	struct err e = {{0}};
	char c[41];

	memset(&r, 0, sizeof(r));
	assert_int_equal(fleet_report_lineage_add(&r, "HEAD", 1, &e), -1);
	/* A push every 10 s for 10000 s. */
	for (int i = 0; i <= 1000; i++) {
		snprintf(c, sizeof(c), "%040x", i);
		assert_int_equal(fleet_report_lineage_add(&r, c, 1000 + 10 * i, &e), 0);
		assert_int_equal(fleet_report_lineage_add(&r, c, 99999, &e), 0); /* no-op */
	}
	assert_int_equal(r.nlineage, FLEET_REPORT_MAX_LINEAGE);
	assert_int_equal(r.lineage[0].since, 1000); /* the start of the streak stays */
	assert_int_equal(r.lineage[FLEET_REPORT_MAX_LINEAGE - 1].since, 11000);
	for (size_t i = 1; i < r.nlineage; i++) {
		int64_t gap = r.lineage[i].since - r.lineage[i - 1].since;
		int64_t age = 11000 - r.lineage[i - 1].since;
		/* resolution a fraction of the age: a commit one soak old is never far
		 * from an entry, however long the streak */
		if (gap <= 0 || (gap > 10 && gap * 3 > age))
			fail_msg("gap %lld at age %lld before entry %zu", (long long)gap,
				 (long long)age, i);
	}
	fleet_report_lineage_reset(&r);
	assert_int_equal(r.nlineage, 0);
	fleet_report_release(&r);
}

static void test_failures_are_bounded_and_printable(void **state)
{
	struct fleet_report r;
	struct err e = {{0}};
	char reason[400];

	memset(&r, 0, sizeof(r));
	for (int i = 0; i < FLEET_REPORT_MAX_FAILURES + 3; i++) {
		char c[41];
		snprintf(c, sizeof(c), "%040x", i);
		assert_int_equal(fleet_report_add_failure(&r, c, i, false, "line 1\nline\t2", &e),
				 0);
	}
	assert_int_equal(r.nfailures, FLEET_REPORT_MAX_FAILURES);
	assert_int_equal(r.failures[0].time, 3); /* the oldest went */
	assert_string_equal(r.failures[0].reason, "line 1 line 2");
	/* Cut at 300 bytes, not inside the 2-byte 'é' that straddles the limit. */
	memset(reason, 'x', sizeof(reason));
	memcpy(reason + 299, "\xc3\xa9", 2);
	reason[sizeof(reason) - 1] = '\0';
	assert_int_equal(fleet_report_add_failure(&r, C1, 9, true, reason, &e), 0);
	assert_int_equal(strlen(r.failures[FLEET_REPORT_MAX_FAILURES - 1].reason), 299);
	assert_int_equal(fleet_report_add_failure(&r, "1a2b3c", 9, true, "x", &e), -1);
	fleet_report_release(&r);
}

static void test_the_writer_refuses_what_readers_would(void **state)
{
	struct fleet_report r, copy;
	struct err e = {{0}};
	char *env = NULL, big[FLEET_PAYLOAD_MAX_BYTES];
	size_t len;

	sample(&r, "web-01");
	r.nlineage = 0;
	assert_int_equal(fleet_report_sign(&r, sk_a(), &env, &len, &e), -1);
	assert_string_equal(e.msg, "report: a healthy host's lineage ends with its deployed "
				   "commit");
	r.nlineage = 2;
	r.seq = 0;
	assert_int_equal(fleet_report_sign(&r, sk_a(), &env, &len, &e), -1);
	r.seq = 8;
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	json_object_set_new(r.status, "log", json_string(big));
	assert_int_equal(fleet_report_sign(&r, sk_a(), &env, &len, &e), -1);
	assert_non_null(strstr(e.msg, "more than 47104 (make the status smaller)"));
	assert_null(env);
	json_object_del(r.status, "log");
	assert_int_equal(fleet_report_copy(&copy, &r, &e), 0);
	fleet_report_release(&r);
	env = sign(&copy, sk_a());
	assert_int_equal(open_as("web-01", env, &r, &e), FLEET_OPEN_OK);
	assert_string_equal(r.failures[0].reason, "http://h/healthz answered 500");
	fleet_report_release(&r);
	fleet_report_release(&copy);
	free(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_signed_report_reads_back),
	    cmocka_unit_test(test_the_signed_bytes_are_the_context_and_the_payload),
	    cmocka_unit_test(test_a_hand_written_envelope_of_the_documented_format_opens),
	    cmocka_unit_test(test_forged_reports),
	    cmocka_unit_test(test_a_tampered_payload_is_forged),
	    cmocka_unit_test(test_malformed_envelopes_are_forged),
	    cmocka_unit_test(test_signed_but_malformed_payloads_are_invalid),
	    cmocka_unit_test(test_too_many_entries_are_invalid),
	    cmocka_unit_test(test_the_lineage_stays_spread_over_the_streak),
	    cmocka_unit_test(test_failures_are_bounded_and_printable),
	    cmocka_unit_test(test_the_writer_refuses_what_readers_would),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
