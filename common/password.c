/*
 * password.c: Argon2id with OWASP's minimum cost (m = 19 MiB, t = 2, p = 1).
 * The salt and generated passwords come from getrandom(2), so no OpenSSL is needed here.
 */
#include "password.h"

#include <argon2.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define PW_T_COST  2
#define PW_M_COST  (19 * 1024)
#define PW_LANES   1
#define PW_SALT    16
#define PW_HASHLEN 32

static int fill_random(void *buf, size_t len)
{
	unsigned char *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int password_hash(const char *pw, char out[PASSWORD_HASH_MAX])
{
	unsigned char salt[PW_SALT];
	if (fill_random(salt, sizeof salt) < 0)
		return -1;
	int rc = argon2id_hash_encoded(PW_T_COST, PW_M_COST, PW_LANES, pw, strlen(pw), salt,
	                               sizeof salt, PW_HASHLEN, out, PASSWORD_HASH_MAX);
	return rc == ARGON2_OK ? 0 : -1;
}

int password_verify(const char *hash, const char *pw)
{
	if (!hash || !pw || strncmp(hash, "$argon2id$", 10) != 0)
		return 0;
	return argon2id_verify(hash, pw, strlen(pw)) == ARGON2_OK;
}

int password_needs_rehash(const char *hash)
{
	char now[64];
	int n = snprintf(now, sizeof now, "$argon2id$v=%d$m=%d,t=%d,p=%d$", ARGON2_VERSION_NUMBER,
	                 PW_M_COST, PW_T_COST, PW_LANES);
	return !hash || strncmp(hash, now, (size_t)n) != 0;
}

int password_generate(char *out, size_t len)
{
	static const char alphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	const unsigned n = sizeof alphabet - 1;
	unsigned char r;
	size_t i = 0;
	while (i < len) {
		if (fill_random(&r, 1) < 0)
			return -1;
		if (r >= 256 / n * n) /* rejection keeps every symbol equally likely */
			continue;
		out[i++] = alphabet[r % n];
	}
	out[len] = '\0';
	return 0;
}
