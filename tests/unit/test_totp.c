/*
 * test_totp.c: RFC 6238's SHA-1 test vectors (8 digits, through the digits parameter),
 * RFC 4648's base32 vectors, the verification window and replay rule, and the sealed
 * secret's binding to its account.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "totp.h"

static const uint8_t RFC_KEY[] = "12345678901234567890"; /* RFC 6238 appendix B, SHA-1 */

static void test_rfc6238_sha1_vectors(void **state)
{
	(void)state;
	static const struct {
		long long t;
		long code;
	} v[] = {
	        {59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
	        {1234567890, 89005924}, {2000000000, 69279037}, {20000000000LL, 65353130},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		long long step = totp_step((time_t)v[i].t);
		assert_int_equal(totp_code(RFC_KEY, 20, step, 8), v[i].code);
		/* six digits are the last six of the same number */
		assert_int_equal(totp_code(RFC_KEY, 20, step, 6), v[i].code % 1000000);
	}
}

static void test_rfc4648_base32_vectors(void **state)
{
	(void)state;
	static const char *const v[][2] = {
	        {"", ""},
	        {"f", "MY======"},
	        {"fo", "MZXQ===="},
	        {"foo", "MZXW6==="},
	        {"foob", "MZXW6YQ="},
	        {"fooba", "MZXW6YTB"},
	        {"foobar", "MZXW6YTBOI======"},
	};
	char out[32];
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		size_t len = strlen(v[i][0]);
		assert_int_equal(totp_base32((const uint8_t *)v[i][0], len, 1, out, sizeof out),
		                 (int)strlen(v[i][1]));
		assert_string_equal(out, v[i][1]);
	}
	assert_int_equal(totp_base32((const uint8_t *)"foobar", 6, 0, out, sizeof out), 10);
	assert_string_equal(out, "MZXW6YTBOI");
	/* a 20-byte secret is exactly 32 characters, no padding */
	assert_int_equal(totp_base32(RFC_KEY, 20, 0, out, 32), -1); /* no room for the NUL */
	char secret[TOTP_B32_LEN + 1];
	assert_int_equal(totp_base32(RFC_KEY, 20, 1, secret, sizeof secret), TOTP_B32_LEN);
	assert_string_equal(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

static void code_at(long long step, char out[8])
{
	snprintf(out, 8, "%06ld", totp_code(RFC_KEY, 20, step, TOTP_DIGITS));
}

static void test_window_and_replay(void **state)
{
	(void)state;
	time_t now = 1700000000;
	long long step = totp_step(now);
	char code[8];
	for (long long d = -1; d <= 1; d++) {
		code_at(step + d, code);
		assert_int_equal(totp_verify(RFC_KEY, 20, now, code, 0), step + d);
	}
	code_at(step - 2, code);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, code, 0), -1);
	code_at(step + 2, code);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, code, 0), -1);
	/* replay: a step not later than the last accepted is refused */
	code_at(step, code);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, code, step), -1);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, code, step - 1), step);
	/* only exactly six digits */
	assert_int_equal(totp_verify(RFC_KEY, 20, now, "12345", 0), -1);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, "1234567", 0), -1);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, "12a456", 0), -1);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, NULL, 0), -1);
}

static void test_sealed_secret_is_bound_to_its_account(void **state)
{
	(void)state;
	uint8_t key[32], other[32], blob[TOTP_SEALED_LEN], out[TOTP_SECRET_LEN];
	memset(key, 7, sizeof key);
	memset(other, 8, sizeof other);
	assert_int_equal(totp_seal(key, 42, RFC_KEY, blob), 0);
	assert_memory_not_equal(blob + AEAD_NONCE_LEN, RFC_KEY, TOTP_SECRET_LEN);
	assert_int_equal(totp_open(key, 42, blob, sizeof blob, out), 0);
	assert_memory_equal(out, RFC_KEY, TOTP_SECRET_LEN);
	assert_int_equal(totp_open(key, 43, blob, sizeof blob, out), -1);
	assert_int_equal(totp_open(other, 42, blob, sizeof blob, out), -1);
	assert_int_equal(totp_open(key, 42, blob, sizeof blob - 1, out), -1);
	blob[AEAD_NONCE_LEN] ^= 1;
	assert_int_equal(totp_open(key, 42, blob, sizeof blob, out), -1);
	uint8_t zero[TOTP_SECRET_LEN] = {0};
	assert_memory_equal(out, zero, sizeof zero);
	assert_int_equal(totp_seal(key, 0, RFC_KEY, blob), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc6238_sha1_vectors),
	        cmocka_unit_test(test_rfc4648_base32_vectors),
	        cmocka_unit_test(test_window_and_replay),
	        cmocka_unit_test(test_sealed_secret_is_bound_to_its_account),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
