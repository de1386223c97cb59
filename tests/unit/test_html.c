/*
 * test_html.c: the escaper turns every character that could end text or an attribute into an
 * entity and leaves everything else (UTF-8 included) alone; the buffer grows past its first
 * block; URL components keep only unreserved characters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "html.h"

static void test_text_escapes_markup(void **state)
{
	(void)state;
	struct html h;
	html_init(&h);
	html_text(&h, "<script>alert(\"x\" & 'y')</script>");
	assert_false(html_failed(&h));
	assert_string_equal(h.buf,
	                    "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;");
	html_free(&h);
}

static void test_text_keeps_plain_and_utf8(void **state)
{
	(void)state;
	struct html h;
	html_init(&h);
	html_text(&h, "签到 / Check in 09:02");
	html_text(&h, NULL);
	html_text(&h, "");
	assert_string_equal(h.buf, "签到 / Check in 09:02");
	assert_int_equal(h.len, strlen("签到 / Check in 09:02"));
	html_free(&h);
}

static void test_raw_and_rawf(void **state)
{
	(void)state;
	struct html h;
	html_init(&h);
	html_raw(&h, "<p>");
	html_rawf(&h, "%d minutes", 42);
	html_raw(&h, "</p>");
	assert_string_equal(h.buf, "<p>42 minutes</p>");
	html_free(&h);
	assert_null(h.buf);
}

static void test_grows(void **state)
{
	(void)state;
	struct html h;
	html_init(&h);
	for (int i = 0; i < 5000; i++)
		html_text(&h, "<&>");
	assert_false(html_failed(&h));
	assert_int_equal(h.len, 5000 * strlen("&lt;&amp;&gt;"));
	assert_memory_equal(h.buf + h.len - 13, "&lt;&amp;&gt;", 13);
	html_free(&h);
}

static void test_escape_into_buffer(void **state)
{
	(void)state;
	char out[16];
	assert_int_equal(html_escape(out, sizeof out, "a<b"), 6);
	assert_string_equal(out, "a&lt;b");
	assert_int_equal(html_escape(NULL, 0, "\"'"), 11);
	/* too small: cut at an entity's start, still NUL-terminated, full length reported */
	assert_int_equal(html_escape(out, 5, "ab&cd"), 9);
	assert_true(strlen(out) < 5);
	assert_string_equal(out, "ab");
	assert_int_equal(html_escape(out, sizeof out, NULL), 0);
	assert_string_equal(out, "");
}

static void test_url_component(void **state)
{
	(void)state;
	struct html h;
	html_init(&h);
	html_url_component(&h, "/me?a=1&b=<x> \"签\"");
	assert_string_equal(h.buf, "%2Fme%3Fa%3D1%26b%3D%3Cx%3E%20%22%E7%AD%BE%22");
	html_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_text_escapes_markup),
	        cmocka_unit_test(test_text_keeps_plain_and_utf8),
	        cmocka_unit_test(test_raw_and_rawf),
	        cmocka_unit_test(test_grows),
	        cmocka_unit_test(test_escape_into_buffer),
	        cmocka_unit_test(test_url_component),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
