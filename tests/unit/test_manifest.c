/* Unit tests of secrets/manifest.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "secrets/manifest.h"

#include <stdlib.h>
#include <string.h>

static struct manifest *parse_ok(const char *text)
{
	struct manifest *m = calloc(1, sizeof(*m));
	struct err e = {{0}};

	assert_non_null(m);
	if (manifest_parse(m, "s.conf", text, strlen(text), &e) != 0)
		fail_msg("%s", e.msg);
	return m;
}

static void parse_fails(const char *text, const char *msg)
{
	struct manifest *m = calloc(1, sizeof(*m));
	struct err e = {{0}};

	assert_non_null(m);
	assert_int_equal(manifest_parse(m, "s.conf", text, strlen(text), &e), -1);
	if (!strstr(e.msg, msg))
		fail_msg("'%s' not in '%s'", msg, e.msg);
	manifest_release(m);
	free(m);
}

static void test_defaults(void **state)
{
	struct manifest *m = parse_ok("[db]\nfile = s/db.age\n");

	assert_int_equal(m->n, 1);
	assert_string_equal(m->v[0].name, "db");
	assert_string_equal(m->v[0].path, "db");
	assert_string_equal(m->v[0].owner, "root");
	assert_null(m->v[0].group);
	assert_int_equal(m->v[0].mode, 0400);
	assert_true(manifest_applies(&m->v[0], "anyhost"));
	manifest_release(m);
	free(m);
}

static void test_all_keys(void **state)
{
	struct manifest *m = parse_ok("# c\n[a]\nfile = x.age\npath = d/e\nowner = nobody\n"
				      "group = nogroup\nmode = 640\nhosts = web-*, db1\n"
				      "hosts = proxy?\n\n[b]\nfile = y.age\npath = /run/s/b\n");

	assert_int_equal(m->n, 2);
	assert_int_equal(m->v[0].mode, 0640);
	assert_int_equal(m->v[0].line, 2);
	assert_int_equal(m->v[1].line, 11);
	assert_true(manifest_applies(&m->v[0], "web-3"));
	assert_true(manifest_applies(&m->v[0], "db1"));
	assert_true(manifest_applies(&m->v[0], "proxy7"));
	assert_false(manifest_applies(&m->v[0], "db2"));
	assert_string_equal(m->v[1].path, "/run/s/b");
	manifest_release(m);
	free(m);
}

static void test_rejections(void **state)
{
	parse_fails("[a]\nfile = ../x.age\n", "s.conf:2: [a] file: '../x.age' must be a path");
	parse_fails("[a]\nfile = /etc/shadow\n", "must be a path inside the repository");
	parse_fails("[a]\nfile = a//b\n", "must be a path inside the repository");
	parse_fails("[a]\nfile = x\npath = a/../../b\n", "s.conf:3: [a] path: 'a/../../b' escapes");
	parse_fails("[a]\nfile = x\npath = ./b\n", "escapes");
	parse_fails("[a]\nfile = x\nmode = 4755\n", "not an octal mode of at most 0777");
	parse_fails("[a]\nfile = x\nmode = rw\n", "not an octal mode");
	parse_fails("[a]\nfile = x\nowner = -x\n", "is not a valid owner name");
	parse_fails("[a]\nfile = x\nfile = y\n", "s.conf:3: [a] file: set twice (first on line 2)");
	parse_fails("[a]\nfile = x\ncolour = red\n", "s.conf:3: [a] colour: unknown key");
	parse_fails("file = x\n", "s.conf:1: 'file' is outside any [secret] section");
	parse_fails("[a]\npath = x\n", "s.conf:1: [a] file is required but not set");
	parse_fails("[a]\nfile = x\n[a]\nfile = y\n",
		    "s.conf:3: [a]: defined twice (first on line 1)");
	parse_fails("[a b]\nfile = x\n", "may only contain letters");
	parse_fails("[a]\n[b]\nfile = x\n", "s.conf:1: a secret without any key");
	parse_fails("[a]\nfile = x\n[b]\n", "s.conf:3: a secret without any key");
	parse_fails("[a]\nfile x\n", "s.conf:2: not a 'key = value' line");
}

static void test_path_ok(void **state)
{
	assert_true(manifest_path_ok("a/b.age"));
	assert_false(manifest_path_ok(""));
	assert_false(manifest_path_ok("a/"));
	assert_false(manifest_path_ok("/a"));
	assert_false(manifest_path_ok(".."));
	assert_false(manifest_path_ok("a/./b"));
	assert_false(manifest_path_ok("a\nb"));
	assert_true(manifest_path_ok("..a/b..")); /* only whole components count */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_all_keys),
	    cmocka_unit_test(test_rejections),
	    cmocka_unit_test(test_path_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
