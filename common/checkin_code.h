/*
 * checkin_code.h: the rotating proofs of presence at an event (DESIGN §4, issue 5).
 *
 * Time is cut into slots of CHECKIN_SLOT_SECONDS; slot = floor(unix_time / 45).  For an event
 * and a slot the server derives, with its 32-byte check-in key (secrets->checkin):
 *   * a 6-digit code to read aloud: HMAC-SHA256(key, 'C' || event_id || slot) taken as a
 *     big-endian 64-bit number from its first 8 bytes, mod 10^6, zero-padded;
 *   * a URL token for the QR poster: base64url (no padding) of event_id (8 bytes BE) || slot
 *     (4 bytes BE) || the first 12 bytes of HMAC-SHA256(key, 'T' || event_id || slot) —
 *     always CHECKIN_TOKEN_LEN characters.
 * event_id and slot are hashed as 8-byte big-endian integers; the leading tag byte keeps the
 * two derivations independent (the poster's token does not reveal the code).
 * Verification accepts the current slot and the previous one (a code read out just before
 * the slot turns still works for 45 to 90 seconds) and nothing older or newer.
 *
 * Pure functions: no allocation, no globals; comparisons are constant-time.
 */
#ifndef VD_CHECKIN_CODE_H
#define VD_CHECKIN_CODE_H

#include <stddef.h>
#include <stdint.h>

#define CHECKIN_SLOT_SECONDS 45
#define CHECKIN_CODE_LEN     6  /* digits, plus a NUL in buffers */
#define CHECKIN_TOKEN_LEN    32 /* base64url characters, plus a NUL in buffers */

/* floor(unix_time / 45), also for times before 1970. */
long long checkin_slot(long long unix_time);
/* The 6-digit code of event_id in slot, NUL-terminated, into out; -1 if OpenSSL fails. */
int checkin_code(const uint8_t key[32], long long event_id, long long slot,
                 char out[CHECKIN_CODE_LEN + 1]);
/* 1 when code is the code of event_id for the slot of now or the one before, else 0
 * (NULL, wrong length or non-digits are 0). */
int checkin_code_verify(const uint8_t key[32], long long event_id, long long now, const char *code);
/* The URL token of event_id in slot into out; -1 when event_id is not positive or the slot
 * does not fit 32 bits (never for real clocks), else 0. */
int checkin_token(const uint8_t key[32], long long event_id, long long slot,
                  char out[CHECKIN_TOKEN_LEN + 1]);
/* 0 and the token's event id (and slot, when slot_out is not NULL) when token is genuine and
 * of the slot of now or the one before; -1 otherwise (malformed, tampered, stale, future). */
int checkin_token_verify(const uint8_t key[32], const char *token, long long now,
                         long long *event_id, long long *slot_out);

#endif
