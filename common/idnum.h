/*
 * idnum.h: the citizen ID number's protection.  The number in clear lives only inside this
 * process, for the length of one request: what is stored is an AES-256-GCM ciphertext
 * (nonce || ciphertext || tag), an HMAC-SHA256 blind index (uniqueness and lookup without the
 * number) and the masked form shown to people.
 *
 * No allocation; every buffer is the caller's.  Callers wipe their own copies of the clear
 * number (idnum_wipe) as soon as they are done with it.
 */
#ifndef VD_IDNUM_H
#define VD_IDNUM_H

#include <stddef.h>
#include <stdint.h>

#define IDNUM_LEN       18 /* characters of a normalized number */
#define IDNUM_NONCE_LEN 12 /* GCM nonce, random per encryption */
#define IDNUM_TAG_LEN   16 /* GCM tag */
#define IDNUM_ENC_LEN   (IDNUM_NONCE_LEN + IDNUM_LEN + IDNUM_TAG_LEN) /* 46 bytes stored */
#define IDNUM_HMAC_LEN  32

/* Validate s (GB 11643, see valid_id_number) and write its normalized form (upper-case X)
 * into out.  0, or -1 when s is not a valid ID number (out is then zeroed). */
int idnum_normalize(const char *s, char out[IDNUM_LEN + 1]);
/* Encrypt a normalized number with key (32 bytes) under a fresh random nonce into out.
 * 0, or -1 when the random source or OpenSSL fails (out is then zeroed). */
int idnum_encrypt(const uint8_t key[32], const char id[IDNUM_LEN + 1], uint8_t out[IDNUM_ENC_LEN]);
/* Decrypt and authenticate what idnum_encrypt made (len must be IDNUM_ENC_LEN).  0 with the
 * number in out, or -1 when the data was altered or the key is wrong (out zeroed). */
int idnum_decrypt(const uint8_t key[32], const uint8_t *in, size_t len, char out[IDNUM_LEN + 1]);
/* The blind index: HMAC-SHA256(key, normalized number).  0, or -1 (out zeroed) when OpenSSL
 * fails. */
int idnum_blind(const uint8_t key[32], const char id[IDNUM_LEN + 1], uint8_t out[IDNUM_HMAC_LEN]);
/* The birth date encoded in a normalized number as "YYYY-MM-DD". */
void idnum_birth_date(const char id[IDNUM_LEN + 1], char out[11]);
/* "male" (odd 17th digit) or "female" (even); static storage. */
const char *idnum_gender(const char id[IDNUM_LEN + 1]);
/* Overwrite n bytes of p in a way the compiler may not drop. */
void idnum_wipe(void *p, size_t n);

#endif
