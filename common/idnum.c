/*
 * idnum.c: AES-256-GCM and HMAC-SHA256 over the citizen ID number (see idnum.h).
 *
 * The associated data is a label and, in the current form, the stored header (format, key
 * id, volunteer id): the label keeps a blob made for something else under the same key from
 * decrypting as an ID number, the header keeps a ciphertext on its own volunteer's row and
 * makes the key id unforgeable.  The clear number never leaves the caller's buffers: no
 * logging here, and every error path zeroes its outputs.
 */
#include "idnum.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "aead.h"
#include "validate.h"

static const unsigned char LABEL_V1[] = "volunteerd:id_number:v1"; /* the older form */
static const unsigned char LABEL_V2[] = "volunteerd:id_number:v2";
#define AAD_V2_LEN (sizeof LABEL_V2 - 1 + IDNUM_HEADER_LEN)

void idnum_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

int idnum_normalize(const char *s, char out[IDNUM_LEN + 1])
{
	memset(out, 0, IDNUM_LEN + 1);
	if (!valid_id_number(s))
		return -1;
	memcpy(out, s, IDNUM_LEN);
	if (out[17] == 'x')
		out[17] = 'X';
	return 0;
}

/* nonce || ciphertext || tag of id into out (IDNUM_ENC_V1_LEN bytes). */
static int seal(const uint8_t key[32], const uint8_t *aad, size_t aad_len,
                const char id[IDNUM_LEN + 1], uint8_t *out)
{
	return aead_seal(key, aad, aad_len, id, IDNUM_LEN, out);
}

/* Authenticate and decrypt nonce || ciphertext || tag (IDNUM_ENC_V1_LEN bytes) into out. */
static int open_sealed(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *in,
                       char out[IDNUM_LEN + 1])
{
	int rc = aead_open(key, aad, aad_len, in, IDNUM_LEN, out);
	out[IDNUM_LEN] = '\0';
	return rc;
}

void idnum_prefix(const struct idnum_key *key, uint8_t out[IDNUM_PREFIX_LEN])
{
	out[0] = IDNUM_FORMAT;
	memcpy(out + 1, key->id, IDNUM_KEY_ID_LEN);
}

/* The header of key's stored form for volunteer_id. */
static void header_make(const struct idnum_key *key, long long volunteer_id,
                        uint8_t out[IDNUM_HEADER_LEN])
{
	idnum_prefix(key, out);
	for (int i = 0; i < 8; i++)
		out[IDNUM_PREFIX_LEN + i] = (uint8_t)((uint64_t)volunteer_id >> (56 - 8 * i));
}

/* The associated data of the current form: the label, then the header. */
static void aad_v2(const uint8_t header[IDNUM_HEADER_LEN], uint8_t out[AAD_V2_LEN])
{
	memcpy(out, LABEL_V2, sizeof LABEL_V2 - 1);
	memcpy(out + sizeof LABEL_V2 - 1, header, IDNUM_HEADER_LEN);
}

int idnum_encrypt(const struct idnum_key *key, long long volunteer_id, const char id[IDNUM_LEN + 1],
                  uint8_t out[IDNUM_ENC_LEN])
{
	uint8_t aad[AAD_V2_LEN];
	if (volunteer_id <= 0) {
		memset(out, 0, IDNUM_ENC_LEN);
		return -1;
	}
	header_make(key, volunteer_id, out);
	aad_v2(out, aad);
	if (seal(key->enc, aad, sizeof aad, id, out + IDNUM_HEADER_LEN) < 0) {
		memset(out, 0, IDNUM_ENC_LEN);
		return -1;
	}
	return 0;
}

/* The key of ring whose id the header names, or NULL. */
static const struct idnum_key *key_named(const struct idnum_keyring *ring, const uint8_t *header)
{
	if (!memcmp(header + 1, ring->current.id, IDNUM_KEY_ID_LEN))
		return &ring->current;
	if (ring->has_previous && !memcmp(header + 1, ring->previous.id, IDNUM_KEY_ID_LEN))
		return &ring->previous;
	return NULL;
}

int idnum_decrypt(const struct idnum_keyring *ring, long long volunteer_id, const uint8_t *in,
                  size_t len, char out[IDNUM_LEN + 1])
{
	memset(out, 0, IDNUM_LEN + 1);
	if (!in)
		return -1;
	if (len == IDNUM_ENC_V1_LEN) { /* no key id: whichever key authenticates it */
		const size_t n = sizeof LABEL_V1 - 1;
		if (open_sealed(ring->current.enc, LABEL_V1, n, in, out) == 0)
			return 0;
		return ring->has_previous ? open_sealed(ring->previous.enc, LABEL_V1, n, in, out)
		                          : -1;
	}
	if (len != IDNUM_ENC_LEN || in[0] != IDNUM_FORMAT || volunteer_id <= 0)
		return -1;
	const struct idnum_key *key = key_named(ring, in);
	uint8_t expect[IDNUM_HEADER_LEN], aad[AAD_V2_LEN];
	if (!key)
		return -1;
	header_make(key, volunteer_id, expect);
	if (memcmp(in, expect, IDNUM_HEADER_LEN) != 0) /* another volunteer's */
		return -1;
	aad_v2(expect, aad);
	return open_sealed(key->enc, aad, sizeof aad, in + IDNUM_HEADER_LEN, out);
}

int idnum_blind(const uint8_t key[32], const char id[IDNUM_LEN + 1], uint8_t out[IDNUM_HMAC_LEN])
{
	unsigned int len = IDNUM_HMAC_LEN;
	if (!HMAC(EVP_sha256(), key, 32, (const unsigned char *)id, IDNUM_LEN, out, &len) ||
	    len != IDNUM_HMAC_LEN) {
		memset(out, 0, IDNUM_HMAC_LEN);
		return -1;
	}
	return 0;
}

void idnum_birth_date(const char id[IDNUM_LEN + 1], char out[11])
{
	memcpy(out, id + 6, 4);
	out[4] = '-';
	memcpy(out + 5, id + 10, 2);
	out[7] = '-';
	memcpy(out + 8, id + 12, 2);
	out[10] = '\0';
}

const char *idnum_gender(const char id[IDNUM_LEN + 1])
{
	return (id[16] - '0') % 2 ? "male" : "female";
}
