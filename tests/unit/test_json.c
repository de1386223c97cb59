/*
 * test_json.c: json_parse_object's refusals (empty, not an object, bad or trailing JSON, NUL,
 * invalid UTF-8, \u0000, duplicate keys) and the typed getters, whose errors must name the
 * field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

/* Parse a C string literal as a body. */
static cJSON *parse(const char *s, struct err *e)
{
	err_clear(e);
	return json_parse_object(s, strlen(s), e);
}

static void assert_malformed(const char *body)
{
	struct err e;
	cJSON *o = parse(body, &e);
	if (o)
		fail_msg("accepted: %s", body);
	assert_int_equal(e.code, APP_EMALFORMED);
	assert_true(strlen(e.detail) > 0);
}

static void test_parse_ok(void **state)
{
	(void)state;
	struct err e;
	cJSON *o = parse("  {\"a\": 1, \"b\": {\"c\": [1, 2]}}\r\n ", &e);
	assert_non_null(o);
	assert_int_equal(e.code, APP_OK);
	cJSON_Delete(o);
	o = parse("{}", &e);
	assert_non_null(o);
	cJSON_Delete(o);

	/* The buffer is not NUL-terminated: only len bytes count. */
	const char buf[] = "{\"a\":1}GARBAGE";
	o = json_parse_object(buf, 7, &e);
	assert_non_null(o);
	cJSON_Delete(o);

	/* Escaped backslash then a literal "u0000" is fine. */
	o = parse("{\"a\":\"\\\\u0000\"}", &e);
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "a")->valuestring, "\\u0000");
	cJSON_Delete(o);
}

static void test_parse_refusals(void **state)
{
	(void)state;
	struct err e;
	assert_null(json_parse_object("", 0, &e));
	assert_int_equal(e.code, APP_EMALFORMED);
	assert_string_equal(e.detail, "body must be a JSON object");
	assert_null(json_parse_object(NULL, 0, &e));

	const char *not_object[] = {"[1,2]",        "1",       "\"s\"",    "null",
	                            "true",         "{",       "{\"a\":}", "{\"a\":1}x",
	                            "{\"a\":1} {}", "{'a':1}", "{a:1}",    "   "};
	for (size_t i = 0; i < sizeof not_object / sizeof not_object[0]; i++) {
		assert_malformed(not_object[i]);
		parse(not_object[i], &e);
		assert_string_equal(e.detail, "body must be a JSON object");
	}

	/* A NUL byte inside the body (cJSON would stop there and ignore the rest). */
	const char nul[] = "{\"a\":1}\0{\"b\":2}";
	assert_null(json_parse_object(nul, sizeof nul - 1, &e));
	assert_int_equal(e.code, APP_EMALFORMED);

	assert_malformed("{\"a\":\"\xff\"}");          /* invalid UTF-8 */
	assert_malformed("{\"a\":\"\xc0\xaf\"}");      /* overlong */
	assert_malformed("{\"a\":\"x\\u0000y\"}");     /* would cut the string */
	assert_malformed("{\"a\":\"\\ud800\"}");       /* lone surrogate escape */
	assert_malformed("{\"a\":1,\"a\":2}");         /* duplicate key */
	assert_malformed("{\"o\":{\"k\":1,\"k\":1}}"); /* duplicate in a nested object */
	assert_malformed("{\"l\":[{\"k\":1,\"k\":1}]}");
	parse("{\"x\":1,\"role\":1,\"role\":2}", &e);
	assert_string_equal(e.field, "role");

	/* Nesting: eight levels pass, nine do not (R28); brackets in strings do not count. */
	struct cJSON *ok = parse("{\"a\":[{\"b\":[[[[{\"c\":\"[[[[{{{{\\\"[\"}]]]]}]}", &e);
	assert_non_null(ok);
	cJSON_Delete(ok);
	assert_malformed("{\"a\":[{\"b\":[[[[{\"c\":[]}]]]]}]}");
	parse("{\"a\":[{\"b\":[[[[{\"c\":[]}]]]]}]}", &e);
	assert_string_equal(e.detail, "arrays and objects nest more than 8 deep");
	char deep[2100] = "{\"a\":";
	memset(deep + 5, '[', 1000);
	memset(deep + 1005, ']', 1000);
	strcpy(deep + 2005, "}");
	assert_malformed(deep);
}

static void test_parse_many_keys(void **state)
{
	(void)state;
	/* 2,000 distinct keys, then the same with one duplicate at the end. */
	size_t cap = 64 * 1024, n = 0;
	char *b = malloc(cap);
	assert_non_null(b);
	b[n++] = '{';
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(b + n, cap - n, "%s\"k%d\":%d", i ? "," : "", i, i);
	b[n++] = '}';
	struct err e;
	cJSON *o = json_parse_object(b, n, &e);
	assert_non_null(o);
	cJSON_Delete(o);
	n--;
	n += (size_t)snprintf(b + n, cap - n, ",\"k1999\":0}");
	assert_null(json_parse_object(b, n, &e));
	assert_string_equal(e.field, "k1999");
	free(b);
}

static void test_get_str(void **state)
{
	(void)state;
	struct err e;
	cJSON *o =
	        parse("{\"name\":\"张三\",\"n\":5,\"blank\":\"   \",\"cjk_blank\":\"\xe3\x80\x80\","
	              "\"nul\":null,\"ctl\":\"a\\u0001b\",\"tab\":\"a\\tb\",\"c1\":\"a\\u0085b\","
	              "\"empty\":\"\",\"ok\":\"hello world\"}",
	              &e);
	assert_non_null(o);
	const char *s = "unset";

	assert_int_equal(json_get_str(o, "name", 1, 2, &s, &e), 0);
	assert_string_equal(s, "张三");
	/* Length counts characters, not bytes: 2 characters, 6 bytes. */
	assert_int_equal(json_get_str(o, "name", 1, 1, &s, &e), -1);
	assert_int_equal(e.code, APP_EINVALID);
	assert_string_equal(e.field, "name");
	assert_string_equal(e.detail, "must be at most 1 characters");

	assert_int_equal(json_get_str(o, "missing", 1, 10, &s, &e), -1);
	assert_string_equal(e.field, "missing");
	assert_string_equal(e.detail, "is required");
	assert_int_equal(json_get_str(o, "nul", 1, 10, &s, &e), -1);
	assert_string_equal(e.detail, "is required");

	s = "unset";
	assert_int_equal(json_get_str(o, "missing", 0, 10, &s, &e), 0);
	assert_null(s);
	s = "unset";
	assert_int_equal(json_get_str(o, "nul", 0, 10, &s, &e), 0);
	assert_null(s);

	assert_int_equal(json_get_str(o, "n", 0, 10, &s, &e), -1);
	assert_string_equal(e.field, "n");
	assert_string_equal(e.detail, "must be a string");

	assert_int_equal(json_get_str(o, "blank", 1, 10, &s, &e), -1);
	assert_string_equal(e.field, "blank");
	assert_string_equal(e.detail, "must not be empty");
	assert_int_equal(json_get_str(o, "cjk_blank", 1, 10, &s, &e), -1);
	assert_int_equal(json_get_str(o, "empty", 1, 10, &s, &e), -1);
	assert_int_equal(json_get_str(o, "blank", 0, 10, &s, &e), 0); /* optional may be blank */
	assert_string_equal(s, "   ");

	assert_int_equal(json_get_str(o, "ctl", 0, 10, &s, &e), -1);
	assert_string_equal(e.field, "ctl");
	assert_int_equal(json_get_str(o, "tab", 0, 10, &s, &e), -1);
	assert_int_equal(json_get_str(o, "c1", 0, 10, &s, &e), -1);
	assert_int_equal(json_get_str(o, "ok", 1, 11, &s, &e), 0);
	assert_string_equal(s, "hello world");
	cJSON_Delete(o);
}

static void test_get_int(void **state)
{
	(void)state;
	struct err e;
	cJSON *o = parse(
	        "{\"id\":42,\"neg\":-7,\"f\":1.5,\"e\":1e2,\"s\":\"42\",\"b\":true,"
	        "\"big\":9007199254740993,\"safe\":-9007199254740991,\"huge\":1e300,\"nul\":null}",
	        &e);
	assert_non_null(o);
	long long v = 0;
	int present = -1;

	assert_int_equal(json_get_int(o, "id", 1, 1, 100, &v, &present, &e), 0);
	assert_int_equal(v, 42);
	assert_int_equal(present, 1);
	assert_int_equal(json_get_int(o, "neg", 1, -10, 10, &v, NULL, &e), 0);
	assert_int_equal(v, -7);
	assert_int_equal(json_get_int(o, "e", 1, 0, 1000, &v, NULL, &e), 0);
	assert_int_equal(v, 100);

	assert_int_equal(json_get_int(o, "safe", 1, INT64_MIN, INT64_MAX, &v, NULL, &e), 0);
	assert_int_equal(v, -9007199254740991LL);

	v = 99;
	assert_int_equal(json_get_int(o, "missing", 0, 0, 10, &v, &present, &e), 0);
	assert_int_equal(present, 0);
	assert_int_equal(v, 99);
	assert_int_equal(json_get_int(o, "nul", 0, 0, 10, &v, &present, &e), 0);
	assert_int_equal(present, 0);
	assert_int_equal(json_get_int(o, "missing", 1, 0, 10, &v, &present, &e), -1);
	assert_string_equal(e.field, "missing");
	assert_string_equal(e.detail, "is required");

	assert_int_equal(json_get_int(o, "id", 1, 1, 10, &v, NULL, &e), -1);
	assert_int_equal(e.code, APP_EINVALID);
	assert_string_equal(e.field, "id");
	assert_string_equal(e.detail, "must be between 1 and 10");

	const char *bad[] = {"f", "s", "b", "big", "huge"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_clear(&e);
		assert_int_equal(json_get_int(o, bad[i], 1, INT64_MIN, INT64_MAX, &v, NULL, &e),
		                 -1);
		assert_int_equal(e.code, APP_EINVALID);
		assert_string_equal(e.field, bad[i]);
		assert_string_equal(e.detail, "must be an integer");
	}
	cJSON_Delete(o);
}

static void test_get_bool_object_array(void **state)
{
	(void)state;
	struct err e;
	cJSON *o = parse("{\"t\":true,\"f\":false,\"n\":1,\"s\":\"true\",\"o\":{\"x\":1},"
	                 "\"a\":[1,2,3],\"nul\":null}",
	                 &e);
	assert_non_null(o);
	int b = -1, present = -1;
	assert_int_equal(json_get_bool(o, "t", 1, &b, &present, &e), 0);
	assert_int_equal(b, 1);
	assert_int_equal(present, 1);
	assert_int_equal(json_get_bool(o, "f", 1, &b, NULL, &e), 0);
	assert_int_equal(b, 0);
	assert_int_equal(json_get_bool(o, "nul", 0, &b, &present, &e), 0);
	assert_int_equal(present, 0);
	assert_int_equal(json_get_bool(o, "n", 1, &b, NULL, &e), -1);
	assert_string_equal(e.field, "n");
	assert_int_equal(json_get_bool(o, "s", 1, &b, NULL, &e), -1);
	assert_string_equal(e.field, "s");
	assert_int_equal(json_get_bool(o, "missing", 1, &b, NULL, &e), -1);
	assert_string_equal(e.detail, "is required");

	const cJSON *sub = NULL;
	assert_int_equal(json_get_object(o, "o", 1, &sub, &e), 0);
	assert_non_null(sub);
	assert_int_equal(json_get_object(o, "a", 1, &sub, &e), -1);
	assert_string_equal(e.field, "a");
	assert_int_equal(json_get_object(o, "missing", 0, &sub, &e), 0);
	assert_null(sub);

	assert_int_equal(json_get_array(o, "a", 1, 3, &sub, &e), 0);
	assert_int_equal(cJSON_GetArraySize(sub), 3);
	assert_int_equal(json_get_array(o, "a", 1, 2, &sub, &e), -1);
	assert_string_equal(e.field, "a");
	assert_string_equal(e.detail, "must have at most 2 items");
	assert_int_equal(json_get_array(o, "o", 1, 10, &sub, &e), -1);
	assert_string_equal(e.field, "o");
	assert_int_equal(json_get_array(o, "nul", 1, 10, &sub, &e), -1);
	assert_string_equal(e.detail, "is required");
	cJSON_Delete(o);
}

static void test_check_keys(void **state)
{
	(void)state;
	struct err e;
	cJSON *o = parse("{\"login\":\"a\",\"password\":\"b\"}", &e);
	assert_non_null(o);
	const char *const ok[] = {"login", "password", NULL};
	const char *const narrow[] = {"login", NULL};
	assert_int_equal(json_check_keys(o, ok, &e), 0);
	assert_int_equal(json_check_keys(o, narrow, &e), -1);
	assert_int_equal(e.code, APP_EINVALID);
	assert_string_equal(e.field, "password");
	assert_string_equal(e.detail, "unknown field");
	cJSON_Delete(o);
}

static void test_print(void **state)
{
	(void)state;
	cJSON *o = cJSON_CreateObject();
	assert_non_null(o);
	cJSON_AddNumberToObject(o, "id", 7);
	cJSON_AddStringToObject(o, "name", "张三 \"x\"");
	cJSON_AddItemToObject(o, "list", cJSON_CreateArray());
	char *s = json_print(o);
	assert_non_null(s);
	assert_string_equal(s, "{\"id\":7,\"name\":\"张三 \\\"x\\\"\",\"list\":[]}");
	free(s);
	cJSON_Delete(o);
	assert_null(json_print(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_ok),
	        cmocka_unit_test(test_parse_refusals),
	        cmocka_unit_test(test_parse_many_keys),
	        cmocka_unit_test(test_get_str),
	        cmocka_unit_test(test_get_int),
	        cmocka_unit_test(test_get_bool_object_array),
	        cmocka_unit_test(test_check_keys),
	        cmocka_unit_test(test_print),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
