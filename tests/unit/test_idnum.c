/*
 * test_idnum.c: ID number normalization, the stored form's round trip, tamper, wrong-key and
 * wrong-volunteer refusal, the older form still read, key rotation, the blind index, and what
 * the number encodes (birth date, gender).
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

/* A key generation whose bytes all follow from v (key id v v v v). */
static void key_make(struct idnum_key *k, uint8_t v)
{
	key_fill(k->enc, v);
	key_fill(k->index, (uint8_t)(v + 100));
	memset(k->id, v, sizeof k->id);
}

static void ring_make(struct idnum_keyring *ring, uint8_t current, uint8_t previous)
{
	memset(ring, 0, sizeof *ring);
	key_make(&ring->current, current);
	if (previous) {
		key_make(&ring->previous, previous);
		ring->has_previous = 1;
	}
}

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* EXAMPLE as the code before key ids stored it (nonce || ciphertext || tag, label
 * "volunteerd:id_number:v1"), under the key key_fill(key, 1): made by that code. */
static const char OLD_FORM[] = "68ca505c466a366f57d49d3033a750ffc486b70436d715b5302ba33e77c3"
                               "4b2b0f84edd38ccd8f6df696c54d50ac";

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
	struct idnum_keyring ring;
	uint8_t blob[IDNUM_ENC_LEN], blob2[IDNUM_ENC_LEN], prefix[IDNUM_PREFIX_LEN];
	char back[IDNUM_LEN + 1];
	ring_make(&ring, 1, 0);
	assert_int_equal(idnum_encrypt(&ring.current, 17, EXAMPLE, blob), 0);
	/* the header: format, key id, the volunteer's id big-endian */
	idnum_prefix(&ring.current, prefix);
	assert_memory_equal(blob, prefix, sizeof prefix);
	assert_memory_equal(blob, "\x02\x01\x01\x01\x01\0\0\0\0\0\0\0\x11", IDNUM_HEADER_LEN);
	/* the clear number is nowhere in the blob */
	assert_null(memmem(blob, sizeof blob, EXAMPLE, IDNUM_LEN));
	assert_null(memmem(blob, sizeof blob, "19491231", 8));
	assert_int_equal(idnum_decrypt(&ring, 17, blob, sizeof blob, back), 0);
	assert_string_equal(back, EXAMPLE);
	/* a fresh nonce each time: two encryptions differ, both decrypt */
	assert_int_equal(idnum_encrypt(&ring.current, 17, EXAMPLE, blob2), 0);
	assert_memory_not_equal(blob + IDNUM_HEADER_LEN, blob2 + IDNUM_HEADER_LEN, IDNUM_NONCE_LEN);
	assert_memory_not_equal(blob + IDNUM_HEADER_LEN + IDNUM_NONCE_LEN,
	                        blob2 + IDNUM_HEADER_LEN + IDNUM_NONCE_LEN, IDNUM_LEN);
	assert_int_equal(idnum_decrypt(&ring, 17, blob2, sizeof blob2, back), 0);
	assert_string_equal(back, EXAMPLE);
	/* no volunteer, no ciphertext */
	assert_int_equal(idnum_encrypt(&ring.current, 0, EXAMPLE, blob), -1);
}

static void test_tamper_and_wrong_key(void **state)
{
	(void)state;
	struct idnum_keyring ring, other, forged;
	uint8_t blob[IDNUM_ENC_LEN], bad[IDNUM_ENC_LEN];
	char back[IDNUM_LEN + 1];
	ring_make(&ring, 1, 0);
	ring_make(&other, 2, 0);
	ring_make(&forged, 2, 0);
	memcpy(forged.current.id, ring.current.id, IDNUM_KEY_ID_LEN); /* same id, other key */
	assert_int_equal(idnum_encrypt(&ring.current, 17, EXAMPLE, blob), 0);
	assert_int_equal(idnum_decrypt(&other, 17, blob, sizeof blob, back), -1);
	assert_string_equal(back, "");
	assert_int_equal(idnum_decrypt(&forged, 17, blob, sizeof blob, back), -1);
	assert_string_equal(back, "");
	for (size_t i = 0; i < sizeof blob; i++) { /* any flipped bit: header, nonce, body, tag */
		memcpy(bad, blob, sizeof blob);
		bad[i] ^= 0x01;
		assert_int_equal(idnum_decrypt(&ring, 17, bad, sizeof bad, back), -1);
		assert_string_equal(back, "");
	}
	assert_int_equal(idnum_decrypt(&ring, 17, blob, sizeof blob - 1, back), -1);
	assert_int_equal(idnum_decrypt(&ring, 17, NULL, 0, back), -1);
}

static void test_bound_to_its_volunteer(void **state)
{
	(void)state;
	struct idnum_keyring ring;
	uint8_t blob[IDNUM_ENC_LEN], moved[IDNUM_ENC_LEN];
	char back[IDNUM_LEN + 1];
	ring_make(&ring, 1, 0);
	assert_int_equal(idnum_encrypt(&ring.current, 17, EXAMPLE, blob), 0);
	/* read from another volunteer's row (a swap or a copy in the database) */
	assert_int_equal(idnum_decrypt(&ring, 18, blob, sizeof blob, back), -1);
	assert_string_equal(back, "");
	assert_int_equal(idnum_decrypt(&ring, 0, blob, sizeof blob, back), -1);
	/* nor does rewriting the header to name the other volunteer help: it is authenticated */
	memcpy(moved, blob, sizeof blob);
	moved[IDNUM_HEADER_LEN - 1] = 18;
	assert_int_equal(idnum_decrypt(&ring, 18, moved, sizeof moved, back), -1);
	assert_string_equal(back, "");
	assert_int_equal(idnum_decrypt(&ring, 17, blob, sizeof blob, back), 0);
}

static void test_old_form_still_read(void **state)
{
	(void)state;
	struct idnum_keyring ring;
	uint8_t old[IDNUM_ENC_V1_LEN];
	char back[IDNUM_LEN + 1];
	hex_to(OLD_FORM, old, sizeof old);
	ring_make(&ring, 1, 0); /* the key that made it, current: any volunteer id */
	assert_int_equal(idnum_decrypt(&ring, 17, old, sizeof old, back), 0);
	assert_string_equal(back, EXAMPLE);
	ring_make(&ring, 2, 1); /* after a rotation it is the previous key */
	assert_int_equal(idnum_decrypt(&ring, 17, old, sizeof old, back), 0);
	assert_string_equal(back, EXAMPLE);
	ring_make(&ring, 2, 0); /* once the previous key is gone, it is not read */
	assert_int_equal(idnum_decrypt(&ring, 17, old, sizeof old, back), -1);
	assert_string_equal(back, "");
	ring_make(&ring, 1, 0);
	old[20] ^= 0x01;
	assert_int_equal(idnum_decrypt(&ring, 17, old, sizeof old, back), -1);
}

static void test_rotation(void **state)
{
	(void)state;
	struct idnum_keyring before, during, after;
	uint8_t a[IDNUM_ENC_LEN], b[IDNUM_ENC_LEN];
	char back[IDNUM_LEN + 1];
	ring_make(&before, 1, 0);
	ring_make(&during, 2, 1);
	ring_make(&after, 2, 0);
	assert_int_equal(idnum_encrypt(&before.current, 17, EXAMPLE, a), 0);
	assert_int_equal(idnum_encrypt(&during.current, 17, EXAMPLE, b), 0);
	assert_memory_not_equal(a, b, IDNUM_PREFIX_LEN); /* the key id tells them apart */
	assert_int_equal(idnum_decrypt(&during, 17, a, sizeof a, back), 0);
	assert_string_equal(back, EXAMPLE);
	assert_int_equal(idnum_decrypt(&during, 17, b, sizeof b, back), 0);
	assert_int_equal(idnum_decrypt(&after, 17, b, sizeof b, back), 0);
	assert_string_equal(back, EXAMPLE);
	assert_int_equal(idnum_decrypt(&after, 17, a, sizeof a, back), -1);
	assert_int_equal(idnum_decrypt(&before, 17, b, sizeof b, back), -1);
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
	        cmocka_unit_test(test_bound_to_its_volunteer),
	        cmocka_unit_test(test_old_form_still_read),
	        cmocka_unit_test(test_rotation),
	        cmocka_unit_test(test_blind_index),
	        cmocka_unit_test(test_encoded_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
