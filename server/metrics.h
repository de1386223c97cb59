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

/* Map the shared region for up to nworkers workers; NULL on failure.  Lives until exit. */
struct metrics *metrics_new(int nworkers);
void metrics_request(struct metrics *m, int route_index, int status, uint64_t dur_us);
/* Store worker's pool figures (gauges and counters) in its slot. */
void metrics_worker_db(struct metrics *m, int worker, const struct db_stats *s);
/* Store the number of open client connections of worker. */
void metrics_worker_connections(struct metrics *m, int worker, int open);
void metrics_worker_start(struct metrics *m, int worker);
/* Append the Prometheus text exposition of everything to out. */
void metrics_render(struct metrics *m, struct evbuffer *out);

#endif
