/*
 * test_framing.c: the request-framing pre-parser.  Correct requests (Content-Length, chunked,
 * none, pipelined) pass whole and cut into pieces of every size, and are counted: requests
 * begun, heads ended.  Each ambiguous form is refused, naming the element at fault and the
 * request it is in, also when it comes after a correct request on the same connection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "framing.h"

#define POST "POST /x HTTP/1.1\r\nHost: a\r\n"

/* Feeds the n bytes of s in pieces of `step` bytes (0: whole); the last framing_feed's
 * result. */
static int feed(struct framing *f, const char *s, size_t n, size_t step)
{
	int rc = 0;
	framing_init(f);
	if (!step)
		step = n ? n : 1;
	for (size_t at = 0; at < n; at += step)
		rc = framing_feed(f, (const unsigned char *)s + at, n - at < step ? n - at : step);
	return rc;
}

/* s (a literal: NULs included) passes, whole and in pieces of 1 to 9 bytes. */
#define assert_passes(s, requests, heads) passes(s, sizeof(s) - 1, requests, heads)
/* s is refused, naming field, in request number `request` (whole and in pieces). */
#define assert_refused(s, field, request) refused(s, sizeof(s) - 1, field, request)

static void passes(const char *s, size_t n, unsigned requests, unsigned heads)
{
	for (size_t step = 0; step <= 9; step++) {
		struct framing f;
		assert_int_equal(feed(&f, s, n, step), 0);
		assert_int_equal(f.bad, 0);
		assert_int_equal(f.requests, requests);
		assert_int_equal(f.heads, heads);
	}
}

static void refused(const char *s, size_t n, const char *field, unsigned request)
{
	for (size_t step = 0; step <= 9; step++) {
		struct framing f;
		assert_int_equal(feed(&f, s, n, step), -1);
		assert_string_equal(f.field, field);
		assert_int_equal(f.bad, request);
		assert_non_null(f.why);
	}
}

static void test_correct_requests_pass(void **state)
{
	(void)state;
	assert_passes("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1, 1);
	assert_passes(POST "Content-Length: 2\r\n\r\n{}", 1, 1);
	assert_passes(POST "content-length:  0002 \t\r\n\r\n{}", 1, 1);
	assert_passes(POST "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 1, 1);
	assert_passes(POST "transfer-encoding: Chunked\r\n\r\n"
	                   "A\r\n0123456789\r\n01\r\nx\r\n0\r\n\r\n",
	              1, 1);
	assert_passes("HEAD / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 1, 1);
	assert_passes(POST "Content-Length: 123456789012345678901234\r\n\r\n{}", 1, 1); /* 413 */
	/* a body may hold anything: CR, LF, NUL, a request */
	assert_passes(POST "Content-Length: 5\r\n\r\n\n\r\0 \n", 1, 1);
	/* pipelined, and a third begun */
	assert_passes(POST "Content-Length: 2\r\n\r\n{}"
	                   "GET / HTTP/1.1\r\n\r\n"
	                   "POST /x HTTP/1.1\r\nHost",
	              3, 2);
	/* a long header line: only its start is kept */
	char big[4096];
	memset(big, 'a', sizeof big);
	memcpy(big, "GET / HTTP/1.1\r\nCookie: ", 24);
	memcpy(big + sizeof big - 5, "\r\n\r\n", 5);
	passes(big, sizeof big - 1, 1, 1);
}

static void test_transfer_encoding(void **state)
{
	(void)state;
	static const char *const cases[] = {
	        POST "Transfer-Encoding: gzip, chunked\r\n\r\n",
	        POST "Transfer-Encoding: chunked, identity\r\n\r\n",
	        POST "Transfer-Encoding: identity\r\n\r\n",
	        POST "Transfer-Encoding: x-chunked\r\n\r\n",
	        POST "Transfer-Encoding: chunkedx\r\n\r\n",
	        POST "Transfer-Encoding:\tchunked\r\n\r\n",
	        POST "Transfer-Encoding: \r\n\r\n",
	        POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	        POST "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
	        POST "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	        "HEAD / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		refused(cases[i], strlen(cases[i]), "Transfer-Encoding", 1);
}

static void test_content_length(void **state)
{
	(void)state;
	static const char *const cases[] = {
	        POST "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
	        POST "Content-Length: +2\r\n\r\n{}",
	        POST "Content-Length: -2\r\n\r\n{}",
	        POST "Content-Length: 2, 2\r\n\r\n{}",
	        POST "Content-Length: 0x2\r\n\r\n{}",
	        POST "Content-Length:\t2\r\n\r\n{}",
	        POST "Content-Length: \r\n\r\n",
	        "HEAD / HTTP/1.1\r\nContent-Length: 5\r\n\r\nGET /",
	        "TRACE / HTTP/1.1\r\nContent-Length: 5\r\n\r\nGET /",
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		refused(cases[i], strlen(cases[i]), "Content-Length", 1);
}

static void test_chunk_sizes(void **state)
{
	(void)state;
	static const char *const cases[] = {
	        POST "Transfer-Encoding: chunked\r\n\r\n0x2\r\n{}\r\n0\r\n\r\n",
	        POST "Transfer-Encoding: chunked\r\n\r\n0X2\r\n{}\r\n0\r\n\r\n",
	        POST "Transfer-Encoding: chunked\r\n\r\n+2\r\n{}\r\n0\r\n\r\n",
	        POST "Transfer-Encoding: chunked\r\n\r\n-0\r\n\r\n",
	        POST "Transfer-Encoding: chunked\r\n\r\n 2\r\n{}\r\n0\r\n\r\n",
	        POST "Transfer-Encoding: chunked\r\n\r\n2 \r\n{}\r\n0\r\n\r\n",
	        POST "Transfer-Encoding: chunked\r\n\r\n2;a=b\r\n{}\r\n0\r\n\r\n",
	        POST "Transfer-Encoding: chunked\r\n\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
	        POST "Transfer-Encoding: chunked\r\n\r\n2\n{}\r\n0\r\n\r\n",
	        POST "Transfer-Encoding: chunked\r\n\r\n1000000000000000\r\n",
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		refused(cases[i], strlen(cases[i]), "chunk-size", 1);
	assert_refused(POST "Transfer-Encoding: chunked\r\n\r\n2\r\n{}x\r\n0\r\n\r\n", "chunk-data",
	               1);
	assert_refused(POST "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\n0\r\n\r\n", "chunk-data",
	               1);
	assert_refused(POST "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: a\r\n\r\n",
	               "trailer", 1);
}

static void test_lines(void **state)
{
	(void)state;
	assert_refused("GET / HTTP/1.1\nHost: a\r\n\r\n", "line-end", 1);
	assert_refused("GET / HTTP/1.1\r\nHost: a\n\r\n", "line-end", 1);
	assert_refused("GET / HTTP/1.1\r\nHost: a\r\n\n", "line-end", 1);
	assert_refused("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", "line-end", 1);
	assert_refused("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", "line-end", 1);
	assert_refused("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", "obs-fold", 1);
	assert_refused("GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n", "obs-fold", 1);
	assert_refused("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n", "head", 1);
	assert_refused("GET /\0 HTTP/1.1\r\n\r\n", "head", 1);
	/* the first fault is named, however the bytes come */
	assert_refused("GET / HTTP/1.1\r\nX-A: a\0b\rc\r\n\r\n", "head", 1);
	assert_refused("GET / HTTP/1.1\r\nX-A: a\rb\0c\r\n\r\n", "line-end", 1);
	assert_refused("GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n", "header-name", 1);
	assert_refused("GET / HTTP/1.1\r\nX A: b\r\n\r\n", "header-name", 1);
	assert_refused("GET / HTTP/1.1\r\n: b\r\n\r\n", "header-name", 1);
	assert_refused("GET / HTTP/1.1\r\nno colon\r\n\r\n", "header-name", 1);
	assert_refused("\r\nGET / HTTP/1.1\r\n\r\n", "request-line", 1);
}

static void test_a_defect_is_the_request_it_is_in(void **state)
{
	(void)state;
	static const char first[] = POST "Content-Length: 2\r\n\r\n{}"
	                                 "GET / HTTP/1.1\r\n\r\n";
	static const char both[] = POST "Content-Length: 2\r\n\r\n{}"
	                                "GET / HTTP/1.1\r\n\r\n"
	                                "GET / HTTP/1.1\nHost: a\r\n\r\n";
	assert_refused(both, "line-end", 3);
	for (size_t step = 0; step <= 9; step++) {
		struct framing f;
		assert_int_equal(feed(&f, both, sizeof both - 1, step), -1);
		assert_int_equal(f.bad_at, sizeof first - 1);   /* the third request's first byte */
		assert_int_equal(f.head_end, sizeof first - 1); /* the second's head ended there */
	}
	struct framing f;
	assert_int_equal(feed(&f, "GET / HTTP/1.1\nX", 16, 0), -1);
	assert_int_equal(framing_feed(&f, (const unsigned char *)"\r\n\r\n", 4), -1); /* stays */
	assert_int_equal(f.requests, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_correct_requests_pass),
	        cmocka_unit_test(test_transfer_encoding),
	        cmocka_unit_test(test_content_length),
	        cmocka_unit_test(test_chunk_sizes),
	        cmocka_unit_test(test_lines),
	        cmocka_unit_test(test_a_defect_is_the_request_it_is_in),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
