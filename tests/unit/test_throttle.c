/*
 * test_throttle.c: a key is blocked after `limit` failures until its window ends, and not
 * before; another key is not; a window that has ended starts again; the table stays bounded
 * when more keys fail than it holds, and then never blocks a key that did not fail enough.
 * As a rate limit (throttle_take): `limit` tries go ahead, the next waits for the window's
 * end and is not counted.  Client addresses make keys: an IPv4 address, an IPv6 /64.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/socket.h>

#include "throttle.h"

#define WINDOW 600
#define LIMIT  10

static struct throttle *fresh(void)
{
	struct throttle *t = calloc(1, sizeof *t);
	assert_non_null(t);
	return t;
}

static void test_blocks_after_limit(void **state)
{
	(void)state;
	struct throttle *t = fresh();
	uint64_t now = 1000;
	assert_false(throttle_any(t, now));
	for (int i = 0; i < LIMIT - 1; i++) {
		throttle_fail(t, 42, now + (uint64_t)i, WINDOW, LIMIT);
		assert_int_equal(throttle_wait(t, 42, now + (uint64_t)i, WINDOW, LIMIT), 0);
	}
	assert_false(throttle_any(t, now + 9));
	throttle_fail(t, 42, now + 9, WINDOW, LIMIT); /* the 10th, 9 s after the first */
	assert_int_equal(throttle_wait(t, 42, now + 9, WINDOW, LIMIT), WINDOW - 9);
	assert_true(throttle_any(t, now + 9));
	assert_int_equal(throttle_wait(t, 43, now + 9, WINDOW, LIMIT), 0); /* another account */
	assert_int_equal(throttle_wait(t, 42, now + WINDOW - 1, WINDOW, LIMIT), 1);
	assert_int_equal(throttle_wait(t, 42, now + WINDOW, WINDOW, LIMIT), 0); /* over */
	assert_false(throttle_any(t, now + WINDOW));
	/* a failure after the window starts a new one */
	throttle_fail(t, 42, now + WINDOW, WINDOW, LIMIT);
	assert_int_equal(throttle_wait(t, 42, now + WINDOW, WINDOW, LIMIT), 0);
	free(t);
}

static void test_old_failures_do_not_count(void **state)
{
	(void)state;
	struct throttle *t = fresh();
	for (int i = 0; i < LIMIT - 1; i++)
		throttle_fail(t, 7, 100, WINDOW, LIMIT);
	throttle_fail(t, 7, 100 + WINDOW, WINDOW, LIMIT); /* the window had ended */
	assert_int_equal(throttle_wait(t, 7, 100 + WINDOW, WINDOW, LIMIT), 0);
	free(t);
}

static void test_bounded_and_never_wrong(void **state)
{
	(void)state;
	struct throttle *t = fresh();
	/* far more keys than slots, each failing once: none is blocked */
	for (uint64_t k = 1; k <= 5 * THROTTLE_SLOTS; k++)
		throttle_fail(t, k, 100, WINDOW, LIMIT);
	for (uint64_t k = 1; k <= 5 * THROTTLE_SLOTS; k++)
		assert_int_equal(throttle_wait(t, k, 100, WINDOW, LIMIT), 0);
	/* a key that does fail enough is still caught among them */
	for (int i = 0; i < LIMIT; i++)
		throttle_fail(t, 999999, 101, WINDOW, LIMIT);
	assert_int_equal(throttle_wait(t, 999999, 101, WINDOW, LIMIT), WINDOW);
	free(t);
}

static void test_zero_key_ignored(void **state)
{
	(void)state;
	struct throttle *t = fresh();
	for (int i = 0; i < 2 * LIMIT; i++)
		throttle_fail(t, 0, 100, WINDOW, LIMIT);
	assert_false(throttle_any(t, 100));
	free(t);
}

static void test_take_is_a_rate_limit(void **state)
{
	(void)state;
	struct throttle *t = fresh();
	uint64_t now = 5000;
	for (int i = 0; i < LIMIT; i++)
		assert_int_equal(throttle_take(t, 7, now + (uint64_t)i, WINDOW, LIMIT), 0);
	assert_int_equal(throttle_take(t, 7, now + 20, WINDOW, LIMIT), WINDOW - 20);
	assert_int_equal(throttle_take(t, 7, now + 30, WINDOW, LIMIT), WINDOW - 30);
	assert_int_equal(throttle_take(t, 8, now + 30, WINDOW, LIMIT), 0); /* another client */
	/* the window over, a new one starts with this try */
	assert_int_equal(throttle_take(t, 7, now + WINDOW, WINDOW, LIMIT), 0);
	for (int i = 1; i < LIMIT; i++)
		assert_int_equal(throttle_take(t, 7, now + WINDOW, WINDOW, LIMIT), 0);
	assert_int_equal(throttle_take(t, 7, now + WINDOW + 1, WINDOW, LIMIT), WINDOW - 1);
	free(t);
}

static void test_addr_keys(void **state)
{
	(void)state;
	uint64_t a = throttle_addr_key("203.0.113.7");
	assert_true(a != 0);
	assert_true(a == throttle_addr_key("203.0.113.7"));
	assert_true(a == throttle_addr_key("::ffff:203.0.113.7")); /* an IPv4-mapped peer */
	assert_true(a != throttle_addr_key("203.0.113.8"));
	uint64_t b = throttle_addr_key("2001:db8:1:2::1");
	assert_true(b != 0 && b != a);
	assert_true(b == throttle_addr_key("2001:db8:1:2:ffff:ffff:ffff:ffff")); /* same /64 */
	assert_true(b != throttle_addr_key("2001:db8:1:3::1"));
	assert_true(throttle_addr_key("::1") != 0);
	assert_true(throttle_addr_key("") != 0);
	assert_true(throttle_addr_key("") == throttle_addr_key("not an address"));
	assert_true(throttle_addr_key("") != a && throttle_addr_key("") != b);
	/* a socket's bytes give the same keys as the text (conns.c counts connections so) */
	unsigned char v4[4] = {203, 0, 113, 7}, v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2};
	unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7};
	assert_true(throttle_addr_key_bytes(AF_INET, v4) == a);
	assert_true(throttle_addr_key_bytes(AF_INET6, mapped) == a);
	assert_true(throttle_addr_key_bytes(AF_INET6, v6) == b);
	assert_true(throttle_addr_key_bytes(AF_UNIX, v4) == throttle_addr_key(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_blocks_after_limit),
	        cmocka_unit_test(test_old_failures_do_not_count),
	        cmocka_unit_test(test_bounded_and_never_wrong),
	        cmocka_unit_test(test_zero_key_ignored),
	        cmocka_unit_test(test_take_is_a_rate_limit),
	        cmocka_unit_test(test_addr_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
