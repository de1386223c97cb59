/*
 * test_checkin_code.c: slots, 6-digit codes and QR tokens: deterministic for one key, event
 * and slot; the previous slot accepted, older and future ones refused; any tampering with a
 * token refused; another key or event gives other values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "checkin_code.h"

static const uint8_t key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const long long now = 1767225600; /* 2026-01-01T00:00:00Z, a multiple of 45 */

static void test_slot(void **state)
{
	(void)state;
	assert_int_equal(checkin_slot(0), 0);
	assert_int_equal(checkin_slot(44), 0);
	assert_int_equal(checkin_slot(45), 1);
	assert_int_equal(checkin_slot(-1), -1);
	assert_int_equal(checkin_slot(-45), -1);
	assert_int_equal(checkin_slot(-46), -2);
	assert_int_equal(checkin_slot(now), now / 45);
	assert_int_equal(checkin_slot(now + 44), now / 45);
}

static void test_code_deterministic(void **state)
{
	(void)state;
	char a[7], b[7], c[7], d[7];
	long long slot = checkin_slot(now);
	checkin_code(key, 42, slot, a);
	checkin_code(key, 42, slot, b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 6);
	for (int i = 0; i < 6; i++)
		assert_true(a[i] >= '0' && a[i] <= '9');
	/* Another event, slot or key changes the code (these particular values differ). */
	checkin_code(key, 43, slot, c);
	checkin_code(key, 42, slot + 1, d);
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, d);
	uint8_t other[32];
	memcpy(other, key, 32);
	other[0] ^= 1;
	assert_int_equal(checkin_code(other, 42, slot, c), 0);
	assert_string_not_equal(a, c);
	/* The keyed context is cached per thread: going back to the first key gives its code. */
	assert_int_equal(checkin_code(key, 42, slot, b), 0);
	assert_string_equal(a, b);
}

/* Known answers, computed independently (Python's hmac) from the layout in checkin_code.h, so
 * that a code printed by one build verifies in another. */
static void test_known_answers(void **state)
{
	(void)state;
	char code[7], token[33];
	checkin_code(key, 42, checkin_slot(now), code);
	assert_string_equal(code, "281040");
	assert_int_equal(checkin_token(key, 42, checkin_slot(now), token), 0);
	assert_string_equal(token, "AAAAAAAAACoCVz0ApxRxnl4UibH0rIJO");
}

static void test_code_is_zero_padded(void **state)
{
	(void)state;
	/* Over many events some code must start with '0' and all must stay six digits. */
	int leading_zero = 0;
	char code[7];
	for (long long e = 1; e <= 2000; e++) {
		checkin_code(key, e, 1000, code);
		assert_int_equal(strlen(code), 6);
		leading_zero |= code[0] == '0';
	}
	assert_true(leading_zero);
}

static void test_code_verify_slots(void **state)
{
	(void)state;
	char cur[7], prev[7], old[7], next[7];
	long long slot = checkin_slot(now);
	checkin_code(key, 7, slot, cur);
	checkin_code(key, 7, slot - 1, prev);
	checkin_code(key, 7, slot - 2, old);
	checkin_code(key, 7, slot + 1, next);
	assert_true(checkin_code_verify(key, 7, now, cur));
	assert_true(checkin_code_verify(key, 7, now + 44, cur));
	assert_true(checkin_code_verify(key, 7, now, prev));
	assert_true(checkin_code_verify(key, 7, now + 45, cur));  /* now the previous slot */
	assert_false(checkin_code_verify(key, 7, now + 90, cur)); /* two slots later */
	if (strcmp(old, cur) && strcmp(old, prev))
		assert_false(checkin_code_verify(key, 7, now, old));
	if (strcmp(next, cur) && strcmp(next, prev))
		assert_false(checkin_code_verify(key, 7, now, next));
	char other[7], other_prev[7];
	checkin_code(key, 8, slot, other);
	checkin_code(key, 8, slot - 1, other_prev);
	if (strcmp(other, cur) && strcmp(other_prev, cur))
		assert_false(checkin_code_verify(key, 8, now, cur)); /* another event's code */
	assert_false(checkin_code_verify(key, 7, now, NULL));
	assert_false(checkin_code_verify(key, 7, now, ""));
	assert_false(checkin_code_verify(key, 7, now, "12345"));
	assert_false(checkin_code_verify(key, 7, now, "1234567"));
	assert_false(checkin_code_verify(key, 7, now, "12a456"));
}

static void test_token_round_trip(void **state)
{
	(void)state;
	char t[33], t2[33];
	long long slot = checkin_slot(now), id = 0, s = 0;
	assert_int_equal(checkin_token(key, 123456789, slot, t), 0);
	assert_int_equal(strlen(t), 32);
	assert_int_equal(
	        strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 32);
	assert_int_equal(checkin_token(key, 123456789, slot, t2), 0);
	assert_string_equal(t, t2);
	assert_int_equal(checkin_token_verify(key, t, now, &id, &s), 0);
	assert_int_equal(id, 123456789);
	assert_int_equal(s, slot);
	assert_int_equal(checkin_token(key, 0, slot, t2), -1);
	assert_int_equal(checkin_token(key, 1, -1, t2), -1);
	assert_int_equal(checkin_token(key, 1, 0x100000000LL, t2), -1);
}

static void test_token_slots(void **state)
{
	(void)state;
	char prev[33], old[33], next[33];
	long long slot = checkin_slot(now), id = 0;
	checkin_token(key, 5, slot - 1, prev);
	checkin_token(key, 5, slot - 2, old);
	checkin_token(key, 5, slot + 1, next);
	assert_int_equal(checkin_token_verify(key, prev, now, &id, NULL), 0);
	assert_int_equal(id, 5);
	assert_int_equal(checkin_token_verify(key, old, now, &id, NULL), -1);
	assert_int_equal(checkin_token_verify(key, next, now, &id, NULL), -1);
	assert_int_equal(checkin_token_verify(key, prev, now + 45, &id, NULL), -1);
}

static void test_token_tampered(void **state)
{
	(void)state;
	char t[33], bad[33];
	long long slot = checkin_slot(now), id = -1;
	checkin_token(key, 99, slot, t);
	/* Every single-character change anywhere (id, slot or MAC) is refused. */
	for (int i = 0; i < 32; i++) {
		memcpy(bad, t, sizeof bad);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		assert_int_equal(checkin_token_verify(key, bad, now, &id, NULL), -1);
	}
	assert_int_equal(id, -1); /* untouched on failure */
	uint8_t other[32];
	memcpy(other, key, 32);
	other[31] ^= 0x80;
	assert_int_equal(checkin_token_verify(other, t, now, &id, NULL), -1);
	memcpy(bad, t, sizeof bad);
	bad[5] = '+'; /* not base64url */
	assert_int_equal(checkin_token_verify(key, bad, now, &id, NULL), -1);
	assert_int_equal(checkin_token_verify(key, NULL, now, &id, NULL), -1);
	assert_int_equal(checkin_token_verify(key, "", now, &id, NULL), -1);
	t[31] = '\0';
	assert_int_equal(checkin_token_verify(key, t, now, &id, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_slot),
	        cmocka_unit_test(test_code_deterministic),
	        cmocka_unit_test(test_known_answers),
	        cmocka_unit_test(test_code_is_zero_padded),
	        cmocka_unit_test(test_code_verify_slots),
	        cmocka_unit_test(test_token_round_trip),
	        cmocka_unit_test(test_token_slots),
	        cmocka_unit_test(test_token_tampered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
