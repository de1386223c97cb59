/*
 * test_err.c: the error table (status, title, problem type) and err_set/err_clear/err_more.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"

static void test_status_table(void **state)
{
	(void)state;
	assert_int_equal(app_err_status(APP_OK), 200);
	assert_int_equal(app_err_status(APP_EMALFORMED), 400);
	assert_int_equal(app_err_status(APP_EUNAUTH), 401);
	assert_int_equal(app_err_status(APP_EFORBIDDEN), 403);
	assert_int_equal(app_err_status(APP_ENOTFOUND), 404);
	assert_int_equal(app_err_status(APP_EMETHOD), 405);
	assert_int_equal(app_err_status(APP_ECONFLICT), 409);
	assert_int_equal(app_err_status(APP_ETOOLARGE), 413);
	assert_int_equal(app_err_status(APP_EINVALID), 422);
	assert_int_equal(app_err_status(APP_ETHROTTLED), 429);
	assert_int_equal(app_err_status(APP_EUNAVAILABLE), 503);
	assert_int_equal(app_err_status(APP_EINTERNAL), 500);
	assert_int_equal(app_err_status(APP_ETIMEOUT), 408);
	assert_int_equal(app_err_status(APP_ETARGET), 414);
	assert_int_equal(app_err_status(APP_EEXPECT), 417);
	assert_int_equal(app_err_status(APP_EHEADERS), 431);
	assert_int_equal(app_err_status(APP_ERR_COUNT), 500);
	assert_int_equal(app_err_status((enum app_err) - 1), 500);
}

static void test_every_code_has_title_and_type(void **state)
{
	(void)state;
	for (int i = 0; i < APP_ERR_COUNT; i++) {
		assert_non_null(app_err_title((enum app_err)i));
		assert_true(strlen(app_err_title((enum app_err)i)) > 0);
		assert_non_null(app_err_type((enum app_err)i));
		/* Round trip: every status maps back to a code with that status (the plain one
		 * for the refinements of 401 and 403). */
		int status = app_err_status((enum app_err)i);
		assert_int_equal(app_err_status(app_err_from_status(status)), status);
		assert_true((int)app_err_from_status(status) <= i);
	}
	assert_string_equal(app_err_title(APP_ECONFLICT), "Conflict");
	assert_string_equal(app_err_type(APP_ECONFLICT), "urn:volunteerd:problem:conflict");
	assert_string_equal(app_err_type(APP_ERR_COUNT), app_err_type(APP_EINTERNAL));
	assert_int_equal(app_err_from_status(418), APP_EINTERNAL);
	assert_int_equal(app_err_from_status(401), APP_EUNAUTH);
	assert_int_equal(app_err_from_status(403), APP_EFORBIDDEN);
	assert_string_equal(app_err_type(APP_ETOTP), "urn:volunteerd:problem:totp-required");
	assert_string_equal(app_err_type(APP_EMFA), "urn:volunteerd:problem:mfa-required");
	assert_string_equal(app_err_type(APP_EREAUTH), "urn:volunteerd:problem:reauth-required");
}

static void test_err_set_and_clear(void **state)
{
	(void)state;
	struct err e;
	err_clear(&e);
	assert_int_equal(e.code, APP_OK);
	assert_string_equal(e.field, "");
	assert_string_equal(e.detail, "");

	assert_int_equal(err_set(&e, APP_EINVALID, "phone", "bad %s %d", "x", 7), -1);
	assert_int_equal(e.code, APP_EINVALID);
	assert_string_equal(e.field, "phone");
	assert_string_equal(e.detail, "bad x 7");

	assert_int_equal(err_set(&e, APP_ECONFLICT, NULL, "c"), -1);
	assert_string_equal(e.field, "");

	/* NULL err is allowed, so that callers may ignore the detail. */
	assert_int_equal(err_set(NULL, APP_EINVALID, "f", "x"), -1);
}

static void test_err_set_truncates(void **state)
{
	(void)state;
	struct err e;
	char big[600];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	err_set(&e, APP_EINVALID, big, "%s", big);
	assert_int_equal(strlen(e.field), sizeof e.field - 1);
	assert_int_equal(strlen(e.detail), sizeof e.detail - 1);
}

static void test_err_more(void **state)
{
	(void)state;
	struct err e;
	memset(&e, 0x5a, sizeof e); /* err_set must not trust what was there */
	err_set(&e, APP_EINVALID, "phone", "bad phone");
	assert_int_equal(e.n_more, 0);

	err_more(&e, "gender", "must be male or female");
	err_more(&e, "phone", "named already, as the first");
	err_more(&e, "gender", "named already, in more");
	assert_int_equal(e.n_more, 1);
	assert_string_equal(e.more[0].field, "gender");
	assert_string_equal(e.more[0].detail, "must be male or female");

	char name[16];
	for (int i = 0; i < 2 * ERR_MORE_MAX; i++) {
		snprintf(name, sizeof name, "f%d", i);
		err_more(&e, name, "x");
	}
	assert_int_equal(e.n_more, ERR_MORE_MAX);
	assert_string_equal(e.more[ERR_MORE_MAX - 1].field, "f5");

	err_set(&e, APP_ECONFLICT, NULL, "c");
	assert_int_equal(e.n_more, 0);
	err_more(&e, "a", "b");
	err_clear(&e);
	assert_int_equal(e.n_more, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_status_table),
	        cmocka_unit_test(test_every_code_has_title_and_type),
	        cmocka_unit_test(test_err_set_and_clear),
	        cmocka_unit_test(test_err_set_truncates),
	        cmocka_unit_test(test_err_more),
	};
	return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
