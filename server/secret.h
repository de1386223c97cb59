/*
 * secret.h: key material derived from VOLUNTEERD_SECRET_FILE.
 *
 * One master secret (at least 32 bytes, read once at start-up, before the workers fork)
 * gives independent 32-byte keys per purpose through HMAC-SHA256, so that no key is
 * used for two things and the file stays the single thing to back up.
 */
#ifndef VD_SECRET_H
#define VD_SECRET_H

#include <stddef.h>
#include <stdint.h>

struct err;

struct secrets {
	uint8_t id_enc[32];  /* AES-256-GCM key for ID numbers */
	uint8_t id_hmac[32]; /* blind index of ID numbers (uniqueness without plaintext) */
	uint8_t checkin[32]; /* rotating check-in tokens and codes */
	uint8_t form[32];    /* one-time form tokens of the pages */
	uint8_t request[32]; /* request fingerprints kept with Idempotency-Keys */
};

/* Load path and derive the keys.  -1 with err naming VOLUNTEERD_SECRET_FILE on failure. */
int secret_load(struct secrets *s, const char *path, struct err *err);
/* HMAC-SHA256(key, data) into out[32]. */
void secret_hmac(const uint8_t key[32], const void *data, size_t len, uint8_t out[32]);
/* SHA-256 of data into out[32]. */
void secret_sha256(const void *data, size_t len, uint8_t out[32]);
/* Fill buf with cryptographically random bytes; 0 or -1. */
int secret_random(void *buf, size_t len);
/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void secret_hex(const uint8_t *in, size_t len, char *out);

#endif
