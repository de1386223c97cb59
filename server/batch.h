/*
 * batch.h: group commit.  Concurrent API calls of a worker (check-ins and check-outs) are
 * gathered and run as ONE statement, checkin_batch (sql/0015): the usual batch goes to
 * checkin_many (sql/0013), any other to api_call_batch (sql/0008, 0013); one transaction, one
 * round trip, one WAL flush, each call with its own answer.
 *
 * A call whose session the worker has not cached carries the token's hash instead of an actor
 * (session_hash): checkin_batch (sql/0014, 0015) resolves it in the same
 * transaction, answers 401 for a session that is not live, and the worker's session cache
 * learns the answer (sessions_learn).  One transaction and one round trip fewer per request.
 *
 * Ownership: batch_submit takes a job prepared for Q_API_CALL (its seven parameters), copies
 * what it needs and clears the job's parameters at once (the job is not run).  done runs
 * exactly once per submitted call, from the event loop (never inside batch_submit, except
 * when out of memory: then it runs before batch_submit returns, with a 503), and only
 * after the transaction holding the call has committed (or failed): json is the call's
 * result, borrowed for the duration of done; on failure json is NULL and e says why; account
 * and volunteer are the session's when the call came with session_hash (else 0).
 */
#ifndef VD_BATCH_H
#define VD_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct event_base;
struct db_pool;
struct db_job;
struct batch;
struct sessions;

#define BATCH_MAX 64 /* a backend caches 64 subtransaction ids: never more per batch */

typedef void (*batch_done_fn)(void *arg, const char *json, size_t len, long long account,
                              long long volunteer, const struct err *e);

/* sessions: the worker's cache, taught the sessions resolved in batches; idle_minutes: the
 * session idle limit. */
struct batch *batch_new(struct event_base *base, struct db_pool *db, struct sessions *sessions,
                        int idle_minutes);
/* Fail calls not yet sent (503) and stop using the pool; call before db_pool_free. */
void batch_stop(struct batch *b);
/* Free; call after db_pool_free (which completes the batches in flight). */
void batch_free(struct batch *b);
/* session_hash: NULL when the job names its actor, else the SHA-256 of the caller's token. */
void batch_submit(struct batch *b, struct db_job *job, const uint8_t *session_hash,
                  batch_done_fn done, void *arg);

struct batch_stats {
	uint64_t batches, items, full; /* statements sent, calls in them, batches of BATCH_MAX */
	uint64_t beside_slow;          /* batches sent beside one out BATCH_SLOW_MS (lock waits) */
};
void batch_get_stats(const struct batch *b, struct batch_stats *out);

#endif
