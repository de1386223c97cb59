/*
 * idnum.c: AES-256-GCM and HMAC-SHA256 over the citizen ID number (see idnum.h).
 *
 * The stored form is nonce || ciphertext || tag.  A fixed associated-data label binds the
 * ciphertext to its purpose, so that a blob made for something else under the same key
 * never decrypts as an ID number.  The clear number never leaves the caller's buffers: no
 * logging here, and every error path zeroes its outputs.
 */
#include "idnum.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "validate.h"

static const unsigned char AAD[] = "volunteerd:id_number:v1";

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

int idnum_encrypt(const uint8_t key[32], const char id[IDNUM_LEN + 1], uint8_t out[IDNUM_ENC_LEN])
{
	int ok = 0, len = 0, fin = 0;
	EVP_CIPHER_CTX *ctx = NULL;
	if (RAND_bytes(out, IDNUM_NONCE_LEN) != 1)
		goto out;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IDNUM_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, out) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &len, AAD, (int)sizeof AAD - 1) != 1 ||
	    EVP_EncryptUpdate(ctx, out + IDNUM_NONCE_LEN, &len, (const unsigned char *)id,
	                      IDNUM_LEN) != 1 ||
	    len != IDNUM_LEN || EVP_EncryptFinal_ex(ctx, out + IDNUM_NONCE_LEN + len, &fin) != 1 ||
	    fin != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, IDNUM_TAG_LEN,
	                        out + IDNUM_NONCE_LEN + IDNUM_LEN) != 1)
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		idnum_wipe(out, IDNUM_ENC_LEN);
	return ok ? 0 : -1;
}

int idnum_decrypt(const uint8_t key[32], const uint8_t *in, size_t len, char out[IDNUM_LEN + 1])
{
	int ok = 0, n = 0, fin = 0;
	unsigned char tag[IDNUM_TAG_LEN];
	EVP_CIPHER_CTX *ctx = NULL;
	memset(out, 0, IDNUM_LEN + 1);
	if (!in || len != IDNUM_ENC_LEN)
		goto out;
	memcpy(tag, in + IDNUM_NONCE_LEN + IDNUM_LEN, sizeof tag);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IDNUM_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, in) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, AAD, (int)sizeof AAD - 1) != 1 ||
	    EVP_DecryptUpdate(ctx, (unsigned char *)out, &n, in + IDNUM_NONCE_LEN, IDNUM_LEN) !=
	            1 ||
	    n != IDNUM_LEN ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, IDNUM_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)out + n, &fin) != 1)
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		idnum_wipe(out, IDNUM_LEN + 1);
	out[IDNUM_LEN] = '\0';
	return ok ? 0 : -1;
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
