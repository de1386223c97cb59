/*
 * sessions.h: a worker's session resolver: a cache of live sessions keyed by token hash, in
 * front of batched look-ups (many tokens, one statement).
 *
 * A cached answer is used only while all of these hold: the database said the session was
 * live, no more than SESSIONS_TTL_MS ago and not past its absolute or idle limit as it stood
 * then; this worker's LISTEN connection has been up since (so any log-out, rotation, purge
 * or disabled account since would have evicted it: sql/0008_batch.sql sends the
 * notifications); no log-out has been answered by any worker of this server since (a
 * counter in shared memory: that one is exact, not "as soon as the NOTIFY arrives"); and no
 * eviction happened while the look-up was in flight.  When the LISTEN
 * connection is down the cache is empty and every request asks the database.
 *
 * Ownership: the caller owns the struct sessions.  sessions_resolve borrows arg until done
 * runs; done runs exactly once: before sessions_resolve returns on a cache hit, else from the
 * event loop when the batch's answer arrives (or fails).
 */
#ifndef VD_SESSIONS_H
#define VD_SESSIONS_H

#include <stdint.h>

#include "err.h"

struct event_base;
struct config;
struct db_pool;
struct metrics;
struct sessions;

#define SESSIONS_TTL_MS 30000

/* What a worker knows of a live session.  known: admin, mfa and auth_at come from a look-up;
 * a check-in batch's answer (sessions_learn) carries only the account and volunteer. */
struct session_info {
	long long account; /* 0: no live session */
	long long volunteer;
	int known;
	int admin;            /* the account holds an admin grant (VOLUNTEERD_ADMIN_MFA) */
	int mfa;              /* the session was made or upgraded with a TOTP code */
	long long auth_at_ms; /* Unix time in ms of its last authentication (log-in or re-auth) */
};

/* si->account 0: no live session (not an error).  e->code != APP_OK: the database failed.
 * si is borrowed for the call. */
typedef void (*sessions_done_fn)(void *arg, const struct session_info *si, const struct err *e);

/* metrics: the shared region, for the server-wide log-out counter. */
struct sessions *sessions_new(struct event_base *base, const struct config *cfg, struct db_pool *db,
                              struct metrics *metrics);
/* Fail look-ups not yet sent (503) and stop using the pool; call before db_pool_free. */
void sessions_stop(struct sessions *s);
/* Free; call after db_pool_free (which completes the look-ups in flight). */
void sessions_free(struct sessions *s);
/* Resolve the session whose token has SHA-256 hash, with everything a look-up knows (a cached
 * entry that is not si->known is a miss here). */
void sessions_resolve(struct sessions *s, const uint8_t hash[32], sessions_done_fn done, void *arg);
/* The same without the cache: for a miss sessions_cached has already counted. */
void sessions_look_up(struct sessions *s, const uint8_t hash[32], sessions_done_fn done, void *arg);
/* The cache's answer for hash, without asking the database: 1 and *si on a hit, else 0 (a
 * miss is counted; the caller then resolves the session another way). */
int sessions_cached(struct sessions *s, const uint8_t hash[32], struct session_info *si);

/* Sessions resolved by another statement (the check-in group commit, batch.c): take a mark
 * when the statement is sent, and give each answer to sessions_learn with it.  The answer is
 * cached under the same rules as a look-up's (nothing evicted and no log-out since the mark,
 * listening throughout); valid_ms is how long the database said it holds. */
struct sessions_mark {
	uint64_t epoch, revocations;
	int listening;
};
void sessions_mark(const struct sessions *s, struct sessions_mark *m);
void sessions_learn(struct sessions *s, const struct sessions_mark *m, const uint8_t hash[32],
                    const struct session_info *si, long long valid_ms);

/* A log-out of hash has committed: this worker drops it now, and every other worker of this
 * server drops its whole cache before it next trusts it (a shared counter), so the token is
 * refused everywhere from the moment the log-out is answered.  Other servers, and sessions
 * ended in SQL, go through NOTIFY instead. */
void sessions_revoked(struct sessions *s, const uint8_t hash[32]);
/* As sessions_revoked, for sessions of account ended together (all but the caller's, at a
 * password change): this worker drops every one of the account's it holds. */
void sessions_account_revoked(struct sessions *s, long long account);

struct sessions_stats {
	uint64_t hits, misses, lookups, evictions;
	int listening;
};
void sessions_get_stats(const struct sessions *s, struct sessions_stats *out);

#endif
