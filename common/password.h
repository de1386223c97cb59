/*
 * password.h: Argon2id password hashes (libargon2) in the PHC string format.
 *
 * Both calls take tens of milliseconds and ~19 MiB by design: never call them on an
 * event loop; the server runs them on its thread pool.
 */
#ifndef VD_PASSWORD_H
#define VD_PASSWORD_H

#include <stddef.h>

#define PASSWORD_HASH_MAX 160

/* Hash pw with a fresh random salt into out ("$argon2id$v=19$m=19456,t=2,p=1$..."). 0 or -1. */
int password_hash(const char *pw, char out[PASSWORD_HASH_MAX]);
/* 1 when pw matches hash, 0 when not (or the hash is malformed). */
int password_verify(const char *hash, const char *pw);
/* 1 when hash was not made with the parameters password_hash uses now (an older, cheaper
 * cost, or not Argon2id at all): once a log-in has verified the password against it, the
 * server stores a new hash (R15), so that raising the cost needs no password resets. */
int password_needs_rehash(const char *hash);
/* Fill out with a random password of len characters from an unambiguous alphabet. 0 or -1. */
int password_generate(char *out, size_t len);

#endif
