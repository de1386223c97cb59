/*
 * test_idnum.c: ID number normalization, AES-256-GCM round trip, tamper and wrong-key
 * refusal, the blind index, and what the number encodes (birth date, gender).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "idnum.h"

/* 11010519491231002X is the GB 11643 standard's own example. */
static const char EXAMPLE[] = "11010519491231002X";

static void key_fill(uint8_t key[32], uint8_t v)
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(v + i);
}

static void test_normalize(void **state)
{
	(void)state;
	char out[IDNUM_LEN + 1];
	assert_int_equal(idnum_normalize("11010519491231002x", out), 0);
	assert_string_equal(out, EXAMPLE);
	assert_int_equal(idnum_normalize(EXAMPLE, out), 0);
	assert_string_equal(out, EXAMPLE);
	/* wrong check character, impossible date, wrong length, NULL */
	assert_int_equal(idnum_normalize("110105194912310021", out), -1);
	assert_string_equal(out, "");
	assert_int_equal(idnum_normalize("110105194902300020", out), -1);
	assert_int_equal(idnum_normalize("1101051949123100", out), -1);
	assert_int_equal(idnum_normalize(NULL, out), -1);
}

static void test_round_trip(void **state)
{
	(void)state;
	uint8_t key[32], blob[IDNUM_ENC_LEN], blob2[IDNUM_ENC_LEN];
	char back[IDNUM_LEN + 1];
	key_fill(key, 1);
	assert_int_equal(idnum_encrypt(key, EXAMPLE, blob), 0);
	/* the clear number is nowhere in the blob */
	assert_null(memmem(blob, sizeof blob, EXAMPLE, IDNUM_LEN));
	assert_null(memmem(blob, sizeof blob, "19491231", 8));
	assert_int_equal(idnum_decrypt(key, blob, sizeof blob, back), 0);
	assert_string_equal(back, EXAMPLE);
	/* a fresh nonce each time: two encryptions differ, both decrypt */
	assert_int_equal(idnum_encrypt(key, EXAMPLE, blob2), 0);
	assert_memory_not_equal(blob, blob2, IDNUM_NONCE_LEN);
	assert_memory_not_equal(blob + IDNUM_NONCE_LEN, blob2 + IDNUM_NONCE_LEN, IDNUM_LEN);
	assert_int_equal(idnum_decrypt(key, blob2, sizeof blob2, back), 0);
	assert_string_equal(back, EXAMPLE);
}

static void test_tamper_and_wrong_key(void **state)
{
	(void)state;
	uint8_t key[32], other[32], blob[IDNUM_ENC_LEN], bad[IDNUM_ENC_LEN];
	char back[IDNUM_LEN + 1];
	key_fill(key, 1);
	key_fill(other, 2);
	assert_int_equal(idnum_encrypt(key, EXAMPLE, blob), 0);
	assert_int_equal(idnum_decrypt(other, blob, sizeof blob, back), -1);
	assert_string_equal(back, "");
	for (size_t i = 0; i < sizeof blob; i++) { /* any flipped bit: nonce, body or tag */
		memcpy(bad, blob, sizeof blob);
		bad[i] ^= 0x01;
		assert_int_equal(idnum_decrypt(key, bad, sizeof bad, back), -1);
		assert_string_equal(back, "");
	}
	assert_int_equal(idnum_decrypt(key, blob, sizeof blob - 1, back), -1);
	assert_int_equal(idnum_decrypt(key, NULL, 0, back), -1);
}

static void test_blind_index(void **state)
{
	(void)state;
	uint8_t key[32], other[32], a[IDNUM_HMAC_LEN], b[IDNUM_HMAC_LEN], c[IDNUM_HMAC_LEN];
	char lower[IDNUM_LEN + 1], upper[IDNUM_LEN + 1];
	key_fill(key, 1);
	key_fill(other, 2);
	/* the index is of the normalized number: x and X give the same value */
	assert_int_equal(idnum_normalize("11010519491231002x", lower), 0);
	assert_int_equal(idnum_normalize(EXAMPLE, upper), 0);
	assert_int_equal(idnum_blind(key, lower, a), 0);
	assert_int_equal(idnum_blind(key, upper, b), 0);
	assert_memory_equal(a, b, sizeof a);
	assert_int_equal(idnum_blind(other, upper, c), 0); /* keyed: another key, another value */
	assert_memory_not_equal(a, c, sizeof a);
	/* another number, another value */
	assert_int_equal(idnum_blind(key, "110101199003074477", c), 0);
	assert_memory_not_equal(a, c, sizeof a);
}

static void test_encoded_fields(void **state)
{
	(void)state;
	char date[11];
	idnum_birth_date(EXAMPLE, date);
	assert_string_equal(date, "1949-12-31");
	assert_string_equal(idnum_gender(EXAMPLE), "female");            /* 17th digit 2 */
	assert_string_equal(idnum_gender("110101199003074477"), "male"); /* 17th digit 7 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_normalize),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_tamper_and_wrong_key),
	        cmocka_unit_test(test_blind_index),
	        cmocka_unit_test(test_encoded_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
