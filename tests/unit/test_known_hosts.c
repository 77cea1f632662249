/* Unit tests for the known_hosts check of the ssh transport. */
#include "base/err.h"
#include "pull/known_hosts.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

/* Throwaway test keys: the wire blobs of two ed25519 public keys. */
#define KEY_A_B64 "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
#define KEY_B_B64 "AAAAC3NzaC1lZDI1NTE5AAAAIB8mVELw0hTNhE+OB6DTyp0RxUAn6y8uUmJNbsw9Z/VH"

static unsigned char key_a[51], key_b[51];

static int setup(void **state)
{
	(void)state;
	static const unsigned char prefix[] = {0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2',
					       '5', '5', '1', '9', 0, 0, 0, 32};
	/* The same keys as KEY_A_B64 and KEY_B_B64, as bytes. */
	static const unsigned char a[32] = {0xe3, 0x2a, 0xaa, 0x79, 0x15, 0xce, 0xb9, 0xb4,
					    0x49, 0xd1, 0xba, 0x50, 0xea, 0x2a, 0x28, 0xbb,
					    0x1a, 0x6e, 0x01, 0xf9, 0x0b, 0xda, 0x24, 0x5a,
					    0x2d, 0x1d, 0x87, 0x69, 0x7d, 0x18, 0xa2, 0x65};
	static const unsigned char b[32] = {0x1f, 0x26, 0x54, 0x42, 0xf0, 0xd2, 0x14, 0xcd,
					    0x84, 0x4f, 0x8e, 0x07, 0xa0, 0xd3, 0xca, 0x9d,
					    0x11, 0xc5, 0x40, 0x27, 0xeb, 0x2f, 0x2e, 0x52,
					    0x62, 0x4d, 0x6e, 0xcc, 0x3d, 0x67, 0xf5, 0x47};
	memcpy(key_a, prefix, sizeof(prefix));
	memcpy(key_a + sizeof(prefix), a, 32);
	memcpy(key_b, prefix, sizeof(prefix));
	memcpy(key_b + sizeof(prefix), b, 32);
	return 0;
}

static int check(const char *text, const char *host, int port, const unsigned char *key,
		 struct err *e)
{
	return known_hosts_check(text, strlen(text), "kh", host, port, key, sizeof(key_a), e);
}

static void listed_key_matches(void **state)
{
	struct err e = {{0}};
	(void)state;
	assert_int_equal(check("git.example.com ssh-ed25519 " KEY_A_B64 "\n", "git.example.com",
			       22, key_a, &e),
			 0);
	assert_int_equal(check("GIT.example.com,other ssh-ed25519 " KEY_A_B64, "git.example.com",
			       22, key_a, &e),
			 0);
}

static void changed_key_is_refused_and_said(void **state)
{
	struct err e = {{0}};
	(void)state;
	assert_int_equal(check("git.example.com ssh-ed25519 " KEY_A_B64 "\n", "git.example.com",
			       22, key_b, &e),
			 -1);
	assert_non_null(strstr(e.msg, "does not match"));
}

static void unlisted_host_is_refused_with_a_hint(void **state)
{
	struct err e = {{0}};
	(void)state;
	assert_int_equal(check("other.example.com ssh-ed25519 " KEY_A_B64 "\n", "git.example.com",
			       22, key_a, &e),
			 -1);
	assert_non_null(strstr(e.msg, "is not listed in kh"));
	assert_non_null(strstr(e.msg, "ssh-keyscan -p 22 git.example.com"));
}

static void port_entries_need_the_port(void **state)
{
	struct err e = {{0}};
	(void)state;
	const char *text = "[git.example.com]:2222 ssh-ed25519 " KEY_A_B64 "\n";
	assert_int_equal(check(text, "git.example.com", 2222, key_a, &e), 0);
	assert_int_equal(check(text, "git.example.com", 22, key_a, &e), -1);
}

static void wildcards_and_negation(void **state)
{
	struct err e = {{0}};
	(void)state;
	const char *text = "*.example.com,!evil.example.com ssh-ed25519 " KEY_A_B64 "\n";
	assert_int_equal(check(text, "git.example.com", 22, key_a, &e), 0);
	assert_int_equal(check(text, "evil.example.com", 22, key_a, &e), -1);
}

static void revoked_key_is_refused_even_when_also_listed(void **state)
{
	struct err e = {{0}};
	(void)state;
	const char *text = "@revoked * ssh-ed25519 " KEY_A_B64 "\n"
			   "git.example.com ssh-ed25519 " KEY_A_B64 "\n";
	assert_int_equal(check(text, "git.example.com", 22, key_a, &e), -1);
	assert_non_null(strstr(e.msg, "@revoked"));
}

static void hashed_and_ca_lines_never_match(void **state)
{
	struct err e = {{0}};
	(void)state;
	const char *text = "|1|c2FsdA==|aGFzaA== ssh-ed25519 " KEY_A_B64 "\n"
			   "@cert-authority * ssh-ed25519 " KEY_A_B64 "\n";
	assert_int_equal(check(text, "git.example.com", 22, key_a, &e), -1);
}

static void malformed_lines_are_errors_with_their_line(void **state)
{
	struct err e = {{0}};
	(void)state;
	assert_int_equal(check("# c\ngit.example.com ssh-ed25519\n", "git.example.com", 22,
			       key_a, &e),
			 -1);
	assert_non_null(strstr(e.msg, "kh:2:"));
	assert_int_equal(check("git.example.com ssh-ed25519 !!notbase64!!\n", "git.example.com",
			       22, key_a, &e),
			 -1);
	assert_non_null(strstr(e.msg, "base64"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(listed_key_matches),
		cmocka_unit_test(changed_key_is_refused_and_said),
		cmocka_unit_test(unlisted_host_is_refused_with_a_hint),
		cmocka_unit_test(port_entries_need_the_port),
		cmocka_unit_test(wildcards_and_negation),
		cmocka_unit_test(revoked_key_is_refused_even_when_also_listed),
		cmocka_unit_test(hashed_and_ca_lines_never_match),
		cmocka_unit_test(malformed_lines_are_errors_with_their_line),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
