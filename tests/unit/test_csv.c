/*
 * test_csv.c: RFC 4180 quoting, the BOM, formula defusing and number-like text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "csv.h"

static void test_plain_and_quoted(void **state)
{
	(void)state;
	struct csv c;
	csv_init(&c);
	assert_int_equal(csv_bom(&c), 0);
	assert_int_equal(csv_field(&c, "a", CSV_TEXT), 0);
	assert_int_equal(csv_field(&c, "b,c", CSV_TEXT), 0);
	assert_int_equal(csv_field(&c, "say \"hi\"", CSV_TEXT), 0);
	assert_int_equal(csv_field(&c, "two\nlines", CSV_TEXT), 0);
	assert_int_equal(csv_field(&c, NULL, CSV_TEXT), 0);
	assert_int_equal(csv_field(&c, "12", CSV_NUMBER), 0);
	assert_int_equal(csv_end_row(&c), 0);
	assert_int_equal(csv_field(&c, "社区", CSV_TEXT), 0);
	assert_int_equal(csv_end_row(&c), 0);
	assert_string_equal(c.data, "\xEF\xBB\xBF"
	                            "a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\",,12\r\n"
	                            "社区\r\n");
	csv_cleanup(&c);
}

static void test_formulas_defused(void **state)
{
	(void)state;
	struct csv c;
	csv_init(&c);
	csv_field(&c, "=1+1", CSV_TEXT);
	csv_field(&c, "+86", CSV_TEXT);
	csv_field(&c, "-3", CSV_TEXT);
	csv_field(&c, "@SUM(A1)", CSV_TEXT);
	csv_field(&c, "=HYPERLINK(\"x\")", CSV_TEXT_NUM);
	csv_field(&c, "-5", CSV_NUMBER);
	csv_end_row(&c);
	assert_string_equal(c.data, "'=1+1,'+86,'-3,'@SUM(A1),\"'=HYPERLINK(\"\"x\"\")\",-5\r\n");
	csv_cleanup(&c);
}

static void test_number_like_text(void **state)
{
	(void)state;
	struct csv c;
	csv_init(&c);
	csv_field(&c, "13912345678", CSV_TEXT_NUM);
	csv_field(&c, "V0000000018", CSV_TEXT_NUM);
	csv_field(&c, "+8613912345678", CSV_TEXT_NUM);
	csv_field(&c, "张三", CSV_TEXT_NUM);
	csv_end_row(&c);
	assert_string_equal(c.data, "\"=\"\"13912345678\"\"\",\"=\"\"V0000000018\"\"\","
	                            "\"=\"\"+8613912345678\"\"\",张三\r\n");
	assert_true(csv_text_num_ok("0012"));
	assert_false(csv_text_num_ok("abc"));
	assert_false(csv_text_num_ok("1\"&A1&\""));
	assert_false(csv_text_num_ok(""));
	csv_cleanup(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plain_and_quoted),
	        cmocka_unit_test(test_formulas_defused),
	        cmocka_unit_test(test_number_like_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
