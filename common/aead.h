/*
 * aead.h: AES-256-GCM sealing of short secrets, shared by the ID number (idnum.c) and the
 * TOTP secrets (totp.c) so that both use one implementation.
 *
 * A sealed blob is nonce (AEAD_NONCE_LEN, random per seal) || ciphertext (as long as the
 * plain text) || tag (AEAD_TAG_LEN).  The associated data is the caller's: a label naming
 * what the blob holds and whatever it is bound to (a row's id), so that a blob made for one
 * thing or copied to another row fails to open.  No allocation; every buffer is the caller's.
 */
#ifndef VD_AEAD_H
#define VD_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define AEAD_NONCE_LEN 12
#define AEAD_TAG_LEN   16
#define AEAD_OVERHEAD  (AEAD_NONCE_LEN + AEAD_TAG_LEN)

/* Seal len bytes of in under key with aad into out (len + AEAD_OVERHEAD bytes).  0, or -1
 * when the random source or OpenSSL fails (out is then zeroed). */
int aead_seal(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const void *in, size_t len,
              uint8_t *out);
/* Authenticate and open a sealed blob whose plain text is len bytes (the blob is len +
 * AEAD_OVERHEAD) into out (len bytes).  0, or -1 when it was altered, made under another key
 * or with other associated data (out is then zeroed). */
int aead_open(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *in,
              size_t len, void *out);

#endif
