/*
 * test_weak_password.c: which passwords of a valid length password_weakness refuses (R16: the
 * best-known leaked ones, the login with little added; long and Unicode ones are fine), that
 * password_check_new puts the length limit first, and the operator's list.
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

#include "err.h"
#include "weak_password.h"

struct want {
	const char *pw, *login, *because; /* because: part of the reason; NULL when accepted */
};

static const struct want cases[] = {
        {"password1234", NULL, "leaked"},
        {"PASSWORD1234", NULL, "leaked"},
        {"Password123", NULL, "leaked"},
        {"1234567890", NULL, "leaked"},
        {"QwertyUIOP", NULL, "leaked"},
        {"5201314520", NULL, "leaked"},
        {"1qaz2wsx3edc", NULL, "leaked"},
        {"Administrator", "admin", "leaked"},
        {"13800138000", "13800138000", "phone"},
        {"a13800138000!", "13800138000", "phone"},
        {"ZhangWei2024", "zhangwei", "phone"},
        {"zhangwei!!", "ZhangWei", "phone"},
        {"13800138000-walks-far", "13800138000", NULL},
        {"zhangwei-rides-the-bus", "zhangwei", NULL},
        {"Zhang-san-pass-1", NULL, NULL},
        {"Coord-pass-123", "coord", NULL},
        {"correct horse battery staple", NULL, NULL},
        {"我的志愿服务密码很长", NULL, NULL},
        {"tea-abc-garden", "abc", NULL}, /* a login under 4 characters is not looked for */
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *why = password_weakness(cases[i].pw, cases[i].login);
		if (!cases[i].because) {
			if (why)
				fail_msg("%s: refused (%s)", cases[i].pw, why);
		} else if (!why || !strstr(why, cases[i].because)) {
			fail_msg("%s: %s, not %s", cases[i].pw, why ? why : "accepted",
			         cases[i].because);
		}
	}
}

/* No composition rule: long, repeated and non-ASCII passwords stay acceptable (R16). */
static void test_long_and_unicode(void **state)
{
	(void)state;
	char pw[600];
	struct err e;
	pw[0] = '\0';
	for (int i = 0; i < 64; i++)
		strcat(pw, "\xf0\x9f\x98\x80"); /* 64 emoji, 256 bytes */
	assert_int_equal(password_check_new(pw, NULL, "password", &e), 0);
	memset(pw, 'a', 80);
	pw[80] = '\0';
	assert_int_equal(password_check_new(pw, "13800138000", "password", &e), 0);
	pw[0] = '\0';
	for (int i = 0; i < 32; i++)
		strcat(pw, "密码很长"); /* 128 characters */
	assert_int_equal(password_check_new(pw, NULL, "password", &e), 0);
}

static void test_check_new(void **state)
{
	(void)state;
	struct err e;
	assert_int_equal(password_check_new("short", NULL, "password", &e), -1);
	assert_string_equal(e.field, "password");
	assert_string_equal(e.detail, "must be 10-128 characters");
	assert_int_equal(password_check_new("password1234", NULL, "new_password", &e), -1);
	assert_int_equal(e.code, APP_EINVALID);
	assert_string_equal(e.field, "new_password");
	assert_non_null(strstr(e.detail, "is too easy to guess"));
	assert_int_equal(password_check_new("Zhang-san-pass-1", "13800138000", "password", &e), 0);
	assert_int_equal(e.code, APP_OK);
	assert_int_equal(password_check_new(NULL, NULL, "password", &e), -1);
}

/* Last: the list stays loaded for the process. */
static void test_operator_list(void **state)
{
	(void)state;
	struct err e;
	char path[] = "/tmp/vd-denylist-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("Correct-Horse-9\r\nshort\n", f);
	for (int i = 0; i < 700; i++) /* longer than any password: skipped whole */
		fputc('x', f);
	fputs("\nMixedCase-Pass\n\nlast-line-no-newline", f);
	fclose(f);
	assert_null(password_weakness("correct-horse-9", NULL));
	assert_int_equal(weak_password_load(path, &e), 0);
	unlink(path);
	assert_int_equal(weak_password_listed(), 3);
	assert_non_null(password_weakness("correct-horse-9", NULL));
	assert_non_null(password_weakness("MIXEDCASE-PASS", NULL));
	assert_non_null(password_weakness("Last-Line-No-Newline", NULL));
	assert_null(password_weakness("xxxxxxxxxxxx", NULL));
	assert_non_null(password_weakness("password1234", NULL)); /* the built-in list still */
	assert_int_equal(weak_password_load("/nonexistent/denylist", &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_PASSWORD_DENYLIST");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cases),
	        cmocka_unit_test(test_long_and_unicode),
	        cmocka_unit_test(test_check_new),
	        cmocka_unit_test(test_operator_list),
	};
	return cmocka_run_group_tests_name("weak_password", tests, NULL, NULL);
}
