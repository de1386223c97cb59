/*
 * test_framing.c: the request pre-parser.  Correct requests (Content-Length, chunked, none,
 * pipelined, every target form) pass whole and cut into pieces of every size, and are
 * counted: requests begun, heads ended.  Each ambiguous form is refused with 400, naming the
 * element at fault and the request it is in, also when it comes after a correct request on
 * the same connection; what libevent would refuse itself, and what is over a limit, gets its
 * own status (400, 413, 414, 417, 431), at the byte that passes the limit.  An HTTP/1.1
 * request needs one Host header; up to four empty lines before a request line are no request.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "framing.h"

#define POST "POST /x HTTP/1.1\r\nHost: a\r\n"
#define GET  "GET / HTTP/1.1\r\nHost: a\r\n"

/* The route /small takes 10 bytes, any other 100 (max_body); min_body is the smallest. */
static unsigned limit_lookups;
static uint64_t small_route(const char *method, const char *path, size_t len, uint64_t max)
{
	limit_lookups++;
	if (!strcmp(method, "POST") && len == 6 && !memcmp(path, "/small", 6))
		return 10;
	return max;
}

static const struct framing_limits limits = {
        .max_head = 1024,
        .max_fields = 8,
        .max_target = 200,
        .max_body = 100,
        .min_body = 10,
        .body_limit = small_route,
};

/* Feeds the n bytes of s in pieces of `step` bytes (0: whole); the last framing_feed's
 * result. */
static int feed(struct framing *f, const char *s, size_t n, size_t step)
{
	int rc = 0;
	framing_init(f, &limits);
	if (!step)
		step = n ? n : 1;
	for (size_t at = 0; at < n; at += step)
		rc = framing_feed(f, (const unsigned char *)s + at, n - at < step ? n - at : step);
	return rc;
}

/* s (a literal: NULs included) passes, whole and in pieces of 1 to 9 bytes. */
#define assert_passes(s, requests, heads) passes(s, sizeof(s) - 1, requests, heads)
/* s is refused with 400, naming field, in request number `request` (whole and in pieces). */
#define assert_refused(s, field, request) refused(s, sizeof(s) - 1, 400, field, request)
/* s is refused with status, naming field, in its first request. */
#define assert_status(s, status, field) refused(s, sizeof(s) - 1, status, field, 1)

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

static void refused(const char *s, size_t n, int status, const char *field, unsigned request)
{
	for (size_t step = 0; step <= 9; step++) {
		struct framing f;
		assert_int_equal(feed(&f, s, n, step), -1);
		assert_int_equal(f.status, status);
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
	assert_passes("HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 1, 1);
	/* a body may hold anything: CR, LF, NUL, a request */
	assert_passes(POST "Content-Length: 5\r\n\r\n\n\r\0 \n", 1, 1);
	/* pipelined, and a third begun */
	assert_passes(POST "Content-Length: 2\r\n\r\n{}" GET "\r\n"
	                   "POST /x HTTP/1.1\r\nHost",
	              3, 2);
	/* a long header line: only its start is kept */
	char big[1000];
	memset(big, 'a', sizeof big);
	memcpy(big, GET "Cookie: ", 33);
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
		refused(cases[i], strlen(cases[i]), 400, "Transfer-Encoding", 1);
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
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		refused(cases[i], strlen(cases[i]), 400, "Content-Length", 1);
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
		refused(cases[i], strlen(cases[i]), 400, "chunk-size", 1);
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
}

static void test_request_lines(void **state)
{
	(void)state;
	assert_passes("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 1, 1);
	assert_passes("GET http://a.example:8080/x?y#z HTTP/1.1\r\nHost: a\r\n\r\n", 1, 1);
	assert_passes("GET HTTPS://[::1]/ HTTP/1.0\r\n\r\n", 1, 1);
	assert_passes("GET http://a%41b HTTP/1.1\r\nHost: a\r\n\r\n", 1, 1);
	assert_passes("DELETE /a:b/c?d=//e HTTP/1.1\r\nHost: a\r\n\r\n", 1, 1);
	assert_status("GARBAGE\r\n\r\n", 400, "request-line");
	assert_status("GET /\r\n\r\n", 400, "request-line");
	assert_status("GET  / HTTP/1.1\r\n\r\n", 400, "request-line");
	assert_status("GET /  HTTP/1.1\r\n\r\n", 400, "request-line");
	assert_status(" GET / HTTP/1.1\r\n\r\n", 400, "request-line");
	assert_status("GET / HTTP/1.1 \r\n\r\n", 400, "request-line");
	assert_status("GET\t/ HTTP/1.1\r\n\r\n", 400, "request-line");
	assert_status("GET /a b HTTP/1.1\r\n\r\n", 400, "request-line");
	assert_status("GET / http/1.1\r\n\r\n", 400, "request-line");
	assert_status("GET / HTTP/1.10\r\n\r\n", 400, "request-line");
	assert_status("GET / HTTP/11\r\n\r\n", 400, "request-line");
	assert_status("GET / HTTP/9.9\r\n\r\n", 400, "HTTP-version");
	assert_status("GET / HTTP/1.2\r\n\r\n", 400, "HTTP-version");
	assert_status("GET / HTTP/0.9\r\n\r\n", 400, "HTTP-version");
	assert_status("GET / HTTP/2.0\r\n\r\n", 400, "HTTP-version");
	assert_status("BREW / HTTP/1.1\r\n\r\n", 400, "method");
	assert_status("get / HTTP/1.1\r\n\r\n", 400, "method");
	assert_status("TRACE / HTTP/1.1\r\n\r\n", 400, "method");
	assert_status("CONNECT a:443 HTTP/1.1\r\n\r\n", 400, "method");
	assert_status("BREW / HTTP/2.0\r\n\r\n", 400, "HTTP-version"); /* the version first */
	assert_status("GET //a/b HTTP/1.1\r\n\r\n", 400, "request-target");
	assert_status("GET a/b HTTP/1.1\r\n\r\n", 400, "request-target");
	assert_status("GET ftp://a/ HTTP/1.1\r\n\r\n", 400, "request-target");
	assert_status("GET http://u@a/ HTTP/1.1\r\n\r\n", 400, "request-target");
	assert_status("GET http://a:65536/ HTTP/1.1\r\n\r\n", 400, "request-target");
	assert_status("GET http://a:b:80/ HTTP/1.1\r\n\r\n", 400, "request-target");
	assert_status("GET http://[::g]/ HTTP/1.1\r\n\r\n", 400, "request-target");
	assert_status("GET http://a%4/ HTTP/1.1\r\n\r\n", 400, "request-target");
	assert_status(
	        "GET http://"
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/ HTTP/1.1"
	        "\r\n\r\n",
	        400, "request-target"); /* an authority past the bytes kept */
}

/* A request line of `GET /aaa... HTTP/1.1` whose target is tlen bytes, then a Host and an
 * empty line. */
static size_t long_target(char *buf, size_t tlen)
{
	static const char end[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', tlen - 1);
	memcpy(buf + 4 + tlen, end, sizeof end);
	return 4 + tlen + sizeof end - 1;
}

static void test_target_and_head_limits(void **state)
{
	(void)state;
	char buf[2048];
	passes(buf, long_target(buf, 200), 1, 1);
	refused(buf, long_target(buf, 201), 414, "request-target", 1);
	/* a request line past max_head: 414 as soon as it passes, its end unseen */
	size_t n = long_target(buf, 1100);
	refused(buf, 1030, 414, "request-target", 1);
	refused(buf, n, 414, "request-target", 1);
	struct framing f;
	feed(&f, buf, 1024, 0);
	assert_int_equal(f.bad, 0); /* max_head bytes exactly */
	assert_int_equal(framing_feed(&f, (const unsigned char *)"a", 1), -1);
	assert_int_equal(f.limit, 1024);
	memset(buf, 'x', 1100);
	refused(buf, 1100, 400, "request-line", 1);

	/* 8 fields pass, a 9th is refused */
	static const char fields8[] = "GET / HTTP/1.1\r\nHost: a\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
	                              "E: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\n\r\n";
	assert_passes(fields8, 1, 1);
	assert_status("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
	              "E: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\nI: 9\r\n\r\n",
	              431, "headers");
	/* a head of max_head bytes passes (line ends counted); one byte more is refused, at the
	 * byte that passes, even with no line end yet */
	memcpy(buf, GET "X: ", 28);
	memset(buf + 28, 'v', 1024 - 28 - 4);
	memcpy(buf + 1024 - 4, "\r\n\r\n", 4);
	passes(buf, 1024, 1, 1);
	memcpy(buf, GET "X: ", 28);
	memset(buf + 28, 'v', 1024 - 28 - 3);
	memcpy(buf + 1024 - 3, "\r\n\r\n", 4);
	refused(buf, 1025, 431, "headers", 1);
	memset(buf + 28, 'v', 1100 - 28);
	refused(buf, 1100, 431, "headers", 1);
	/* a fault before the byte that passes is named instead, however the bytes come */
	buf[600] = '\r';
	refused(buf, 1100, 400, "line-end", 1);
	/* a second request has a head budget of its own */
	static const char two[] = GET "X: 1\r\n\r\n";
	memcpy(buf, two, sizeof two - 1);
	passes(buf, long_target(buf + sizeof two - 1, 200) + sizeof two - 1, 2, 2);
}

static void test_body_limits(void **state)
{
	(void)state;
	limit_lookups = 0;
	assert_passes("POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", 1,
	              1);
	assert_int_equal(limit_lookups, 0); /* at min_body: no look-up */
	assert_status("POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413,
	              "Content-Length");
	assert_status("POST /small?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413,
	              "Content-Length");
	assert_status("POST http://a/small HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413,
	              "Content-Length");
	assert_passes("POST /other HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", 1, 1);
	assert_passes("PUT /small HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", 1, 1);
	assert_status("POST /other HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n", 413,
	              "Content-Length");
	assert_status(POST "Content-Length: 123456789012345678901234\r\n\r\n{}", 413,
	              "Content-Length");
	/* chunks: refused at the size that passes, before its data */
	assert_passes("POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	              "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n",
	              1, 1);
	assert_status("POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	              "5\r\n01234\r\n6\r\n",
	              413, "body");
	assert_status(POST "Transfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n", 413, "body");
	struct framing f;
	feed(&f, "POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 54, 0);
	assert_int_equal(f.limit, 10);
	/* a path longer than the bytes kept takes max_body */
	char buf[512];
	int n = snprintf(buf, sizeof buf,
	                 "POST /small%0150d HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", 0);
	passes(buf, (size_t)n, 1, 1);
}

static void test_expect_and_http10(void **state)
{
	(void)state;
	assert_passes(POST "Expect:  100-Continue \r\nContent-Length: 2\r\n\r\n{}", 1, 1);
	assert_status(POST "Expect: 100-continue, x\r\nContent-Length: 2\r\n\r\n{}", 417, "Expect");
	assert_status("GET / HTTP/1.1\r\nexpect: x\r\n\r\n", 417, "Expect");
	assert_passes("POST /x HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}", 1, 1);
	assert_status("POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
	              "Transfer-Encoding");
}

static void test_a_defect_is_the_request_it_is_in(void **state)
{
	(void)state;
	static const char first[] = POST "Content-Length: 2\r\n\r\n{}" GET "\r\n";
	static const char both[] = POST "Content-Length: 2\r\n\r\n{}" GET "\r\n"
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

static void test_host(void **state)
{
	(void)state;
	assert_passes(GET "\r\n", 1, 1);
	assert_passes("GET / HTTP/1.1\r\nhOST:\r\n\r\n", 1, 1); /* any case; empty is a value */
	assert_passes("GET / HTTP/1.0\r\n\r\n", 1, 1);          /* HTTP/1.0 may go without */
	assert_passes("GET / HTTP/1.0\r\nHost: a\r\n\r\n", 1, 1);
	assert_passes("GET / HTTP/1.1\r\nHost:\t[::1]:8080 \r\n\r\n", 1, 1);
	assert_passes("GET / HTTP/1.1\r\nHost: vd.example-district.cn:443\r\n\r\n", 1, 1);
	assert_passes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 1, 1);
	/* a value that is no host[:port], or a line too long to read whole */
	static const char *const bad[] = {"a b",       "evil<script>", "user@host",
	                                  "host/path", "h\"q",         "\xe4\xbe\x8b.cn"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char req[200];
		int k = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
		refused(req, (size_t)k, 400, "Host", 1);
	}
	char big[400];
	int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: %0300d\r\n\r\n", 0);
	refused(big, (size_t)n, 400, "Host", 1);
	assert_refused("GET / HTTP/1.1\r\n\r\n", "Host", 1);
	assert_refused("GET / HTTP/1.1\r\nHosts: a\r\nX-Host: a\r\n\r\n", "Host", 1);
	assert_refused(POST "Content-Length: 2\r\n\r\n{}"
	                    "GET / HTTP/1.1\r\nX: 1\r\n\r\n",
	               "Host", 2);
	assert_refused(GET "Host: a\r\n\r\n", "Host", 1);
	assert_refused(GET "host: b\r\n", "Host", 1); /* at the second, before the head ends */
	assert_refused("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", "Host", 1);
	struct framing f;
	feed(&f, "GET / HTTP/1.1\r\n\r\n", 18, 0);
	assert_string_equal(f.why, "Host header missing");
	feed(&f, GET "Host: a\r\n", 34, 0);
	assert_string_equal(f.why, "more than one Host header");
}

static void test_empty_lines_before_a_request(void **state)
{
	(void)state;
	/* up to four, before the first request and between two, are no request */
	assert_passes("\r\n" GET "\r\n", 1, 1);
	assert_passes("\r\n\r\n\r\n\r\n" GET "\r\n", 1, 1);
	assert_passes("\r\n", 0, 0);
	assert_passes(POST "Content-Length: 2\r\n\r\n{}\r\n", 1, 1);
	assert_passes(POST "Content-Length: 2\r\n\r\n{}\r\n\r\n\r\n\r\n" GET "\r\n\r\n\r\n", 2, 2);
	assert_passes(POST "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n\r\n" GET "\r\n",
	              2, 2);
	/* a fifth is refused, in the request it comes before, from its first byte */
	static const char five[] = POST "Content-Length: 2\r\n\r\n{}"
	                                "\r\n\r\n\r\n\r\n\r\n" GET "\r\n";
	assert_refused(five, "request-line", 2);
	for (size_t step = 0; step <= 9; step++) {
		struct framing f;
		feed(&f, five, sizeof five - 1, step);
		assert_int_equal(f.bad_at, sizeof POST - 1 + 23 + 8); /* the fifth's CR */
		assert_int_equal(f.head_end, sizeof POST - 1 + 21);
	}
	assert_refused("\r\n\r\n\r\n\r\n\r\n", "request-line", 1);
	/* only CRLF: a bare LF, or a CR before anything but LF, is a line end's fault */
	assert_refused("\n" GET "\r\n", "line-end", 1);
	assert_refused("\r\n\n" GET "\r\n", "line-end", 1);
	assert_refused("\r\r\n" GET "\r\n", "line-end", 1);
	assert_refused("\r" GET "\r\n", "line-end", 1);
	assert_refused(POST "Content-Length: 2\r\n\r\n{}\rGET / HTTP/1.1\r\n\r\n", "line-end", 2);
	struct framing f;
	feed(&f, "\r\n\rGET", 6, 0);
	assert_int_equal(f.bad_at, 2); /* the CR */
	/* within a head, an empty line is its end, as ever */
	assert_passes(GET "\r\n\r\n", 1, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_correct_requests_pass),
	        cmocka_unit_test(test_transfer_encoding),
	        cmocka_unit_test(test_content_length),
	        cmocka_unit_test(test_chunk_sizes),
	        cmocka_unit_test(test_lines),
	        cmocka_unit_test(test_request_lines),
	        cmocka_unit_test(test_target_and_head_limits),
	        cmocka_unit_test(test_body_limits),
	        cmocka_unit_test(test_expect_and_http10),
	        cmocka_unit_test(test_a_defect_is_the_request_it_is_in),
	        cmocka_unit_test(test_host),
	        cmocka_unit_test(test_empty_lines_before_a_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
