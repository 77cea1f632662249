/* Unit tests of fleet/natskv.c against a real nats-server -js on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "fleet/natskv.h"
#include "nats_server.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx {
	struct nats_server server;
	struct fleet_nats *a, *b; /* two agents */
	const char *urls[2];
	struct fleet_nats_options o;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->server.dir, sizeof(f->server.dir), "%s/fleet-nats.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(f->server.dir) || nats_server_start(&f->server, -1, NULL, "nats") < 0) {
		free(f);
		return -1;
	}
	f->urls[0] = f->server.url;
	f->o = (struct fleet_nats_options){.urls = f->urls,
					   .nurls = 1,
					   .bucket = "cim-fleet",
					   .history = 5,
					   .timeout_ms = 2000,
					   .name = "test"};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[400];

	fleet_nats_close(f->a);
	fleet_nats_close(f->b);
	nats_server_stop(&f->server);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->server.dir);
	free(f);
	return system(cmd);
}

static struct fleet_nats *connect_ok(struct fx *f)
{
	struct fleet_nats *n = NULL;
	struct err e = {{0}};

	if (fleet_nats_connect(&n, &f->o, &e) != 0)
		fail_msg("%s", e.msg);
	return n;
}

static void put(struct fleet_nats *n, const char *key, const char *value, uint64_t *rev)
{
	struct err e = {{0}};

	if (fleet_nats_put(n, key, value, strlen(value), rev, &e) != 0)
		fail_msg("%s", e.msg);
}

/* The next event, waiting on the fd with poll() as the agent's loop does. */
static int next_event(struct fleet_nats *n, struct fleet_nats_event *ev, int timeout_ms)
{
	struct pollfd p = {fleet_nats_fd(n), POLLIN, 0};

	if (fleet_nats_next_event(n, ev))
		return 1;
	if (poll(&p, 1, timeout_ms) != 1)
		return 0;
	return fleet_nats_next_event(n, ev);
}

/* Skips events of other types until one of type comes (or 10 s pass). */
static int wait_event(struct fleet_nats *n, enum fleet_nats_event_type type,
		      struct fleet_nats_event *ev)
{
	for (int i = 0; i < 100; i++) {
		if (!next_event(n, ev, 100))
			continue;
		if (ev->type == type)
			return 1;
		fleet_nats_event_release(ev);
	}
	return 0;
}

static void test_every_kept_revision_of_every_key_is_read(void **state)
{
	struct fx *f = *state;
	struct fleet_entry *v;
	size_t n;
	struct err e = {{0}};
	uint64_t r1 = 0, r2 = 0;
	char value[32];

	f->a = connect_ok(f);
	assert_int_equal(fleet_nats_read_all(f->a, NULL, &v, &n, &e), 0);
	assert_int_equal(n, 0);
	free(v);
	for (int i = 1; i <= 7; i++) {
		snprintf(value, sizeof(value), "web-01 report %d", i);
		put(f->a, "web-01", value, &r1);
	}
	put(f->a, "web-02", "web-02 report", &r2);
	assert_true(r2 > r1);
	/* a second agent opens the bucket the first created */
	f->b = connect_ok(f);
	assert_int_equal(fleet_nats_read_all(f->b, NULL, &v, &n, &e), 0);
	assert_int_equal(n, 6); /* the bucket keeps 5 revisions per key */
	assert_string_equal(v[0].key, "web-01");
	assert_memory_equal(v[0].value, "web-01 report 3", 15);
	assert_int_equal(v[0].len, 15);
	assert_memory_equal(v[4].value, "web-01 report 7", 15);
	assert_int_equal(v[4].revision, r1);
	assert_string_equal(v[5].key, "web-02");
	assert_int_equal(v[5].revision, r2);
	assert_false(v[5].deleted);
	for (size_t i = 1; i < n; i++)
		assert_true(v[i].revision > v[i - 1].revision);
	fleet_entries_free(v, n);
	assert_int_equal(fleet_nats_read_all(f->b, "web-02", &v, &n, &e), 0);
	assert_int_equal(n, 1);
	fleet_entries_free(v, n);
	assert_int_equal(fleet_nats_read_all(f->b, "web-03", &v, &n, &e), 0);
	assert_int_equal(n, 0);
	free(v);
}

static void test_the_watch_delivers_what_is_there_then_every_put(void **state)
{
	struct fx *f = *state;
	struct fleet_nats_event ev;
	struct err e = {{0}};
	uint64_t rev = 0;

	f->a = connect_ok(f);
	f->b = connect_ok(f);
	put(f->b, "web-02", "old", NULL);
	put(f->b, "web-02", "older? no: newer", NULL);
	assert_int_equal(fleet_nats_watch(f->a, false, &e), 0);
	assert_int_equal(fleet_nats_watch(f->a, false, &e), -1);
	assert_true(wait_event(f->a, FLEET_NATS_ENTRY, &ev));
	assert_string_equal(ev.entry.key, "web-02");
	assert_memory_equal(ev.entry.value, "older? no: newer", 16);
	fleet_nats_event_release(&ev);
	assert_true(next_event(f->a, &ev, 5000));
	assert_int_equal(ev.type, FLEET_NATS_WATCH_READY);
	/* nothing more is queued: the fd is not readable */
	assert_int_equal(next_event(f->a, &ev, 0), 0);
	put(f->b, "web-01", "new", &rev);
	assert_true(next_event(f->a, &ev, 5000));
	assert_int_equal(ev.type, FLEET_NATS_ENTRY);
	assert_string_equal(ev.entry.key, "web-01");
	assert_int_equal(ev.entry.revision, rev);
	assert_int_equal(ev.entry.len, 3);
	fleet_nats_event_release(&ev);
}

static void test_triggers_are_published_and_received(void **state)
{
	struct fx *f = *state;
	struct fleet_nats_event ev;
	struct err e = {{0}};
	char *big = malloc(5000);

	f->a = connect_ok(f);
	f->b = connect_ok(f);
	assert_int_equal(fleet_nats_subscribe(f->a, "cim.fleet.trigger", &e), 0);
	assert_int_equal(fleet_nats_publish(f->b, "cim.fleet.trigger", "1a2b3c", 6, &e), 0);
	assert_int_equal(fleet_nats_publish(f->b, "cim.fleet.other", "x", 1, &e), 0);
	assert_true(next_event(f->a, &ev, 5000));
	assert_int_equal(ev.type, FLEET_NATS_TRIGGER);
	assert_string_equal(ev.data, "1a2b3c");
	fleet_nats_event_release(&ev);
	/* a long message is cut, not refused */
	memset(big, 'x', 5000);
	assert_int_equal(fleet_nats_publish(f->b, "cim.fleet.trigger", big, 5000, &e), 0);
	assert_true(next_event(f->a, &ev, 5000));
	assert_int_equal(ev.len, FLEET_NATS_TRIGGER_MAX);
	assert_int_equal(strlen(ev.data), FLEET_NATS_TRIGGER_MAX);
	fleet_nats_event_release(&ev);
	assert_int_equal(next_event(f->a, &ev, 200), 0); /* not the other subject */
	free(big);
}

static void test_an_unreachable_server_fails_within_the_timeout(void **state)
{
	struct fx *f = *state;
	struct fleet_nats *n = NULL;
	struct err e = {{0}};
	const char *urls[] = {"nats://agent:s3cret@127.0.0.1:1", "nats://127.0.0.1:2"};

	f->o.urls = urls;
	f->o.nurls = 2;
	f->o.timeout_ms = 500;
	assert_int_equal(fleet_nats_connect(&n, &f->o, &e), -1);
	assert_null(n);
	if (!strstr(e.msg, "nats: cannot connect to nats://127.0.0.1:1, nats://127.0.0.1:2: "))
		fail_msg("%s", e.msg);
	assert_null(strstr(e.msg, "s3cret"));
}

static void test_bad_options(void **state)
{
	struct fx *f = *state;
	struct fleet_nats *n = NULL;
	struct err e = {{0}};
	struct fleet_nats_options o = f->o;

	o.bucket = "cim.fleet";
	assert_int_equal(fleet_nats_connect(&n, &o, &e), -1);
	assert_string_equal(e.msg, "nats: 'cim.fleet' is not a bucket name (letters, digits, '_', "
				   "'-')");
	o = f->o;
	o.history = 65;
	assert_int_equal(fleet_nats_connect(&n, &o, &e), -1);
	o = f->o;
	o.cert_file = "/nonexistent/cert.pem";
	assert_int_equal(fleet_nats_connect(&n, &o, &e), -1);
	assert_string_equal(e.msg, "nats: a TLS client certificate needs its key, and a key its "
				   "certificate");
	o.key_file = "/nonexistent/key.pem";
	assert_int_equal(fleet_nats_connect(&n, &o, &e), -1);
	assert_non_null(
	    strstr(e.msg, "nats: options (creds -, TLS ca - cert /nonexistent/cert.pem"));
	o = f->o;
	o.creds_file = "/nonexistent/agent.creds";
	assert_int_equal(fleet_nats_connect(&n, &o, &e), -1);
	assert_non_null(strstr(e.msg, "error opening file '/nonexistent/agent.creds'"));
	o = f->o;
	o.nurls = 0;
	assert_int_equal(fleet_nats_connect(&n, &o, &e), -1);
	assert_null(n);
}

static void test_the_watch_and_puts_survive_a_server_restart(void **state)
{
	struct fx *f = *state;
	struct fleet_nats_event ev;
	struct err e = {{0}};
	char want[200];
	int port;

	f->a = connect_ok(f);
	assert_int_equal(fleet_nats_watch(f->a, true, &e), 0);
	assert_int_equal(fleet_nats_subscribe(f->a, "cim.fleet.trigger", &e), 0);
	assert_true(wait_event(f->a, FLEET_NATS_WATCH_READY, &ev));
	assert_true(fleet_nats_connected(f->a));
	port = f->server.port;
	nats_server_stop(&f->server);
	assert_true(wait_event(f->a, FLEET_NATS_DISCONNECTED, &ev));
	assert_false(fleet_nats_connected(f->a));
	assert_int_equal(fleet_nats_put(f->a, "web-01", "x", 1, NULL, &e), -1);
	snprintf(want, sizeof(want), "nats: put web-01: not connected to %s (reconnecting)",
		 f->server.url);
	assert_string_equal(e.msg, want);
	assert_int_equal(fleet_nats_publish(f->a, "cim.fleet.trigger", "x", 1, &e), -1);
	/* the same port and store, as after a reboot of the NATS host */
	assert_int_equal(nats_server_start(&f->server, port, NULL, "nats"), 0);
	assert_true(wait_event(f->a, FLEET_NATS_RECONNECTED, &ev));
	f->b = connect_ok(f);
	put(f->b, "web-02", "after the restart", NULL);
	assert_true(wait_event(f->a, FLEET_NATS_ENTRY, &ev));
	assert_string_equal(ev.entry.key, "web-02");
	fleet_nats_event_release(&ev);
	assert_int_equal(fleet_nats_publish(f->b, "cim.fleet.trigger", "go", 2, &e), 0);
	assert_true(wait_event(f->a, FLEET_NATS_TRIGGER, &ev));
	fleet_nats_event_release(&ev);
	put(f->a, "web-01", "mine again", NULL);
	/* the put refused during the outage never arrives */
	assert_true(wait_event(f->a, FLEET_NATS_ENTRY, &ev));
	assert_memory_equal(ev.entry.value, "mine again", 10);
	fleet_nats_event_release(&ev);
}

/* A CA, a server certificate for 127.0.0.1 and a client certificate, made by
 * openssl in dir; then a nats-server that requires TLS and client certificates. */
static int start_tls_server(struct fx *f)
{
	char cmd[3000], conf[400];
	const char *d = f->server.dir;
	FILE *c;

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && exec >openssl.log 2>&1 && "
		 "openssl req -x509 -newkey ed25519 -nodes -days 2 -subj /CN=test-ca "
		 "-keyout ca.key -out ca.pem && "
		 "openssl req -newkey ed25519 -nodes -subj /CN=server -keyout server.key "
		 "-out server.csr && "
		 "printf 'subjectAltName=IP:127.0.0.1\n' >server.ext && "
		 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		 "-days 2 -extfile server.ext -out server.pem && "
		 "openssl req -newkey ed25519 -nodes -subj /CN=web-01 -keyout client.key "
		 "-out client.csr && "
		 "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		 "-days 2 -out client.pem && "
		 "openssl req -x509 -newkey ed25519 -nodes -days 2 -subj /CN=other-ca "
		 "-keyout other.key -out other.pem",
		 d);
	if (system(cmd) != 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/tls.conf", d);
	if (!(c = fopen(conf, "w")))
		return -1;
	fprintf(c,
		"tls {\n  cert_file: \"%s/server.pem\"\n  key_file: \"%s/server.key\"\n"
		"  ca_file: \"%s/ca.pem\"\n  verify: true\n  timeout: 2\n}\n",
		d, d, d);
	fclose(c);
	nats_server_stop(&f->server);
	return nats_server_start(&f->server, -1, conf, "tls");
}

static void test_tls_with_a_client_certificate(void **state)
{
	struct fx *f = *state;
	struct fleet_nats *n = NULL;
	struct err e = {{0}};
	char ca[300], other[300], cert[300], key[300];

	assert_int_equal(start_tls_server(f), 0);
	f->urls[0] = f->server.url;
	snprintf(ca, sizeof(ca), "%s/ca.pem", f->server.dir);
	snprintf(other, sizeof(other), "%s/other.pem", f->server.dir);
	snprintf(cert, sizeof(cert), "%s/client.pem", f->server.dir);
	snprintf(key, sizeof(key), "%s/client.key", f->server.dir);
	f->o.ca_file = ca;
	f->o.cert_file = cert;
	f->o.key_file = key;
	f->a = connect_ok(f);
	put(f->a, "web-01", "over TLS", NULL);
	/* without a client certificate the server refuses */
	f->o.cert_file = f->o.key_file = NULL;
	assert_int_equal(fleet_nats_connect(&n, &f->o, &e), -1);
	assert_null(n);
	/* trusting another CA, the client refuses the server */
	f->o.ca_file = other;
	f->o.cert_file = cert;
	f->o.key_file = key;
	assert_int_equal(fleet_nats_connect(&n, &f->o, &e), -1);
	assert_non_null(strstr(e.msg, "nats: cannot connect to tls://127.0.0.1:"));
}

/* The server configuration of README.md (Staged rollouts): one user per host, allowed to put
 * only its own key, to read and watch the bucket and to hear triggers; an
 * admin that creates the bucket; CI, which may only trigger. */
static int start_per_host_server(struct fx *f)
{
	static const char *const hosts[] = {"web-01", "web-02"};
	char conf[400];
	FILE *c;

	snprintf(conf, sizeof(conf), "%s/auth.conf", f->server.dir);
	if (!(c = fopen(conf, "w")))
		return -1;
	fprintf(c, "authorization {\n  users = [\n"
		   "    {user: admin, password: admin-pw}\n"
		   "    {user: ci, password: ci-pw, permissions: {\n"
		   "      publish: [\"cim.fleet.trigger\"], subscribe: []}}\n");
	for (int i = 0; i < 2; i++)
		fprintf(
		    c,
		    "    {user: %s, password: pw-%s, permissions: {\n"
		    "      publish: [\"$KV.cim-fleet.%s\", \"$JS.API.STREAM.INFO.KV_cim-fleet\",\n"
		    "                \"$JS.API.STREAM.NAMES\", "
		    "\"$JS.API.CONSUMER.CREATE.KV_cim-fleet\",\n"
		    "                \"$JS.API.CONSUMER.DELETE.KV_cim-fleet.>\", "
		    "\"$JS.FC.KV_cim-fleet.>\"]\n"
		    "      subscribe: [\"_INBOX.>\", \"cim.fleet.trigger\"]}}\n",
		    hosts[i], hosts[i], hosts[i]);
	fprintf(c, "  ]\n}\n");
	fclose(c);
	nats_server_stop(&f->server);
	return nats_server_start(&f->server, -1, conf, "nats");
}

static struct fleet_nats *connect_as(struct fx *f, const char *user, const char *bucket,
				     struct err *e)
{
	struct fleet_nats *n = NULL;
	char url[200];
	const char *urls[1] = {url};
	struct fleet_nats_options o = f->o;

	snprintf(url, sizeof(url), "nats://%s:%s%s@127.0.0.1:%d", user,
		 strcmp(user, "admin") == 0 || strcmp(user, "ci") == 0 ? "" : "pw-", user,
		 f->server.port);
	if (strcmp(user, "admin") == 0 || strcmp(user, "ci") == 0)
		snprintf(url, sizeof(url), "nats://%s:%s-pw@127.0.0.1:%d", user, user,
			 f->server.port);
	o.urls = urls;
	o.bucket = bucket;
	if (fleet_nats_connect(&n, &o, e) != 0)
		return NULL;
	return n;
}

static void test_per_host_permissions(void **state)
{
	struct fx *f = *state;
	struct fleet_nats *admin, *ci;
	struct fleet_nats_event ev;
	struct fleet_entry *v;
	size_t count;
	struct err e = {{0}};

	assert_int_equal(start_per_host_server(f), 0);
	f->o.timeout_ms = 1000;
	/* a host may not create the bucket */
	assert_null(connect_as(f, "web-01", "cim-fleet", &e));
	assert_non_null(strstr(e.msg, "nats: creating bucket cim-fleet on nats://127.0.0.1:"));
	assert_null(strstr(e.msg, "pw-web-01"));
	if (!(admin = connect_as(f, "admin", "cim-fleet", &e)))
		fail_msg("%s", e.msg);
	fleet_nats_close(admin);
	if (!(f->a = connect_as(f, "web-01", "cim-fleet", &e)) ||
	    !(f->b = connect_as(f, "web-02", "cim-fleet", &e)))
		fail_msg("%s", e.msg);
	assert_int_equal(fleet_nats_watch(f->a, true, &e), 0);
	assert_int_equal(fleet_nats_subscribe(f->a, "cim.fleet.trigger", &e), 0);
	assert_true(wait_event(f->a, FLEET_NATS_WATCH_READY, &ev));
	put(f->a, "web-01", "web-01 by web-01", NULL);
	put(f->b, "web-02", "web-02 by web-02", NULL);
	/* web-02 may not write web-01's key */
	assert_int_equal(fleet_nats_put(f->b, "web-01", "forged", 6, NULL, &e), -1);
	assert_true(wait_event(f->a, FLEET_NATS_ENTRY, &ev));
	assert_string_equal(ev.entry.key, "web-01");
	fleet_nats_event_release(&ev);
	assert_true(wait_event(f->a, FLEET_NATS_ENTRY, &ev));
	assert_string_equal(ev.entry.key, "web-02");
	fleet_nats_event_release(&ev);
	/* every host reads the whole bucket; the forged put is not in it */
	assert_int_equal(fleet_nats_read_all(f->b, NULL, &v, &count, &e), 0);
	assert_int_equal(count, 2);
	assert_memory_equal(v[0].value, "web-01 by web-01", 16);
	fleet_entries_free(v, count);
	/* CI triggers, without the bucket */
	assert_null(connect_as(f, "ci", "cim-fleet", &e));
	if (!(ci = connect_as(f, "ci", NULL, &e)))
		fail_msg("%s", e.msg);
	assert_int_equal(fleet_nats_put(ci, "web-01", "x", 1, NULL, &e), -1);
	assert_string_equal(e.msg, "nats: put web-01: no bucket was opened");
	assert_int_equal(fleet_nats_publish(ci, "cim.fleet.trigger", "1a2b3c4", 7, &e), 0);
	assert_true(wait_event(f->a, FLEET_NATS_TRIGGER, &ev));
	assert_string_equal(ev.data, "1a2b3c4");
	fleet_nats_event_release(&ev);
	fleet_nats_close(ci);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_every_kept_revision_of_every_key_is_read, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_the_watch_delivers_what_is_there_then_every_put,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_triggers_are_published_and_received, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_an_unreachable_server_fails_within_the_timeout,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_the_watch_and_puts_survive_a_server_restart, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tls_with_a_client_certificate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_per_host_permissions, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	fleet_nats_shutdown();
	return rc;
}
