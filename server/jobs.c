/*
 * jobs.c: periodic database work through the worker's pool.
 *
 * One timer; each tick submits at most one job of each kind (a job still running is not
 * started again).  The job structs live here, so a job in flight at jobs_stop is detached
 * (its done sees j->stopped) and freed when it completes.
 */
#include "jobs.h"

#include <event2/event.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "queries.h"
#include "worker.h"

#define PARTITIONS_EVERY_S (24 * 3600)

struct jobs {
	struct worker *w;
	struct event *tick;
	struct db_job checkout, partitions, compact;
	int checkout_running, partitions_running, compact_running;
	time_t partitions_at;
	int stopped;
};

static void maybe_free(struct jobs *j)
{
	if (j->stopped && !j->checkout_running && !j->partitions_running && !j->compact_running)
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
	struct timeval tv = {w->cfg->job_interval_s, 0};
	if (!j->tick || event_add(j->tick, &tv) < 0) {
		if (j->tick)
			event_free(j->tick);
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
	j->stopped = 1;
	maybe_free(j);
}
