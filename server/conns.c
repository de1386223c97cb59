/*
 * conns.c: a worker's client connections: tracking, caps, deadlines and refusals.
 *
 * Tracking.  evhttp 2.1 tells us nothing when it accepts or closes a connection, but it asks
 * our bevcb for each new connection's bufferevent, and it sets that bufferevent's callback
 * argument to its evhttp_connection.  So: the bevcb keeps a reference to the new
 * bufferevent; later in the same loop turn (evhttp has attached it by then, and read nothing
 * yet) we read the evhttp_connection from it and set a close callback.  A bufferevent that
 * evhttp already freed has had its callbacks cleared, and is only released.  This gives an
 * exact count of open connections, and a handle on each for the drain.
 *
 * Caps.  With VOLUNTEERD_MAX_CONNECTIONS open (adopted or not), the worker disables its
 * listeners, so that new connections wait in the kernel's backlog instead of being accepted
 * and dropped, and enables them when one closes.  A connection whose client address (IPv4,
 * or an IPv6 /64) already has VOLUNTEERD_MAX_CONNECTIONS_PER_IP open here is closed as it is
 * adopted, before a byte of it is read.
 *
 * Deadlines.  evhttp's own timeout restarts with every byte, so a client sending one byte now
 * and then would hold its connection for ever.  Each connection has one timer, set for the
 * phase it is in:
 *   WAIT     for a request, since the accept (the TLS handshake included) or since the last
 *            answer was written: VOLUNTEERD_HTTP_TIMEOUT, then closed without an answer
 *            (RFC 9112 §9.5: the client may just have gone)
 *   HEAD     since the request's first byte, until its header block ends:
 *            VOLUNTEERD_HEADER_TIMEOUT, then 408
 *   BODY     since the end of the headers, until evhttp hands the request over:
 *            VOLUNTEERD_BODY_TIMEOUT, then 408
 *   HANDLER  the request is ours until its answer is written: no timer (a client that reads
 *            slowly meets evhttp's write timeout; database work has its own deadlines)
 *   CLOSING  refused (below): the connection is ours, not evhttp's, until it closes, at
 *            the latest REFUSAL_LINGER_S after the refusal
 * The phase follows the bytes that arrive in the connection's input buffer (decrypted, for
 * TLS: a callback on the buffer sees them before evhttp parses them), the request callback and
 * the request's completion callback.  evhttp's read timeout is switched off, as these replace
 * it.  The timer never runs in HANDLER: freeing the connection then would free the request
 * under its handler.  Up to FRAMING_EMPTY_LINES empty lines (CRLF) before a request are no
 * request (RFC 9112 §2.2): they leave WAIT as it is, and are drained from the buffer while
 * evhttp waits for a request line, as evhttp would refuse them.
 *
 * Refusals (R7, R8, R11).  The same callback feeds every byte to a pre-parser
 * (common/framing.c) that frames the requests as evhttp will, and says where each head ends:
 * a request's first byte moves WAIT to HEAD, the end of its head HEAD to BODY (what evhttp
 * has taken from the buffer tells which request it is at).  It stops at a request that is
 * framed ambiguously (a bare LF, an obs-fold, a chunk size strtoll reads but RFC 9112 does
 * not...), that evhttp would answer itself with its own text/html page (a malformed request
 * line, a method or version it does not take, an Expect), or that is over a limit (its
 * request-target, its header fields, its route's body limit), and says the status.  When
 * evhttp is at that request (it has taken every byte before, and is not in a handler), it
 * is refused here, before evhttp reads its next byte: the bufferevent's callbacks become
 * ours, so that evhttp neither parses nor answers anything more, and reply.c writes the
 * answer (problem+json, Connection: close) into its output; once that is out, the write side
 * is closed, and what the client still sends is read and dropped until it closes, so that a
 * close with unread bytes does not reset the connection before the client has read the
 * answer.  The deadlines' 408 goes the same way.  A request behind the one evhttp is at is
 * never read: the one before it is answered with Connection: close, or, if evhttp does not
 * hand that one over in this loop turn, the connection is closed without an answer.  A
 * defect that arrives while a request is in its handler is refused once that answer is out
 * (unless it said Connection: close), before evhttp's next read.  Each answer written here
 * is counted with the requests answered (metrics.c), by its status.
 */
#include "conns.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "config.h"
#include "err.h"
#include "framing.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "router.h"
#include "throttle.h"
#include "worker.h"

enum phase { WAIT, HEAD, BODY, HANDLER, CLOSING };

/* R7: what a request-target and a head may hold (VOLUNTEERD_MAX_HEADERS bounds the head's
 * bytes). */
#define MAX_TARGET_BYTES  2000
#define MAX_HEADER_FIELDS 50
/* How long a refused connection may take to send its answer and see the client close: a
 * client that never reads, or keeps sending, must not hold it. */
#define REFUSAL_LINGER_S 2

/* The connections one client address has open here. */
struct addr_count {
	struct addr_count *next;
	uint64_t key;
	int open;
};

struct conn {
	TAILQ_ENTRY(conn) link;
	struct conns *owner;
	struct evhttp_connection *evcon;
	evutil_socket_t fd;
	struct evbuffer *in;             /* the bufferevent's input, which evhttp parses */
	struct evbuffer_cb_entry *watch; /* on_input, on `in` */
	struct event *deadline;
	enum phase phase;
	unsigned requests;       /* handed to the handlers */
	uint64_t received;       /* bytes put in `in` so far */
	struct framing framing;  /* the requests as they arrive, ahead of evhttp */
	struct addr_count *addr; /* NULL when addresses are not counted */
	int client_done;         /* CLOSING: the client has closed its side */
};

struct conns {
	struct worker *w;
	TAILQ_HEAD(, conn) open;
	int count;                  /* adopted and open */
	struct bufferevent **fresh; /* accepted, not yet adopted */
	int nfresh, cap;
	struct event *adopt_ev;
	struct conn **by_fd; /* the request callback finds its connection by its descriptor */
	int nby_fd;
	struct addr_count **addrs; /* hash buckets; NULL: no cap per address */
	unsigned addr_mask;
	const struct timeval *phase_tv[HANDLER]; /* libevent common timeouts: one queue each */
	const struct timeval *linger_tv;         /* CLOSING's, likewise */
	struct timeval write_tv;
	struct framing_limits limits; /* the pre-parser's, for every connection */
	int full, backoff, listening; /* at the cap; after an accept error; listeners enabled */
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
	cs->listening = on;
}

/* Accept while under the cap and not backing off after an accept error. */
static void update_listening(struct conns *cs)
{
	int full = cs->count + cs->nfresh >= cs->w->cfg->max_connections;
	if (full && !cs->full) {
		metrics_conn_event(cs->w->metrics, cs->w->index, METRICS_CONN_PAUSED);
		log_msg(LOG_DEBUG, "accept_paused", "worker=%d open=%d", cs->w->index,
		        cs->count + cs->nfresh);
	}
	cs->full = full;
	int on = !full && !cs->backoff;
	if (on != cs->listening)
		set_listening(cs, on);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct conns *cs = arg;
	(void)fd;
	(void)what;
	cs->backoff = 0;
	update_listening(cs);
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
	cs->backoff = 1;
	update_listening(cs);
	struct timeval tv = {0, 100000};
	evtimer_add(cs->resume_ev, &tv);
}

void conns_watch_listener(struct conns *cs, struct evconnlistener *lev)
{
	process_conns = cs;
	evconnlistener_set_error_cb(lev, on_accept_error);
}

/* --- counts per client address ------------------------------------------------------------- */

/* The client's address as a key, as the throttles count addresses (throttle_addr_key_bytes:
 * an IPv4 address, also one mapped into IPv6, or an IPv6 address's /64, which one client holds
 * whole: a phone's temporary addresses change within it).  -1 when it has none. */
static int peer_key(evutil_socket_t fd, uint64_t *key)
{
	struct sockaddr_storage ss = {0};
	socklen_t len = sizeof ss;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		*key = throttle_addr_key_bytes(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr);
	else if (ss.ss_family == AF_INET6)
		*key = throttle_addr_key_bytes(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	else
		return -1;
	return 0;
}

static struct addr_count **bucket_of(struct conns *cs, uint64_t key)
{
	return &cs->addrs[(key * 0x9E3779B97F4A7C15ull) >> 32 & cs->addr_mask];
}

/* key's count (0 when new); NULL when out of memory. */
static struct addr_count *addr_get(struct conns *cs, uint64_t key)
{
	struct addr_count **head = bucket_of(cs, key), *a;
	for (a = *head; a; a = a->next)
		if (a->key == key)
			return a;
	a = calloc(1, sizeof *a);
	if (a) {
		a->key = key;
		a->next = *head;
		*head = a;
	}
	return a;
}

/* One connection fewer; the count goes with its last. */
static void addr_put(struct conns *cs, struct addr_count *a)
{
	if (--a->open > 0)
		return;
	for (struct addr_count **p = bucket_of(cs, a->key); *p; p = &(*p)->next)
		if (*p == a) {
			*p = a->next;
			break;
		}
	free(a);
}

/* --- deadlines ----------------------------------------------------------------------------- */

static void arm(struct conn *c, enum phase p)
{
	c->phase = p;
	if (p == HANDLER)
		evtimer_del(c->deadline);
	else
		evtimer_add(c->deadline, c->owner->phase_tv[p]);
}

/* The timer fires in the next loop turn and closes the connection, unless a request is in its
 * handler by then. */
static void close_soon(struct conn *c)
{
	static const struct timeval now = {0, 0};
	evtimer_add(c->deadline, &now);
}

/* Feeds the framing pre-parser the bytes of `in` from `from` on; -1 at a defect. */
static int scan_framing(struct conn *c, struct evbuffer *in, size_t from)
{
	size_t len = evbuffer_get_length(in);
	while (from < len) {
		struct evbuffer_ptr at;
		struct evbuffer_iovec v[8];
		if (evbuffer_ptr_set(in, &at, from, EVBUFFER_PTR_SET) < 0)
			return 0;
		int n = evbuffer_peek(in, (ev_ssize_t)(len - from), &at, v, 8);
		if (n <= 0)
			return 0;
		for (int i = 0; i < n && i < 8 && from < len; i++) {
			size_t k = v[i].iov_len < len - from ? v[i].iov_len : len - from;
			if (framing_feed(&c->framing, v[i].iov_base, k) < 0)
				return -1;
			from += k;
		}
	}
	return 0;
}

/* Where in the stream the request evhttp reads next begins (it has taken all before). */
static uint64_t consumed(const struct conn *c)
{
	return c->received - evbuffer_get_length(c->in);
}

/* A request has begun that evhttp has not handed over yet (empty lines begin none). */
static int request_begun(const struct conn *c)
{
	return c->framing.requests > c->requests;
}

/* evhttp waits for a request line (WAIT, or between requests): the empty lines at the front
 * of `in`, which the pre-parser let pass and evhttp would refuse, are dropped.  The drain
 * calls on_input again, which ignores it. */
static void drop_empty_lines(struct conn *c)
{
	unsigned char two[2];
	for (int i = 0; i < FRAMING_EMPTY_LINES; i++) {
		if (evbuffer_copyout(c->in, two, 2) != 2 || two[0] != '\r' || two[1] != '\n')
			return;
		evbuffer_drain(c->in, 2);
	}
}

/* Whether evhttp is at the request that begins at `at` in the stream: it has taken every
 * byte before (maybe some of it too), and no request of the connection is in its handler. */
static int evhttp_is_at(const struct conn *c, uint64_t at)
{
	return c->phase != HANDLER && consumed(c) >= at;
}

/* --- refusals ------------------------------------------------------------------------------ */

/* A refused connection's bytes, read and dropped.  It may also be called by evhttp's own
 * deferred read, with evhttp's argument: it uses none. */
static void drop_input(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	(void)arg;
	evbuffer_drain(in, evbuffer_get_length(in));
}

/* The answer is out: close the write side (after a TLS close_notify), so that the client
 * reads it to its end; its own close then frees the connection, or the timer does. */
static void on_refusal_sent(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->client_done) {
		evhttp_connection_free(c->evcon);
		return;
	}
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	if (ssl)
		SSL_shutdown(ssl);
	shutdown(c->fd, SHUT_WR);
	bufferevent_disable(bev, EV_WRITE);
}

static void on_refusal_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	/* the client closed its side first: the answer still goes out */
	if (what == (BEV_EVENT_EOF | BEV_EVENT_READING) &&
	    evbuffer_get_length(bufferevent_get_output(bev))) {
		c->client_done = 1;
		return;
	}
	evhttp_connection_free(c->evcon); /* its close callback frees c */
}

/* Answer the request evhttp is at with e and close: the bufferevent is ours from here, so
 * that evhttp neither parses nor answers anything more. */
static void refuse(struct conn *c, const struct err *e)
{
	struct conns *cs = c->owner;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
	char rid[24];
	worker_next_rid(cs->w, rid, sizeof rid);
	c->phase = CLOSING;
	evtimer_add(c->deadline, cs->linger_tv);
	bufferevent_setcb(bev, drop_input, on_refusal_sent, on_refusal_event, c);
	bufferevent_setwatermark(bev, EV_READ | EV_WRITE, 0, 0);
	if (reply_refusal(bufferevent_get_output(bev), e, rid,
	                  bufferevent_openssl_get_ssl(bev) != NULL) < 0) {
		close_soon(c); /* out of memory: closed without an answer */
		return;
	}
	metrics_refusal(cs->w->metrics, app_err_status(e->code));
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* The pre-parser's verdict, as an answer. */
static void refuse_framing(struct conn *c)
{
	const struct framing *f = &c->framing;
	struct err e;
	if (f->limit)
		err_set(&e, app_err_from_status(f->status), f->field, "%s (limit: %llu)", f->why,
		        (unsigned long long)f->limit);
	else
		err_set(&e, app_err_from_status(f->status), f->field, "%s", f->why);
	refuse(c, &e);
}

/* A refused request is on its way: count it, and answer it if evhttp is at it; else close
 * the connection unless evhttp hands a request over first (its handler then answers with
 * Connection: close) or one is in its handler (the refusal waits for its answer). */
static void framing_refused(struct conn *c)
{
	struct worker *w = c->owner->w;
	const struct framing *f = &c->framing;
	enum metrics_conn counted = f->status == 413   ? METRICS_CONN_LIMIT_BODY
	                            : f->status == 414 ? METRICS_CONN_LIMIT_TARGET
	                            : f->status == 431 ? METRICS_CONN_LIMIT_HEADERS
	                                               : METRICS_CONN_FRAMING;
	char *peer = NULL;
	ev_uint16_t port = 0;
	metrics_conn_event(w->metrics, w->index, counted);
	evhttp_connection_get_peer(c->evcon, &peer, &port);
	log_msg(LOG_INFO, "request_refused", "worker=%d peer=%s request=%u status=%d field=%s",
	        w->index, peer ? peer : "", f->bad, f->status, f->field);
	if (evhttp_is_at(c, f->bad_at))
		refuse_framing(c);
	else if (c->phase != HANDLER)
		close_soon(c);
}

/* Between requests: wait for the next, or time the one already arriving (pipelined): its head
 * has ended when the latest head the pre-parser saw ends past its start.  A refused request
 * next is refused at once: evhttp reads it as soon as this completion callback returns, and
 * the timer, made active now, runs before that read (the callbacks run in order). */
static void await_request(struct conn *c)
{
	drop_empty_lines(c);
	if (c->framing.bad) {
		c->phase = WAIT; /* no request in a handler now: the timer may act */
		if (evhttp_is_at(c, c->framing.bad_at))
			event_active(c->deadline, EV_TIMEOUT, 0);
		else
			close_soon(c);
	} else if (!request_begun(c)) {
		arm(c, WAIT);
	} else {
		arm(c, c->framing.head_end > consumed(c) ? BODY : HEAD);
	}
}

/* Bytes arrived: a request's first starts its header deadline, its headers' end the body's. */
static void on_input(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	c->received += info->n_added;
	if (!info->n_added || c->framing.bad || c->phase == CLOSING)
		return;
	size_t len = evbuffer_get_length(in);
	int bad = scan_framing(c, in, info->n_added < len ? len - info->n_added : 0) < 0;
	if (c->phase == WAIT) /* before a refusal too: evhttp is at the request after them */
		drop_empty_lines(c);
	if (bad) {
		framing_refused(c);
		return;
	}
	if (c->phase == WAIT && request_begun(c))
		arm(c, HEAD);
	if (c->phase == HEAD && c->framing.head_end > consumed(c))
		arm(c, BODY);
}

static void on_answered(struct evhttp_request *ev, void *arg)
{
	(void)ev;
	await_request(arg);
}

/* A request's head or body missed its deadline: 408 (RFC 9110 §15.5.9). */
static void refuse_late(struct conn *c)
{
	static const char *const part[HANDLER] = {"", "head", "body"};
	const struct config *cfg = c->owner->w->cfg;
	struct err e;
	err_set(&e, APP_ETIMEOUT, NULL, "the request's %s did not arrive within %d s",
	        part[c->phase], c->phase == HEAD ? cfg->header_timeout_s : cfg->body_timeout_s);
	refuse(c, &e);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	static const enum metrics_conn counter[HANDLER] = {METRICS_CONN_IDLE_DEADLINE,
	                                                   METRICS_CONN_HEADER_DEADLINE,
	                                                   METRICS_CONN_BODY_DEADLINE};
	static const char *const name[HANDLER] = {"idle", "header", "body"};
	struct conn *c = arg;
	struct worker *w = c->owner->w;
	(void)fd;
	(void)what;
	if (c->phase == CLOSING) { /* the refusal's bound */
		evhttp_connection_free(c->evcon);
		return;
	}
	if (c->phase == HANDLER) /* cannot be: arm() stopped the timer */
		return;
	if (c->framing.bad) { /* close_soon, or await_request: counted already */
		if (evhttp_is_at(c, c->framing.bad_at))
			refuse_framing(c);
		else
			evhttp_connection_free(c->evcon);
		return;
	}
	metrics_conn_event(w->metrics, w->index, counter[c->phase]);
	if (c->phase == WAIT) {
		evhttp_connection_free(c->evcon); /* its close callback frees c */
		return;
	}
	char *peer = NULL;
	ev_uint16_t port = 0;
	evhttp_connection_get_peer(c->evcon, &peer, &port);
	log_msg(LOG_INFO, "conn_deadline", "worker=%d deadline=%s peer=%s requests=%u", w->index,
	        name[c->phase], peer ? peer : "", c->requests);
	refuse_late(c);
}

/* --- connections --------------------------------------------------------------------------- */

static int grow_by_fd(struct conns *cs, evutil_socket_t fd)
{
	int n = cs->nby_fd ? cs->nby_fd : 1024;
	while (n <= fd)
		n *= 2;
	struct conn **grown = realloc(cs->by_fd, (size_t)n * sizeof *grown);
	if (!grown)
		return -1;
	memset(grown + cs->nby_fd, 0, (size_t)(n - cs->nby_fd) * sizeof *grown);
	cs->by_fd = grown;
	cs->nby_fd = n;
	return 0;
}

static void forget(struct conns *cs, struct conn *c)
{
	TAILQ_REMOVE(&cs->open, c, link);
	cs->count--;
	cs->by_fd[c->fd] = NULL;
	evbuffer_remove_cb_entry(c->in, c->watch);
	event_free(c->deadline);
	if (c->addr)
		addr_put(cs, c->addr);
	free(c);
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;
	struct conns *cs = c->owner;
	evhttp_connection_set_closecb(evcon, NULL, NULL); /* once only */
	forget(cs, c);
	update_listening(cs);
	worker_connection_closed(cs->w);
}

/* evcon's record, its deadline running; NULL when out of memory. */
static struct conn *conn_new(struct conns *cs, struct evhttp_connection *evcon,
                             struct bufferevent *bev, evutil_socket_t fd)
{
	if (fd >= cs->nby_fd && grow_by_fd(cs, fd) < 0)
		return NULL;
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->in = bufferevent_get_input(bev);
	c->deadline = evtimer_new(cs->w->base, on_deadline, c);
	c->watch = c->deadline ? evbuffer_add_cb(c->in, on_input, c) : NULL;
	if (!c->watch) {
		if (c->deadline)
			event_free(c->deadline);
		free(c);
		return NULL;
	}
	c->owner = cs;
	c->evcon = evcon;
	c->fd = fd;
	cs->by_fd[fd] = c;
	TAILQ_INSERT_TAIL(&cs->open, c, link);
	cs->count++;
	evhttp_connection_set_closecb(evcon, on_conn_close, c);
	bufferevent_set_timeouts(bev, NULL, &cs->write_tv); /* reading is timed by the phases */
	framing_init(&c->framing, &cs->limits);
	c->received = evbuffer_get_length(c->in);
	if (scan_framing(c, c->in, 0) < 0) { /* nothing is read yet, normally */
		drop_empty_lines(c);
		framing_refused(c);
	} else {
		await_request(c);
	}
	return c;
}

/* Take a just-accepted connection in hand, or close it: its address has its share open, or
 * memory ran out (it is not served without its limits). */
static void adopt(struct conns *cs, struct bufferevent *bev)
{
	bufferevent_event_cb eventcb = NULL;
	void *cbarg = NULL;
	bufferevent_getcb(bev, NULL, NULL, &eventcb, &cbarg);
	if (!eventcb || !cbarg)
		return; /* evhttp has freed it already */
	struct evhttp_connection *evcon = cbarg;
	const struct config *cfg = cs->w->cfg;
	evutil_socket_t fd = bufferevent_getfd(bev);
	struct addr_count *a = NULL;
	uint64_t key;
	if (cs->addrs && fd >= 0 && peer_key(fd, &key) == 0 && (a = addr_get(cs, key)) != NULL) {
		if (a->open >= cfg->max_connections_per_ip) {
			metrics_conn_event(cs->w->metrics, cs->w->index, METRICS_CONN_REFUSED);
			evhttp_connection_free(evcon);
			return;
		}
		a->open++;
	}
	struct conn *c = fd >= 0 ? conn_new(cs, evcon, bev, fd) : NULL;
	if (!c) {
		if (a)
			addr_put(cs, a);
		evhttp_connection_free(evcon);
		return;
	}
	c->addr = a;
	/* A TLS reply leaves as several records (several writes): without NODELAY, Nagle holds
	 * the last one for the client's delayed ACK, 40 ms a reply. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (cs->w->draining) /* accepted just before the listener closed */
		evhttp_connection_set_timeout(evcon, 1);
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
	update_listening(cs);
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
	update_listening(cs);
	return bev;
}

int conns_request(struct conns *cs, struct evhttp_request *ev, const char **field, const char **why)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	struct conn *c = fd >= 0 && fd < cs->nby_fd ? cs->by_fd[fd] : NULL;
	if (!c || c->evcon != evcon)
		return 0; /* untracked */
	arm(c, HANDLER);
	evhttp_request_set_on_complete_cb(ev, on_answered, c);
	unsigned n = ++c->requests, bad = c->framing.bad;
	/* evhttp has taken the request's bytes from `in`: it is the refused one (or after it)
	 * when they reach past the refused request's first byte.  That cannot be (it is refused
	 * before evhttp reads it): kept so that, should it ever be, no handler runs it. */
	if (bad && consumed(c) > c->framing.bad_at) {
		*field = c->framing.field;
		*why = c->framing.why;
		return -1;
	}
	int max = cs->w->cfg->max_requests_per_conn;
	int last = max && n >= (unsigned)max;
	if (last || bad) /* bad: the ambiguous request behind this one is not to be read */
		evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");
	if (last)
		metrics_conn_event(cs->w->metrics, cs->w->index, METRICS_CONN_REQUEST_CAP);
	return 0;
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
	const struct config *cfg = w->cfg;
	struct conns *cs = calloc(1, sizeof *cs);
	if (!cs)
		return NULL;
	cs->w = w;
	TAILQ_INIT(&cs->open);
	cs->listening = 1;
	cs->write_tv.tv_sec = cfg->http_timeout_s;
	const int secs[HANDLER] = {cfg->http_timeout_s, cfg->header_timeout_s, cfg->body_timeout_s};
	for (int p = WAIT; p < HANDLER; p++) {
		struct timeval tv = {secs[p], 0};
		if (!(cs->phase_tv[p] = event_base_init_common_timeout(w->base, &tv)))
			goto fail;
	}
	struct timeval linger = {REFUSAL_LINGER_S, 0};
	if (!(cs->linger_tv = event_base_init_common_timeout(w->base, &linger)))
		goto fail;
	cs->limits = (struct framing_limits){
	        .max_head = (size_t)cfg->max_header_bytes,
	        .max_fields = MAX_HEADER_FIELDS,
	        .max_target = MAX_TARGET_BYTES,
	        .max_body = (uint64_t)cfg->max_body_bytes,
	        .min_body = router_min_body_limit((uint64_t)cfg->max_body_bytes),
	        .body_limit = router_body_limit,
	};
	cs->adopt_ev = event_new(w->base, -1, 0, on_adopt, cs);
	cs->resume_ev = evtimer_new(w->base, on_resume, cs);
	if (!cs->adopt_ev || !cs->resume_ev)
		goto fail;
	if (cfg->max_connections_per_ip > 0) {
		unsigned n = 64;
		while (n < (unsigned)cfg->max_connections && n < 1u << 20)
			n *= 2;
		if (!(cs->addrs = calloc(n, sizeof *cs->addrs)))
			goto fail;
		cs->addr_mask = n - 1;
	}
	return cs;
fail:
	conns_free(cs);
	return NULL;
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
		event_free(c->deadline);
		free(c);
	}
	for (unsigned i = 0; cs->addrs && i <= cs->addr_mask; i++)
		while (cs->addrs[i]) {
			struct addr_count *a = cs->addrs[i];
			cs->addrs[i] = a->next;
			free(a);
		}
	if (cs->adopt_ev)
		event_free(cs->adopt_ev);
	if (cs->resume_ev)
		event_free(cs->resume_ev);
	if (process_conns == cs)
		process_conns = NULL;
	free(cs->addrs);
	free(cs->by_fd);
	free(cs->fresh);
	free(cs);
}
