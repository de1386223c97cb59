/*
 * offload.c: the thread pool behind offload.h.
 *
 * Two lists under one mutex: `todo` (taken by threads) and `finished` (taken by the loop).
 * A thread that finishes a task appends it to `finished` and writes to an eventfd; the
 * loop's read event drains `finished` and runs each done.  libevent is never called from
 * a pool thread, so libevent needs no thread support.
 *
 * `st.running` counts the tasks inside work() now and `st.peak_running` its highest value:
 * the pool's own account of how much work it ran at once (R18 caps the hashes this way).
 */
#include "offload.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct offload {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct offload_task *todo, *todo_tail;
	struct offload_task *finished, *finished_tail;
	struct offload_stats st; /* queued, running, ...: the figures offload_get_stats copies */
	int max_queued;
	int stopping;
	int efd;
	struct event *ev;
	pthread_t *threads;
	int nthreads;
};

static void push(struct offload_task **head, struct offload_task **tail, struct offload_task *t)
{
	t->next = NULL;
	if (*tail)
		(*tail)->next = t;
	else
		*head = t;
	*tail = t;
}

static struct offload_task *pop_all(struct offload_task **head, struct offload_task **tail)
{
	struct offload_task *all = *head;
	*head = *tail = NULL;
	return all;
}

static void signal_loop(struct offload *o)
{
	uint64_t one = 1;
	ssize_t n = write(o->efd, &one, sizeof one);
	(void)n; /* the counter only saturates; a pending wake-up is enough */
}

static void *thread_main(void *arg)
{
	struct offload *o = arg;
	pthread_mutex_lock(&o->lock);
	for (;;) {
		while (!o->todo && !o->stopping)
			pthread_cond_wait(&o->wake, &o->lock);
		if (o->stopping)
			break;
		struct offload_task *t = o->todo;
		o->todo = t->next;
		if (!o->todo)
			o->todo_tail = NULL;
		o->st.queued--;
		if (++o->st.running > o->st.peak_running)
			o->st.peak_running = o->st.running;
		pthread_mutex_unlock(&o->lock);
		t->work(t);
		t->ran = 1;
		pthread_mutex_lock(&o->lock);
		o->st.running--;
		o->st.ran++;
		push(&o->finished, &o->finished_tail, t);
		signal_loop(o);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

static void run_done(struct offload_task *list)
{
	while (list) {
		struct offload_task *next = list->next;
		list->done(list, list->ran);
		list = next;
	}
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct offload *o = arg;
	uint64_t n;
	(void)what;
	if (read(fd, &n, sizeof n) < 0) {
		/* EAGAIN: another wake-up already drained the counter; the list is what counts */
	}
	pthread_mutex_lock(&o->lock);
	struct offload_task *done = pop_all(&o->finished, &o->finished_tail);
	pthread_mutex_unlock(&o->lock);
	run_done(done);
}

struct offload *offload_new(struct event_base *base, int nthreads, int max_queued)
{
	struct offload *o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->wake, NULL);
	o->max_queued = max_queued;
	o->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	o->threads = calloc((size_t)nthreads, sizeof *o->threads);
	if (o->efd < 0 || !o->threads)
		goto fail;
	o->ev = event_new(base, o->efd, EV_READ | EV_PERSIST, on_wake, o);
	if (!o->ev || event_add(o->ev, NULL) < 0)
		goto fail;
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&o->threads[i], NULL, thread_main, o) != 0)
			goto fail;
		o->st.threads = ++o->nthreads;
	}
	return o;
fail:
	offload_free(o);
	return NULL;
}

void offload_free(struct offload *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	o->stopping = 1;
	pthread_cond_broadcast(&o->wake);
	pthread_mutex_unlock(&o->lock);
	for (int i = 0; i < o->nthreads; i++)
		pthread_join(o->threads[i], NULL);
	/* Threads are gone: finished tasks first, then those that never ran. */
	run_done(pop_all(&o->finished, &o->finished_tail));
	run_done(pop_all(&o->todo, &o->todo_tail));
	if (o->ev)
		event_free(o->ev);
	if (o->efd >= 0)
		close(o->efd);
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->wake);
	free(o->threads);
	free(o);
}

void offload_submit(struct offload *o, struct offload_task *t)
{
	t->ran = 0;
	pthread_mutex_lock(&o->lock);
	if (o->st.queued >= o->max_queued || o->stopping) {
		/* Refused: complete through the loop like any other task, never re-entrantly. */
		o->st.refused++;
		push(&o->finished, &o->finished_tail, t);
		signal_loop(o);
	} else {
		push(&o->todo, &o->todo_tail, t);
		o->st.queued++;
		pthread_cond_signal(&o->wake);
	}
	pthread_mutex_unlock(&o->lock);
}

void offload_get_stats(struct offload *o, struct offload_stats *s)
{
	pthread_mutex_lock(&o->lock);
	*s = o->st;
	pthread_mutex_unlock(&o->lock);
}
