/*
 * jobs.c: periodic database work through the worker's pool.
 *
 * One timer; each tick submits at most one job of each kind (a job still running is not
 * started again).  The job structs live here, so a job in flight at jobs_stop is detached
 * (its done sees j->stopped) and freed when it completes.  The retention purge deletes at
 * most PURGE_BATCH rows of each table per statement; while a statement comes back full it
 * runs again at once, up to PURGE_ROUNDS statements a tick, so a backlog drains in small
 * transactions and an ordinary tick costs one.
 */
#include "jobs.h"

#include <event2/event.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "queries.h"
#include "worker.h"

#define PARTITIONS_EVERY_S (24 * 3600)
#define PURGE_BATCH        5000
#define PURGE_ROUNDS       20

struct jobs {
	struct worker *w;
	struct event *tick;
	struct event *purge_again; /* the purge's next statement, at the next loop turn */
	struct db_job checkout, partitions, compact, purge;
	int checkout_running, partitions_running, compact_running, purge_running;
	int purge_rounds; /* statements of the purge in this tick */
	time_t partitions_at;
	int stopped;
};

static void maybe_free(struct jobs *j)
{
	if (j->stopped && !j->checkout_running && !j->partitions_running && !j->compact_running &&
	    !j->purge_running)
		free(j);
}

static void checkout_done(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct jobs *j = job->arg;
	j->checkout_running = 0;
	if (e->code != APP_OK)
		log_msg(LOG_WARN, "auto_checkout_failed", "reason=%s", e->detail);
	else if (db_result_int(res, 0, 0, 0) > 0)
		log_msg(LOG_INFO, "auto_checkout", "closed=%lld", db_result_int(res, 0, 0, 0));
	maybe_free(j);
}

static void partitions_done(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct jobs *j = job->arg;
	(void)res;
	j->partitions_running = 0;
	if (e->code != APP_OK)
		log_msg(LOG_WARN, "partitions_failed", "reason=%s", e->detail);
	else
		j->partitions_at = time(NULL);
	maybe_free(j);
}

/* The report journal (sql/0007) folded every tick, so that a report reads few rows. */
static void compact_done(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct jobs *j = job->arg;
	(void)res;
	j->compact_running = 0;
	if (e->code != APP_OK)
		log_msg(LOG_WARN, "rollups_compact_failed", "reason=%s", e->detail);
	maybe_free(j);
}

static void purge_done(struct db_job *job, const struct db_result *res, const struct err *e);

static void purge_submit(struct jobs *j)
{
	j->purge_running = 1;
	j->purge_rounds++;
	db_job_init(&j->purge, Q_RETENTION_PURGE, purge_done, j);
	db_job_param_int(&j->purge, 0, j->w->cfg->session_idle_min);
	db_job_param_int(&j->purge, 1, PURGE_BATCH);
	db_submit(j->w->db, &j->purge);
}

/* Expired Idempotency-Keys, dead sessions and ended log-in throttle windows (sql/0021). */
static void purge_done(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct jobs *j = job->arg;
	j->purge_running = 0;
	if (e->code != APP_OK) {
		log_msg(LOG_WARN, "purge_failed", "reason=%s", e->detail);
		maybe_free(j);
		return;
	}
	long long keys = db_result_int(res, 0, 0, 0), sessions = db_result_int(res, 0, 1, 0),
	          attempts = db_result_int(res, 0, 2, 0);
	metrics_purged(j->w->metrics, METRICS_PURGED_IDEMPOTENCY_KEYS, (uint64_t)keys);
	metrics_purged(j->w->metrics, METRICS_PURGED_SESSIONS, (uint64_t)sessions);
	metrics_purged(j->w->metrics, METRICS_PURGED_LOGIN_ATTEMPTS, (uint64_t)attempts);
	if (keys + sessions + attempts > 0)
		log_msg(LOG_INFO, "purge",
		        "idempotency_keys=%lld sessions=%lld login_attempts=%lld", keys, sessions,
		        attempts);
	if (!j->stopped && j->purge_rounds < PURGE_ROUNDS &&
	    (keys == PURGE_BATCH || sessions == PURGE_BATCH || attempts == PURGE_BATCH)) {
		/* a backlog: the next batch at once (not from inside done: the pool owns the
		 * job until done returns) */
		event_active(j->purge_again, EV_TIMEOUT, 0);
		return;
	}
	maybe_free(j);
}

static void on_purge_again(evutil_socket_t fd, short what, void *arg)
{
	struct jobs *j = arg;
	(void)fd;
	(void)what;
	if (!j->purge_running) /* (unless a tick came first) */
		purge_submit(j);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct jobs *j = arg;
	(void)fd;
	(void)what;
	if (!j->checkout_running) {
		j->checkout_running = 1;
		db_job_init(&j->checkout, Q_AUTO_CHECKOUT, checkout_done, j);
		db_submit(j->w->db, &j->checkout);
	}
	if (!j->compact_running) {
		j->compact_running = 1;
		db_job_init(&j->compact, Q_ROLLUPS_COMPACT, compact_done, j);
		db_submit(j->w->db, &j->compact);
	}
	if (!j->purge_running) {
		j->purge_rounds = 0;
		purge_submit(j);
	}
	if (!j->partitions_running && time(NULL) - j->partitions_at >= PARTITIONS_EVERY_S) {
		j->partitions_running = 1;
		db_job_init(&j->partitions, Q_PARTITIONS_ENSURE, partitions_done, j);
		db_submit(j->w->db, &j->partitions);
	}
}

struct jobs *jobs_start(struct worker *w)
{
	if (w->index != 0)
		return NULL;
	struct jobs *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	j->w = w;
	j->partitions_at = time(NULL); /* `migrate` has just made them */
	j->tick = event_new(w->base, -1, EV_PERSIST, on_tick, j);
	j->purge_again = event_new(w->base, -1, 0, on_purge_again, j);
	struct timeval tv = {w->cfg->job_interval_s, 0};
	if (!j->tick || !j->purge_again || event_add(j->tick, &tv) < 0) {
		if (j->tick)
			event_free(j->tick);
		if (j->purge_again)
			event_free(j->purge_again);
		free(j);
		return NULL;
	}
	return j;
}

void jobs_stop(struct jobs *j)
{
	if (!j)
		return;
	event_free(j->tick);
	event_free(j->purge_again);
	j->stopped = 1;
	maybe_free(j);
}
