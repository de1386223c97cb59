/*
 * offload.h: a small thread pool for work that must not run on the event loop (password
 * hashing, file exports).  Work runs on a pool thread; its completion runs on the loop.
 *
 * Ownership: the caller owns the struct offload_task and keeps it alive until `done`
 * has run; done runs exactly once, on the event loop thread, never inside offload_submit.
 * `work` must not touch libevent or anything the loop owns.
 */
#ifndef VD_OFFLOAD_H
#define VD_OFFLOAD_H

struct event_base;
struct offload;
struct offload_task;

typedef void (*offload_work_fn)(struct offload_task *t);
typedef void (*offload_done_fn)(struct offload_task *t, int ran); /* ran = 0: refused */

struct offload_task {
	offload_work_fn work;
	offload_done_fn done;
	void *arg;
	struct offload_task *next; /* private */
	int ran;                   /* private */
};

/* Start nthreads threads for base; queue at most max_queued tasks.  NULL on failure. */
struct offload *offload_new(struct event_base *base, int nthreads, int max_queued);
/* Stop the threads (waiting for running work) and complete queued tasks with ran = 0. */
void offload_free(struct offload *o);
/* Queue t.  When the queue is full, done runs soon with ran = 0 (the caller answers 503). */
void offload_submit(struct offload *o, struct offload_task *t);

/* A pool's figures, for /metrics.  `peak_running` is a high-water mark: the most tasks that
 * have run at once since offload_new (never more than `threads`). */
struct offload_stats {
	int threads;
	int running;
	int peak_running;
	int queued;
	unsigned long long ran;     /* tasks whose work has run */
	unsigned long long refused; /* tasks completed with ran = 0: queue full or pool stopping */
};
void offload_get_stats(struct offload *o, struct offload_stats *s);

#endif
