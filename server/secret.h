/*
 * secret.h: key material derived from VOLUNTEERD_SECRET_FILE.
 *
 * One master secret (at least 32 bytes, read once at start-up, before the workers fork)
 * gives independent 32-byte keys per purpose through HMAC-SHA256, so that no key is
 * used for two things and the file stays the single thing to back up.
 *
 * Rotation: VOLUNTEERD_SECRET_FILE_PREVIOUS, while set, names the secret file used before the
 * current one.  Only the ID-number keys are derived from it, and only to read: ID numbers it
 * encrypted still decrypt, its blind index still finds duplicates, until `volunteerd
 * rekey-ids` has rewritten them under the current keys.  The other keys protect nothing kept
 * longer than a day (check-in codes, form tokens, request fingerprints) and simply change,
 * except the TOTP key: a new secret file makes every TOTP enrollment unreadable (log-in then
 * answers 503 for those accounts) until an administrator clears it (DELETE
 * /api/v1/accounts/{id}/totp) and its user enrols again.  Known weakness: no previous key.
 */
#ifndef VD_SECRET_H
#define VD_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "idnum.h"

struct err;

struct secrets {
	struct idnum_keyring id; /* ID numbers: encryption and blind index, current and previous */
	uint8_t checkin[32];     /* rotating check-in tokens and codes */
	uint8_t form[32];        /* one-time form tokens of the pages */
	uint8_t request[32];     /* request fingerprints kept with Idempotency-Keys */
	uint8_t totp[32];        /* sealing accounts' TOTP secrets (common/totp.h) */
	uint8_t answers[32];     /* sealing what a stored answer must not hold in clear: a
	                            generated password (h_accounts.c) */
};

/* Load path (and previous, unless NULL or empty) and derive the keys.  -1 with err naming
 * VOLUNTEERD_SECRET_FILE or VOLUNTEERD_SECRET_FILE_PREVIOUS on failure, also when both name
 * the same key. */
int secret_load(struct secrets *s, const char *path, const char *previous, struct err *err);
/* HMAC-SHA256(key, data) into out[32]. */
void secret_hmac(const uint8_t key[32], const void *data, size_t len, uint8_t out[32]);
/* SHA-256 of data into out[32]. */
void secret_sha256(const void *data, size_t len, uint8_t out[32]);
/* Fill buf with cryptographically random bytes; 0 or -1. */
int secret_random(void *buf, size_t len);
/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void secret_hex(const uint8_t *in, size_t len, char *out);
/* The bytes of hex digits (either case) into out; their number, or -1 when hex is not an
 * even number of hex digits or holds more than max bytes. */
int secret_unhex(const char *hex, uint8_t *out, size_t max);

#endif
