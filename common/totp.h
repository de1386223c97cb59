/*
 * totp.h: time-based one-time passwords (RFC 6238 over RFC 4226's HOTP, HMAC-SHA-1), the
 * base32 text an authenticator app reads (RFC 4648), and the sealed form in which a TOTP
 * secret is stored.
 *
 * A code is checked against the current 30-second step and one step either side (clock
 * drift), and only a step later than the last one accepted for the account is taken: a code
 * seen once, or an older one, never works again (replay protection; the caller stores the
 * step).  Pure functions, no allocation, no logging: a secret or a code never leaves the
 * caller's buffers.
 *
 * The stored form (TOTP_SEALED_LEN bytes) is aead.h's nonce || ciphertext || tag, with the
 * label "volunteerd:totp:v1" and the account's id (8 bytes, big-endian) as associated data:
 * a blob copied onto another account fails to open.
 */
#ifndef VD_TOTP_H
#define VD_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "aead.h"

#define TOTP_SECRET_LEN 20 /* bytes: SHA-1's block-friendly size, as RFC 4226 recommends */
#define TOTP_B32_LEN    32 /* base32 characters of a secret, no padding needed */
#define TOTP_DIGITS     6
#define TOTP_PERIOD     30 /* seconds per step */
#define TOTP_WINDOW     1  /* steps accepted either side of now */
#define TOTP_SEALED_LEN (TOTP_SECRET_LEN + AEAD_OVERHEAD)

/* Base32 (RFC 4648 section 6, upper case) of len bytes into out (n bytes), with '=' padding
 * when pad.  The length written (without the NUL), or -1 when out is too small. */
int totp_base32(const uint8_t *in, size_t len, int pad, char *out, size_t n);
/* The step that the Unix time now falls in. */
long long totp_step(time_t now);
/* HOTP (RFC 4226): the code of key for step, with digits digits (6 to 8). */
long totp_code(const uint8_t *key, size_t key_len, long long step, int digits);
/* Check a TOTP_DIGITS-digit code typed by a user against key at time now: the step it
 * matches (within TOTP_WINDOW), if that step is later than last_step; else -1 (also when
 * code is not exactly TOTP_DIGITS digits). */
long long totp_verify(const uint8_t *key, size_t key_len, time_t now, const char *code,
                      long long last_step);
/* Seal secret for account (> 0) under key into out.  0, or -1 (out zeroed). */
int totp_seal(const uint8_t key[32], long long account, const uint8_t secret[TOTP_SECRET_LEN],
              uint8_t out[TOTP_SEALED_LEN]);
/* Open a stored form of len bytes read from account's row into secret.  0, or -1 (secret
 * zeroed) when it is not TOTP_SEALED_LEN long, altered, or another account's. */
int totp_open(const uint8_t key[32], long long account, const uint8_t *in, size_t len,
              uint8_t secret[TOTP_SECRET_LEN]);

#endif
