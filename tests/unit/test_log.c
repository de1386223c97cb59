/*
 * test_log.c: log_quote's escaping and truncation, level parsing and filtering, and the shape
 * of a log_msg line (captured by pointing stderr at a temporary file).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

static void test_quote_plain(void **state)
{
	(void)state;
	char b[64];
	assert_string_equal(log_quote(b, sizeof b, "abc"), "abc");
	assert_string_equal(log_quote(b, sizeof b, "/api/v1/session"), "/api/v1/session");
	assert_string_equal(log_quote(b, sizeof b, "a\\b"), "a\\b"); /* no trigger: verbatim */
	assert_string_equal(log_quote(b, sizeof b, "张三"), "张三");
	assert_string_equal(log_quote(b, sizeof b, ""), "\"\"");
	assert_string_equal(log_quote(b, sizeof b, NULL), "\"\"");
}

static void test_quote_escapes(void **state)
{
	(void)state;
	char b[64];
	assert_string_equal(log_quote(b, sizeof b, "a b"), "\"a b\"");
	assert_string_equal(log_quote(b, sizeof b, "k=v"), "\"k=v\"");
	assert_string_equal(log_quote(b, sizeof b, "say \"hi\""), "\"say \\\"hi\\\"\"");
	assert_string_equal(log_quote(b, sizeof b, "a b\\c"), "\"a b\\\\c\"");
	assert_string_equal(log_quote(b, sizeof b, "l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
	assert_string_equal(log_quote(b, sizeof b, "x\x01y\x7f"), "\"x\\u0001y\\u007f\"");
	assert_string_equal(log_quote(b, sizeof b, "张 三"), "\"张 三\"");
}

static void test_quote_truncation(void **state)
{
	(void)state;
	char b[16];
	/* Unquoted: cut to n - 1 bytes. */
	assert_string_equal(log_quote(b, 4, "abcdef"), "abc");
	/* ...never inside a UTF-8 character (3 bytes each). */
	assert_string_equal(log_quote(b, 6, "张三李"), "张");
	/* Quoted: the closing quote stays, and an escape is never cut in half. */
	assert_string_equal(log_quote(b, 8, "a b c d e"), "\"a b c\"");
	assert_string_equal(log_quote(b, 6, "a\"\"\"\""), "\"a\\\"\"");
	assert_string_equal(log_quote(b, 5, "a\"\"\"\""), "\"a\"");
	assert_string_equal(log_quote(b, 4, "\x01\x01"), "\"\"");
	assert_string_equal(log_quote(b, 2, "a b"), "");
	assert_string_equal(log_quote(b, 1, "abc"), "");
	b[0] = 'z';
	log_quote(b, 0, "abc"); /* writes nothing at all */
	assert_int_equal(b[0], 'z');
	/* Exactly fitting. */
	assert_string_equal(log_quote(b, 6, "a b"), "\"a b\"");
	assert_string_equal(log_quote(b, 5, "a b"), "\"a \"");
}

static void test_levels(void **state)
{
	(void)state;
	enum log_level l = LOG_ERROR;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_DEBUG);
	assert_int_equal(log_level_parse("INFO", &l), 0);
	assert_int_equal(l, LOG_INFO);
	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_level_parse("error", &l), 0);
	assert_int_equal(l, LOG_ERROR);
	assert_int_equal(log_level_parse("verbose", &l), -1);
	assert_int_equal(log_level_parse("", &l), -1);
	assert_int_equal(log_level_parse(NULL, &l), -1);
	assert_int_equal(l, LOG_ERROR);
	assert_string_equal(log_level_name(LOG_WARN), "warn");

	log_set_level(LOG_WARN);
	assert_false(log_enabled(LOG_DEBUG));
	assert_false(log_enabled(LOG_INFO));
	assert_true(log_enabled(LOG_WARN));
	assert_true(log_enabled(LOG_ERROR));
	log_set_level(LOG_INFO);
	assert_true(log_enabled(LOG_INFO));
}

/* Send stderr to a temporary file until capture_end, which returns what was written
 * (malloc'd).  No assertion may fail in between: its message would be captured too. */
static void capture_begin(int *saved, FILE **tmp)
{
	fflush(stderr);
	*tmp = tmpfile();
	assert_non_null(*tmp);
	*saved = dup(STDERR_FILENO);
	assert_true(*saved >= 0);
	assert_true(dup2(fileno(*tmp), STDERR_FILENO) >= 0);
}

static char *capture_end(int saved, FILE *tmp)
{
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	off_t n = lseek(fileno(tmp), 0, SEEK_END);
	assert_true(n >= 0);
	char *buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fileno(tmp), buf, (size_t)n, 0), n);
	fclose(tmp);
	return buf;
}

static void test_msg_line(void **state)
{
	(void)state;
	int saved;
	FILE *tmp;
	char expect[160];
	capture_begin(&saved, &tmp);
	log_set_level(LOG_INFO);
	log_msg(LOG_INFO, "http.listen", "port=%d name=%s", 8080, "a b");
	log_msg(LOG_DEBUG, "hidden", "x=1");
	log_msg(LOG_ERROR, "no.fields", NULL);
	log_msg(LOG_WARN, "ctl", "v=%s", "a\nb\rc");
	log_msg(LOG_WARN, "quotes", "reason=%s n=%zu x=%5.1f%% p=%s",
	        "connection to server at \"127.0.0.1\", port 1 failed", (size_t)7, 2.25, "plain");
	char *out = capture_end(saved, tmp);

	/* Four lines: the debug one is filtered out. */
	char *l1 = out, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
	char *l4 = strchr(l3, '\n') + 1;
	assert_non_null(strchr(l4, '\n'));
	assert_string_equal(strchr(l4, '\n') + 1, "");
	assert_null(strstr(out, "hidden"));

	/* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
	assert_memory_equal(l1, "ts=", 3);
	assert_int_equal(l1[7], '-');
	assert_int_equal(l1[13], 'T');
	assert_int_equal(l1[22], '.');
	assert_int_equal(l1[26], 'Z');
	assert_int_equal(l1[27], ' ');
	snprintf(expect, sizeof expect,
	         " level=info pid=%ld event=http.listen port=8080 name=\"a b\"\n", (long)getpid());
	assert_memory_equal(l1 + 27, expect, strlen(expect));

	snprintf(expect, sizeof expect, " level=error pid=%ld event=no.fields\n", (long)getpid());
	assert_memory_equal(l2 + 27, expect, strlen(expect));

	/* Every %s is quoted and escaped by log_msg itself: control characters and quotes in a
	 * value cannot split the line or end the value early. */
	snprintf(expect, sizeof expect, " level=warn pid=%ld event=ctl v=\"a\\nb\\rc\"\n",
	         (long)getpid());
	assert_memory_equal(l3 + 27, expect, strlen(expect));
	snprintf(expect, sizeof expect,
	         " level=warn pid=%ld event=quotes reason=\"connection to server at "
	         "\\\"127.0.0.1\\\", port 1 failed\" n=7 x=  2.2%% p=plain\n",
	         (long)getpid());
	assert_memory_equal(l4 + 27, expect, strlen(expect));
	free(out);
}

static void test_msg_truncated(void **state)
{
	(void)state;
	int saved;
	FILE *tmp;
	char *big = malloc(10000);
	assert_non_null(big);
	memset(big, 'x', 9999);
	big[9999] = '\0';
	capture_begin(&saved, &tmp);
	log_msg(LOG_ERROR, "big", "v=%s", big);
	log_msg(LOG_ERROR, big, "v=1"); /* even a huge event name is bounded */
	char *out = capture_end(saved, tmp);
	char *nl = strchr(out, '\n');
	assert_non_null(nl);
	size_t len = (size_t)(nl - out) + 1;
	assert_true(len <= LOG_LINE_MAX);
	assert_true(len > LOG_LINE_MAX - 8);
	assert_memory_equal(nl - 3, "...", 3);
	char *nl2 = strchr(nl + 1, '\n');
	assert_non_null(nl2);
	assert_true((size_t)(nl2 - nl) <= LOG_LINE_MAX);
	assert_non_null(strstr(nl + 1, " v=1\n"));
	free(out);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_quote_plain),      cmocka_unit_test(test_quote_escapes),
	        cmocka_unit_test(test_quote_truncation), cmocka_unit_test(test_levels),
	        cmocka_unit_test(test_msg_line),         cmocka_unit_test(test_msg_truncated),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
