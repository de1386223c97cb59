/*
 * test_validate.c: phones, GB 11643 ID numbers, UTF-8, dates, months, quarters, RFC 3339 and
 * the small enumerations.  Valid ID numbers are built here with their own check character so
 * that the date rules are tested apart from the checksum.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "validate.h"

/* An 18-char ID with region 110105, the given birth date, sequence 123 and a right check. */
static void make_id(char out[19], const char *yyyymmdd)
{
	static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	snprintf(out, 19, "110105%.8s123", yyyymmdd);
	int sum = 0;
	for (int i = 0; i < 17; i++)
		sum += (out[i] - '0') * w[i];
	out[17] = "10X98765432"[sum % 11];
	out[18] = '\0';
}

/* The same ID with every other check character. */
static void assert_only_check_accepted(const char *id)
{
	char bad[19];
	const char *chars = "0123456789X";
	assert_true(valid_id_number(id));
	for (const char *c = chars; *c; c++) {
		memcpy(bad, id, 19);
		bad[17] = *c;
		if (*c != id[17])
			assert_false(valid_id_number(bad));
	}
}

/* The UTC date that is `days` away from now, as YYYYMMDD. */
static void date_from_now(char out[9], long days)
{
	time_t t = time(NULL) + days * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 9, "%Y%m%d", &tm);
}

static void test_phone(void **state)
{
	(void)state;
	assert_true(valid_phone("13800138000"));
	assert_true(valid_phone("19912345678"));
	assert_false(valid_phone("12800138000")); /* second digit 2 */
	assert_false(valid_phone("23800138000"));
	assert_false(valid_phone("1380013800"));   /* 10 digits */
	assert_false(valid_phone("138001380000")); /* 12 digits */
	assert_false(valid_phone("1380013800a"));
	assert_false(valid_phone("+8613800138000"));
	assert_false(valid_phone("138 0013 8000"));
	assert_false(valid_phone(""));
	assert_false(valid_phone(NULL));
}

static void test_id_number_known(void **state)
{
	(void)state;
	assert_true(valid_id_number("11010519491231002X"));
	assert_true(valid_id_number("11010519491231002x"));
	assert_false(valid_id_number("110105194912310020"));
	assert_false(valid_id_number("110105194912310021"));
	assert_false(valid_id_number("11010519491231002"));   /* 17 */
	assert_false(valid_id_number("11010519491231002XX")); /* 19 */
	assert_false(valid_id_number("1101051949123100AX"));
	assert_false(valid_id_number("110105490101002")); /* first-generation 15 digits */
	assert_false(valid_id_number(""));
	assert_false(valid_id_number(NULL));
	assert_only_check_accepted("11010519491231002X");
}

static void test_id_number_dates(void **state)
{
	(void)state;
	char id[19], d[9];
	make_id(id, "19900101");
	assert_only_check_accepted(id);
	make_id(id, "20000229"); /* leap year */
	assert_true(valid_id_number(id));
	make_id(id, "19000101"); /* earliest */
	assert_true(valid_id_number(id));

	make_id(id, "19000229"); /* 1900 is not a leap year */
	assert_false(valid_id_number(id));
	make_id(id, "20230229");
	assert_false(valid_id_number(id));
	make_id(id, "19900230"); /* Feb 30 */
	assert_false(valid_id_number(id));
	make_id(id, "19901301");
	assert_false(valid_id_number(id));
	make_id(id, "19900100");
	assert_false(valid_id_number(id));
	make_id(id, "19900431");
	assert_false(valid_id_number(id));
	make_id(id, "18991231");
	assert_false(valid_id_number(id));

	date_from_now(d, 0); /* born today */
	make_id(id, d);
	assert_true(valid_id_number(id));
	date_from_now(d, 3); /* in the future */
	make_id(id, d);
	assert_false(valid_id_number(id));
	date_from_now(d, 400);
	make_id(id, d);
	assert_false(valid_id_number(id));
}

static void test_mask_id(void **state)
{
	(void)state;
	char out[19];
	mask_id_number("110105194912311234", out);
	assert_string_equal(out, "1101**********1234");
	mask_id_number("11010519491231002X", out);
	assert_string_equal(out, "1101**********002X");
	assert_int_equal(strlen(out), 18);
	mask_id_number("1234567", out);
	assert_string_equal(out, "******************");
	mask_id_number(NULL, out);
	assert_string_equal(out, "******************");
}

static void test_utf8(void **state)
{
	(void)state;
	const char *ok[] = {"",
	                    "abc",
	                    "张三",
	                    "\xc2\x80",
	                    "\xdf\xbf",
	                    "\xe0\xa0\x80",
	                    "\xed\x9f\xbf", /* U+D7FF */
	                    "\xee\x80\x80", /* U+E000 */
	                    "\xf0\x90\x80\x80",
	                    "\xf4\x8f\xbf\xbf",
	                    "😀"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		assert_true(valid_utf8(ok[i], strlen(ok[i])));
	const char *bad[] = {
	        "\xc0\xaf",             /* overlong '/' */
	        "\xc1\xbf",             /* overlong */
	        "\xe0\x80\xaf",         /* overlong 3-byte */
	        "\xe0\x9f\xbf",         /* overlong 3-byte, U+07FF */
	        "\xf0\x80\x80\xaf",     /* overlong 4-byte */
	        "\xf0\x8f\xbf\xbf",     /* overlong 4-byte, U+FFFF */
	        "\xed\xa0\x80",         /* U+D800 surrogate */
	        "\xed\xbf\xbf",         /* U+DFFF surrogate */
	        "\xf4\x90\x80\x80",     /* U+110000 */
	        "\xf5\x80\x80\x80",     /* lead byte beyond range */
	        "\xff",                 /* never valid */
	        "\x80",                 /* stray continuation */
	        "\xe4\xb8",             /* truncated */
	        "a\xe4\xb8!",           /* bad continuation */
	        "\xf8\x88\x80\x80\x80", /* 5-byte form */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(valid_utf8(bad[i], strlen(bad[i])));
	/* len is honoured: a sequence cut by len is invalid, NUL inside is a valid U+0000. */
	assert_false(valid_utf8("\xe5\xbc\xa0", 2));
	assert_true(valid_utf8("a\0b", 3));
	assert_true(valid_utf8(NULL, 0));

	assert_int_equal(utf8_chars(""), 0);
	assert_int_equal(utf8_chars("abc"), 3);
	assert_int_equal(utf8_chars("张三"), 2);
	assert_int_equal(utf8_chars("a😀b"), 3);
}

static void test_parse_date(void **state)
{
	(void)state;
	int y = 0, m = 0, d = 0;
	assert_int_equal(parse_date("2026-11-24", &y, &m, &d), 0);
	assert_int_equal(y, 2026);
	assert_int_equal(m, 11);
	assert_int_equal(d, 24);
	assert_int_equal(parse_date("2024-02-29", &y, &m, &d), 0);
	assert_int_equal(parse_date("2000-02-29", &y, &m, &d), 0);
	assert_int_equal(parse_date("1900-01-01", &y, &m, &d), 0);
	assert_int_equal(parse_date("2999-12-31", &y, &m, &d), 0);

	const char *bad[] = {"2023-02-29", "1900-02-29", "2026-02-30",  "2026-04-31",  "2026-13-01",
	                     "2026-00-10", "2026-01-00", "1899-12-31",  "3000-01-01",  "2026-1-01",
	                     "2026/01/01", "20260101",   "2026-01-01 ", " 2026-01-01", "2026-01-0a",
	                     "",           "+026-01-01"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(parse_date(bad[i], &y, &m, &d), -1);
	assert_int_equal(parse_date(NULL, &y, &m, &d), -1);
}

static void test_parse_month_quarter(void **state)
{
	(void)state;
	int y = 0, m = 0, q = 0;
	assert_int_equal(parse_month("2026-11", &y, &m), 0);
	assert_int_equal(y, 2026);
	assert_int_equal(m, 11);
	assert_int_equal(parse_month("2026-01", &y, &m), 0);
	assert_int_equal(parse_month("2026-13", &y, &m), -1);
	assert_int_equal(parse_month("2026-00", &y, &m), -1);
	assert_int_equal(parse_month("2026-1", &y, &m), -1);
	assert_int_equal(parse_month("2026-11-01", &y, &m), -1);
	assert_int_equal(parse_month("1899-12", &y, &m), -1);
	assert_int_equal(parse_month("", &y, &m), -1);
	assert_int_equal(parse_month(NULL, &y, &m), -1);

	assert_int_equal(parse_quarter("2026-Q3", &y, &q), 0);
	assert_int_equal(y, 2026);
	assert_int_equal(q, 3);
	assert_int_equal(parse_quarter("2026-q1", &y, &q), 0);
	assert_int_equal(q, 1);
	assert_int_equal(parse_quarter("2026-Q4", &y, &q), 0);
	assert_int_equal(parse_quarter("2026-Q0", &y, &q), -1);
	assert_int_equal(parse_quarter("2026-Q5", &y, &q), -1);
	assert_int_equal(parse_quarter("2026Q1", &y, &q), -1);
	assert_int_equal(parse_quarter("2026-Q12", &y, &q), -1);
	assert_int_equal(parse_quarter("2026-03", &y, &q), -1);
	assert_int_equal(parse_quarter(NULL, &y, &q), -1);
}

static void test_parse_hhmm(void **state)
{
	(void)state;
	int min = -1;
	assert_int_equal(parse_hhmm("00:00", &min), 0);
	assert_int_equal(min, 0);
	assert_int_equal(parse_hhmm("07:30", &min), 0);
	assert_int_equal(min, 450);
	assert_int_equal(parse_hhmm("23:59", &min), 0);
	assert_int_equal(min, 1439);
	const char *bad[] = {"24:00",    "23:60", "7:30", "07:3", "0730",
	                     "07:30:00", "07-30", "",     "ab:cd"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(parse_hhmm(bad[i], &min), -1);
	assert_int_equal(parse_hhmm(NULL, &min), -1);
}

static void test_parse_rfc3339(void **state)
{
	(void)state;
	long long t = 0;
	assert_int_equal(parse_rfc3339("2026-11-24T00:00:00Z", &t), 0);
	assert_int_equal(t, 1795478400LL);
	assert_int_equal(parse_rfc3339("2026-11-24T08:00:00+08:00", &t), 0);
	assert_int_equal(t, 1795478400LL);
	assert_int_equal(parse_rfc3339("2026-11-23T19:30:00-04:30", &t), 0);
	assert_int_equal(t, 1795478400LL);
	assert_int_equal(parse_rfc3339("2026-11-24t00:00:00z", &t), 0);
	assert_int_equal(t, 1795478400LL);
	assert_int_equal(parse_rfc3339("2026-11-24 08:00:00+08:00", &t), 0);
	assert_int_equal(t, 1795478400LL);
	assert_int_equal(parse_rfc3339("2026-11-24T00:00:00.999Z", &t), 0); /* truncated */
	assert_int_equal(t, 1795478400LL);
	assert_int_equal(parse_rfc3339("2026-11-24T00:00:00.123456789+00:00", &t), 0);
	assert_int_equal(t, 1795478400LL);
	assert_int_equal(parse_rfc3339("2026-11-24T00:00:00-00:00", &t), 0);
	assert_int_equal(t, 1795478400LL);
	assert_int_equal(parse_rfc3339("2000-02-29T23:59:59Z", &t), 0);
	assert_int_equal(t, 951868799LL);
	assert_int_equal(parse_rfc3339("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(parse_rfc3339("1969-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t, -1);
	assert_int_equal(parse_rfc3339("1900-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, -2208988800LL);
	assert_int_equal(parse_rfc3339("2999-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t, 32503679999LL);
	assert_int_equal(parse_rfc3339("2016-12-31T23:59:60Z", &t), 0); /* leap second */
	/* Midnight crossing by offset: local 00:30 on the 25th in Shanghai is the 24th UTC. */
	assert_int_equal(parse_rfc3339("2026-11-25T00:30:00+08:00", &t), 0);
	assert_int_equal(t, 1795478400LL + 16 * 3600 + 30 * 60);

	const char *bad[] = {
	        "2026-11-24T00:00:00",        /* offset missing */
	        "2026-11-24T00:00:00.5",      /* offset missing after fraction */
	        "2026-11-24T00:00Z",          /* seconds missing */
	        "2026-11-24",                 /* date only */
	        "2026-11-24T00:00:00.Z",      /* empty fraction */
	        "2026-11-24T00:00:00+0800",   /* offset without colon */
	        "2026-11-24T00:00:00+08",     /* short offset */
	        "2026-11-24T00:00:00+24:00",  /* offset hour */
	        "2026-11-24T00:00:00+08:60",  /* offset minute */
	        "2026-11-24T24:00:00Z",       /* hour */
	        "2026-11-24T00:60:00Z",       /* minute */
	        "2026-11-24T00:00:61Z",       /* second */
	        "2026-02-30T00:00:00Z",       /* date */
	        "2026-11-24X00:00:00Z",       /* separator */
	        "2026-11-24T00:00:00Zjunk",   /* trailing */
	        "2026-11-24T00:00:00+08:00 ", /* trailing blank */
	        " 2026-11-24T00:00:00Z",      /* leading blank */
	        "2026-11-24T0:00:00Z",
	        "",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t = 42;
		assert_int_equal(parse_rfc3339(bad[i], &t), -1);
		assert_int_equal(t, 42);
	}
	assert_int_equal(parse_rfc3339(NULL, &t), -1);
}

static void test_format_rfc3339(void **state)
{
	(void)state;
	char out[32];
	format_rfc3339(1795478400LL, 480, out);
	assert_string_equal(out, "2026-11-24T08:00:00+08:00");
	format_rfc3339(1795478400LL, 0, out);
	assert_string_equal(out, "2026-11-24T00:00:00Z");
	format_rfc3339(1795478400LL, -270, out);
	assert_string_equal(out, "2026-11-23T19:30:00-04:30");
	format_rfc3339(0, 0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	format_rfc3339(-1, 0, out);
	assert_string_equal(out, "1969-12-31T23:59:59Z");
	format_rfc3339(951868799LL, 0, out);
	assert_string_equal(out, "2000-02-29T23:59:59Z");
	format_rfc3339(-2208988800LL, 480, out);
	assert_string_equal(out, "1900-01-01T08:00:00+08:00");
	/* Clamped, never overflowing. */
	format_rfc3339(9223372036854775807LL / 2, 0, out);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	format_rfc3339(-9223372036854775807LL / 2, 0, out);
	assert_string_equal(out, "0000-01-01T00:00:00Z");

	/* Round trip over 200 years in irregular steps, at three offsets (from 1900-01-02, since
	 * parse_date refuses years before 1900). */
	const int offs[] = {0, 480, -330};
	for (long long s = -2208988800LL + 86400; s < 4102444800LL; s += 86400LL * 37 + 3671) {
		for (size_t i = 0; i < 3; i++) {
			long long back = 0;
			format_rfc3339(s, offs[i], out);
			assert_int_equal(parse_rfc3339(out, &back), 0);
			assert_int_equal(back, s);
		}
	}
}

static void test_civil(void **state)
{
	(void)state;
	assert_int_equal(validate_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(validate_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(validate_days_from_civil(1969, 12, 31), -1);
	for (long long days = -800000; days < 800000; days += 97) {
		long long y;
		int m, d;
		validate_civil_from_days(days, &y, &m, &d);
		assert_int_equal(validate_days_from_civil(y, m, d), days);
	}
	assert_int_equal(validate_days_in_month(2024, 2), 29);
	assert_int_equal(validate_days_in_month(2100, 2), 28);
	assert_int_equal(validate_days_in_month(2000, 2), 29);
	assert_int_equal(validate_days_in_month(2026, 4), 30);
	assert_int_equal(validate_days_in_month(2026, 13), 0);
}

static void test_login_kind_weekday_password(void **state)
{
	(void)state;
	assert_true(valid_login("admin"));
	assert_true(valid_login("a.b_c-d@e"));
	assert_true(valid_login("13800138000"));
	assert_true(valid_login("abc"));
	assert_false(valid_login("ab"));
	char l[66];
	memset(l, 'a', 65);
	l[65] = '\0';
	assert_false(valid_login(l));
	l[64] = '\0';
	assert_true(valid_login(l));
	assert_false(valid_login("has space"));
	assert_false(valid_login("张三丰"));
	assert_false(valid_login("a/b/c"));
	assert_false(valid_login(NULL));

	const char *kinds[] = {"district", "subdistrict", "community", "grid",
	                       "center",   "station",     "point"};
	for (size_t i = 0; i < 7; i++)
		assert_true(valid_org_kind(kinds[i]));
	assert_false(valid_org_kind("District"));
	assert_false(valid_org_kind("city"));
	assert_false(valid_org_kind(""));
	assert_false(valid_org_kind(NULL));

	const char *days[] = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"};
	for (int i = 0; i < 7; i++)
		assert_int_equal(valid_weekday(days[i]), i + 1);
	assert_int_equal(valid_weekday("mo"), 0);
	assert_int_equal(valid_weekday("MON"), 0);
	assert_int_equal(valid_weekday("M"), 0);
	assert_int_equal(valid_weekday("OT"), 0); /* straddles two entries */
	assert_int_equal(valid_weekday(""), 0);
	assert_int_equal(valid_weekday(NULL), 0);

	assert_true(password_acceptable("0123456789"));
	assert_false(password_acceptable("012345678"));
	assert_true(password_acceptable("密码密码密码密码密码")); /* 10 characters, 30 bytes */
	assert_false(password_acceptable("密码密码密码密码密"));
	char p[200];
	memset(p, 'x', 129);
	p[129] = '\0';
	assert_false(password_acceptable(p));
	p[128] = '\0';
	assert_true(password_acceptable(p));
	assert_false(password_acceptable("0123456789\xff"));
	assert_false(password_acceptable(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_phone),
	        cmocka_unit_test(test_id_number_known),
	        cmocka_unit_test(test_id_number_dates),
	        cmocka_unit_test(test_mask_id),
	        cmocka_unit_test(test_utf8),
	        cmocka_unit_test(test_parse_date),
	        cmocka_unit_test(test_parse_month_quarter),
	        cmocka_unit_test(test_parse_hhmm),
	        cmocka_unit_test(test_parse_rfc3339),
	        cmocka_unit_test(test_format_rfc3339),
	        cmocka_unit_test(test_civil),
	        cmocka_unit_test(test_login_kind_weekday_password),
	};
	return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
