/* Unit tests of base/sshwire.c: the bounds of the SSH wire reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/sshwire.h"

#include <string.h>

static void test_reads_in_order(void **state)
{
	static const uint8_t buf[] = {0, 0, 0, 3, 'a', 'b', 'c', 0xde, 0xad, 0xbe, 0xef, 7};
	struct sshwire w = sshwire_init(buf, sizeof(buf));
	const uint8_t *s;
	size_t len;
	uint32_t v;
	uint8_t b;

	assert_int_equal(sshwire_string(&w, &s, &len), 0);
	assert_true(sshwire_eq(s, len, "abc"));
	assert_false(sshwire_eq(s, len, "ab"));
	assert_int_equal(sshwire_u32(&w, &v), 0);
	assert_int_equal(v, 0xdeadbeef);
	assert_int_equal(sshwire_u8(&w, &b), 0);
	assert_int_equal(b, 7);
	assert_int_equal(sshwire_left(&w), 0);
	assert_int_equal(sshwire_u8(&w, &b), -1);
}

static void test_short_data_leaves_the_cursor(void **state)
{
	/* A string that claims 5 bytes where 4 follow, then a short u32. */
	static const uint8_t buf[] = {0, 0, 0, 5, 'a', 'b', 'c', 'd'};
	struct sshwire w = sshwire_init(buf, sizeof(buf));
	const uint8_t *s = NULL;
	size_t len = 99;
	uint32_t v;

	assert_int_equal(sshwire_string(&w, &s, &len), -1);
	assert_int_equal(sshwire_left(&w), sizeof(buf));
	assert_int_equal(len, 99);
	w = sshwire_init(buf, 3);
	assert_int_equal(sshwire_u32(&w, &v), -1);
	assert_int_equal(sshwire_left(&w), 3);
	/* A length near 2^32 must not wrap around. */
	static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 'x'};
	w = sshwire_init(huge, sizeof(huge));
	assert_int_equal(sshwire_string(&w, &s, &len), -1);
}

static void test_writers_round_trip(void **state)
{
	uint8_t buf[32];
	uint8_t *end = sshwire_put_string(sshwire_put_u32(buf, 42), "key", 3);
	struct sshwire w = sshwire_init(buf, (size_t)(end - buf));
	const uint8_t *s;
	size_t len;
	uint32_t v;

	assert_int_equal(end - buf, 4 + 4 + 3);
	assert_int_equal(sshwire_u32(&w, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(sshwire_string(&w, &s, &len), 0);
	assert_true(sshwire_eq(s, len, "key"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reads_in_order),
	    cmocka_unit_test(test_short_data_leaves_the_cursor),
	    cmocka_unit_test(test_writers_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
