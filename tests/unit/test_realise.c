/* Unit tests of apply/realise.c: telling nix-store's failures apart, on the
 * messages Nix 2.8 prints (tests/t/t0350-cache-realise.t runs the real one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "apply/realise.h"

#include <string.h>

#define P "/nix/store/pcfjxqqn167pf31iyanfw2dkv5g4xcf1-nixos-system-web1"

static const char missing[] = "don't know how to build these paths:\n"
			      "  " P "\n"
			      "error: build of '" P "' failed\n";
static const char untrusted[] =
    "these 2 paths will be fetched (0.00 MiB download, 0.00 MiB unpacked):\n"
    "  " P "\n"
    "warning: the substitute for '" P "' from 'file:///srv/cache' is not signed by any of "
    "the keys in 'trusted-public-keys'\n"
    "error: build of '" P "' failed\n";
static const char unreachable[] =
    "warning: error: unable to download 'http://127.0.0.1:1/nix-cache-info': Couldn't "
    "connect to server (7); retrying in 261 ms\n"
    "don't know how to build these paths:\n"
    "  " P "\n"
    "error: build of '" P "' failed\n";
static const char broken_cache[] = "copying path '" P "' from 'file:///srv/cache'...\n"
				   "error: file 'nar/1hvd.nar.xz' does not exist in binary cache\n"
				   "error: build of '" P "' failed\n";
static const char disk_full[] = "error: writing to file: No space left on device\n";

static void test_success(void **state)
{
	assert_int_equal(realise_classify(0, false, ""), REALISE_OK);
	assert_int_equal(realise_classify(0, false, untrusted), REALISE_OK);
}

static void test_commit_faults(void **state)
{
	assert_int_equal(realise_classify(1, false, missing), REALISE_MISSING);
	assert_int_equal(realise_classify(1, false, untrusted), REALISE_UNTRUSTED);
	assert_int_equal(realise_classify(1, false,
					  "error: cannot add path '" P "' because it lacks a valid "
					  "signature\n"),
			 REALISE_UNTRUSTED);
	assert_int_equal(realise_classify(1, false,
					  "error: path '" P "' is required, but there is no "
					  "substituter that can build it\n"),
			 REALISE_MISSING);
	assert_true(realise_commit_fault(REALISE_MISSING));
	assert_true(realise_commit_fault(REALISE_UNTRUSTED));
}

static void test_host_faults(void **state)
{
	/* An unreachable cache says nothing about whether it has the path. */
	assert_int_equal(realise_classify(1, false, unreachable), REALISE_HOST_FAULT);
	assert_int_equal(realise_classify(1, false, broken_cache), REALISE_HOST_FAULT);
	assert_int_equal(realise_classify(1, false, disk_full), REALISE_HOST_FAULT);
	assert_int_equal(realise_classify(1, false, "error: something new\n"), REALISE_HOST_FAULT);
	assert_int_equal(realise_classify(1, false, ""), REALISE_HOST_FAULT);
	/* Killed, timed out, not started, not found: whatever it printed. */
	assert_int_equal(realise_classify(137, false, missing), REALISE_HOST_FAULT);
	assert_int_equal(realise_classify(137, true, untrusted), REALISE_HOST_FAULT);
	assert_int_equal(realise_classify(0, true, ""), REALISE_HOST_FAULT);
	assert_int_equal(realise_classify(-1, false, ""), REALISE_HOST_FAULT);
	assert_int_equal(realise_classify(127, false, missing), REALISE_HOST_FAULT);
	assert_false(realise_commit_fault(REALISE_HOST_FAULT));
	assert_false(realise_commit_fault(REALISE_OK));
}

static void test_names(void **state)
{
	assert_string_equal(realise_result_name(REALISE_OK), "ok");
	assert_string_equal(realise_result_name(REALISE_MISSING), "missing");
	assert_string_equal(realise_result_name(REALISE_UNTRUSTED), "untrusted");
	assert_string_equal(realise_result_name(REALISE_HOST_FAULT), "host-fault");
}

static void test_not_a_store_path(void **state)
{
	struct realise_opts o = {.nix = "/nonexistent/nix", .gc_root = "/nonexistent/root"};
	struct err e = {{0}};

	assert_int_equal(realise_path("/tmp/x", &o, &e), REALISE_MISSING);
	assert_non_null(strstr(e.msg, "\"/tmp/x\" is not a store path"));
	assert_int_equal(realise_path(P "/bin/switch-to-configuration", &o, &e), REALISE_MISSING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_success),	     cmocka_unit_test(test_commit_faults),
	    cmocka_unit_test(test_host_faults),	     cmocka_unit_test(test_names),
	    cmocka_unit_test(test_not_a_store_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
