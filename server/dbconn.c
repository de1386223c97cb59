/*
 * dbconn.c: one non-blocking PGconn driven by libevent.
 *
 * Owns the PGconn, its socket event and one timer (connect timeout or job deadline).
 * States are in dbconn.h.  Invariants: in IDLE the socket is watched for reading so that a
 * server-side close is noticed at once; in BUSY the job is not reported until PQgetResult
 * returned NULL (the connection is drained), and a connection left inside a transaction is
 * closed rather than reused.  Callbacks to the owner happen only from event callbacks,
 * never from dbconn_connect or dbconn_run.
 *
 * Statements are prepared on first use (dbconn_set_prepare; the pool's connections, unless
 * VOLUNTEERD_DB_PREPARE=0) and kept for the connection's life: a job's text is
 * one of queries.c's static strings, and its address names it here.  Parsing and planning
 * the group commit's statement took about 60 us a call (pgbench, -M extended against -M
 * prepared), next to about 1 ms for a whole batch of one check-in.  The first use of a
 * statement on a connection is two round trips (Parse, then Bind/Execute); every later one is
 * one.  When the schema changed the result type of a statement this connection prepared,
 * PostgreSQL refuses it before running anything ("cached plan must not change result type"):
 * the job is sent again at once as a one-off statement, so no request sees that, and the
 * connection is closed afterwards, its prepared statements with it.
 */
#include "dbconn.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "queries.h"

#define PREPARED_MAX 32 /* more statements than queries.c has; any beyond run unprepared */

struct dbconn {
	struct event_base *base;
	PGconn *pg;
	enum dbconn_state state;
	struct event *io;
	int io_fd;
	short io_what;
	struct event *timer;
	const char *const *keys;
	const char *const *vals;
	int connect_timeout_ms;
	struct db_job *job;
	PGresult *res; /* the job's result kept so far: the first error, else the last one */
	int flushing;  /* BUSY and libpq still has output to send */
	dbconn_cb cb;
	void *arg;
	dbconn_notify_fn notify; /* NULL: notifications are dropped */
	void *notify_arg;
	/* prepared[i] is the text of statement "vd<i>" on this connection */
	const char *prepared[PREPARED_MAX];
	int nprepared;
	int prepare;   /* prepare statements at all (dbconn_set_prepare) */
	int preparing; /* BUSY with the job's Parse; its Bind/Execute is sent when that is done */
	int resent;    /* the job was sent again after its prepared plan went stale */
	int stale;     /* this connection's prepared statements are stale: close it when idle */
};

static void on_io(evutil_socket_t fd, short what, void *arg);

static void watch(struct dbconn *c, short what)
{
	int fd = c->pg ? PQsocket(c->pg) : -1;
	if (c->io && c->io_fd == fd && c->io_what == what)
		return;
	if (c->io) {
		event_free(c->io);
		c->io = NULL;
	}
	c->io_fd = fd;
	c->io_what = what;
	if (fd < 0 || !what)
		return;
	c->io = event_new(c->base, fd, what | EV_PERSIST, on_io, c);
	if (c->io)
		event_add(c->io, NULL);
}

static void arm_timer(struct dbconn *c, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(c->timer, &tv);
}

static void close_pg(struct dbconn *c)
{
	watch(c, 0);
	evtimer_del(c->timer);
	if (c->res) {
		PQclear(c->res);
		c->res = NULL;
	}
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->state = DBCONN_DOWN;
	c->flushing = 0;
	c->nprepared = 0; /* prepared statements die with their session */
	c->preparing = 0;
	c->stale = 0;
}

/* Tear the connection down; report the running job first (if any), then DOWN. */
static void fail(struct dbconn *c, const char *why)
{
	struct db_job *job = c->job;
	char msg[200];
	snprintf(msg, sizeof msg, "%s", why && *why ? why : "connection lost");
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	log_msg(LOG_WARN, "db_down", "state=%d reason=%s", (int)c->state, msg);
	c->job = NULL;
	close_pg(c);
	if (job) {
		struct err e;
		err_set(&e, APP_EUNAVAILABLE, NULL, "database unavailable");
		c->cb(c, DBCONN_EV_RESULT, job, NULL, &e, c->arg);
	}
	c->cb(c, DBCONN_EV_DOWN, NULL, NULL, NULL, c->arg);
}

static void on_notice(void *arg, const PGresult *res)
{
	(void)arg;
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	log_msg(LOG_DEBUG, "db_notice", "severity=%s message=%s", sev ? sev : "?", msg ? msg : "");
}

static void step_connect(struct dbconn *c)
{
	/* libpq may close the socket and open another during a connect (another host or
	 * address, SSL fallback), and the new one can reuse the old number; epoll forgets a
	 * closed descriptor, so the event is made anew after every poll. */
	watch(c, 0);
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		watch(c, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		watch(c, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(c->pg, 1) != 0) {
			fail(c, "PQsetnonblocking failed");
			return;
		}
		PQsetNoticeReceiver(c->pg, on_notice, c);
		evtimer_del(c->timer);
		c->state = DBCONN_IDLE;
		watch(c, EV_READ);
		c->cb(c, DBCONN_EV_UP, NULL, NULL, NULL, c->arg);
		return;
	default:
		fail(c, PQerrorMessage(c->pg));
		return;
	}
}

static void keep_result(struct dbconn *c, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	int is_err = st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE;
	if (c->res && PQresultStatus(c->res) == PGRES_FATAL_ERROR && !is_err) {
		PQclear(res); /* the first error wins */
		return;
	}
	if (c->res)
		PQclear(c->res);
	c->res = res;
}

static void finish_job(struct dbconn *c)
{
	struct db_job *job = c->job;
	PGresult *res = c->res;
	struct err e;
	int healthy =
	        PQtransactionStatus(c->pg) == PQTRANS_IDLE && PQstatus(c->pg) == CONNECTION_OK;
	int reuse = healthy && !c->stale;

	c->job = NULL;
	c->res = NULL;
	evtimer_del(c->timer);
	err_clear(&e);
	if (!res)
		err_set(&e, APP_EINTERNAL, NULL, "no result");
	else if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
		dbconn_result_err(res, job ? job->rid : NULL, &e);
	if (reuse) {
		c->state = DBCONN_IDLE;
		watch(c, EV_READ);
	} else {
		close_pg(c); /* never reuse a connection left in a transaction */
	}
	c->cb(c, DBCONN_EV_RESULT, job, e.code == APP_OK ? res : NULL, &e, c->arg);
	if (res)
		PQclear(res);
	if (!reuse)
		c->cb(c, healthy ? DBCONN_EV_RECYCLED : DBCONN_EV_DOWN, NULL, NULL, NULL, c->arg);
}

static int send_job(struct dbconn *c);

/* The job's prepared statement was refused because the schema changed its result type
 * (SQLSTATE 0A000, raised when the plan is checked, before anything runs). */
static int plan_went_stale(const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	return st && !strcmp(st, "0A000") && msg &&
	       !strncmp(msg, "cached plan must not change result type", 39);
}

/* Send the job again as a one-off statement after its prepared plan went stale; 1 when sent,
 * 0 when there is nothing to resend, -1 when the connection failed (reported). */
static int resend_stale(struct dbconn *c)
{
	if (c->resent || !plan_went_stale(c->res))
		return 0;
	c->resent = 1;
	c->stale = 1;
	PQclear(c->res);
	c->res = NULL;
	const struct db_job *job = c->job;
	int r = -1;
	if (PQsendQueryParams(c->pg, job->sql, job->nparams, NULL, job->params, NULL, NULL, 0))
		r = PQflush(c->pg);
	if (r < 0) {
		fail(c, PQerrorMessage(c->pg));
		return -1;
	}
	c->flushing = r == 1;
	return 1;
}

/* The job's Parse is done (its results drained): send its Bind/Execute.  Returns 1 when
 * sent, 0 when the job is to finish with the Parse's error, -1 when the connection failed
 * (and that was reported). */
static int prepared_now(struct dbconn *c)
{
	c->preparing = 0;
	if (!c->res || PQresultStatus(c->res) != PGRES_COMMAND_OK)
		return 0;
	PQclear(c->res);
	c->res = NULL;
	c->prepared[c->nprepared++] = c->job->sql;
	if (!send_job(c)) {
		fail(c, PQerrorMessage(c->pg));
		return -1;
	}
	return 1;
}

static void step_busy(struct dbconn *c, short what)
{
	if (c->flushing && (what & EV_WRITE)) {
		int r = PQflush(c->pg);
		if (r < 0) {
			fail(c, PQerrorMessage(c->pg));
			return;
		}
		c->flushing = r == 1;
	}
	if (what & EV_READ) {
		if (!PQconsumeInput(c->pg)) {
			fail(c, PQerrorMessage(c->pg));
			return;
		}
		if (c->flushing) {
			int r = PQflush(c->pg);
			if (r < 0) {
				fail(c, PQerrorMessage(c->pg));
				return;
			}
			c->flushing = r == 1;
		}
		while (!PQisBusy(c->pg)) {
			PGresult *res = PQgetResult(c->pg);
			if (!res) {
				int sent = c->preparing ? prepared_now(c) : resend_stale(c);
				if (sent < 0)
					return;
				if (sent)
					break; /* the Bind/Execute is on its way */
				finish_job(c);
				return;
			}
			keep_result(c, res);
		}
		if (PQstatus(c->pg) == CONNECTION_BAD) {
			fail(c, PQerrorMessage(c->pg));
			return;
		}
	}
	watch(c, c->flushing ? EV_READ | EV_WRITE : EV_READ);
}

static void step_idle(struct dbconn *c)
{
	/* Nothing is expected while idle: a readable socket is a notice, or the server going away.
	 */
	if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
		fail(c, PQerrorMessage(c->pg));
		return;
	}
	PGnotify *n;
	while ((n = PQnotifies(c->pg)) != NULL) {
		if (c->notify)
			c->notify(n->relname, n->extra, c->notify_arg);
		PQfreemem(n);
	}
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	struct dbconn *c = arg;
	(void)fd;
	switch (c->state) {
	case DBCONN_CONNECTING:
		step_connect(c);
		break;
	case DBCONN_BUSY:
		step_busy(c, what);
		break;
	case DBCONN_IDLE:
		step_idle(c);
		break;
	case DBCONN_DOWN:
		watch(c, 0);
		break;
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dbconn *c = arg;
	(void)fd;
	(void)what;
	if (c->state == DBCONN_CONNECTING)
		fail(c, c->pg ? "connect timeout" : "connect failed");
	else if (c->state == DBCONN_BUSY)
		fail(c, "job deadline passed"); /* closing is the only non-blocking cancel on libpq
		                                   15 */
}

struct dbconn *dbconn_new(struct event_base *base, const char *const *keys, const char *const *vals,
                          int connect_timeout_ms, dbconn_cb cb, void *arg)
{
	struct dbconn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->base = base;
	c->keys = keys;
	c->vals = vals;
	c->connect_timeout_ms = connect_timeout_ms;
	c->cb = cb;
	c->arg = arg;
	c->io_fd = -1;
	c->state = DBCONN_DOWN;
	c->timer = evtimer_new(base, on_timer, c);
	if (!c->timer) {
		free(c);
		return NULL;
	}
	return c;
}

void dbconn_free(struct dbconn *c)
{
	if (!c)
		return;
	close_pg(c);
	event_free(c->timer);
	free(c);
}

void dbconn_connect(struct dbconn *c)
{
	c->pg = PQconnectStartParams(c->keys, c->vals, 1);
	c->state = DBCONN_CONNECTING;
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		/* Report from the timer, not from here: callers expect no re-entrant callback. */
		if (c->pg) {
			log_msg(LOG_WARN, "db_connect_failed", "reason=%s", PQerrorMessage(c->pg));
			PQfinish(c->pg);
			c->pg = NULL;
		}
		arm_timer(c, 0);
		return;
	}
	/* libpq: behave as if PQconnectPoll had just returned PGRES_POLLING_WRITING. */
	watch(c, EV_WRITE);
	arm_timer(c, c->connect_timeout_ms);
}

static void statement_name(int i, char name[16])
{
	snprintf(name, 16, "vd%d", i);
}

/* Send the job: Bind/Execute of its prepared statement, or its Parse first when this
 * connection has not prepared it (preparing), or all in one when there is no room left.
 * Returns 0 when libpq refused. */
static int send_job(struct dbconn *c)
{
	const struct db_job *job = c->job;
	char name[16];
	int i = 0;
	while (i < c->nprepared && c->prepared[i] != job->sql)
		i++;
	statement_name(i, name);
	int sent;
	if (i < c->nprepared) {
		sent = PQsendQueryPrepared(c->pg, name, job->nparams, job->params, NULL, NULL, 0);
	} else if (c->prepare && c->nprepared < PREPARED_MAX) {
		sent = PQsendPrepare(c->pg, name, job->sql, job->nparams, NULL);
		c->preparing = 1;
	} else {
		sent = PQsendQueryParams(c->pg, job->sql, job->nparams, NULL, job->params, NULL,
		                         NULL, 0);
	}
	if (!sent)
		return 0;
	int r = PQflush(c->pg);
	if (r < 0)
		return 0;
	c->flushing = r == 1;
	watch(c, c->flushing ? EV_READ | EV_WRITE : EV_READ);
	return 1;
}

void dbconn_run(struct dbconn *c, struct db_job *job, int timeout_ms)
{
	c->job = job;
	c->state = DBCONN_BUSY;
	c->resent = 0;
	arm_timer(c, timeout_ms);
	if (!send_job(c))
		arm_timer(c, 0); /* reported from the timer, keeping the callback off this stack */
}

void dbconn_set_prepare(struct dbconn *c, int on)
{
	c->prepare = on;
}

void dbconn_set_notify(struct dbconn *c, dbconn_notify_fn fn, void *arg)
{
	c->notify = fn;
	c->notify_arg = arg;
}

enum dbconn_state dbconn_state(const struct dbconn *c)
{
	return c->state;
}

static enum app_err err_of_sqlstate(const char *st)
{
	if (!st || strlen(st) != 5)
		return APP_EINTERNAL;
	if (st[0] == 'V' && st[1] == 'D') /* our own: VD409 means 409 */
		return app_err_from_status(atoi(st + 2));
	if (!strcmp(st, "23505") || !strcmp(st, "23P01"))
		return APP_ECONFLICT;
	if (!strncmp(st, "23", 2) || !strncmp(st, "22", 2))
		return APP_EINVALID;
	if (!strncmp(st, "08", 2) || !strncmp(st, "53", 2) || !strncmp(st, "57", 2) ||
	    !strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "55P03"))
		return APP_EUNAVAILABLE; /* connection, resources, timeouts, shutdown, retryable */
	return APP_EINTERNAL;
}

void dbconn_result_err(const PGresult *res, const char *rid, struct err *err)
{
	db_error_from_fields(PQresultErrorField(res, PG_DIAG_SQLSTATE),
	                     PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY),
	                     PQresultErrorField(res, PG_DIAG_COLUMN_NAME),
	                     PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME), rid, err);
}

void db_error_from_fields(const char *st, const char *msg, const char *col, const char *cons,
                          const char *rid, struct err *err)
{
	enum app_err code = err_of_sqlstate(st);
	const char *field = col ? col : cons ? queries_constraint_field(cons) : NULL;

	if (code == APP_EINTERNAL || code == APP_EUNAVAILABLE) {
		/* Keep server internals out of the answer, but in the log. */
		log_msg(code == APP_EINTERNAL ? LOG_ERROR : LOG_WARN, "db_error",
		        "rid=%s sqlstate=%s message=%s", rid ? rid : "-", st ? st : "-",
		        msg ? msg : "-");
		err_set(err, code, NULL,
		        code == APP_EINTERNAL ? "database error" : "database busy or unavailable");
		return;
	}
	if (cons && !col && (!strcmp(st, "23505") || !strcmp(st, "23P01")))
		err_set(err, code, field, "%s already exists or overlaps", field ? field : "value");
	else
		err_set(err, code, field, "%s", msg ? msg : "invalid");
}
