/*
 * totp.c: RFC 6238 codes, RFC 4648 base32 and the sealed TOTP secret (see totp.h).
 */
#include "totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

static const unsigned char LABEL[] = "volunteerd:totp:v1";
#define AAD_LEN (sizeof LABEL - 1 + 8)

int totp_base32(const uint8_t *in, size_t len, int pad, char *out, size_t n)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t bits = len * 8, chars = (bits + 4) / 5;
	size_t total = pad ? (len + 4) / 5 * 8 : chars;
	if (total + 1 > n)
		return -1;
	for (size_t i = 0; i < chars; i++) {
		size_t bit = i * 5, byte = bit / 8;
		/* the 5 bits starting at bit, from the two bytes they can span */
		unsigned v = (unsigned)in[byte] << 8 | (byte + 1 < len ? in[byte + 1] : 0);
		out[i] = alphabet[(v >> (11 - bit % 8)) & 31];
	}
	for (size_t i = chars; i < total; i++)
		out[i] = '=';
	out[total] = '\0';
	return (int)total;
}

long long totp_step(time_t now)
{
	return (long long)now / TOTP_PERIOD;
}

long totp_code(const uint8_t *key, size_t key_len, long long step, int digits)
{
	uint8_t counter[8], mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	for (int i = 0; i < 8; i++)
		counter[i] = (uint8_t)((uint64_t)step >> (56 - 8 * i));
	HMAC(EVP_sha1(), key, (int)key_len, counter, sizeof counter, mac, &mac_len);
	int off = mac[mac_len - 1] & 15; /* RFC 4226's dynamic truncation */
	long bin = (long)(mac[off] & 0x7f) << 24 | (long)mac[off + 1] << 16 |
	           (long)mac[off + 2] << 8 | (long)mac[off + 3];
	long mod = 1;
	for (int i = 0; i < digits; i++)
		mod *= 10;
	OPENSSL_cleanse(mac, sizeof mac);
	return bin % mod;
}

long long totp_verify(const uint8_t *key, size_t key_len, time_t now, const char *code,
                      long long last_step)
{
	if (!code || strlen(code) != TOTP_DIGITS || strspn(code, "0123456789") != TOTP_DIGITS)
		return -1;
	long typed = 0;
	for (int i = 0; i < TOTP_DIGITS; i++)
		typed = typed * 10 + (code[i] - '0');
	long long step = totp_step(now);
	/* the latest step first: a code of the next step is not taken for an earlier one */
	for (long long s = step + TOTP_WINDOW; s >= step - TOTP_WINDOW; s--)
		if (s > last_step && totp_code(key, key_len, s, TOTP_DIGITS) == typed)
			return s;
	return -1;
}

static void aad_make(long long account, uint8_t out[AAD_LEN])
{
	memcpy(out, LABEL, sizeof LABEL - 1);
	for (int i = 0; i < 8; i++)
		out[sizeof LABEL - 1 + i] = (uint8_t)((uint64_t)account >> (56 - 8 * i));
}

int totp_seal(const uint8_t key[32], long long account, const uint8_t secret[TOTP_SECRET_LEN],
              uint8_t out[TOTP_SEALED_LEN])
{
	uint8_t aad[AAD_LEN];
	if (account <= 0) {
		memset(out, 0, TOTP_SEALED_LEN);
		return -1;
	}
	aad_make(account, aad);
	return aead_seal(key, aad, sizeof aad, secret, TOTP_SECRET_LEN, out);
}

int totp_open(const uint8_t key[32], long long account, const uint8_t *in, size_t len,
              uint8_t secret[TOTP_SECRET_LEN])
{
	uint8_t aad[AAD_LEN];
	if (!in || len != TOTP_SEALED_LEN || account <= 0) {
		memset(secret, 0, TOTP_SECRET_LEN);
		return -1;
	}
	aad_make(account, aad);
	return aead_open(key, aad, sizeof aad, in, TOTP_SECRET_LEN, secret);
}
