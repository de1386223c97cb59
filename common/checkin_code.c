/*
 * checkin_code.c: 6-digit codes and QR tokens derived from a server key, an event id and a
 * 45-second slot (see checkin_code.h for the exact layout).  Nothing is stored: the server
 * recomputes and compares, so any worker of any server with the same secret file agrees.
 *
 * Known weakness: a 6-digit code has 10^6 values and two slots are accepted, so an online
 * guesser has about 2 in 10^6 per try; the check-in endpoint must throttle wrong codes.
 */
#include "checkin_code.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <string.h>

#define TOKEN_MAC_BYTES 12
#define TOKEN_RAW_BYTES (8 + 4 + TOKEN_MAC_BYTES)

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

long long checkin_slot(long long unix_time)
{
	long long q = unix_time / CHECKIN_SLOT_SECONDS;
	if (unix_time % CHECKIN_SLOT_SECONDS < 0)
		q--; /* C division truncates towards zero; a slot is a floor */
	return q;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

/*
 * One keyed HMAC-SHA256 context per thread, made again only when the key changes.  The
 * one-shot HMAC() of OpenSSL 3 fetches the algorithms and builds a context on every call,
 * which was a sixth of a worker's instructions during check-ins (two MACs per code).
 */
static _Thread_local struct {
	uint8_t key[32];
	EVP_MAC_CTX *ctx;
} keyed;

static EVP_MAC_CTX *keyed_ctx(const uint8_t key[32])
{
	if (keyed.ctx && CRYPTO_memcmp(keyed.key, key, 32) == 0)
		return EVP_MAC_init(keyed.ctx, NULL, 0, NULL) == 1 ? keyed.ctx : NULL;
	EVP_MAC_CTX_free(keyed.ctx);
	keyed.ctx = NULL;
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	EVP_MAC_free(hmac); /* the context holds its own reference */
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
	                       OSSL_PARAM_construct_end()};
	if (!ctx || EVP_MAC_init(ctx, key, 32, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	memcpy(keyed.key, key, 32);
	keyed.ctx = ctx;
	return ctx;
}

/* HMAC-SHA256(key, tag || event_id || slot), both as 8-byte big-endian; -1 when OpenSSL
 * fails (out of memory), and then nothing may be derived from out. */
static int mac(const uint8_t key[32], char tag, long long event_id, long long slot, uint8_t out[32])
{
	uint8_t msg[17];
	size_t n = 0;
	msg[0] = (uint8_t)tag;
	put_be64(msg + 1, (uint64_t)event_id);
	put_be64(msg + 9, (uint64_t)slot);
	EVP_MAC_CTX *ctx = keyed_ctx(key);
	if (ctx && EVP_MAC_update(ctx, msg, sizeof msg) == 1 &&
	    EVP_MAC_final(ctx, out, &n, 32) == 1 && n == 32)
		return 0;
	return -1;
}

int checkin_code(const uint8_t key[32], long long event_id, long long slot,
                 char out[CHECKIN_CODE_LEN + 1])
{
	uint8_t h[32];
	uint64_t v = 0;
	if (mac(key, 'C', event_id, slot, h) < 0)
		return -1;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | h[i];
	v %= 1000000u;
	for (int i = CHECKIN_CODE_LEN - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
	out[CHECKIN_CODE_LEN] = '\0';
	return 0;
}

int checkin_code_verify(const uint8_t key[32], long long event_id, long long now, const char *code)
{
	if (!code || strlen(code) != CHECKIN_CODE_LEN)
		return 0;
	for (int i = 0; i < CHECKIN_CODE_LEN; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	long long slot = checkin_slot(now);
	int ok = 0;
	for (long long s = slot - 1; s <= slot; s++) {
		char want[CHECKIN_CODE_LEN + 1];
		if (checkin_code(key, event_id, s, want) == 0)
			ok |= CRYPTO_memcmp(want, code, CHECKIN_CODE_LEN) == 0;
	}
	return ok;
}

int checkin_token(const uint8_t key[32], long long event_id, long long slot,
                  char out[CHECKIN_TOKEN_LEN + 1])
{
	if (event_id <= 0 || slot < 0 || slot > 0xffffffffLL)
		return -1;
	uint8_t raw[TOKEN_RAW_BYTES], h[32];
	put_be64(raw, (uint64_t)event_id);
	for (int i = 0; i < 4; i++)
		raw[8 + i] = (uint8_t)((uint64_t)slot >> (24 - 8 * i));
	if (mac(key, 'T', event_id, slot, h) < 0)
		return -1;
	memcpy(raw + 12, h, TOKEN_MAC_BYTES);
	/* 24 bytes are exactly 32 base64 characters: no padding, no partial group. */
	for (int i = 0, o = 0; i < TOKEN_RAW_BYTES; i += 3, o += 4) {
		uint32_t g = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
		out[o] = b64url[g >> 18 & 63];
		out[o + 1] = b64url[g >> 12 & 63];
		out[o + 2] = b64url[g >> 6 & 63];
		out[o + 3] = b64url[g & 63];
	}
	out[CHECKIN_TOKEN_LEN] = '\0';
	return 0;
}

static int b64url_value(char c)
{
	const char *p = c ? strchr(b64url, c) : NULL;
	return p ? (int)(p - b64url) : -1;
}

int checkin_token_verify(const uint8_t key[32], const char *token, long long now,
                         long long *event_id, long long *slot_out)
{
	uint8_t raw[TOKEN_RAW_BYTES], h[32];
	if (!token || strlen(token) != CHECKIN_TOKEN_LEN)
		return -1;
	for (int i = 0, o = 0; i < CHECKIN_TOKEN_LEN; i += 4, o += 3) {
		uint32_t g = 0;
		for (int k = 0; k < 4; k++) {
			int v = b64url_value(token[i + k]);
			if (v < 0)
				return -1;
			g = g << 6 | (uint32_t)v;
		}
		raw[o] = (uint8_t)(g >> 16);
		raw[o + 1] = (uint8_t)(g >> 8);
		raw[o + 2] = (uint8_t)g;
	}
	uint64_t id = 0;
	long long slot = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | raw[i];
	for (int i = 8; i < 12; i++)
		slot = slot << 8 | raw[i];
	if (id == 0 || id > (uint64_t)INT64_MAX)
		return -1;
	if (mac(key, 'T', (long long)id, slot, h) < 0)
		return -1;
	if (CRYPTO_memcmp(h, raw + 12, TOKEN_MAC_BYTES) != 0)
		return -1;
	long long cur = checkin_slot(now);
	if (slot != cur && slot != cur - 1)
		return -1;
	*event_id = (long long)id;
	if (slot_out)
		*slot_out = slot;
	return 0;
}
