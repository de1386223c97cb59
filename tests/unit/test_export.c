/*
 * test_export.c: report JSON -> table -> CSV: headers, cells, the totals row, star columns,
 * number-like text and the file name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "export.h"

static const char monthly[] =
        "{\"month\":\"2025-03\",\"by\":\"org_unit\",\"under\":7,"
        "\"rows\":[{\"id\":8,\"code\":\"0012\",\"name\":\"街道,一\",\"kind\":\"subdistrict\","
        "\"volunteers\":2,\"approved_minutes\":90,\"pending_minutes\":0,\"approved_hours\":\"1."
        "50\","
        "\"events\":1,\"new_volunteers\":0}],"
        "\"totals\":{\"id\":7,\"code\":\"0001\",\"name\":\"区\",\"volunteers\":2,"
        "\"approved_minutes\":100,\"pending_minutes\":5,\"approved_hours\":\"1.67\","
        "\"events\":1,\"new_volunteers\":3}}";

static void test_monthly_csv(void **state)
{
	(void)state;
	cJSON *r = cJSON_Parse(monthly);
	struct export_table t;
	assert_int_equal(export_table_init(&t, r, EXPORT_MONTHLY_ORG), 0);
	assert_int_equal(export_nrows(&t), 1);
	struct csv c;
	csv_init(&c);
	assert_int_equal(export_csv(&t, &c), 0);
	const char *want =
	        "\xEF\xBB\xBF"
	        "编号,区划代码,名称,类型,志愿者人数,已审核时长（分钟）,待审核时长（分钟）,"
	        "已审核时长（小时）,活动场次,新注册志愿者\r\n"
	        "8,\"=\"\"0012\"\"\",\"街道,一\",subdistrict,2,90,0,1.50,1,0\r\n"
	        ",,合计,,2,100,5,1.67,1,3\r\n";
	assert_string_equal(c.data, want);
	char name[128];
	export_filename(r, EXPORT_MONTHLY_ORG, "csv", name, sizeof name);
	assert_string_equal(name, "monthly-by-org-unit-2025-03-7.csv");
	csv_cleanup(&c);
	cJSON_Delete(r);
}

static void test_volunteer_stars(void **state)
{
	(void)state;
	cJSON *r = cJSON_Parse(
	        "{\"month\":\"2025-03\",\"under\":1,\"schemes\":[{\"code\":\"national\",\"name\":"
	        "\"N\"},"
	        "{\"code\":\"local\",\"name\":\"L\"}],"
	        "\"rows\":[{\"volunteer_no\":\"V0000000018\",\"name\":\"=cmd\",\"phone\":"
	        "\"13912345678\","
	        "\"approved_minutes\":6000,\"approved_hours\":\"100.00\",\"stars\":{\"national\":1,"
	        "\"local\":1}}],\"totals\":{\"name\":\"合计\",\"approved_minutes\":6000}}");
	struct export_table t;
	assert_int_equal(export_table_init(&t, r, EXPORT_VOLUNTEERS), 0);
	assert_string_equal(t.cols[t.ncols - 2].key, "stars.national");
	assert_string_equal(t.cols[t.ncols - 1].header, "星级（L）");
	char buf[64];
	double num = 0;
	int tot;
	const cJSON *row = export_row(&t, 0, &tot);
	assert_false(tot);
	assert_int_equal(export_cell(&t, row, 0, t.ncols - 1, buf, sizeof buf, &num), 1);
	assert_string_equal(buf, "1");
	struct csv c;
	csv_init(&c);
	assert_int_equal(export_csv(&t, &c), 0);
	assert_non_null(strstr(c.data, "\"=\"\"V0000000018\"\"\",'=cmd,\"=\"\"13912345678\"\"\""));
	assert_non_null(strstr(c.data, "\r\n,合计,,,6000,"));
	csv_cleanup(&c);
	cJSON_Delete(r);
}

static void test_no_rows(void **state)
{
	(void)state;
	cJSON *r = cJSON_Parse("{\"month\":\"2025-03\"}");
	struct export_table t;
	assert_int_equal(export_table_init(&t, r, EXPORT_PARTY), -1);
	cJSON_Delete(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_monthly_csv),
	        cmocka_unit_test(test_volunteer_stars),
	        cmocka_unit_test(test_no_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
