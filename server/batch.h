/*
 * batch.h: group commit.  Concurrent API calls of a worker (check-ins and check-outs) are
 * gathered and run as ONE statement, api_call_batch (sql/0008_batch.sql): one transaction,
 * one round trip, one WAL flush, each call in its own subtransaction with its own answer.
 *
 * Ownership: batch_submit takes a job prepared for Q_API_CALL (its seven parameters), copies
 * what it needs and clears the job's parameters at once (the job is not run).  done runs
 * exactly once per submitted call, from the event loop (never inside batch_submit, except
 * when out of memory: then it runs before batch_submit returns, with a 503), and only
 * after the transaction holding the call has committed (or failed): json is the call's
 * result, borrowed for the duration of done; on failure json is NULL and e says why.
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

#define BATCH_MAX 64 /* a backend caches 64 subtransaction ids: never more per batch */

typedef void (*batch_done_fn)(void *arg, const char *json, size_t len, const struct err *e);

struct batch *batch_new(struct event_base *base, struct db_pool *db);
/* Fail calls not yet sent (503) and stop using the pool; call before db_pool_free. */
void batch_stop(struct batch *b);
/* Free; call after db_pool_free (which completes the batches in flight). */
void batch_free(struct batch *b);
void batch_submit(struct batch *b, struct db_job *job, batch_done_fn done, void *arg);

struct batch_stats {
	uint64_t batches, items, full; /* statements sent, calls in them, batches of BATCH_MAX */
};
void batch_get_stats(const struct batch *b, struct batch_stats *out);

#endif
