/*
 * metrics.c: the shared counters and their Prometheus text format.
 *
 * Layout: requests[route][status class] and one latency histogram per route live in a
 * MAP_SHARED region; route index NROUTES is "unmatched".  Only a fixed list of statuses
 * gets its own series, the rest fall into "other", so the region's size is fixed.
 */
#include "metrics.h"

#include <event2/buffer.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "db.h"
#include "monotime.h"
#include "offload.h"
#include "router.h"
#include "throttle.h"

#define MAX_ROUTES  256
#define MAX_WORKERS 64

static const int statuses[] = {200, 201, 204, 303, 304, 400, 401, 403, 404, 405, 408,
                               409, 413, 414, 415, 417, 422, 429, 431, 500, 503};
#define NSTATUS ((int)(sizeof statuses / sizeof statuses[0]) + 1) /* + other */

static const double buckets_s[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,   0.25,   0.5,   1,    2.5,   5};
#define NBUCKETS ((int)(sizeof buckets_s / sizeof buckets_s[0]))

struct worker_slot {
	uint64_t started;
	uint64_t beats, last_beat_ms; /* the event loop's turns, and the last one's mono_ms */
	int64_t db_size, db_connected, db_busy, db_queued;
	int64_t connections;
	uint64_t db_errors, db_timeouts, db_jobs;
	int64_t batches, batch_calls, batches_beside_slow; /* batch.c */
	int64_t session_hits, session_misses;              /* sessions.c */
	uint64_t conn_events[METRICS_CONN_EVENTS];         /* conns.c */
	struct pool_slot {                                 /* offload.c's pools */
		int64_t threads, running, peak, queued, ran, refused;
	} pools[METRICS_POOLS];
};

struct metrics {
	int nworkers;
	uint64_t requests[MAX_ROUTES + 1][NSTATUS];
	uint64_t hist[MAX_ROUTES + 1][NBUCKETS];
	uint64_t hist_count[MAX_ROUTES + 1];
	uint64_t hist_sum_us[MAX_ROUTES + 1];
	uint64_t worker_restarts;
	struct worker_slot workers[MAX_WORKERS];
	uint64_t session_revocations;           /* sessions.c: log-outs committed, server-wide */
	uint64_t purged[METRICS_PURGED_TABLES]; /* jobs.c: rows the retention job deleted */
	struct throttle code_throttle;     /* h_attendance.c: wrong check-in codes per account */
	struct throttle register_throttle; /* h_volunteers.c: registrations per client address */
};

struct metrics *metrics_new(int nworkers)
{
	/* An anonymous map has no file: -1 is the descriptor POSIX asks for, not an error. */
	struct metrics *m =
	        /* cppcheck-suppress invalidFunctionArg */
	        mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	memset(m, 0, sizeof *m);
	m->nworkers = nworkers > MAX_WORKERS ? MAX_WORKERS : nworkers;
	return m;
}

static void add(uint64_t *p, uint64_t v)
{
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void metrics_worker_batching(struct metrics *m, int worker, uint64_t batches, uint64_t calls,
                             uint64_t beside_slow, uint64_t session_hits, uint64_t session_misses)
{
	if (worker < 0 || worker >= m->nworkers)
		return;
	struct worker_slot *w = &m->workers[worker];
	__atomic_store_n(&w->batches, (int64_t)batches, __ATOMIC_RELAXED);
	__atomic_store_n(&w->batch_calls, (int64_t)calls, __ATOMIC_RELAXED);
	__atomic_store_n(&w->batches_beside_slow, (int64_t)beside_slow, __ATOMIC_RELAXED);
	__atomic_store_n(&w->session_hits, (int64_t)session_hits, __ATOMIC_RELAXED);
	__atomic_store_n(&w->session_misses, (int64_t)session_misses, __ATOMIC_RELAXED);
}

void metrics_worker_pool(struct metrics *m, int worker, enum metrics_pool pool,
                         const struct offload_stats *s)
{
	if (worker < 0 || worker >= m->nworkers || (unsigned)pool >= METRICS_POOLS)
		return;
	struct pool_slot *p = &m->workers[worker].pools[pool];
	__atomic_store_n(&p->threads, (int64_t)s->threads, __ATOMIC_RELAXED);
	__atomic_store_n(&p->running, (int64_t)s->running, __ATOMIC_RELAXED);
	__atomic_store_n(&p->peak, (int64_t)s->peak_running, __ATOMIC_RELAXED);
	__atomic_store_n(&p->queued, (int64_t)s->queued, __ATOMIC_RELAXED);
	__atomic_store_n(&p->ran, (int64_t)s->ran, __ATOMIC_RELAXED);
	__atomic_store_n(&p->refused, (int64_t)s->refused, __ATOMIC_RELAXED);
}

void metrics_session_revoked(struct metrics *m)
{
	__atomic_fetch_add(&m->session_revocations, 1, __ATOMIC_RELEASE);
}

uint64_t metrics_session_revocations(struct metrics *m)
{
	return __atomic_load_n(&m->session_revocations, __ATOMIC_ACQUIRE);
}

struct throttle *metrics_code_throttle(struct metrics *m)
{
	return &m->code_throttle;
}

struct throttle *metrics_register_throttle(struct metrics *m)
{
	return &m->register_throttle;
}

void metrics_purged(struct metrics *m, enum metrics_purged table, uint64_t rows)
{
	if ((unsigned)table < METRICS_PURGED_TABLES)
		add(&m->purged[table], rows);
}

/* status's place in statuses[], or the last one's: "other". */
static int status_index(int status)
{
	for (int i = 0; i < NSTATUS - 1; i++)
		if (statuses[i] == status)
			return i;
	return NSTATUS - 1;
}

void metrics_request(struct metrics *m, int route_index, int status, uint64_t dur_us)
{
	int ri = route_index >= 0 && route_index < MAX_ROUTES ? route_index : MAX_ROUTES;
	add(&m->requests[ri][status_index(status)], 1);
	for (int b = 0; b < NBUCKETS; b++)
		if ((double)dur_us / 1e6 <= buckets_s[b]) {
			add(&m->hist[ri][b], 1);
			break;
		}
	add(&m->hist_count[ri], 1);
	add(&m->hist_sum_us[ri], dur_us);
}

void metrics_refusal(struct metrics *m, int status)
{
	add(&m->requests[MAX_ROUTES][status_index(status)], 1);
}

void metrics_conn_event(struct metrics *m, int worker, enum metrics_conn event)
{
	if (worker >= 0 && worker < m->nworkers && (unsigned)event < METRICS_CONN_EVENTS)
		add(&m->workers[worker].conn_events[event], 1);
}

void metrics_worker_db(struct metrics *m, int worker, const struct db_stats *s)
{
	if (worker < 0 || worker >= m->nworkers)
		return;
	struct worker_slot *w = &m->workers[worker];
	__atomic_store_n(&w->db_size, s->size, __ATOMIC_RELAXED);
	__atomic_store_n(&w->db_connected, s->connected, __ATOMIC_RELAXED);
	__atomic_store_n(&w->db_busy, s->busy, __ATOMIC_RELAXED);
	__atomic_store_n(&w->db_queued, s->queued, __ATOMIC_RELAXED);
	__atomic_store_n(&w->db_errors, s->errors, __ATOMIC_RELAXED);
	__atomic_store_n(&w->db_timeouts, s->timeouts, __ATOMIC_RELAXED);
	__atomic_store_n(&w->db_jobs, s->jobs, __ATOMIC_RELAXED);
}

void metrics_worker_connections(struct metrics *m, int worker, int open)
{
	if (worker >= 0 && worker < m->nworkers)
		__atomic_store_n(&m->workers[worker].connections, (int64_t)open, __ATOMIC_RELAXED);
}

void metrics_worker_start(struct metrics *m, int worker)
{
	if (worker < 0 || worker >= m->nworkers)
		return;
	if (get(&m->workers[worker].started))
		add(&m->worker_restarts, 1);
	add(&m->workers[worker].started, 1);
	/* A restarted worker starts a new pool: its counters start again from zero. */
	struct db_stats zero = {0};
	metrics_worker_db(m, worker, &zero);
}

void metrics_worker_beat(struct metrics *m, int worker)
{
	if (worker < 0 || worker >= m->nworkers)
		return;
	__atomic_store_n(&m->workers[worker].last_beat_ms, mono_ms(), __ATOMIC_RELAXED);
	add(&m->workers[worker].beats, 1);
}

uint64_t metrics_worker_beats(struct metrics *m, int worker)
{
	return worker >= 0 && worker < m->nworkers ? get(&m->workers[worker].beats) : 0;
}

static const char *route_label(int ri)
{
	const struct route *r = router_get(ri);
	return r ? r->pattern : "unmatched";
}

static const char *method_label(int ri)
{
	const struct route *r = router_get(ri);
	return r ? router_method_name(r->method) : "";
}

static void render_requests(struct metrics *m, struct evbuffer *out, int nroutes)
{
	evbuffer_add_printf(out, "# HELP volunteerd_http_requests_total HTTP requests answered, "
	                         "by route and status.\n"
	                         "# TYPE volunteerd_http_requests_total counter\n");
	for (int ri = 0; ri <= MAX_ROUTES; ri++) {
		if (ri >= nroutes && ri != MAX_ROUTES)
			continue;
		for (int si = 0; si < NSTATUS; si++) {
			uint64_t v = get(&m->requests[ri][si]);
			if (!v)
				continue;
			char st[8];
			if (si == NSTATUS - 1)
				strcpy(st, "other");
			else
				snprintf(st, sizeof st, "%d", statuses[si]);
			evbuffer_add_printf(
			        out,
			        "volunteerd_http_requests_total{method=\"%s\",route=\"%s\","
			        "status=\"%s\"} %llu\n",
			        method_label(ri), route_label(ri), st, (unsigned long long)v);
		}
	}
	evbuffer_add_printf(out, "# HELP volunteerd_http_request_duration_seconds Time from "
	                         "request to reply, by route.\n"
	                         "# TYPE volunteerd_http_request_duration_seconds histogram\n");
	for (int ri = 0; ri <= MAX_ROUTES; ri++) {
		uint64_t count = get(&m->hist_count[ri]);
		if ((ri >= nroutes && ri != MAX_ROUTES) || !count)
			continue;
		uint64_t cum = 0;
		const char *lbl = route_label(ri);
		const char *mth = method_label(ri);
		for (int b = 0; b < NBUCKETS; b++) {
			cum += get(&m->hist[ri][b]);
			evbuffer_add_printf(
			        out,
			        "volunteerd_http_request_duration_seconds_bucket{method=\"%s\","
			        "route=\"%s\",le=\"%g\"} %llu\n",
			        mth, lbl, buckets_s[b], (unsigned long long)cum);
		}
		evbuffer_add_printf(out,
		                    "volunteerd_http_request_duration_seconds_bucket{method=\"%s\","
		                    "route=\"%s\",le=\"+Inf\"} %llu\n"
		                    "volunteerd_http_request_duration_seconds_sum{method=\"%s\","
		                    "route=\"%s\"} %.6f\n"
		                    "volunteerd_http_request_duration_seconds_count{method=\"%s\","
		                    "route=\"%s\"} %llu\n",
		                    mth, lbl, (unsigned long long)count, mth, lbl,
		                    (double)get(&m->hist_sum_us[ri]) / 1e6, mth, lbl,
		                    (unsigned long long)count);
	}
}

/* A counter family of conns.c's events [first, first + n), a series per worker; with a label,
 * one per event too. */
static void render_conn_events(struct metrics *m, struct evbuffer *out, const char *name,
                               const char *help, const char *label, int first, int n)
{
	static const char *const value[METRICS_CONN_EVENTS] = {
	        [METRICS_CONN_IDLE_DEADLINE] = "idle",
	        [METRICS_CONN_HEADER_DEADLINE] = "header",
	        [METRICS_CONN_BODY_DEADLINE] = "body",
	        [METRICS_CONN_LIMIT_TARGET] = "request-target",
	        [METRICS_CONN_LIMIT_HEADERS] = "headers",
	        [METRICS_CONN_LIMIT_BODY] = "body",
	};
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (int i = 0; i < m->nworkers; i++)
		for (int e = first; e < first + n; e++) {
			unsigned long long v = get(&m->workers[i].conn_events[e]);
			if (label)
				evbuffer_add_printf(out, "%s{worker=\"%d\",%s=\"%s\"} %llu\n", name,
				                    i, label, value[e], v);
			else
				evbuffer_add_printf(out, "%s{worker=\"%d\"} %llu\n", name, i, v);
		}
}

static void render_gauge(struct metrics *m, struct evbuffer *out, const char *name,
                         const char *help, const char *type, size_t offset)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (int i = 0; i < m->nworkers; i++) {
		const char *slot = (const char *)&m->workers[i] + offset;
		long long v = (long long)__atomic_load_n((const int64_t *)slot, __ATOMIC_RELAXED);
		evbuffer_add_printf(out, "%s{worker=\"%d\"} %lld\n", name, i, v);
	}
}

/* A family of the offload pools' figures: a series per worker and pool. */
static void render_pool(struct metrics *m, struct evbuffer *out, const char *name, const char *help,
                        const char *type, size_t offset)
{
	static const char *const pool_names[METRICS_POOLS] = {"hashing", "export"};
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (int i = 0; i < m->nworkers; i++)
		for (int p = 0; p < METRICS_POOLS; p++) {
			const char *slot = (const char *)&m->workers[i].pools[p] + offset;
			long long v =
			        (long long)__atomic_load_n((const int64_t *)slot, __ATOMIC_RELAXED);
			evbuffer_add_printf(out, "%s{worker=\"%d\",pool=\"%s\"} %lld\n", name, i,
			                    pool_names[p], v);
		}
}

void metrics_render(struct metrics *m, struct evbuffer *out)
{
	render_requests(m, out, router_count());
	render_gauge(m, out, "volunteerd_http_connections", "Client connections open.", "gauge",
	             offsetof(struct worker_slot, connections));
	render_conn_events(m, out, "volunteerd_http_connections_refused_total",
	                   "Connections closed at once: their client address had "
	                   "VOLUNTEERD_MAX_CONNECTIONS_PER_IP open on the worker.",
	                   NULL, METRICS_CONN_REFUSED, 1);
	render_conn_events(
	        m, out, "volunteerd_http_accept_pauses_total",
	        "Times the worker stopped accepting, with VOLUNTEERD_MAX_CONNECTIONS open.", NULL,
	        METRICS_CONN_PAUSED, 1);
	render_conn_events(m, out, "volunteerd_http_deadline_closes_total",
	                   "Connections closed by a deadline: waiting for a request (idle), "
	                   "its headers (header) or its body (body).",
	                   "deadline", METRICS_CONN_IDLE_DEADLINE, 3);
	render_conn_events(
	        m, out, "volunteerd_http_request_cap_closes_total",
	        "Connections told to close after VOLUNTEERD_MAX_REQUESTS_PER_CONN requests.", NULL,
	        METRICS_CONN_REQUEST_CAP, 1);
	render_conn_events(
	        m, out, "volunteerd_http_framing_refusals_total",
	        "Requests refused before they were read: framed ambiguously "
	        "(request smuggling, R11) or malformed, a method or a version not served "
	        "(400), an Expect (417); answered, or their connection closed.",
	        NULL, METRICS_CONN_FRAMING, 1);
	render_conn_events(m, out, "volunteerd_http_limit_refusals_total",
	                   "Requests refused before they were read for a limit (R7, R8): their "
	                   "request-target (414), their header fields (431) or their body (413).",
	                   "limit", METRICS_CONN_LIMIT_TARGET, 3);
	render_gauge(m, out, "volunteerd_db_pool_connections", "Database connections configured.",
	             "gauge", offsetof(struct worker_slot, db_size));
	render_gauge(m, out, "volunteerd_db_pool_connected", "Database connections up.", "gauge",
	             offsetof(struct worker_slot, db_connected));
	render_gauge(m, out, "volunteerd_db_pool_busy", "Database connections running a job.",
	             "gauge", offsetof(struct worker_slot, db_busy));
	render_gauge(m, out, "volunteerd_db_pool_queued", "Jobs waiting for a connection.", "gauge",
	             offsetof(struct worker_slot, db_queued));
	render_gauge(m, out, "volunteerd_db_jobs_total", "Database jobs completed.", "counter",
	             offsetof(struct worker_slot, db_jobs));
	render_gauge(m, out, "volunteerd_db_errors_total", "Database jobs that ended in an error.",
	             "counter", offsetof(struct worker_slot, db_errors));
	render_gauge(m, out, "volunteerd_db_timeouts_total",
	             "Database jobs refused or failed for time or load.", "counter",
	             offsetof(struct worker_slot, db_timeouts));
	render_gauge(m, out, "volunteerd_commit_batches_total",
	             "Group commits of check-ins and check-outs (statements sent).", "counter",
	             offsetof(struct worker_slot, batches));
	render_gauge(m, out, "volunteerd_commit_batch_calls_total",
	             "Check-ins and check-outs in those group commits.", "counter",
	             offsetof(struct worker_slot, batch_calls));
	render_gauge(m, out, "volunteerd_commit_beside_slow_total",
	             "Group commits sent while the one before had been out 50 ms (a lock wait).",
	             "counter", offsetof(struct worker_slot, batches_beside_slow));
	render_gauge(m, out, "volunteerd_session_cache_hits_total",
	             "Sessions resolved from the worker's cache.", "counter",
	             offsetof(struct worker_slot, session_hits));
	render_gauge(m, out, "volunteerd_session_cache_misses_total",
	             "Sessions looked up in the database.", "counter",
	             offsetof(struct worker_slot, session_misses));
	render_pool(m, out, "volunteerd_offload_threads",
	            "Threads of the worker's pool: hashing (VOLUNTEERD_HASH_THREADS) bounds the "
	            "Argon2id hashes run at once.",
	            "gauge", offsetof(struct pool_slot, threads));
	render_pool(m, out, "volunteerd_offload_running", "Tasks running on the pool now.", "gauge",
	            offsetof(struct pool_slot, running));
	render_pool(m, out, "volunteerd_offload_running_peak",
	            "The most tasks that have run on the pool at once since the worker started.",
	            "gauge", offsetof(struct pool_slot, peak));
	render_pool(m, out, "volunteerd_offload_queued", "Tasks waiting for a thread of the pool.",
	            "gauge", offsetof(struct pool_slot, queued));
	render_pool(m, out, "volunteerd_offload_tasks_total", "Tasks the pool has run.", "counter",
	            offsetof(struct pool_slot, ran));
	render_pool(m, out, "volunteerd_offload_refused_total",
	            "Tasks refused (503) with the pool's queue full: log-ins, password changes and "
	            "registrations (hashing), exports (export).",
	            "counter", offsetof(struct pool_slot, refused));
	/* Read by whichever worker answers: a stuck worker cannot say so itself. */
	evbuffer_add_printf(out, "# HELP volunteerd_worker_loop_age_seconds Time since the "
	                         "worker's event loop last turned (it turns at least once a "
	                         "second; more means it is stuck).\n"
	                         "# TYPE volunteerd_worker_loop_age_seconds gauge\n");
	uint64_t now = mono_ms();
	for (int i = 0; i < m->nworkers; i++) {
		uint64_t last = get(&m->workers[i].last_beat_ms);
		double age = last && now > last ? (double)(now - last) / 1000 : 0;
		evbuffer_add_printf(out, "volunteerd_worker_loop_age_seconds{worker=\"%d\"} %.3f\n",
		                    i, age);
	}
	static const char *const purged_tables[METRICS_PURGED_TABLES] = {
	        "idempotency_keys", "sessions", "login_attempts"};
	evbuffer_add_printf(out, "# HELP volunteerd_purged_rows_total Expired rows deleted by the "
	                         "retention job, by table.\n"
	                         "# TYPE volunteerd_purged_rows_total counter\n");
	for (int i = 0; i < METRICS_PURGED_TABLES; i++)
		evbuffer_add_printf(out, "volunteerd_purged_rows_total{table=\"%s\"} %llu\n",
		                    purged_tables[i], (unsigned long long)get(&m->purged[i]));
	evbuffer_add_printf(
	        out,
	        "# HELP volunteerd_worker_restarts_total Workers restarted after dying.\n"
	        "# TYPE volunteerd_worker_restarts_total counter\n"
	        "volunteerd_worker_restarts_total %llu\n",
	        (unsigned long long)get(&m->worker_restarts));
}
