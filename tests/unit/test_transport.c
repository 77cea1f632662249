/* pull/transport: where the token may go. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pull/transport.h"

static void https_anywhere(void **state)
{
	assert_true(transport_token_allowed("https://git.example.com/fleet.git"));
	assert_true(transport_token_allowed("HTTPS://git.example.com/fleet.git"));
}

static void plain_http_only_to_this_host(void **state)
{
	assert_true(transport_token_allowed("http://127.0.0.1:8080/fleet"));
	assert_true(transport_token_allowed("http://localhost/fleet"));
	assert_true(transport_token_allowed("http://LOCALHOST:99/fleet"));
	assert_true(transport_token_allowed("http://[::1]:8080/fleet"));
	assert_true(transport_token_allowed("http://user:pw@127.0.0.1:8080/fleet"));
	assert_false(transport_token_allowed("http://git.example.com/fleet"));
	assert_false(transport_token_allowed("http://127.0.0.2:8080/fleet"));
}

static void the_user_part_is_not_the_host(void **state)
{
	assert_false(transport_token_allowed("http://127.0.0.1:1@127.0.0.2:8080/fleet"));
	assert_false(transport_token_allowed("http://localhost@evil.example.com/"));
	assert_false(transport_token_allowed("http://[::1]@evil.example.com/"));
	assert_false(transport_token_allowed("http://a@b@evil.example.com/"));
}

static void prefixes_of_the_host_are_not_the_host(void **state)
{
	assert_false(transport_token_allowed("http://127.0.0.1.evil.example.com/fleet"));
	assert_false(transport_token_allowed("http://localhost.evil.example.com:80/"));
	assert_false(transport_token_allowed("http://[::1]x/"));
	assert_false(transport_token_allowed("http://[::1/"));
}

static void other_schemes_get_no_token(void **state)
{
	assert_false(transport_token_allowed("git://127.0.0.1/fleet"));
	assert_false(transport_token_allowed("/srv/git/fleet"));
	assert_false(transport_token_allowed("http:/127.0.0.1/fleet"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(https_anywhere),
	    cmocka_unit_test(plain_http_only_to_this_host),
	    cmocka_unit_test(the_user_part_is_not_the_host),
	    cmocka_unit_test(prefixes_of_the_host_are_not_the_host),
	    cmocka_unit_test(other_schemes_get_no_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
