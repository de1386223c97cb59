/*
 * worker.h: one worker process: an event loop serving HTTP and HTTPS with evhttp, and a
 * pool of database connections.  worker_run() returns the process's exit code.
 */
#ifndef VD_WORKER_H
#define VD_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

struct config;
struct secrets;
struct metrics;
struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct conns;
struct db_pool;
struct offload;
struct sessions;
struct batch;
typedef struct ssl_ctx_st SSL_CTX;

struct worker {
	const struct config *cfg;
	const struct secrets *secrets;
	int index;
	unsigned pid; /* getpid(), once: a request id carries it */
	struct event_base *base;
	struct evhttp *http;
	struct evhttp *https;
	struct evhttp_bound_socket *bound_http;
	struct evhttp_bound_socket *bound_https;
	struct conns *conns; /* conns.c: the open connections */
	SSL_CTX *tls;        /* replaced on SIGHUP; connections keep a reference to the old */
	struct db_pool *db;
	struct sessions *sessions; /* session cache and batched look-ups (sessions.c) */
	struct batch *batch;       /* group commit of check-ins and check-outs (batch.c) */
	/* Work off the loop, in two pools so that neither waits behind the other (R18):
	 * Argon2id hashing (config_hash_threads: one hash per core server-wide) and exports. */
	struct offload *hashing;
	struct offload *exports;
	struct netranges trusted_proxies; /* VOLUNTEERD_TRUSTED_PROXIES, parsed */
	/* An Argon2id hash of a random secret: log-ins for unknown logins verify against it,
	 * so that their timing matches real ones. */
	char dummy_hash[160];
	struct metrics *metrics;
	int draining;
	int inflight; /* requests received and not yet replied */
	uint64_t next_rid;
	struct event *drain_timer;
};

int worker_run(const struct config *cfg, const struct secrets *secrets, int index,
               struct metrics *metrics);
/* A new request id (pid, worker, count: unique across the server's processes) into rid. */
void worker_next_rid(struct worker *w, char *rid, size_t n);
/* Called by reply.c after each reply: ends the loop when draining and idle. */
void worker_request_done(struct worker *w);
/* Called by http.c when a connection closes: the same check. */
void worker_connection_closed(struct worker *w);

#endif
