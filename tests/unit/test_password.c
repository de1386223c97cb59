/*
 * test_password.c: R15 against the real libargon2 calls.  A hash is a PHC string with
 * Argon2id's parameters (m = 19456 KiB, t = 2, p = 1), a 16-byte salt and a 32-byte hash; a
 * fresh salt makes two hashes of one password differ; verification refuses a one-byte change
 * anywhere, also past byte 72 (where bcrypt would stop reading), and refuses a malformed or
 * tampered hash without crashing; a hash of an older cost verifies and is due for a new one;
 * generated passwords use their whole alphabet and only it.
 *
 * Each hash or verification costs tens of milliseconds and ~19 MiB, so the hashes made here
 * are few and shared within a test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <argon2.h>

#include "password.h"

#define PW "correct horse battery staple"

/* password.c's alphabet: no 0/O, 1/l/I, to be read out over a phone. */
static const char ALPHABET[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct phc {
	int v, m, t, p;
	size_t salt_at, salt_len; /* offsets into the string, base64 without padding */
	size_t hash_at, hash_len;
};

/* Parse "$argon2id$v=V$m=M,t=T,p=P$SALT$HASH" strictly; 0 or -1. */
static int phc_parse(const char *s, struct phc *out)
{
	int n = -1;
	if (sscanf(s, "$argon2id$v=%d$m=%d,t=%d,p=%d$%n", &out->v, &out->m, &out->t, &out->p, &n) !=
	            4 ||
	    n < 0)
		return -1;
	out->salt_at = (size_t)n;
	out->salt_len = strspn(s + n, B64);
	if (s[out->salt_at + out->salt_len] != '$')
		return -1;
	out->hash_at = out->salt_at + out->salt_len + 1;
	out->hash_len = strspn(s + out->hash_at, B64);
	return s[out->hash_at + out->hash_len] == '\0' ? 0 : -1;
}

/* The bytes that n characters of unpadded base64 carry. */
static size_t b64_bytes(size_t n)
{
	return n * 6 / 8;
}

static void test_hash_is_a_phc_argon2id_string(void **state)
{
	(void)state;
	char h[PASSWORD_HASH_MAX];
	struct phc p;
	assert_int_equal(password_hash(PW, h), 0);
	assert_true(strlen(h) < PASSWORD_HASH_MAX);
	assert_int_equal(phc_parse(h, &p), 0);
	assert_int_equal(p.v, 19); /* Argon2 1.3 */
	assert_int_equal(p.m, 19456);
	assert_int_equal(p.t, 2);
	assert_int_equal(p.p, 1);
	/* password.c: PW_SALT 16 and PW_HASHLEN 32 (R15 asks for at least 16 and 32) */
	assert_int_equal(p.salt_len, 22);
	assert_int_equal(b64_bytes(p.salt_len), 16);
	assert_int_equal(p.hash_len, 43);
	assert_int_equal(b64_bytes(p.hash_len), 32);
}

static void test_fresh_salt_each_time(void **state)
{
	(void)state;
	char h1[PASSWORD_HASH_MAX], h2[PASSWORD_HASH_MAX];
	struct phc p1, p2;
	assert_int_equal(password_hash(PW, h1), 0);
	assert_int_equal(password_hash(PW, h2), 0);
	assert_string_not_equal(h1, h2);
	assert_int_equal(phc_parse(h1, &p1), 0);
	assert_int_equal(phc_parse(h2, &p2), 0);
	assert_memory_not_equal(h1 + p1.salt_at, h2 + p2.salt_at, p1.salt_len);
	assert_int_equal(password_verify(h1, PW), 1);
	assert_int_equal(password_verify(h2, PW), 1);
}

static void test_one_byte_changes_are_refused(void **state)
{
	(void)state;
	char h[PASSWORD_HASH_MAX];
	assert_int_equal(password_hash(PW, h), 0);
	assert_int_equal(password_verify(h, PW), 1);
	assert_int_equal(password_verify(h, "Correct horse battery staple"), 0); /* first byte */
	assert_int_equal(password_verify(h, "correct horse battery staplE"), 0); /* last byte */
	assert_int_equal(password_verify(h, PW "e"), 0);                         /* appended */
	assert_int_equal(password_verify(h, "correct horse battery stapl"), 0);  /* removed */
	assert_int_equal(password_verify(h, ""), 0);
	assert_int_equal(password_verify(h, NULL), 0);
}

/* 128 code points of U+20AC (3 bytes each): 384 bytes, the longest password validate.h takes. */
static void test_long_multibyte_password_is_not_truncated(void **state)
{
	(void)state;
	char pw[128 * 3 + 1], other[sizeof pw], prefix[73], h[PASSWORD_HASH_MAX];
	for (int i = 0; i < 128; i++)
		memcpy(pw + 3 * i, "\xe2\x82\xac", 3);
	pw[sizeof pw - 1] = '\0';
	assert_int_equal(strlen(pw), 384);
	memcpy(other, pw, sizeof pw);
	other[sizeof other - 2] = (char)0xa4; /* the last one becomes U+20A4 */
	memcpy(prefix, pw, 72);
	prefix[72] = '\0';
	assert_int_equal(password_hash(pw, h), 0);
	assert_int_equal(password_verify(h, pw), 1);
	assert_int_equal(password_verify(h, other), 0);  /* differs only in byte 384 */
	assert_int_equal(password_verify(h, prefix), 0); /* bcrypt's 72 bytes are not enough */
}

static void test_malformed_or_tampered_hash_is_refused(void **state)
{
	(void)state;
	char h[PASSWORD_HASH_MAX], bad[PASSWORD_HASH_MAX + 8];
	struct phc p;
	assert_int_equal(password_hash(PW, h), 0);
	assert_int_equal(phc_parse(h, &p), 0);
	size_t len = strlen(h);

	/* truncated: inside the parameters, just before the hash, one character short */
	const size_t cuts[] = {len / 4, p.hash_at, len - 1};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		snprintf(bad, sizeof bad, "%.*s", (int)cuts[i], h);
		assert_int_equal(password_verify(bad, PW), 0);
	}
	/* another algorithm's id on the same string */
	snprintf(bad, sizeof bad, "$argon2i$%s", h + strlen("$argon2id$"));
	assert_int_equal(password_verify(bad, PW), 0);
	snprintf(bad, sizeof bad, "$argon2d$%s", h + strlen("$argon2id$"));
	assert_int_equal(password_verify(bad, PW), 0);
	/* a genuine Argon2i hash of the right password: only Argon2id is taken (no downgrade) */
	const uint8_t salt[16] = "0123456789abcdef";
	assert_int_equal(argon2i_hash_encoded(2, 19456, 1, PW, strlen(PW), salt, sizeof salt, 32,
	                                      bad, sizeof bad),
	                 ARGON2_OK);
	assert_int_equal(argon2i_verify(bad, PW, strlen(PW)), ARGON2_OK);
	assert_int_equal(password_verify(bad, PW), 0);
	/* one character of the hash, then of the salt, altered */
	const size_t at[] = {p.hash_at + p.hash_len / 2, p.salt_at + 1};
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		memcpy(bad, h, len + 1);
		bad[at[i]] = bad[at[i]] == 'A' ? 'B' : 'A';
		assert_int_equal(password_verify(bad, PW), 0);
	}
	assert_int_equal(password_verify("", PW), 0);
	assert_int_equal(password_verify("$argon2id$", PW), 0);
	assert_int_equal(password_verify(NULL, PW), 0);
	/* the untouched hash still verifies: the refusals above were for the changes */
	assert_int_equal(password_verify(h, PW), 1);
}

/* A hash of an older, cheaper cost still verifies, and is due for a new one (R15's rehash on
 * log-in); a hash made now is not. */
static void test_older_cost_verifies_and_needs_rehash(void **state)
{
	(void)state;
	char h[PASSWORD_HASH_MAX], old[PASSWORD_HASH_MAX];
	const uint8_t salt[16] = "0123456789abcdef";
	assert_int_equal(password_hash(PW, h), 0);
	assert_int_equal(password_needs_rehash(h), 0);
	assert_int_equal(argon2id_hash_encoded(1, 4096, 1, PW, strlen(PW), salt, sizeof salt, 32,
	                                       old, sizeof old),
	                 ARGON2_OK);
	assert_int_equal(password_verify(old, PW), 1);
	assert_int_equal(password_needs_rehash(old), 1);
	/* the same cost written with other digits is another cost: m=194560 is not m=19456 */
	snprintf(old, sizeof old, "$argon2id$v=19$m=194560,t=2,p=1$%s", strrchr(h, '$') + 1);
	assert_int_equal(password_needs_rehash(old), 1);
	assert_int_equal(password_needs_rehash(""), 1);
	assert_int_equal(password_needs_rehash(NULL), 1);
}

static void test_generate_uses_its_alphabet(void **state)
{
	(void)state;
	const size_t lens[] = {0, 1, 16, 64};
	char buf[64 + 2];
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		memset(buf, '#', sizeof buf);
		assert_int_equal(password_generate(buf, lens[i]), 0);
		assert_int_equal(strlen(buf), lens[i]);
		assert_int_equal(strspn(buf, ALPHABET), lens[i]);
		assert_int_equal(buf[lens[i] + 1], '#'); /* nothing written past the NUL */
	}
	char a[33], b[33];
	assert_int_equal(password_generate(a, 32), 0);
	assert_int_equal(password_generate(b, 32), 0);
	assert_string_not_equal(a, b);
	/* 4096 draws miss one of the 55 symbols with probability ~55 * (54/55)^4096, about 1e-31 */
	int seen[256] = {0};
	for (int i = 0; i < 64; i++) {
		assert_int_equal(password_generate(buf, 64), 0);
		for (int j = 0; j < 64; j++)
			seen[(unsigned char)buf[j]]++;
	}
	for (const char *c = ALPHABET; *c; c++)
		assert_true(seen[(unsigned char)*c] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hash_is_a_phc_argon2id_string),
	        cmocka_unit_test(test_fresh_salt_each_time),
	        cmocka_unit_test(test_one_byte_changes_are_refused),
	        cmocka_unit_test(test_long_multibyte_password_is_not_truncated),
	        cmocka_unit_test(test_malformed_or_tampered_hash_is_refused),
	        cmocka_unit_test(test_older_cost_verifies_and_needs_rehash),
	        cmocka_unit_test(test_generate_uses_its_alphabet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
