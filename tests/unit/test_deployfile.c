/* Unit tests of apply/deployfile.c: which prebuilt system each host runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "apply/deployfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "deploy/hosts.json"
#define P1   "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-web1-24.05"
#define P2   "/nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-profile-pi"

static void parse_fails(const char *text, size_t len, const char *msg)
{
	struct deployfile d;
	struct err e = {{0}};

	assert_int_equal(deployfile_parse(&d, NAME, text, len, &e), -1);
	if (!strstr(e.msg, msg))
		fail_msg("'%s' not in '%s'", msg, e.msg);
	assert_null(d.v);
	assert_int_equal(d.n, 0);
}

static void fails(const char *text, const char *msg)
{
	parse_fails(text, strlen(text), msg);
}

/* A file with one host whose entry is entry (JSON text). */
static void host_fails(const char *entry, const char *msg)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "{\n  \"version\": 1,\n  \"hosts\": {\n    \"web1\": %s\n  }\n}\n", entry);
	fails(text, msg);
}

static void test_hosts_with_and_without_system(void **state)
{
	static const char text[] =
	    "{\n"
	    "  \"version\": 1,\n"
	    "  \"hosts\": {\n"
	    "    \"web1\": { \"path\": \"" P1 "\", \"system\": \"x86_64-linux\" },\n"
	    "    \"pi\": { \"path\": \"" P2 "\" }\n"
	    "  }\n"
	    "}\n";
	struct deployfile d;
	struct err e = {{0}};
	const struct deployfile_host *h;

	if (deployfile_parse(&d, NAME, text, strlen(text), &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.v[0].name, "web1");
	assert_string_equal(d.v[1].name, "pi");
	h = deployfile_find(&d, "web1");
	assert_non_null(h);
	assert_string_equal(h->path, P1);
	assert_string_equal(h->system, "x86_64-linux");
	h = deployfile_find(&d, "pi");
	assert_non_null(h);
	assert_string_equal(h->path, P2);
	assert_string_equal(h->system, "");
	assert_null(deployfile_find(&d, "web"));
	assert_null(deployfile_find(&d, "web10"));
	deployfile_release(&d);
	assert_null(d.v);
}

static void test_no_hosts_is_valid(void **state)
{
	static const char text[] = "{\"hosts\":{},\"version\":1}";
	struct deployfile d;
	struct err e = {{0}};

	if (deployfile_parse(&d, NAME, text, strlen(text), &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(d.n, 0);
	assert_null(deployfile_find(&d, "web1"));
	deployfile_release(&d);
}

static void test_store_paths(void **state)
{
	char longest[300], too_long[300];

	assert_true(deployfile_store_path_ok(P1));
	assert_true(deployfile_store_path_ok(P2));
	assert_true(
	    deployfile_store_path_ok("/nix/store/00000000000000000000000000000000-a+b_c?d=e.f-1"));
	snprintf(longest, sizeof(longest), "/nix/store/%s-%0211d",
		 "00000000000000000000000000000000", 0);
	assert_int_equal(strlen(longest), DEPLOYFILE_PATH_MAX);
	assert_true(deployfile_store_path_ok(longest));
	snprintf(too_long, sizeof(too_long), "%sx", longest);
	assert_false(deployfile_store_path_ok(too_long));
	/* Letters outside Nix's base 32 (e, o, u, t), upper case, short hashes. */
	assert_false(deployfile_store_path_ok("/nix/store/e0000000000000000000000000000000-x"));
	assert_false(deployfile_store_path_ok("/nix/store/o0000000000000000000000000000000-x"));
	assert_false(deployfile_store_path_ok("/nix/store/u0000000000000000000000000000000-x"));
	assert_false(deployfile_store_path_ok("/nix/store/t0000000000000000000000000000000-x"));
	assert_false(deployfile_store_path_ok("/nix/store/A0000000000000000000000000000000-x"));
	assert_false(deployfile_store_path_ok("/nix/store/0000000000000000000000000000000-x"));
	assert_false(deployfile_store_path_ok("/nix/store/000000000000000000000000000000000-x"));
	/* No name, a leading dot, a subpath, other directories, characters. */
	assert_false(deployfile_store_path_ok("/nix/store/00000000000000000000000000000000-"));
	assert_false(deployfile_store_path_ok("/nix/store/00000000000000000000000000000000"));
	assert_false(deployfile_store_path_ok("/nix/store/00000000000000000000000000000000-.x"));
	assert_false(deployfile_store_path_ok("/nix/store/00000000000000000000000000000000-x/bin"));
	assert_false(deployfile_store_path_ok("/nix/store/00000000000000000000000000000000-a b"));
	assert_false(deployfile_store_path_ok("/nix/store/00000000000000000000000000000000-a\n"));
	assert_false(deployfile_store_path_ok("/nix/store/../00000000000000000000000000000-x"));
	assert_false(deployfile_store_path_ok("/nix/stor/00000000000000000000000000000000-x"));
	assert_false(deployfile_store_path_ok("nix/store/00000000000000000000000000000000-x"));
	assert_false(deployfile_store_path_ok("/tmp/store/00000000000000000000000000000000-x"));
	assert_false(deployfile_store_path_ok("//nix/store/00000000000000000000000000000000-x"));
	assert_false(deployfile_store_path_ok(""));
}

static void test_systems(void **state)
{
	char local[DEPLOYFILE_SYSTEM_MAX + 1];

	assert_true(deployfile_system_ok("x86_64-linux"));
	assert_true(deployfile_system_ok("aarch64-darwin"));
	assert_true(deployfile_system_ok("armv7l-linux"));
	assert_false(deployfile_system_ok("linux"));
	assert_false(deployfile_system_ok("-linux"));
	assert_false(deployfile_system_ok("x86_64-"));
	assert_false(deployfile_system_ok("x86 64-linux"));
	assert_false(deployfile_system_ok(""));
	assert_int_equal(deployfile_local_system(local, sizeof(local)), 0);
	assert_true(deployfile_system_ok(local));
	assert_int_equal(deployfile_local_system(local, 4), -1);
}

static void test_malformed_json(void **state)
{
	fails("", "deploy/hosts.json:1:0: not valid JSON");
	fails("{\"version\": 1, \"hosts\": {}", "not valid JSON");
	fails("{\"version\": 1,\n\"hosts\": {\"a\": {\"path\": \"" P1 "\",}}}",
	      "deploy/hosts.json:2:");
	fails("{\"version\": 1, \"hosts\": {}} trailing", "not valid JSON");
	parse_fails("{\"version\": 1,\n \"hosts\": {}}\0", 30, "deploy/hosts.json:2: a NUL byte");
	fails("[]", "deploy/hosts.json:1: not a deployment file");
	fails("\"/nix/store/x\"", "1:14: not valid JSON");
	fails("{\"version\": 1, \"hosts\": {}, \"version\": 1}", "duplicate object key");
	fails("{\"version\": 1, \"hosts\": {\"a\": {\"path\": \"" P1 "\"}, \"a\": {\"path\": \"" P2
	      "\"}}}",
	      "duplicate object key");
	fails("{\"version\": 1, \"hosts\": {\"a\": {\"path\": \"" P1 "\", \"path\": \"" P2 "\"}}}",
	      "duplicate object key");
}

static void test_version_and_top_level(void **state)
{
	fails("{\"hosts\": {}}", "deploy/hosts.json: no \"version\"; add \"version\": 1");
	fails("{\"version\": 2, \"hosts\": {}}", "\"version\" must be 1");
	fails("{\"version\": \"1\", \"hosts\": {}}", "\"version\" must be 1");
	fails("{\"version\": 1.0, \"hosts\": {}}", "\"version\" must be 1");
	fails("{\"version\": 1}", "\"hosts\" must be an object");
	fails("{\"version\": 1, \"hosts\": []}", "\"hosts\" must be an object");
	fails("{\"version\": 1,\n\"hosts\": {},\n\"flake\": \"x\"}",
	      "deploy/hosts.json:3: unknown key \"flake\"; remove it");
}

static void test_bad_hosts(void **state)
{
	host_fails("\"" P1 "\"", "deploy/hosts.json:4: host \"web1\" must be an object");
	host_fails("{}", "deploy/hosts.json:4: host \"web1\" has no \"path\"");
	host_fails("{\"path\": 1}", "\"path\" must be a string");
	host_fails("{\"path\": null}", "\"path\" must be a string");
	host_fails("{\"path\": \"" P1 "\", \"system\": 64}", "\"system\" must be a string");
	host_fails("{\"path\": \"" P1 "\", \"System\": \"x86_64-linux\"}",
		   "host \"web1\": unknown key \"System\"");
	host_fails(
	    "{\"path\": \"/nix/store/abc-web1\"}",
	    "deploy/hosts.json:4: host \"web1\": \"/nix/store/abc-web1\" is not a store path; "
	    "it must be /nix/store/<32 base-32 characters>-<name>");
	host_fails("{\"path\": \"" P1 "/bin/switch-to-configuration\"}", "is not a store path");
	host_fails("{\"path\": \"/nix/store/00000000000000000000000000000000-x\\u001b[31m\"}",
		   "\"/nix/store/00000000000000000000000000000000-x?[31m\" is not a store path");
	host_fails("{\"path\": \"" P1 "\", \"system\": \"linux\"}",
		   "\"linux\" is not a Nix system type");
	host_fails("{\n      \"system\": \"x86_64-linux\",\n      \"path\": \"./result\"\n    }",
		   "deploy/hosts.json:6: host \"web1\": \"./result\" is not a store path");
	fails("{\"version\": 1, \"hosts\": {\"-web\": {\"path\": \"" P1 "\"}}}",
	      "\"-web\" is not a valid host name");
	fails("{\"version\": 1, \"hosts\": {\"a..b\": {\"path\": \"" P1 "\"}}}",
	      "\"a..b\" is not a valid host name");
	fails("{\"version\": 1, \"hosts\": {\"\": {\"path\": \"" P1 "\"}}}",
	      "\"\" is not a valid host name");
	fails("{\"version\": 1, \"hosts\": {\"web\\n1\": {\"path\": \"" P1 "\"}}}",
	      "\"web?1\" is not a valid host name");
}

static void test_long_values(void **state)
{
	char entry[2048], big[1200];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(entry, sizeof(entry), "{\"path\": \"/nix/store/%s\"}", big);
	host_fails(entry, "\"path\" is longer than 255 characters");
	snprintf(entry, sizeof(entry), "{\"path\": \"" P1 "\", \"system\": \"%.65s\"}", big);
	host_fails(entry, "\"system\" is longer than 64 characters");
	snprintf(entry, sizeof(entry),
		 "{\"version\": 1, \"hosts\": {\"%.254s\": {\"path\": \"" P1 "\"}}}", big);
	fails(entry, "is not a valid host name");
	/* A long value is shown cut short. */
	snprintf(entry, sizeof(entry), "{\"path\": \"/nix/store/%.200s\"}", big);
	host_fails(entry, "aaa...\" is not a store path");
}

static void test_size_limits(void **state)
{
	size_t len = DEPLOYFILE_MAX_BYTES + 1;
	char *text = malloc(len);

	assert_non_null(text);
	memset(text, ' ', len);
	memcpy(text, "{\"version\": 1, \"hosts\": {}}", 27);
	parse_fails(text, len, "deploy/hosts.json: larger than 4194304 bytes");
	/* One byte less is read (and is valid: trailing white space). */
	struct deployfile d;
	struct err e = {{0}};
	if (deployfile_parse(&d, NAME, text, len - 1, &e) != 0)
		fail_msg("%s", e.msg);
	deployfile_release(&d);
	free(text);
}

static char *many_hosts(size_t n)
{
	size_t size = 64 + n * 96, off;
	char *text = malloc(size);

	assert_non_null(text);
	off = (size_t)snprintf(text, size, "{\"version\": 1, \"hosts\": {");
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(text + off, size - off, "%s\"h%zu\": {\"path\": \"%s\"}",
					i ? "," : "", i, P1);
	snprintf(text + off, size - off, "}}");
	return text;
}

static void test_too_many_hosts(void **state)
{
	char *text = many_hosts(DEPLOYFILE_MAX_HOSTS);
	struct deployfile d;
	struct err e = {{0}};

	if (deployfile_parse(&d, NAME, text, strlen(text), &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(d.n, DEPLOYFILE_MAX_HOSTS);
	assert_non_null(deployfile_find(&d, "h19999"));
	deployfile_release(&d);
	free(text);
	text = many_hosts(DEPLOYFILE_MAX_HOSTS + 1);
	fails(text, "more than 20000 hosts");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hosts_with_and_without_system),
	    cmocka_unit_test(test_no_hosts_is_valid),
	    cmocka_unit_test(test_store_paths),
	    cmocka_unit_test(test_systems),
	    cmocka_unit_test(test_malformed_json),
	    cmocka_unit_test(test_version_and_top_level),
	    cmocka_unit_test(test_bad_hosts),
	    cmocka_unit_test(test_long_values),
	    cmocka_unit_test(test_size_limits),
	    cmocka_unit_test(test_too_many_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
