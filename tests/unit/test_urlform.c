/*
 * test_urlform.c: strict intake of form bodies and query strings (R29): what passes, and for
 * each refusal the field it names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "urlform.h"

static const char *const checkboxes[] = {"id", "byday", NULL};

static int check(const char *text, const char *const *repeatable, struct urlform_refusal *out)
{
	memset(out, 0, sizeof *out);
	return urlform_check(text, strlen(text), repeatable, out);
}

static void assert_refused(const char *text, const char *field, const char *why_part)
{
	struct urlform_refusal r;
	if (check(text, checkboxes, &r) != -1)
		fail_msg("accepted: %s", text);
	assert_string_equal(r.field, field);
	assert_non_null(r.why);
	if (!strstr(r.why, why_part))
		fail_msg("%s: why is \"%s\", expected it to say \"%s\"", text, r.why, why_part);
}

static void test_accepted(void **state)
{
	(void)state;
	static const char *const ok[] = {
	        "",
	        "a=1",
	        "a=1&b=2&c=",
	        "name=%E5%BC%A0%E4%B8%89&note=line+one%0D%0Aline+two", /* UTF-8, CR LF */
	        "q=%25&r=%2B+%26",                                     /* %, +, & escaped */
	        "flag",                          /* no '=': the parser's call */
	        "a=1&&b=2",                      /* an empty pair: likewise */
	        "id=1&id=2&id=3&action=approve", /* checkboxes */
	        "byday=MO&byday=WE&title=x",
	        "a=%e4%b8%ad", /* lower-case hex */
	};
	struct urlform_refusal r;
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		if (check(ok[i], checkboxes, &r) != 0)
			fail_msg("refused \"%s\": %s (%s)", ok[i], r.why, r.field);
}

static void test_twice(void **state)
{
	(void)state;
	assert_refused("phone=13800000000&phone=13900000000", "phone", "more than once");
	assert_refused("a=1&b=2&a=1", "a", "more than once"); /* even with one value */
	assert_refused("a=1&%61=2", "a", "more than once");   /* the same name, encoded */
	assert_refused("id=1&id=2&month=1&month=2", "month", "more than once");
	struct urlform_refusal r;
	assert_int_equal(check("id=1&id=2", NULL, &r), -1); /* repeatable only when listed */
	assert_string_equal(r.field, "id");
}

static void test_nul_and_escapes(void **state)
{
	(void)state;
	assert_refused("name=abc%00def", "name", "NUL");
	assert_refused("ok=1&name=%00", "name", "NUL");
	assert_refused("name=100%", "name", "%XX");
	assert_refused("name=%4", "name", "%XX");
	assert_refused("name=%zz1", "name", "%XX");
	assert_refused("na%00me=1", "", "name");
	assert_refused("na%g0me=1", "", "name");
}

static void test_utf8(void **state)
{
	(void)state;
	assert_refused("name=%C3%28", "name", "UTF-8");    /* a broken sequence */
	assert_refused("name=%C0%AF", "name", "UTF-8");    /* an overlong '/' */
	assert_refused("name=%ED%A0%80", "name", "UTF-8"); /* a surrogate */
	assert_refused("name=\xff", "name", "UTF-8");      /* raw, not escaped */
	assert_refused("%FF=1", "", "name is not UTF-8");  /* in the name */
}

/* A long name is cut to fit on a character's boundary: the field stays valid UTF-8. */
static void test_long_name_is_cut_whole(void **state)
{
	(void)state;
	char text[300];
	size_t n = 0;
	n += (size_t)snprintf(text + n, sizeof text - n, "x");
	for (int i = 0; i < 30; i++) /* "x" then 30 x U+4E2D (3 bytes each): 91 bytes decoded */
		n += (size_t)snprintf(text + n, sizeof text - n, "%%E4%%B8%%AD");
	char pair[2 * sizeof text + 8];
	snprintf(pair, sizeof pair, "%s=1&%s=2", text, text);
	struct urlform_refusal r;
	assert_int_equal(check(pair, NULL, &r), -1);
	size_t len = strlen(r.field);
	assert_true(len <= 63 && len >= 60);
	assert_int_equal((len - 1) % 3, 0); /* "x" and whole characters only */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accepted),
	        cmocka_unit_test(test_twice),
	        cmocka_unit_test(test_nul_and_escapes),
	        cmocka_unit_test(test_utf8),
	        cmocka_unit_test(test_long_name_is_cut_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
