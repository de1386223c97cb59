/*
 * dblisten.c: a LISTEN connection beside the pool (the pool's connections run jobs; this one
 * only waits for notifications, so it never delays a request).
 *
 * States: down -> connecting -> sending LISTEN -> listening -> (lost) -> down, with a retry
 * timer that backs off from 100 ms to 2 s.  Invariant: `listening` is 1 only while the
 * LISTEN has completed on the connection that is up now; every loss is reported as
 * state(0) before anything else, so the owner can drop what it cached.
 */
#include "dblisten.h"

#include <event2/event.h>
#include <stdlib.h>

#include "config.h"
#include "db.h"
#include "dbconn.h"
#include "log.h"

#define LISTEN_BACKOFF_MIN_MS 100
#define LISTEN_BACKOFF_MAX_MS 2000
#define LISTEN_TIMEOUT_MS     5000

struct dblisten {
	struct dbconn *conn;
	struct event *retry;
	struct db_job job;
	const char *keys[4];
	const char *vals[4];
	int backoff_ms;
	int listening;
	dblisten_notify_fn notify;
	dblisten_state_fn state;
	void *arg;
};

static void set_listening(struct dblisten *l, int on)
{
	if (l->listening == on)
		return;
	l->listening = on;
	l->state(on, l->arg);
}

static void retry_later(struct dblisten *l)
{
	struct timeval tv = {l->backoff_ms / 1000, (l->backoff_ms % 1000) * 1000};
	evtimer_add(l->retry, &tv);
	l->backoff_ms = l->backoff_ms * 2 > LISTEN_BACKOFF_MAX_MS ? LISTEN_BACKOFF_MAX_MS
	                                                          : l->backoff_ms * 2;
}

static void on_notify(const char *channel, const char *payload, void *arg)
{
	struct dblisten *l = arg;
	if (l->listening)
		l->notify(channel, payload, l->arg);
}

static void on_conn(struct dbconn *c, enum dbconn_event ev, struct db_job *job, PGresult *res,
                    const struct err *e, void *arg)
{
	struct dblisten *l = arg;
	(void)job;
	(void)res;
	switch (ev) {
	case DBCONN_EV_UP:
		dbconn_run(c, &l->job, LISTEN_TIMEOUT_MS);
		break;
	case DBCONN_EV_RESULT:
		if (e->code == APP_OK && dbconn_state(c) == DBCONN_IDLE) {
			l->backoff_ms = LISTEN_BACKOFF_MIN_MS;
			set_listening(l, 1);
		} else {
			log_msg(LOG_WARN, "db_listen_failed", "reason=%s", e->detail);
			if (dbconn_state(c) == DBCONN_IDLE)
				retry_later(l); /* send LISTEN again on the same connection */
		}
		break;
	case DBCONN_EV_RECYCLED: /* not expected of LISTEN; handled as a loss */
	case DBCONN_EV_DOWN:
		set_listening(l, 0);
		retry_later(l);
		break;
	}
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct dblisten *l = arg;
	(void)fd;
	(void)what;
	if (dbconn_state(l->conn) == DBCONN_DOWN)
		dbconn_connect(l->conn);
	else if (dbconn_state(l->conn) == DBCONN_IDLE && !l->listening)
		dbconn_run(l->conn, &l->job, LISTEN_TIMEOUT_MS);
}

struct dblisten *dblisten_new(struct event_base *base, const struct config *cfg,
                              const char *listen_sql, dblisten_notify_fn notify,
                              dblisten_state_fn state, void *arg)
{
	struct dblisten *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->notify = notify;
	l->state = state;
	l->arg = arg;
	l->backoff_ms = LISTEN_BACKOFF_MIN_MS;
	l->keys[0] = "dbname", l->vals[0] = cfg->database_url;
	l->keys[1] = "application_name", l->vals[1] = "volunteerd-listen";
	l->keys[2] = NULL, l->vals[2] = NULL;
	db_job_init(&l->job, listen_sql, NULL, l);
	l->retry = evtimer_new(base, on_retry, l);
	l->conn =
	        l->retry ? dbconn_new(base, l->keys, l->vals, LISTEN_TIMEOUT_MS, on_conn, l) : NULL;
	if (!l->conn) {
		dblisten_free(l);
		return NULL;
	}
	dbconn_set_notify(l->conn, on_notify, l);
	dbconn_connect(l->conn);
	return l;
}

void dblisten_free(struct dblisten *l)
{
	if (!l)
		return;
	dbconn_free(l->conn);
	if (l->retry)
		event_free(l->retry);
	free(l);
}

int dblisten_listening(const struct dblisten *l)
{
	return l && l->listening;
}
