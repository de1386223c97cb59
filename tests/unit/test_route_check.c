/*
 * test_route_check.c: the checks serve runs over its route table before it binds anything
 * (R24, deny by default), given tables of the test's own: a route without an access policy, a
 * handler, a path or exactly one method, or a method and path listed twice, stops the start
 * and is named.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "router.h"

static void answer(struct req *r)
{
	(void)r;
}

/* A table the check passes: two methods on one path, every kind of policy but the unset one. */
static const struct route good[] = {
        {M_GET, "/livez", answer, AUTH_PUBLIC, 0, 0},
        {M_GET, "/api/v1/me", answer, AUTH_USER, 0, 1},
        {M_POST, "/api/v1/me", answer, AUTH_USER, 4096, 1},
        {M_POST, "/api/v1/events/{id}/check-ins", answer, AUTH_BATCHED, 0, 0},
        {M_POST, "/api/v1/session", answer, AUTH_OPTIONAL, 4096, 1},
};
enum { NGOOD = sizeof good / sizeof good[0] };

/* Checks good with extra after it.  When refused, the refusal must be an internal error on
 * "route" whose detail holds `names`. */
static int check_with(struct route extra, const char *names)
{
	struct route table[NGOOD + 1];
	memcpy(table, good, sizeof good);
	table[NGOOD] = extra;
	struct err e;
	err_clear(&e);
	int rc = route_table_check(table, NGOOD + 1, &e);
	if (rc == 0)
		return 0;
	assert_int_equal(e.code, APP_EINTERNAL);
	assert_string_equal(e.field, "route");
	assert_non_null(strstr(e.detail, names));
	return rc;
}

static void test_a_table_of_whole_routes_passes(void **state)
{
	(void)state;
	struct err e;
	err_clear(&e);
	assert_int_equal(route_table_check(good, NGOOD, &e), 0);
	assert_int_equal(route_table_check(good, 0, &e), 0);
	assert_int_equal(
	        check_with((struct route){M_DELETE, "/api/v1/me", answer, AUTH_USER, 0, 0}, ""), 0);
}

/* Each route the check refuses after good, why, and what the refusal names. */
static const struct refused {
	const char *why;
	struct route route;
	const char *names;
} refused[] = {
        {"no access policy",
         {.method = M_GET, .pattern = "/api/v1/forgotten", .handler = answer},
         "/api/v1/forgotten names no access policy"},
        {"no handler", {M_GET, "/api/v1/x", NULL, AUTH_USER, 0, 0}, "/api/v1/x names no"},
        {"no method", {0, "/api/v1/x", answer, AUTH_USER, 0, 0}, "/api/v1/x names no"},
        {"two methods",
         {M_GET | M_POST, "/api/v1/x", answer, AUTH_USER, 0, 0},
         "/api/v1/x names no"},
        {"a method past HEAD",
         {M_HEAD << 1, "/api/v1/x", answer, AUTH_USER, 0, 0},
         "/api/v1/x names no"},
        {"no path", {M_GET, NULL, answer, AUTH_USER, 0, 0}, "has no path"},
        {"a relative path", {M_GET, "api", answer, AUTH_USER, 0, 0}, "has no path"},
        {"the method and path of another",
         {M_POST, "/api/v1/me", answer, AUTH_PUBLIC, 0, 0},
         "POST /api/v1/me is listed twice"},
};

static void test_an_incomplete_or_repeated_route_stops_the_start(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		if (check_with(refused[i].route, refused[i].names) != -1)
			fail_msg("a route with %s was not refused", refused[i].why);
}

static void test_method_names(void **state)
{
	(void)state;
	assert_string_equal(router_method_name(M_GET), "GET");
	assert_string_equal(router_method_name(M_POST), "POST");
	assert_string_equal(router_method_name(M_PUT), "PUT");
	assert_string_equal(router_method_name(M_DELETE), "DELETE");
	assert_string_equal(router_method_name(M_PATCH), "PATCH");
	assert_string_equal(router_method_name(M_OPTIONS), "OPTIONS");
	assert_string_equal(router_method_name(M_HEAD), "HEAD");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_a_table_of_whole_routes_passes),
	        cmocka_unit_test(test_an_incomplete_or_repeated_route_stops_the_start),
	        cmocka_unit_test(test_method_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
