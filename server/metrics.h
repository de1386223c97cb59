/*
 * metrics.h: Prometheus counters shared by all worker processes.
 *
 * The parent maps one shared anonymous region before forking, so any worker can render
 * the totals of all workers for /metrics.  Counters are updated with atomic adds; gauges
 * of a worker's pool live in that worker's own slot.
 */
#ifndef VD_METRICS_H
#define VD_METRICS_H

#include <stdint.h>

struct metrics;
struct evbuffer;
struct db_stats;
struct offload_stats;

/* Map the shared region for up to nworkers workers; NULL on failure.  Lives until exit. */
struct metrics *metrics_new(int nworkers);
void metrics_request(struct metrics *m, int route_index, int status, uint64_t dur_us);
/* A request conns.c answered itself before evhttp read it (a refusal or a deadline's 408):
 * counted with the requests of the unmatched route (its route is not looked up), untimed. */
void metrics_refusal(struct metrics *m, int status);
/* Store worker's pool figures (gauges and counters) in its slot. */
void metrics_worker_db(struct metrics *m, int worker, const struct db_stats *s);
/* Store the number of open client connections of worker. */
void metrics_worker_connections(struct metrics *m, int worker, int open);
void metrics_worker_start(struct metrics *m, int worker);
/* The worker's event loop turns: called once it listens, then every second.  The parent reads
 * the count to tell systemd when the server is ready and whether every worker is alive. */
void metrics_worker_beat(struct metrics *m, int worker);
uint64_t metrics_worker_beats(struct metrics *m, int worker);
/* Store worker's group-commit and session-cache counters (batch.c, sessions.c). */
void metrics_worker_batching(struct metrics *m, int worker, uint64_t batches, uint64_t calls,
                             uint64_t beside_slow, uint64_t session_hits, uint64_t session_misses);
/* The offload pools of a worker (worker.h), labelled pool="hashing" and pool="export". */
enum metrics_pool { METRICS_POOL_HASHING, METRICS_POOL_EXPORT, METRICS_POOLS };
/* Store one pool's figures in worker's slot (R18): its threads, the tasks running and queued,
 * the most that ran at once (a high-water mark) and the tasks it refused (503). */
void metrics_worker_pool(struct metrics *m, int worker, enum metrics_pool pool,
                         const struct offload_stats *s);
/* A log-out committed: every worker of this server drops its session cache when it next
 * resolves a token (sessions.c), so the token is refused everywhere at once.  The shared
 * region is the only memory the workers share, hence this counter lives here. */
void metrics_session_revoked(struct metrics *m);
uint64_t metrics_session_revocations(struct metrics *m);
/* The wrong check-in code throttle (common/throttle.h, h_attendance.c), kept here because
 * the shared region is the only memory the workers share: a limit for the whole server. */
struct throttle *metrics_code_throttle(struct metrics *m);
/* The anonymous registration throttle (per client address, h_volunteers.c), likewise. */
struct throttle *metrics_register_throttle(struct metrics *m);
/* The retention job's deletions (jobs.c), by table: counted server-wide. */
enum metrics_purged {
	METRICS_PURGED_IDEMPOTENCY_KEYS,
	METRICS_PURGED_SESSIONS,
	METRICS_PURGED_LOGIN_ATTEMPTS,
	METRICS_PURGED_TABLES
};
void metrics_purged(struct metrics *m, enum metrics_purged table, uint64_t rows);
/* The connection limits of conns.c, counted per worker. */
enum metrics_conn {
	METRICS_CONN_REFUSED,         /* closed at accept: its address had its share open */
	METRICS_CONN_PAUSED,          /* accepting stopped: the worker had its cap open */
	METRICS_CONN_IDLE_DEADLINE,   /* closed waiting for a request */
	METRICS_CONN_HEADER_DEADLINE, /* closed with a request's headers unfinished */
	METRICS_CONN_BODY_DEADLINE,   /* closed with a request's body unfinished */
	METRICS_CONN_REQUEST_CAP,     /* told to close after its last allowed request */
	METRICS_CONN_FRAMING,         /* a request framed ambiguously, malformed or not served:
	                                 refused or closed (R11) */
	METRICS_CONN_LIMIT_TARGET,    /* a request refused for its request-target's length (414) */
	METRICS_CONN_LIMIT_HEADERS,   /* ... for its header fields (431) */
	METRICS_CONN_LIMIT_BODY,      /* ... for its body's size (413) */
	METRICS_CONN_EVENTS
};
void metrics_conn_event(struct metrics *m, int worker, enum metrics_conn event);
/* Append the Prometheus text exposition of everything to out. */
void metrics_render(struct metrics *m, struct evbuffer *out);

#endif
