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
#include <openssl/hmac.h>
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

/* HMAC-SHA256(key, tag || event_id || slot), both as 8-byte big-endian. */
static void mac(const uint8_t key[32], char tag, long long event_id, long long slot,
                uint8_t out[32])
{
	uint8_t msg[17];
	unsigned int n = 32;
	msg[0] = (uint8_t)tag;
	put_be64(msg + 1, (uint64_t)event_id);
	put_be64(msg + 9, (uint64_t)slot);
	HMAC(EVP_sha256(), key, 32, msg, sizeof msg, out, &n);
}

void checkin_code(const uint8_t key[32], long long event_id, long long slot,
                  char out[CHECKIN_CODE_LEN + 1])
{
	uint8_t h[32];
	uint64_t v = 0;
	mac(key, 'C', event_id, slot, h);
	for (int i = 0; i < 8; i++)
		v = (v << 8) | h[i];
	v %= 1000000u;
	for (int i = CHECKIN_CODE_LEN - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
	out[CHECKIN_CODE_LEN] = '\0';
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
		checkin_code(key, event_id, s, want);
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
	mac(key, 'T', event_id, slot, h);
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
	mac(key, 'T', (long long)id, slot, h);
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
