/* Unit tests of fleet/hosts.c: the fleet's members and their report keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "fleet/hosts.h"
#include "fixtures.h"
#include "fleet_fixtures.h"

#include <stdlib.h>
#include <string.h>

static void parse_fails(const char *text, size_t len, const char *msg)
{
	struct fleet_hosts h;
	struct err e = {{0}};

	assert_int_equal(fleet_hosts_parse(&h, "fleet/hosts", text, len, &e), -1);
	if (!strstr(e.msg, msg))
		fail_msg("'%s' not in '%s'", msg, e.msg);
	assert_null(h.v);
	assert_int_equal(h.n, 0);
}

static void fails(const char *text, const char *msg)
{
	parse_fails(text, strlen(text), msg);
}

static void test_members_with_comments_and_blank_lines(void **state)
{
	static const char *const names[] = {"web-01", "db-01", "app.example.org", NULL};
	char *body = fx_hosts_text(names), text[2048];
	struct fleet_hosts h;
	struct err e = {{0}};
	unsigned char pk[32], sk[64];

	snprintf(text, sizeof(text), "# the fleet\n\n   \t\n%s# end\n", body);
	free(body);
	if (fleet_hosts_parse(&h, "fleet/hosts", text, strlen(text), &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.source, "fleet/hosts");
	assert_string_equal(h.v[0].name, "web-01");
	assert_int_equal(h.v[0].line, 4);
	assert_int_equal(h.v[2].line, 6);
	fx_keypair("db-01", pk, sk);
	assert_memory_equal(fleet_hosts_find(&h, "db-01")->key, pk, 32);
	assert_int_equal(fleet_hosts_index(&h, "app.example.org"), 2);
	assert_null(fleet_hosts_find(&h, "web-02"));
	assert_null(fleet_hosts_find(&h, "web-0"));
	assert_int_equal(fleet_hosts_index(&h, ""), -1);
	fleet_hosts_release(&h);
	assert_null(h.v);
}

static void test_crlf_tabs_and_no_final_newline(void **state)
{
	const char *text = "web-01\tssh-ed25519\t" FX_ADA_B64 "\tada's laptop\r\n"
			   "web-02 ssh-ed25519 " FX_ADA_B64;
	struct fleet_hosts h;
	struct err e = {{0}};

	/* The same key twice: refused, naming the second line. */
	assert_int_equal(fleet_hosts_parse(&h, "hosts", text, strlen(text), &e), -1);
	assert_string_equal(e.msg, "hosts:2: web-02 has the same key as web-01 (line 1); every "
				   "host signs with a key of its own");
	text = "web-01\tssh-ed25519\t" FX_ADA_B64 "\tada's laptop\r\n";
	if (fleet_hosts_parse(&h, "hosts", text, strlen(text), &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(h.n, 1);
	fleet_hosts_release(&h);
}

static void test_key_round_trip(void **state)
{
	unsigned char pk[32], sk[64];
	char key[128], text[256];
	struct fleet_hosts h;
	struct err e = {{0}};

	assert_int_equal(fleet_key_format((const unsigned char *)"\x0c\xc2\xd3\x91\xd7\x2f\xb6"
								 "\xa3\xa3\xd8\xf3\xf9\xf0\xb7"
								 "\xc6\x2e\x47\x01\x66\x2e\xff"
								 "\x9c\x33\x54\x66\x53\x92\xdd"
								 "\x87\xd1\x8a\x29",
					  key, sizeof(key)),
			 0);
	assert_string_equal(key, "ssh-ed25519 " FX_ADA_B64);
	fx_keypair("x", pk, sk);
	assert_int_equal(fleet_key_format(pk, key, sizeof(key)), 0);
	snprintf(text, sizeof(text), "x %s\n", key);
	assert_int_equal(fleet_hosts_parse(&h, "hosts", text, strlen(text), &e), 0);
	assert_memory_equal(h.v[0].key, pk, 32);
	fleet_hosts_release(&h);
	assert_int_equal(fleet_key_format(pk, key, 20), -1);
}

static void test_twice(void **state)
{
	static const char *const names[] = {"a", "b", NULL};
	char *body = fx_hosts_text(names), text[2048];
	const char *second_a = strchr(body, '\n') + 1; /* "b ..." */

	/* "a" again, with b's key: the name is what is reported. */
	snprintf(text, sizeof(text), "%sa%s", body, second_a + 1);
	fails(text, "hosts:3: a is listed twice (first on line 1)");
	free(body);
}

static void test_refusals(void **state)
{
	fails("", "fleet/hosts: no host (one line per host: NAME ssh-ed25519 AAAA...)");
	fails("# only a comment\n\n", "no host");
	fails("web-01\n", "fleet/hosts:1: web-01 has no key (write: web-01 ssh-ed25519 AAAA...)");
	fails("web-01 ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ\n",
	      "fleet/hosts:1: web-01: only ssh-ed25519 keys can sign reports (found 'ssh-rsa')");
	fails("web-01 ssh-ed25519\n", "fleet/hosts:1: web-01: the ssh-ed25519 key is not valid");
	fails("web-01 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAzC05HXL7ajo9jz\n",
	      "the ssh-ed25519 key is not valid");
	fails("web-01 ssh-ed25519 " FX_ADA_B64 "AAAA\n", "the ssh-ed25519 key is not valid");
	fails("web-01 ssh-ed25519 " FX_ECDSA_B64 "\n", "the ssh-ed25519 key is not valid");
	fails("web-01 ssh-ed25519 !!" FX_ADA_B64 "\n", "the ssh-ed25519 key is not valid");
	fails("-web ssh-ed25519 " FX_ADA_B64 "\n",
	      "fleet/hosts:1: '-web' is not a valid host name");
	fails("web..01 ssh-ed25519 " FX_ADA_B64 "\n", "'web..01' is not a valid host name");
	fails("web-01. ssh-ed25519 " FX_ADA_B64 "\n", "'web-01.' is not a valid host name");
	fails("web*01 ssh-ed25519 " FX_ADA_B64 "\n", "'web*01' is not a valid host name");
	fails("web/01 ssh-ed25519 " FX_ADA_B64 "\n", "'web/01' is not a valid host name");
	fails("\n\nweb-01 ssh-ed25519 " FX_ADA_B64 " a\x1b[31m\n",
	      "fleet/hosts:3: contains a control character");
	parse_fails("web-01 ssh-ed25519 \0", 20, "fleet/hosts: contains a NUL byte");
}

static void test_size_limits(void **state)
{
	char *text = malloc(FLEET_HOSTS_MAX_BYTES + 2);
	char name[300];

	assert_non_null(text);
	memset(name, 'a', sizeof(name));
	name[FLEET_HOST_NAME_MAX + 1] = '\0';
	snprintf(text, 1024, "%s ssh-ed25519 %s\n", name, FX_ADA_B64);
	fails(text, "fleet/hosts:1: the host name is longer than 253 characters");
	name[FLEET_HOST_NAME_MAX] = '\0';
	assert_true(fleet_host_name_ok(name));
	memset(text, '#', FLEET_HOSTS_MAX_LINE + 1);
	text[FLEET_HOSTS_MAX_LINE + 1] = '\0';
	fails(text, "fleet/hosts:1: line is longer than 4096 characters");
	text[FLEET_HOSTS_MAX_LINE] = '\0';
	fails(text, "no host"); /* exactly at the limit is a comment line */
	memset(text, '\n', FLEET_HOSTS_MAX_BYTES + 1);
	parse_fails(text, FLEET_HOSTS_MAX_BYTES + 1, "fleet/hosts: larger than 4194304 bytes");
	free(text);
}

static void test_too_many_hosts(void **state)
{
	size_t n = FLEET_HOSTS_MAX + 1, len = 0, cap = n * 100;
	char *text = malloc(cap);
	struct fleet_hosts h;
	struct err e = {{0}};

	assert_non_null(text);
	for (size_t i = 0; i < n; i++) {
		unsigned char pk[32] = {0};
		char key[128];
		memcpy(pk, &i, sizeof(i));
		assert_int_equal(fleet_key_format(pk, key, sizeof(key)), 0);
		len += (size_t)snprintf(text + len, cap - len, "h%zu %s\n", i, key);
	}
	assert_int_equal(fleet_hosts_parse(&h, "hosts", text, len, &e), -1);
	assert_string_equal(e.msg, "hosts:20001: more than 20000 hosts");
	/* One fewer is fine, and every member is found. */
	text[len - 1] = '\0';
	*(strrchr(text, '\n') + 1) = '\0';
	if (fleet_hosts_parse(&h, "hosts", text, strlen(text), &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(h.n, FLEET_HOSTS_MAX);
	assert_int_equal(fleet_hosts_index(&h, "h19999"), 19999);
	assert_int_equal(fleet_hosts_index(&h, "h0"), 0);
	assert_int_equal(fleet_hosts_index(&h, "h20000"), -1);
	fleet_hosts_release(&h);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_members_with_comments_and_blank_lines),
	    cmocka_unit_test(test_crlf_tabs_and_no_final_newline),
	    cmocka_unit_test(test_key_round_trip),
	    cmocka_unit_test(test_twice),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_size_limits),
	    cmocka_unit_test(test_too_many_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
