/*
 * aead.c: AES-256-GCM through OpenSSL's EVP interface (see aead.h).  Every error path zeroes
 * its output, so that a caller never reads half a secret.
 */
#include "aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

int aead_seal(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const void *in, size_t len,
              uint8_t *out)
{
	int ok = 0, n = 0, fin = 0;
	EVP_CIPHER_CTX *ctx = NULL;
	if (RAND_bytes(out, AEAD_NONCE_LEN) != 1)
		goto out;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AEAD_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, out) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
	    EVP_EncryptUpdate(ctx, out + AEAD_NONCE_LEN, &n, in, (int)len) != 1 ||
	    (size_t)n != len || EVP_EncryptFinal_ex(ctx, out + AEAD_NONCE_LEN + n, &fin) != 1 ||
	    fin != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AEAD_TAG_LEN,
	                        out + AEAD_NONCE_LEN + len) != 1)
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		OPENSSL_cleanse(out, len + AEAD_OVERHEAD);
	return ok ? 0 : -1;
}

int aead_open(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *in,
              size_t len, void *out)
{
	int ok = 0, n = 0, fin = 0;
	unsigned char tag[AEAD_TAG_LEN];
	EVP_CIPHER_CTX *ctx = NULL;
	memcpy(tag, in + AEAD_NONCE_LEN + len, sizeof tag);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AEAD_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, in) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, in + AEAD_NONCE_LEN, (int)len) != 1 ||
	    (size_t)n != len ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AEAD_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)out + n, &fin) != 1)
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		OPENSSL_cleanse(out, len);
	return ok ? 0 : -1;
}
