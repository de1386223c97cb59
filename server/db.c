/*
 * db.c: the worker's connection pool and its bounded FIFO wait queue.
 *
 * Owns: the dbconns, the wait queue, a list of jobs to fail from a clean stack, and a
 * 100 ms tick that reconnects dead connections with backoff and expires jobs that waited
 * too long.  Invariants: a job is in exactly one place (queue, fail list, or a conn);
 * its done callback runs once; when every connection is down after a failed attempt the
 * pool is "down": queued jobs fail at once, and a new job triggers one immediate attempt
 * and fails as soon as that attempt does (503 promptly, not after a timeout).
 */
#include "db.h"

#include <assert.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dbconn.h"
#include "log.h"
#include "monotime.h"

#define DB_TICK_MS            100
#define DB_BACKOFF_MIN_MS     100
#define DB_BACKOFF_MAX_MS     2000
#define DB_CONNECT_TIMEOUT_MS 5000

TAILQ_HEAD(db_job_list, db_job);

struct slot {
	struct dbconn *conn;
	uint64_t next_attempt_ms;
	int backoff_ms;
	int up; /* counted in connected: it has said UP and not DOWN since */
};

struct db_pool {
	struct event_base *base;
	const struct config *cfg;
	struct slot *slots;
	int nslots;
	const char *keys[12];
	const char *vals[12];
	char options[512];
	char stmt_timeout[32];
	struct db_job_list queue;
	int queued;
	struct db_job_list failing; /* jobs whose done runs on the next loop turn */
	struct event *fail_ev;
	struct event *tick;
	int connected;
	int busy;
	int down; /* every connection is down and the last attempt failed */
	uint64_t errors, timeouts, jobs;
};

void db_job_init(struct db_job *job, const char *sql, db_done_fn done, void *arg)
{
	memset(job, 0, sizeof *job);
	job->sql = sql;
	job->done = done;
	job->arg = arg;
}

static void set_param(struct db_job *job, int i, const char *value, int owned)
{
	if (job->owned & (1u << i))
		free((char *)(uintptr_t)job->params[i]);
	job->params[i] = value;
	job->owned = owned ? job->owned | (1u << i) : job->owned & ~(1u << i);
	if (i >= job->nparams)
		job->nparams = i + 1;
}

void db_job_param(struct db_job *job, int i, const char *value)
{
	set_param(job, i, value, 0);
}

void db_job_param_take(struct db_job *job, int i, char *value)
{
	set_param(job, i, value, value != NULL);
}

int db_job_param_copy(struct db_job *job, int i, const char *value)
{
	char *copy = NULL;
	if (value && !(copy = strdup(value)))
		return -1;
	set_param(job, i, copy, copy != NULL);
	return 0;
}

int db_job_param_int(struct db_job *job, int i, long long v)
{
	char text[24];
	snprintf(text, sizeof text, "%lld", v);
	return db_job_param_copy(job, i, text);
}

static void release_params(struct db_job *job)
{
	for (int i = 0; i < job->nparams; i++)
		if (job->owned & (1u << i))
			free((char *)(uintptr_t)job->params[i]);
	job->owned = 0;
}

void db_job_clear(struct db_job *job)
{
	release_params(job);
	job->nparams = 0;
}

static void complete(struct db_pool *p, struct db_job *job, const struct db_result *res,
                     const struct err *e)
{
	p->jobs++;
	if (e->code != APP_OK)
		p->errors++;
	release_params(job);
	job->done(job, res, e);
}

/* Fail job on the next loop turn (never on the submitter's stack). */
static void fail_later(struct db_pool *p, struct db_job *job, enum app_err code, const char *why)
{
	job->fail_code = code;
	job->fail_detail = why;
	TAILQ_INSERT_TAIL(&p->failing, job, link);
	event_active(p->fail_ev, EV_TIMEOUT, 0);
}

static void on_fail_ev(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool *p = arg;
	struct db_job *job;
	(void)fd;
	(void)what;
	while ((job = TAILQ_FIRST(&p->failing)) != NULL) {
		TAILQ_REMOVE(&p->failing, job, link);
		struct err e;
		err_set(&e, job->fail_code, NULL, "%s", job->fail_detail);
		complete(p, job, NULL, &e);
	}
}

static void dispatch(struct db_pool *p);
static void start_connect(struct slot *s);

static int job_timeout_ms(const struct db_pool *p)
{
	return p->cfg->db_statement_timeout_ms + 1000;
}

static void fail_queue(struct db_pool *p, const char *why)
{
	struct db_job *job;
	while ((job = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, job, link);
		p->queued--;
		fail_later(p, job, APP_EUNAVAILABLE, why);
	}
}

static void on_conn(struct dbconn *c, enum dbconn_event ev, struct db_job *job, PGresult *res,
                    const struct err *e, void *arg)
{
	struct db_pool *p = arg;
	struct slot *s = NULL;
	for (int i = 0; i < p->nslots; i++)
		if (p->slots[i].conn == c)
			s = &p->slots[i];
	assert(s != NULL); /* every connection is made by one slot and reports only to it */
	switch (ev) {
	case DBCONN_EV_UP:
		if (!s->up)
			p->connected++;
		s->up = 1;
		if (p->down)
			log_msg(LOG_INFO, "db_up", "connected=%d", p->connected);
		p->down = 0;
		s->backoff_ms = DB_BACKOFF_MIN_MS;
		dispatch(p);
		break;
	case DBCONN_EV_RESULT:
		p->busy--;
		if (e->code == APP_EUNAVAILABLE)
			p->timeouts++;
		complete(p, job, (const struct db_result *)res, e);
		dispatch(p);
		break;
	case DBCONN_EV_RECYCLED:
		/* Closed on purpose, the database answering: connect again at once, and let the
		 * queue wait for it (bounded by the queue's wait) rather than fail it as if the
		 * database were gone, which it would when every connection recycles together. */
		if (s->up)
			p->connected--;
		s->up = 0;
		start_connect(s);
		break;
	case DBCONN_EV_DOWN:
		/* DOWN follows UP (a lost connection) or CONNECTING (a failed attempt): only the
		 * first was counted as connected. */
		if (s->up)
			p->connected--;
		s->up = 0;
		s->next_attempt_ms = mono_ms() + (uint64_t)s->backoff_ms;
		s->backoff_ms = s->backoff_ms * 2 > DB_BACKOFF_MAX_MS ? DB_BACKOFF_MAX_MS
		                                                      : s->backoff_ms * 2;
		if (p->connected == 0) {
			if (!p->down)
				log_msg(LOG_WARN, "db_unavailable", "queued=%d", p->queued);
			p->down = 1;
			fail_queue(p, "database unavailable");
		}
		break;
	}
}

/* Give queued jobs to idle connections, oldest first. */
static void dispatch(struct db_pool *p)
{
	for (int i = 0; i < p->nslots && !TAILQ_EMPTY(&p->queue); i++) {
		struct slot *s = &p->slots[i];
		if (dbconn_state(s->conn) != DBCONN_IDLE)
			continue;
		struct db_job *job = TAILQ_FIRST(&p->queue);
		TAILQ_REMOVE(&p->queue, job, link);
		p->queued--;
		p->busy++;
		dbconn_run(s->conn, job, job_timeout_ms(p));
	}
}

static void start_connect(struct slot *s)
{
	s->next_attempt_ms = 0; /* 0 marks "attempt in progress or up": the tick leaves it */
	dbconn_connect(s->conn);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool *p = arg;
	uint64_t now = mono_ms();
	(void)fd;
	(void)what;
	for (int i = 0; i < p->nslots; i++) {
		struct slot *s = &p->slots[i];
		if (dbconn_state(s->conn) == DBCONN_DOWN && s->next_attempt_ms &&
		    now >= s->next_attempt_ms)
			start_connect(s);
	}
	struct db_job *job;
	uint64_t wait = (uint64_t)p->cfg->db_queue_wait_ms;
	while ((job = TAILQ_FIRST(&p->queue)) != NULL && now - job->queued_at_ms > wait) {
		TAILQ_REMOVE(&p->queue, job, link);
		p->queued--;
		p->timeouts++;
		fail_later(p, job, APP_EUNAVAILABLE, "database busy");
	}
}

/* Prepend our settings to any `options` already in DATABASE_URL, so neither is lost.
 * lock_timeout fails a statement stuck behind someone's row or table lock well before its
 * statement_timeout would: the client's 503 comes sooner, and a batch of check-ins, unlike
 * after a cancel, can run its round again one by one so that only the stuck one fails
 * (checkin_many).  The server never leaves a transaction open between round trips (each is
 * sent whole), so a connection idle in one is a bug or a stuck pooler: PostgreSQL ends it
 * after 10 s rather than let it hold locks. */
static void build_options(struct db_pool *p)
{
	const char *user_opts = "";
	PQconninfoOption *parsed = PQconninfoParse(p->cfg->database_url, NULL);
	if (parsed) {
		for (PQconninfoOption *o = parsed; o->keyword; o++)
			if (!strcmp(o->keyword, "options") && o->val)
				user_opts = o->val;
	}
	snprintf(p->options, sizeof p->options,
	         "-c statement_timeout=%d -c lock_timeout=%d"
	         " -c idle_in_transaction_session_timeout=10000 -c TimeZone=%s %s",
	         p->cfg->db_statement_timeout_ms, p->cfg->db_lock_timeout_ms, p->cfg->tz,
	         user_opts);
	if (parsed)
		PQconninfoFree(parsed);
}

struct db_pool *db_pool_new(struct event_base *base, const struct config *cfg)
{
	struct db_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->base = base;
	p->cfg = cfg;
	TAILQ_INIT(&p->queue);
	TAILQ_INIT(&p->failing);
	build_options(p);
	int k = 0;
	/* dbname first: libpq expands the URL there, and later keys override it. */
	p->keys[k] = "dbname", p->vals[k++] = cfg->database_url;
	p->keys[k] = "application_name", p->vals[k++] = "volunteerd";
	p->keys[k] = "options", p->vals[k++] = p->options;
	p->keys[k] = "keepalives", p->vals[k++] = "1";
	p->keys[k] = "keepalives_idle", p->vals[k++] = "30";
	p->keys[k] = "keepalives_interval", p->vals[k++] = "10";
	p->keys[k] = "keepalives_count", p->vals[k++] = "3";
	p->keys[k] = "tcp_user_timeout", p->vals[k++] = "30000";
	p->keys[k] = NULL, p->vals[k] = NULL;

	p->nslots = cfg->db_pool_size;
	p->slots = calloc((size_t)p->nslots, sizeof *p->slots);
	p->fail_ev = event_new(base, -1, 0, on_fail_ev, p);
	p->tick = event_new(base, -1, EV_PERSIST, on_tick, p);
	if (!p->slots || !p->fail_ev || !p->tick)
		goto fail;
	for (int i = 0; i < p->nslots; i++) {
		p->slots[i].backoff_ms = DB_BACKOFF_MIN_MS;
		p->slots[i].conn =
		        dbconn_new(base, p->keys, p->vals, DB_CONNECT_TIMEOUT_MS, on_conn, p);
		if (!p->slots[i].conn)
			goto fail;
		dbconn_set_prepare(p->slots[i].conn, cfg->db_prepare);
	}
	struct timeval tv = {0, DB_TICK_MS * 1000};
	event_add(p->tick, &tv);
	for (int i = 0; i < p->nslots; i++)
		start_connect(&p->slots[i]);
	return p;
fail:
	db_pool_free(p);
	return NULL;
}

void db_pool_free(struct db_pool *p)
{
	if (!p)
		return;
	fail_queue(p, "shutting down");
	for (int i = 0; i < p->nslots; i++)
		dbconn_free(p->slots[i].conn); /* a running job is dropped with its connection */
	if (p->fail_ev) {
		on_fail_ev(-1, 0, p);
		event_free(p->fail_ev);
	}
	if (p->tick)
		event_free(p->tick);
	free(p->slots);
	free(p);
}

/* While the pool is down, a new job does not wait for the backoff: one connection tries at
 * once.  The job waits in the queue for that attempt; a refused connection fails the queue
 * at once, a silent one is cut by the queue's wait limit, so the answer stays prompt. */
static void kick_reconnect(struct db_pool *p)
{
	for (int i = 0; i < p->nslots; i++)
		if (dbconn_state(p->slots[i].conn) == DBCONN_CONNECTING)
			return;
	for (int i = 0; i < p->nslots; i++)
		if (dbconn_state(p->slots[i].conn) == DBCONN_DOWN) {
			start_connect(&p->slots[i]);
			return;
		}
}

void db_submit(struct db_pool *p, struct db_job *job)
{
	job->queued_at_ms = mono_ms();
	if (p->down)
		kick_reconnect(p);
	if (p->queued >= p->cfg->db_queue_max) {
		p->timeouts++;
		fail_later(p, job, APP_EUNAVAILABLE, "too many requests waiting for the database");
		return;
	}
	TAILQ_INSERT_TAIL(&p->queue, job, link);
	p->queued++;
	dispatch(p);
}

int db_pool_up(const struct db_pool *p)
{
	return p->connected > 0;
}

void db_pool_stats(const struct db_pool *p, struct db_stats *out)
{
	out->size = p->nslots;
	out->connected = p->connected;
	out->busy = p->busy;
	out->queued = p->queued;
	out->errors = p->errors;
	out->timeouts = p->timeouts;
	out->jobs = p->jobs;
}

int db_result_rows(const struct db_result *r)
{
	return r ? PQntuples((const PGresult *)r) : 0;
}

int db_result_cols(const struct db_result *r)
{
	return r ? PQnfields((const PGresult *)r) : 0;
}

const char *db_result_value(const struct db_result *r, int row, int col)
{
	const PGresult *res = (const PGresult *)r;
	if (!r || row < 0 || col < 0 || row >= PQntuples(res) || col >= PQnfields(res) ||
	    PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

int db_result_length(const struct db_result *r, int row, int col)
{
	return db_result_value(r, row, col) ? PQgetlength((const PGresult *)r, row, col) : 0;
}

long long db_result_int(const struct db_result *r, int row, int col, long long fallback)
{
	const char *v = db_result_value(r, row, col);
	char *end;
	if (!v)
		return fallback;
	long long x = strtoll(v, &end, 10);
	return *end ? fallback : x;
}

int db_result_bool(const struct db_result *r, int row, int col)
{
	const char *v = db_result_value(r, row, col);
	return v && v[0] == 't';
}
