/*
 * idnum.h: the citizen ID number's protection.  The number in clear lives only inside this
 * process, for the length of one request: what is stored is an AES-256-GCM ciphertext bound
 * to its volunteer and naming its key, an HMAC-SHA256 blind index (uniqueness and lookup
 * without the number) and the masked form shown to people.
 *
 * The stored form (IDNUM_ENC_LEN bytes):
 *     format (1 byte, IDNUM_FORMAT) || key id (4) || volunteer id (8, big-endian)
 *     || nonce (12) || ciphertext (18) || tag (16)
 * with the label "volunteerd:id_number:v2" and the first 13 bytes (the header) as associated
 * data: a ciphertext copied onto another volunteer's row, or altered anywhere, fails to
 * decrypt.  The key id says which key made it, so that keys can be rotated.  The older form
 * (IDNUM_ENC_V1_LEN bytes: nonce || ciphertext || tag, a fixed label, no key id, not bound
 * to a volunteer) is still read, with any key of the ring; `volunteerd rekey-ids` rewrites it.
 *
 * No allocation; every buffer is the caller's.  Callers wipe their own copies of the clear
 * number (idnum_wipe) as soon as they are done with it.
 */
#ifndef VD_IDNUM_H
#define VD_IDNUM_H

#include <stddef.h>
#include <stdint.h>

#define IDNUM_LEN        18                     /* characters of a normalized number */
#define IDNUM_NONCE_LEN  12                     /* GCM nonce, random per encryption */
#define IDNUM_TAG_LEN    16                     /* GCM tag */
#define IDNUM_KEY_ID_LEN 4                      /* names the key that encrypted */
#define IDNUM_FORMAT     2                      /* the stored form's first byte */
#define IDNUM_PREFIX_LEN (1 + IDNUM_KEY_ID_LEN) /* format and key id */
#define IDNUM_HEADER_LEN (IDNUM_PREFIX_LEN + 8) /* ... and the volunteer's id */
#define IDNUM_ENC_V1_LEN (IDNUM_NONCE_LEN + IDNUM_LEN + IDNUM_TAG_LEN) /* 46: the older form */
#define IDNUM_ENC_LEN    (IDNUM_HEADER_LEN + IDNUM_ENC_V1_LEN)         /* 59 bytes stored */
#define IDNUM_HMAC_LEN   32

/* One generation of the ID-number keys (all derived from one secret file, server/secret.c). */
struct idnum_key {
	uint8_t enc[32];              /* AES-256-GCM */
	uint8_t index[32];            /* HMAC-SHA256 blind index */
	uint8_t id[IDNUM_KEY_ID_LEN]; /* names enc in the stored form; not secret */
};

/* The keys that decrypt: the current one, which encrypts and indexes everything written, and
 * during a rotation the previous one, which only reads. */
struct idnum_keyring {
	struct idnum_key current;
	struct idnum_key previous;
	int has_previous;
};

/* Validate s (GB 11643, see valid_id_number) and write its normalized form (upper-case X)
 * into out.  0, or -1 when s is not a valid ID number (out is then zeroed). */
int idnum_normalize(const char *s, char out[IDNUM_LEN + 1]);
/* Encrypt a normalized number for volunteer_id (> 0) with key under a fresh random nonce into
 * out, in the stored form above.  0, or -1 when volunteer_id is not positive or the random
 * source or OpenSSL fails (out is then zeroed). */
int idnum_encrypt(const struct idnum_key *key, long long volunteer_id, const char id[IDNUM_LEN + 1],
                  uint8_t out[IDNUM_ENC_LEN]);
/* Decrypt and authenticate a stored form of either format (len bytes) read from volunteer_id's
 * row, with whichever key of ring made it.  0 with the number in out, or -1 (out zeroed) when
 * it was altered, belongs to another volunteer, or no key of ring made it. */
int idnum_decrypt(const struct idnum_keyring *ring, long long volunteer_id, const uint8_t *in,
                  size_t len, char out[IDNUM_LEN + 1]);
/* The first IDNUM_PREFIX_LEN bytes of every stored form that key makes: a stored form that
 * does not start with them (or is not IDNUM_ENC_LEN long) is to be rewritten by rekey-ids. */
void idnum_prefix(const struct idnum_key *key, uint8_t out[IDNUM_PREFIX_LEN]);
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
