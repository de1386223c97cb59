/*
 * db.h: a worker's pool of non-blocking PostgreSQL connections and its wait queue.
 *
 * Ownership: the caller owns a struct db_job (usually embedded in its request context)
 * and hands it to db_submit(); from then until its done callback returns, db.c owns the
 * job's links and timers and the caller must not touch or free it.  done runs exactly
 * once, always from the event loop with a clean stack (never inside db_submit).  The
 * result passed to done is borrowed: valid only during the call, freed by db.c after.
 * This header includes no libpq or evhttp header; handlers read results only through
 * the db_result_* accessors.
 */
#ifndef VD_DB_H
#define VD_DB_H

#include <stdint.h>
#include <sys/queue.h>

#include "err.h"

struct event_base;
struct config;
struct db_pool;
struct db_result; /* a PGresult, opaque outside db.c */
struct db_job;

#define DB_MAX_PARAMS 24

/* Called once per job.  res is NULL when err->code != APP_OK. */
typedef void (*db_done_fn)(struct db_job *job, const struct db_result *res, const struct err *err);

struct db_job {
	const char *sql; /* static text from queries.c */
	int nparams;
	const char *params[DB_MAX_PARAMS]; /* NULL = SQL NULL; borrowed unless set with
	                                      db_job_param_copy */
	db_done_fn done;
	void *arg;
	const char *rid; /* the request's id for the log's db_error line (borrowed), or NULL */

	/* private to db.c */
	uint32_t owned; /* bit i: params[i] is a copy that db.c frees */
	uint64_t queued_at_ms;
	enum app_err fail_code;  /* set while on the pool's failing list */
	const char *fail_detail; /* static text */
	TAILQ_ENTRY(db_job) link;
};

struct db_stats {
	int size;          /* connections configured */
	int connected;     /* connections up (idle or busy) */
	int busy;          /* connections running a job */
	int queued;        /* jobs waiting for a connection */
	uint64_t errors;   /* jobs that ended in a database or connection error */
	uint64_t timeouts; /* jobs failed for waiting too long in the queue or on the server */
	uint64_t jobs;     /* jobs completed */
};

/* Prepare job for a statement: clears params, sets sql, done and arg. */
void db_job_init(struct db_job *job, const char *sql, db_done_fn done, void *arg);
/* Set parameter i to a borrowed string (must outlive the job) or NULL. */
void db_job_param(struct db_job *job, int i, const char *value);
/* Set parameter i to a copy of value (freed by db.c before done runs); -1 on OOM. */
int db_job_param_copy(struct db_job *job, int i, const char *value);
/* Set parameter i to value, which db.c frees (with free()) before done runs. */
void db_job_param_take(struct db_job *job, int i, char *value);
/* Set parameter i to the decimal text of v; the text is owned by db.c. -1 on OOM. */
int db_job_param_int(struct db_job *job, int i, long long v);

/* Free the parameter copies a job owns, for a job that will not be submitted (batch.c
 * copies them into its own statement).  The job may be initialised again after. */
void db_job_clear(struct db_job *job);

/* Create a pool for base from cfg and start connecting; NULL on OOM.  cfg must outlive it. */
struct db_pool *db_pool_new(struct event_base *base, const struct config *cfg);
/* Fail every queued and running job with APP_EUNAVAILABLE, close connections, free. */
void db_pool_free(struct db_pool *pool);
/* Queue job; see the header comment for ownership.  Never fails: errors arrive in done. */
void db_submit(struct db_pool *pool, struct db_job *job);
/* 1 when at least one connection is up. */
int db_pool_up(const struct db_pool *pool);
void db_pool_stats(const struct db_pool *pool, struct db_stats *out);

/* Map an error's SQLSTATE, message, column and constraint (any may be NULL) to an
 * application error, as for a failed job: VDnnn is HTTP status nnn, 23505 a conflict, ...
 * For errors reported inside a result (sql/0008_batch.sql's per-item outcomes).  An internal
 * or unavailable one is logged (db_error) with rid, the request's id, when not NULL. */
void db_error_from_fields(const char *sqlstate, const char *msg, const char *column,
                          const char *constraint, const char *rid, struct err *err);

int db_result_rows(const struct db_result *r);
int db_result_cols(const struct db_result *r);
/* The text of a value; NULL for SQL NULL or out of range.  Borrowed like the result. */
const char *db_result_value(const struct db_result *r, int row, int col);
int db_result_length(const struct db_result *r, int row, int col);
long long db_result_int(const struct db_result *r, int row, int col, long long fallback);
/* 1 for a boolean value 't', else 0 (false, NULL or out of range). */
int db_result_bool(const struct db_result *r, int row, int col);

#endif
