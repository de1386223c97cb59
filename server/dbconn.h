/*
 * dbconn.h: one PostgreSQL connection as an event-driven state machine (private to db.c).
 *
 *   DOWN --connect--> CONNECTING --ok--> IDLE --run--> BUSY --results drained--> IDLE
 *     ^                    |                              |
 *     +------ failure -----+------------------------------+   (the owner reconnects later)
 *
 * The connection never blocks: PQconnectStartParams/PQconnectPoll, PQsetnonblocking,
 * PQflush until 0 while also reading, PQgetResult until NULL.  It tells its owner what
 * happened through one callback, always from the event loop.  A job's statement may be
 * prepared on the connection the first time it runs there (dbconn_set_prepare).
 */
#ifndef VD_DBCONN_H
#define VD_DBCONN_H

#include <libpq-fe.h>

#include "err.h"

struct event_base;
struct db_job;
struct dbconn;

enum dbconn_state { DBCONN_DOWN, DBCONN_CONNECTING, DBCONN_IDLE, DBCONN_BUSY };

enum dbconn_event {
	DBCONN_EV_UP,   /* connected: now IDLE */
	DBCONN_EV_DOWN, /* connect failed or connection lost: now DOWN (job, if any, reported first)
	                 */
	DBCONN_EV_RESULT,   /* the job finished: res (may be NULL) and err; now IDLE or DOWN */
	DBCONN_EV_RECYCLED, /* closed on purpose after its job (its prepared statements went
	                     * stale), the database being fine: now DOWN, to connect again */
};

/* res is borrowed for the duration of the call; job is the one given to dbconn_run. */
typedef void (*dbconn_cb)(struct dbconn *c, enum dbconn_event ev, struct db_job *job, PGresult *res,
                          const struct err *err, void *arg);

/* A new connection in state DOWN.  keys/vals are copied by libpq at connect time and must
 * live until dbconn_free. */
struct dbconn *dbconn_new(struct event_base *base, const char *const *keys, const char *const *vals,
                          int connect_timeout_ms, dbconn_cb cb, void *arg);
/* Close (without callbacks) and free. */
void dbconn_free(struct dbconn *c);
/* Start connecting (state must be DOWN).  The outcome arrives as UP or DOWN. */
void dbconn_connect(struct dbconn *c);
/* Send job (state must be IDLE).  A hard deadline of timeout_ms closes the connection. */
void dbconn_run(struct dbconn *c, struct db_job *job, int timeout_ms);
enum dbconn_state dbconn_state(const struct dbconn *c);

/* Called for each NOTIFY that arrives while the connection is idle; channel and payload are
 * borrowed for the call.  The callback must not free the connection. */
typedef void (*dbconn_notify_fn)(const char *channel, const char *payload, void *arg);
void dbconn_set_notify(struct dbconn *c, dbconn_notify_fn fn, void *arg);
/* Prepare each job's statement on the connection the first time it runs there (off by
 * default; a pooler in transaction mode may not keep prepared statements). */
void dbconn_set_prepare(struct dbconn *c, int on);

/* Map a failed result to an application error (db_error_from_fields; rid for the log). */
void dbconn_result_err(const PGresult *res, const char *rid, struct err *err);

#endif
