/*
 * worker.c: one worker process's life: set up, serve, drain, tear down.
 *
 * States: serving -> draining (SIGTERM/SIGINT: listeners closed, in-flight requests
 * finish, bounded by the shutdown grace) -> exit 0.  SIGHUP swaps in a fresh TLS context
 * built from the same files; connections already open keep the old one.
 */
#include "worker.h"

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "batch.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "http.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "offload.h"
#include "password.h"
#include "sessions.h"
#include "tls.h"

/* Tasks the export pool queues before refusing (503 with Retry-After): each queued one holds
 * its parsed report (megabytes for a district's per-volunteer table).  The hashing pool's is
 * VOLUNTEERD_HASH_QUEUE: a queued log-in holds a few hundred bytes and waits about one hash
 * time per (queued / threads). */
enum { EXPORT_QUEUE_MAX = 16 };
/* One export thread per worker: exports are rare (coordinators, monthly), mostly file writes,
 * and with one worker per core this is one per core; more would only compete with hashing. */
enum { EXPORT_THREADS = 1 };

static void publish_stats(struct worker *w)
{
	struct db_stats s;
	db_pool_stats(w->db, &s);
	metrics_worker_db(w->metrics, w->index, &s);
	metrics_worker_connections(w->metrics, w->index, http_open_connections(w));
	struct batch_stats b;
	struct sessions_stats ss;
	batch_get_stats(w->batch, &b);
	sessions_get_stats(w->sessions, &ss);
	metrics_worker_batching(w->metrics, w->index, b.batches, b.items, b.beside_slow, ss.hits,
	                        ss.misses);
	struct offload_stats o;
	offload_get_stats(w->hashing, &o);
	metrics_worker_pool(w->metrics, w->index, METRICS_POOL_HASHING, &o);
	offload_get_stats(w->exports, &o);
	metrics_worker_pool(w->metrics, w->index, METRICS_POOL_EXPORT, &o);
}

static void on_stats(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	publish_stats(w);
	metrics_worker_beat(w->metrics, w->index);
}

/* Draining ends when no request is in flight and no connection is open: a request whose
 * body is still arriving is on an open connection, so it gets its answer too. */
static void drain_check(struct worker *w)
{
	if (w->draining && w->inflight == 0 && http_open_connections(w) == 0)
		event_base_loopexit(w->base, NULL);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	log_msg(LOG_WARN, "drain_timeout", "worker=%d inflight=%d", w->index, w->inflight);
	event_base_loopexit(w->base, NULL);
}

static void start_drain(struct worker *w)
{
	if (w->draining)
		return;
	w->draining = 1;
	log_msg(LOG_INFO, "worker_drain", "worker=%d inflight=%d", w->index, w->inflight);
	http_stop_accepting(w);
	drain_check(w);
	struct timeval tv = {w->cfg->shutdown_grace_s, 0};
	w->drain_timer = evtimer_new(w->base, on_drain_timeout, w);
	if (w->drain_timer)
		evtimer_add(w->drain_timer, &tv);
}

void worker_next_rid(struct worker *w, char *rid, size_t n)
{
	snprintf(rid, n, "%x-%x-%llx", w->pid, (unsigned)w->index,
	         (unsigned long long)++w->next_rid);
}

void worker_request_done(struct worker *w)
{
	w->inflight--;
	drain_check(w);
}

void worker_connection_closed(struct worker *w)
{
	drain_check(w);
}

static void reload_tls(struct worker *w)
{
	struct err e;
	if (!w->https)
		return;
	SSL_CTX *fresh = tls_ctx_new(w->cfg, &e);
	if (!fresh) {
		log_msg(LOG_ERROR, "tls_reload_failed", "worker=%d reason=%s", w->index, e.detail);
		return;
	}
	SSL_CTX_free(w->tls); /* open connections hold their own reference */
	w->tls = fresh;
	log_msg(LOG_INFO, "tls_reloaded", "worker=%d", w->index);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	if (sig == SIGHUP)
		reload_tls(arg);
	else
		start_drain(arg);
}

/* The worker's event loop.  epoll's change list folds the changes made to one descriptor in
 * a loop turn into one epoll_ctl (evhttp turns reading off and writing on and back for every
 * request: four system calls a request without it).  Safe here: no descriptor is dup()ed. */
static struct event_base *new_base(void)
{
	struct event_config *ec = event_config_new();
	if (!ec)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	struct event_base *base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

int worker_run(const struct config *cfg, const struct secrets *secrets, int index,
               struct metrics *metrics)
{
	struct worker w;
	struct err e;
	struct event *sigs[3] = {NULL, NULL, NULL};
	struct event *stats = NULL;
	struct jobs *jobs = NULL;
	int rc = 3; /* "cannot start": the parent gives up instead of restarting */

	memset(&w, 0, sizeof w);
	w.cfg = cfg;
	w.secrets = secrets;
	w.index = index;
	w.pid = (unsigned)getpid();
	w.metrics = metrics;
	prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the parent */
	signal(SIGPIPE, SIG_IGN);
	metrics_worker_start(metrics, index);

	w.base = new_base();
	if (!w.base)
		goto out;
	if (cfg->https_port && !(w.tls = tls_ctx_new(cfg, &e))) {
		log_msg(LOG_ERROR, "worker_failed", "worker=%d reason=%s", index, e.detail);
		goto out;
	}
	w.db = db_pool_new(w.base, cfg);
	/* config_validate has parsed it once already, naming the variable if it was wrong */
	netranges_parse(cfg->trusted_proxies, "VOLUNTEERD_TRUSTED_PROXIES", &w.trusted_proxies, &e);
	w.hashing = offload_new(w.base, config_hash_threads(cfg), cfg->hash_queue_max);
	w.exports = offload_new(w.base, EXPORT_THREADS, EXPORT_QUEUE_MAX);
	if (w.db) {
		w.sessions = sessions_new(w.base, cfg, w.db, metrics);
		w.batch = batch_new(w.base, w.db, w.sessions, cfg->session_idle_min);
	}
	char unknowable[33];
	if (!w.db || !w.hashing || !w.exports || !w.sessions || !w.batch ||
	    password_generate(unknowable, 32) < 0 || password_hash(unknowable, w.dummy_hash) < 0)
		goto out;
	if (http_start(&w, &e) < 0) {
		log_msg(LOG_ERROR, "worker_failed", "worker=%d reason=%s", index, e.detail);
		goto out;
	}
	const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(w.base, signums[i], on_signal, &w);
		if (!sigs[i] || evsignal_add(sigs[i], NULL) < 0)
			goto out;
	}
	stats = event_new(w.base, -1, EV_PERSIST, on_stats, &w);
	struct timeval one_s = {1, 0};
	if (stats)
		event_add(stats, &one_s);

	jobs = jobs_start(&w);
	log_msg(LOG_INFO, "worker_start", "worker=%d pid=%d http=%d https=%d hash_threads=%d",
	        index, (int)getpid(), cfg->http_port, cfg->https_port, config_hash_threads(cfg));
	metrics_worker_beat(metrics, index); /* listening: the parent may report ready */
	event_base_dispatch(w.base);
	log_msg(LOG_INFO, "worker_stop", "worker=%d inflight=%d", index, w.inflight);
	rc = 0;
out:
	jobs_stop(jobs);
	if (stats)
		event_free(stats);
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	if (w.drain_timer)
		event_free(w.drain_timer);
	offload_free(w.hashing); /* waits for running hashes; their replies go nowhere */
	offload_free(w.exports); /* likewise for a running export */
	batch_stop(w.batch);     /* answers calls not yet sent, before the pool goes */
	sessions_stop(w.sessions);
	db_pool_free(w.db); /* fails queued jobs while their requests still exist */
	batch_free(w.batch);
	sessions_free(w.sessions);
	http_free(&w);
	if (w.tls)
		SSL_CTX_free(w.tls);
	if (w.base)
		event_base_free(w.base);
	return rc;
}
