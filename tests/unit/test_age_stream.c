/* Unit tests of the streaming decryption (secrets/age.c, secrets/age_input.c):
 * chunk boundaries, truncation and the ASCII armor's lines, each read from
 * memory, from a regular file and from a pipe fed in small pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "tests/unit/age_build.h"

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

enum via { VIA_MEMORY, VIA_FILE, VIA_PIPE };
static const enum via every_via[] = {VIA_MEMORY, VIA_FILE, VIA_PIPE};
static const char *const via_name[] = {"memory", "file", "pipe"};

struct sink {
	size_t len;
	crypto_generichash_state h;
};

static int sink_write(void *ctx, const void *buf, size_t len, struct err *e)
{
	struct sink *s = ctx;

	s->len += len;
	crypto_generichash_update(&s->h, buf, len);
	return 0;
}

/* The chunks of a plaintext of size bytes, as age cuts it. */
static size_t chunks_for(size_t size, struct chunk *c, size_t max)
{
	size_t n = 0;

	do {
		size_t len = size > AGE_CHUNK ? AGE_CHUNK : size;
		assert_true(n < max);
		size -= len;
		c[n].len = len;
		c[n].last = size == 0;
		n++;
	} while (size > 0);
	return n;
}

/* The digest of the plaintext build() seals for these chunks. */
static void expected_digest(const struct chunk *c, size_t n, unsigned char out[32])
{
	crypto_generichash_state h;
	unsigned char pt[AGE_CHUNK];

	crypto_generichash_init(&h, NULL, 0, 32);
	for (size_t i = 0; i < n; i++) {
		memset(pt, (int)('a' + i), c[i].len);
		crypto_generichash_update(&h, pt, c[i].len);
	}
	crypto_generichash_final(&h, out, 32);
}

/* b as age -a writes it, with lines of cols columns and eol after each. */
static struct built armor(const struct built *b, size_t cols, const char *eol)
{
	struct built a = {0};
	size_t b64_len = sodium_base64_encoded_len(b->len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(b64_len);

	assert_non_null(b64);
	sodium_bin2base64(b64, b64_len, b->buf, b->len, sodium_base64_VARIANT_ORIGINAL);
	put(&a, "-----BEGIN AGE ENCRYPTED FILE-----", 34);
	put(&a, eol, strlen(eol));
	for (size_t i = 0; i < strlen(b64); i += cols) {
		size_t n = strlen(b64) - i < cols ? strlen(b64) - i : cols;
		put(&a, b64 + i, n);
		put(&a, eol, strlen(eol));
	}
	put(&a, "-----END AGE ENCRYPTED FILE-----", 32);
	put(&a, eol, strlen(eol));
	free(b64);
	return a;
}

static void append(struct built *b, const char *s)
{
	put(b, s, strlen(s));
}

/* A pipe whose other end a child fills in pieces of 4093 bytes. */
static int pipe_from_child(const struct built *b, pid_t *pid)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		close(p[0]);
		for (size_t off = 0; off < b->len; off += 4093)
			if (fd_write_all(p[1], b->buf + off,
					 b->len - off < 4093 ? b->len - off : 4093) < 0)
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	return p[0];
}

static int file_with(const struct built *b)
{
	char path[] = "/tmp/test_age_stream.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(fd_write_all(fd, b->buf, b->len), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static enum age_status decrypt_via(enum via via, const struct built *b, struct sink *s,
				   unsigned char digest[32], struct err *e)
{
	struct age_identities ids = {0};
	struct age_source src = {.fd = -1, .data = b->buf, .len = b->len};
	enum age_status st;
	pid_t pid = -1;

	memset(s, 0, sizeof(*s));
	crypto_generichash_init(&s->h, NULL, 0, 32);
	if (via == VIA_FILE)
		src.fd = file_with(b);
	else if (via == VIA_PIPE)
		src.fd = pipe_from_child(b, &pid);
	assert_int_equal(identity_parse(&ids, "t", TEST_SECRET, strlen(TEST_SECRET), e), 0);
	st = age_decrypt(&src, sink_write, s, &ids, e);
	identities_release(&ids);
	if (src.fd >= 0)
		close(src.fd);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	crypto_generichash_final(&s->h, digest, 32);
	return st;
}

/* Decrypts b (and its armor) from every source and checks the plaintext. */
static void expect_plaintext(const struct built *b, const struct chunk *c, size_t nc, size_t size)
{
	unsigned char want[32], got[32];
	struct built a = armor(b, 64, "\n");
	struct err e = {{0}};
	struct sink s;

	expected_digest(c, nc, want);
	for (size_t i = 0; i < 3; i++) {
		for (int armored = 0; armored < 2; armored++) {
			enum age_status st =
			    decrypt_via(every_via[i], armored ? &a : b, &s, got, &e);
			if (st != AGE_OK || s.len != size || memcmp(got, want, 32) != 0)
				fail_msg("%zu bytes, %s%s: status %d, %zu bytes out: %s", size,
					 via_name[i], armored ? ", armored" : "", st, s.len,
					 st ? e.msg : "wrong plaintext");
		}
	}
	free(a.buf);
}

static void test_chunk_boundaries(void **state)
{
	static const size_t sizes[] = {0,
				       1,
				       AGE_CHUNK - 1,
				       AGE_CHUNK,
				       AGE_CHUNK + 1,
				       2 * AGE_CHUNK,
				       AGE_BATCH_CHUNKS * AGE_CHUNK,
				       AGE_BATCH_CHUNKS * AGE_CHUNK + 1,
				       (AGE_BATCH_CHUNKS + 1) * AGE_CHUNK + 5};
	struct chunk c[AGE_BATCH_CHUNKS + 3];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t nc = chunks_for(sizes[i], c, sizeof(c) / sizeof(c[0]));
		struct built b = build(c, nc, NULL);
		expect_plaintext(&b, c, nc, sizes[i]);
		free(b.buf);
	}
}

/* Every source, binary and armored, fails with status st and msg, and
 * releases nothing (the payloads here fit in one batch). */
static void expect_failure(const struct built *b, enum age_status st, const char *msg)
{
	struct built a = armor(b, 64, "\n");
	unsigned char digest[32];
	struct err e = {{0}};
	struct sink s;

	for (size_t i = 0; i < 3; i++) {
		for (int armored = 0; armored < 2; armored++) {
			enum age_status got =
			    decrypt_via(every_via[i], armored ? &a : b, &s, digest, &e);
			if (got != st || !strstr(e.msg, msg) || s.len != 0)
				fail_msg(
				    "%s%s: status %d (want %d), %zu bytes out, '%s' (want '%s')",
				    via_name[i], armored ? ", armored" : "", got, st, s.len, e.msg,
				    msg);
		}
	}
	free(a.buf);
}

static void test_truncated_final_chunk(void **state)
{
	struct chunk c[2];
	size_t nc = chunks_for(AGE_CHUNK + 100, c, 2);
	struct built b = build(c, nc, NULL);
	size_t full = b.len;

	b.len = full - 1;
	expect_failure(&b, AGE_ERR_PAYLOAD, "chunk 1 failed to authenticate");
	b.len = full - 100 - 6;
	expect_failure(&b, AGE_ERR_PAYLOAD, "chunk 1 is truncated");
	b.len = full - 100 - 16;
	expect_failure(&b, AGE_ERR_PAYLOAD, "truncated after chunk 0 (no final chunk)");
	b.len = full - 100 - 16 - 1;
	expect_failure(&b, AGE_ERR_PAYLOAD, "chunk 0 failed to authenticate");
	free(b.buf);
}

/* A file of 200 KB whose armor is edited: line 4100 of its 4170 lines is in
 * the last chunk, long after the header. */
static struct built armored_200k(size_t cols, const char *eol)
{
	struct chunk c[4];
	size_t nc = chunks_for(200000, c, 4);
	struct built bin = build(c, nc, NULL), a = armor(&bin, cols, eol);

	free(bin.buf);
	return a;
}

static void expect_armor(const struct built *a, enum age_status st, const char *msg)
{
	unsigned char digest[32];
	struct err e = {{0}};
	struct sink s;

	for (size_t i = 0; i < 3; i++) {
		enum age_status got = decrypt_via(every_via[i], a, &s, digest, &e);
		if (got != st || (st && (!strstr(e.msg, msg) || s.len != 0)) ||
		    (!st && s.len != 200000))
			fail_msg("%s: status %d (want %d), %zu bytes out, '%s' (want '%s')",
				 via_name[i], got, st, s.len, got ? e.msg : "", msg ? msg : "");
	}
}

/* Where line n (from 1, BEGIN included) begins. */
static size_t line_start(const struct built *a, size_t n)
{
	size_t off = 0;

	for (size_t i = 1; i < n; i++)
		off = (size_t)((unsigned char *)memchr(a->buf + off, '\n', a->len - off) - a->buf) +
		      1;
	return off;
}

static void insert(struct built *a, size_t off, const char *s)
{
	size_t n = strlen(s);

	put(a, s, n); /* grows the buffer by n */
	memmove(a->buf + off + n, a->buf + off, a->len - n - off);
	memcpy(a->buf + off, s, n);
}

static void test_armor_lines(void **state)
{
	struct built a;

	a = armored_200k(64, "\r\n");
	expect_armor(&a, AGE_OK, NULL);
	free(a.buf);
	a = armored_200k(64, "\n");
	a.len--; /* no newline after END */
	expect_armor(&a, AGE_OK, NULL);
	a.len++;
	insert(&a, line_start(&a, 4100) + 32, "\n"); /* a short line before the last */
	expect_armor(&a, AGE_ERR_HEADER, "invalid ASCII armor (line 4101: base64 after the last");
	free(a.buf);
	a = armored_200k(60, "\n");
	expect_armor(&a, AGE_ERR_HEADER, "invalid ASCII armor (line 3: base64 after the last line");
	free(a.buf);
	a = armored_200k(68, "\n");
	expect_armor(&a, AGE_ERR_HEADER, "invalid ASCII armor (line 2: longer than 64 columns)");
	free(a.buf);
	a = armored_200k(64, "\n");
	insert(&a, line_start(&a, 4100) + 61, "\n"); /* 61 columns, then 3 */
	expect_armor(&a, AGE_ERR_HEADER, "line 4100: not a whole number of base64 groups");
	free(a.buf);
	a = armored_200k(64, "\n");
	a.buf[line_start(&a, 4000) + 30] = '=';
	expect_armor(&a, AGE_ERR_HEADER, "invalid or non-canonical base64");
	free(a.buf);
	a = armored_200k(64, "\n");
	a.len -= 33; /* the END line */
	expect_armor(&a, AGE_ERR_HEADER, "the input ends before the END line");
	a.len -= 10;
	expect_armor(&a, AGE_ERR_HEADER, "the END line is missing");
	free(a.buf);
}

static void test_armor_around(void **state)
{
	struct built a = armored_200k(64, "\n"), b = {0};

	append(&b, "\n \t\r\n");
	put(&b, a.buf, a.len);
	append(&b, "\n\n \t \r\n");
	expect_armor(&b, AGE_OK, NULL);
	append(&b, "junk\n");
	expect_armor(&b, AGE_ERR_PAYLOAD, "trailing data after the armor");
	free(b.buf);
	b = (struct built){0};
	put(&b, a.buf, a.len);
	insert(&b, 34, " ");
	expect_armor(&b, AGE_ERR_HEADER, "invalid ASCII armor (line 1: no BEGIN line)");
	free(b.buf);
	free(a.buf);
}

/* Past one batch, what went before was released; the end is still checked. */
static void test_armor_trailing_after_a_batch(void **state)
{
	struct chunk c[AGE_BATCH_CHUNKS + 1];
	size_t nc = chunks_for(AGE_BATCH_CHUNKS * AGE_CHUNK + 1, c, AGE_BATCH_CHUNKS + 1);
	struct built b = build(c, nc, NULL), a = armor(&b, 64, "\n");
	unsigned char digest[32];
	struct err e = {{0}};
	struct sink s;

	append(&a, "x");
	assert_int_equal(decrypt_via(VIA_PIPE, &a, &s, digest, &e), AGE_ERR_PAYLOAD);
	assert_non_null(strstr(e.msg, "trailing data after the armor"));
	assert_int_equal(s.len, AGE_BATCH_CHUNKS * AGE_CHUNK);
	free(a.buf);
	free(b.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chunk_boundaries),
	    cmocka_unit_test(test_truncated_final_chunk),
	    cmocka_unit_test(test_armor_lines),
	    cmocka_unit_test(test_armor_around),
	    cmocka_unit_test(test_armor_trailing_after_a_batch),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
