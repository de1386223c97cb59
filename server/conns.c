/*
 * conns.c: a worker's client connections.
 *
 * evhttp 2.1 tells us nothing when it accepts or closes a connection, but it asks our bevcb
 * for each new connection's bufferevent, and it sets that bufferevent's callback argument to
 * its evhttp_connection.  So: the bevcb keeps a reference to the new bufferevent; later in the
 * same loop turn (evhttp has attached it by then, and read nothing yet) we read the
 * evhttp_connection from it and set a close callback.  A bufferevent that evhttp already freed
 * has had its callbacks cleared, and is only released.  This gives an exact count of open
 * connections, and a handle on each for the drain.
 */
#include "conns.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "log.h"
#include "worker.h"

struct conn {
	TAILQ_ENTRY(conn) link;
	struct conns *owner;
	struct evhttp_connection *evcon;
};

struct conns {
	struct worker *w;
	TAILQ_HEAD(, conn) open;
	int count;                  /* adopted and open */
	struct bufferevent **fresh; /* accepted, not yet adopted */
	int nfresh, cap;
	struct event *adopt_ev;
	struct event *resume_ev;
};

/* --- accepting ----------------------------------------------------------------------------- */

static void set_listening(struct conns *cs, int on)
{
	struct evhttp_bound_socket *bound[2] = {cs->w->bound_http, cs->w->bound_https};
	for (int i = 0; i < 2; i++) {
		struct evconnlistener *lev =
		        bound[i] ? evhttp_bound_socket_get_listener(bound[i]) : NULL;
		if (lev && on)
			evconnlistener_enable(lev);
		else if (lev)
			evconnlistener_disable(lev);
	}
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	set_listening(arg, 1);
}

/* libevent gives a listener's error callback the listener's argument, which evhttp has taken
 * for its own (the evhttp): this process's one worker is found here instead. */
static struct conns *process_conns;

/* EMFILE, ENFILE, ENOBUFS: pause accepting for a moment instead of spinning. */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct conns *cs = process_conns;
	(void)lev;
	(void)arg;
	if (!cs)
		return;
	int e = EVUTIL_SOCKET_ERROR();
	log_msg(LOG_WARN, "accept_error", "worker=%d error=%s", cs->w->index,
	        evutil_socket_error_to_string(e));
	set_listening(cs, 0);
	struct timeval tv = {0, 100000};
	evtimer_add(cs->resume_ev, &tv);
}

void conns_watch_listener(struct conns *cs, struct evconnlistener *lev)
{
	process_conns = cs;
	evconnlistener_set_error_cb(lev, on_accept_error);
}

/* --- connections --------------------------------------------------------------------------- */

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;
	struct conns *cs = c->owner;
	evhttp_connection_set_closecb(evcon, NULL, NULL); /* once only */
	TAILQ_REMOVE(&cs->open, c, link);
	cs->count--;
	free(c);
	worker_connection_closed(cs->w);
}

static void adopt(struct conns *cs, struct bufferevent *bev)
{
	bufferevent_event_cb eventcb = NULL;
	void *cbarg = NULL;
	bufferevent_getcb(bev, NULL, NULL, &eventcb, &cbarg);
	struct conn *c = eventcb && cbarg ? calloc(1, sizeof *c) : NULL;
	if (!c)
		return; /* evhttp has freed it already, or out of memory: untracked */
	c->evcon = cbarg;
	c->owner = cs;
	TAILQ_INSERT_TAIL(&cs->open, c, link);
	cs->count++;
	evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
	/* A TLS reply leaves as several records (several writes): without NODELAY, Nagle holds
	 * the last one for the client's delayed ACK, 40 ms a reply. */
	int one = 1;
	evutil_socket_t fd = bufferevent_getfd(bev);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (cs->w->draining) /* accepted just before the listener closed */
		evhttp_connection_set_timeout(c->evcon, 1);
}

static void on_adopt(evutil_socket_t fd, short what, void *arg)
{
	struct conns *cs = arg;
	(void)fd;
	(void)what;
	for (int i = 0; i < cs->nfresh; i++) {
		adopt(cs, cs->fresh[i]);
		bufferevent_decref(cs->fresh[i]);
	}
	cs->nfresh = 0;
}

struct bufferevent *conns_track(struct conns *cs, struct bufferevent *bev)
{
	if (!bev)
		return NULL; /* evhttp then makes its own, untracked */
	if (cs->nfresh == cs->cap) {
		int cap = cs->cap ? cs->cap * 2 : 64;
		struct bufferevent **grown = realloc(cs->fresh, (size_t)cap * sizeof *grown);
		if (!grown)
			return bev; /* untracked, still served */
		cs->fresh = grown;
		cs->cap = cap;
	}
	bufferevent_incref(bev);
	cs->fresh[cs->nfresh++] = bev;
	event_active(cs->adopt_ev, EV_TIMEOUT, 0);
	return bev;
}

int conns_open(const struct conns *cs)
{
	return cs ? cs->count : 0;
}

void conns_drain(struct conns *cs)
{
	struct conn *c;
	TAILQ_FOREACH(c, &cs->open, link)
	evhttp_connection_set_timeout(c->evcon, 1);
}

struct conns *conns_new(struct worker *w)
{
	struct conns *cs = calloc(1, sizeof *cs);
	if (!cs)
		return NULL;
	cs->w = w;
	TAILQ_INIT(&cs->open);
	cs->adopt_ev = event_new(w->base, -1, 0, on_adopt, cs);
	cs->resume_ev = evtimer_new(w->base, on_resume, cs);
	if (!cs->adopt_ev || !cs->resume_ev) {
		conns_free(cs);
		return NULL;
	}
	return cs;
}

void conns_free(struct conns *cs)
{
	if (!cs)
		return;
	for (int i = 0; i < cs->nfresh; i++)
		bufferevent_decref(cs->fresh[i]);
	struct conn *c;
	while ((c = TAILQ_FIRST(&cs->open)) != NULL) { /* normally none: evhttp closed them */
		TAILQ_REMOVE(&cs->open, c, link);
		free(c);
	}
	if (cs->adopt_ev)
		event_free(cs->adopt_ev);
	if (cs->resume_ev)
		event_free(cs->resume_ev);
	if (process_conns == cs)
		process_conns = NULL;
	free(cs->fresh);
	free(cs);
}
