/*
 * http.c: evhttp configuration and the request entry point.
 *
 * Owns the evhttp objects and the listeners of one worker.  Limits are always explicit
 * (libevent's defaults are unlimited): header size, body size (the largest any route
 * allows; routes with a smaller limit are checked here too), the write timeout, the methods
 * we route, and descriptors for the connection cap.  The connections themselves, their caps,
 * their deadlines and the requests refused before evhttp reads them are conns.c's.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "conns.h"
#include "err.h"
#include "log.h"
#include "monotime.h"
#include "reply.h"
#include "req.h"
#include "router.h"
#include "tls.h"
#include "urlform.h"
#include "worker.h"

int http_bind_socket(const char *addr, int port, int do_listen, struct err *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		len = sizeof *in4;
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		len = sizeof *in6;
	} else {
		return err_set(err, APP_EINVALID, "VOLUNTEERD_BIND", "not an IP address: %s", addr);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, APP_EINTERNAL, NULL, "socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || (do_listen && listen(fd, 1024) < 0)) {
		err_set(err, APP_EINTERNAL, NULL, "cannot listen on %s:%d: %s", addr, port,
		        strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int method_of(enum evhttp_cmd_type t, const char **name)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		*name = "GET";
		return M_GET;
	case EVHTTP_REQ_POST:
		*name = "POST";
		return M_POST;
	case EVHTTP_REQ_PUT:
		*name = "PUT";
		return M_PUT;
	case EVHTTP_REQ_DELETE:
		*name = "DELETE";
		return M_DELETE;
	case EVHTTP_REQ_PATCH:
		*name = "PATCH";
		return M_PATCH;
	case EVHTTP_REQ_OPTIONS:
		*name = "OPTIONS";
		return M_OPTIONS;
	case EVHTTP_REQ_HEAD:
		*name = "HEAD";
		return M_HEAD;
	default:
		*name = "OTHER";
		return 0;
	}
}

/* A client's X-Request-Id is kept when short and plain, so traces join up. */
static void set_rid(struct req *r)
{
	const char *given = req_header(r, "X-Request-Id");
	if (given && strlen(given) < sizeof r->rid &&
	    strspn(given, "abcdefghijklmnopqrstuvwxyz"
	                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                  "0123456789-_.") == strlen(given) &&
	    given[0]) {
		strcpy(r->rid, given);
		return;
	}
	worker_next_rid(r->w, r->rid, sizeof r->rid);
}

/* Request smuggling (R11): Debian's libevent 2.1 refuses Content-Length beside
 * Transfer-Encoding, but takes the first of two Content-Length headers and a signed one
 * ("+5").  A proxy in front may have framed the request by another, so such a request is
 * refused and its connection closed, as RFC 9112 §6.3 asks; so is a %00 in the target, which
 * a C string would end at.  conns.c refuses these too, before evhttp reads them, and what only
 * the raw bytes show (bare LF, obs-fold, chunk syntax, trailers); this check on the parsed
 * request stays for the %00 and for the connections conns.c could not track. */
static int framing_is_ambiguous(struct evhttp_request *ev, const char **field, const char **why)
{
	int lengths = 0, encodings = 0;
	const struct evkeyval *h;
	const char *target = evhttp_request_get_uri(ev);
	if (target && strstr(target, "%00")) {
		*field = "request-target";
		*why = "a %00 in the request target";
		return 1;
	}
	TAILQ_FOREACH(h, evhttp_request_get_input_headers(ev), next)
	{
		if (!evutil_ascii_strcasecmp(h->key, "Transfer-Encoding") &&
		    (++encodings > 1 || evutil_ascii_strcasecmp(h->value, "chunked"))) {
			*field = "Transfer-Encoding";
			*why = "one Transfer-Encoding, exactly chunked, or none";
			return 1;
		}
		if (!evutil_ascii_strcasecmp(h->key, "Content-Length") &&
		    (++lengths > 1 || !h->value[0] ||
		     strspn(h->value, "0123456789") != strlen(h->value))) {
			*field = "Content-Length";
			*why = "one Content-Length, of digits only, or none";
			return 1;
		}
	}
	if (lengths && encodings) {
		*field = "Transfer-Encoding";
		*why = "Transfer-Encoding beside Content-Length";
		return 1;
	}
	return 0;
}

/* The value of every header named name, joined by commas (as RFC 9110 allows for a list
 * header sent more than once), or NULL when there is none or they do not fit. */
static const char *joined_header(struct evhttp_request *ev, const char *name, char *buf, size_t n)
{
	const struct evkeyval *h;
	size_t used = 0;
	TAILQ_FOREACH(h, evhttp_request_get_input_headers(ev), next)
	{
		if (evutil_ascii_strcasecmp(h->key, name))
			continue;
		int w = snprintf(buf + used, n - used, "%s%s", used ? "," : "", h->value);
		if (w < 0 || (size_t)w >= n - used)
			return NULL;
		used += (size_t)w;
	}
	return used ? buf : NULL;
}

/* Who the client is and how it reached us: the socket's peer and port, unless the peer is a
 * reverse proxy of VOLUNTEERD_TRUSTED_PROXIES: then X-Forwarded-For names the client and
 * X-Forwarded-Proto (its last value) the scheme the client used. */
static void set_client(struct req *r)
{
	char *peer = NULL;
	ev_uint16_t port = 0;
	struct evhttp_connection *c = evhttp_request_get_connection(r->ev);
	if (c)
		evhttp_connection_get_peer(c, &peer, &port);
	r->https = r->tls;
	snprintf(r->client_ip, sizeof r->client_ip, "%s", peer ? peer : "");
	if (!peer || !r->w->trusted_proxies.n || !netranges_contain(&r->w->trusted_proxies, peer))
		return;
	char forwarded[2048];
	netranges_client(&r->w->trusted_proxies, peer,
	                 joined_header(r->ev, "X-Forwarded-For", forwarded, sizeof forwarded),
	                 r->client_ip, sizeof r->client_ip);
	const char *proto = joined_header(r->ev, "X-Forwarded-Proto", forwarded, sizeof forwarded);
	if (proto) {
		const char *last = strrchr(proto, ',');
		last = last ? last + 1 : proto;
		last += strspn(last, " \t");
		r->https = evutil_ascii_strncasecmp(last, "https", 5) == 0 &&
		           (last[5] == '\0' || last[5] == ' ' || last[5] == '\t');
	}
}

static void on_request(struct evhttp_request *ev, void *arg, int tls)
{
	struct worker *w = arg;
	const char *field = NULL, *why = NULL;
	/* before any answer: it ends the request's deadlines */
	int refused = conns_request(w->conns, ev, &field, &why) < 0;
	struct req *r = calloc(1, sizeof *r);
	if (!r) {
		evhttp_send_error(ev, 503, "Service Unavailable");
		return;
	}
	r->ev = ev;
	r->w = w;
	r->tls = tls;
	r->route_index = -1;
	r->t0_us = mono_us();
	TAILQ_INIT(&r->query);
	w->inflight++;
	set_rid(r);
	set_client(r);
	int method = method_of(evhttp_request_get_command(ev), &r->method);

	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	r->path = strdup(path && *path ? path : "/");
	if (!r->path) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	/* First: any other answer would leave the connection open for what was smuggled. */
	if (refused || framing_is_ambiguous(ev, &field, &why)) {
		reply_header(r, "Connection", "close");
		reply_problem(r, APP_EMALFORMED, field, "%s", why);
		return;
	}
	if (query && req_form_refused(r, query, strlen(query), NULL))
		return;
	if (query && evhttp_parse_query_str(query, &r->query) < 0) {
		reply_problem(r, APP_EMALFORMED, NULL, "malformed query string");
		return;
	}
	if (!method) {
		reply_problem(r, APP_EMETHOD, NULL, "method not supported");
		return;
	}
	if (router_dispatch(r, method) < 0)
		return; /* replied */

	struct evbuffer *in = evhttp_request_get_input_buffer(ev);
	size_t len = evbuffer_get_length(in);
	size_t limit = (size_t)router_route_body_limit(r->route, (uint64_t)w->cfg->max_body_bytes);
	if (len > limit) {
		reply_header(r, "Connection", "close");
		reply_problem(r, APP_ETOOLARGE, NULL, "request body over %zu bytes", limit);
		return;
	}
	r->body = malloc(len + 1);
	if (!r->body) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	r->body_len = len;
	evbuffer_remove(in, r->body, len);
	r->body[len] = '\0';
	auth_dispatch(r);
}

static void on_http(struct evhttp_request *ev, void *arg)
{
	on_request(ev, arg, 0);
}

static void on_https(struct evhttp_request *ev, void *arg)
{
	on_request(ev, arg, 1);
}

static struct bufferevent *plain_bevcb(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	return conns_track(w->conns, bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE));
}

static struct bufferevent *tls_tracked_bevcb(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	return conns_track(w->conns, tls_bevcb(base, w));
}

int http_open_connections(const struct worker *w)
{
	return conns_open(w->conns);
}

static struct evhttp *make_evhttp(struct worker *w, int port,
                                  void (*cb)(struct evhttp_request *, void *),
                                  struct evhttp_bound_socket **bound, struct err *err)
{
	const struct config *cfg = w->cfg;
	struct evhttp *h = evhttp_new(w->base);
	if (!h) {
		err_set(err, APP_EINTERNAL, NULL, "evhttp_new failed");
		return NULL;
	}
	/* Past these two evhttp would answer 400 or 413 itself, in text/html, before any
	 * callback of ours sees the request.  conns.c's pre-parser refuses such a request first,
	 * with problem+json: a head over max_header_bytes (it counts the line ends, which evhttp
	 * does not) with 431, a body over its route's limit with 413 before a byte of it is read.
	 * evhttp's own checks stay for the connections conns.c could not track. */
	evhttp_set_max_headers_size(h, cfg->max_header_bytes);
	/* Routes with a smaller limit are checked in on_request as well; the hard ceiling. */
	evhttp_set_max_body_size(h, cfg->max_body_bytes);
	/* Reading and writing; conns.c puts its deadlines in place of the reading one. */
	evhttp_set_timeout(h, cfg->http_timeout_s);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	                                      EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
	                                      EVHTTP_REQ_OPTIONS | EVHTTP_REQ_HEAD);
	evhttp_set_default_content_type(h, "text/plain; charset=utf-8");
	evhttp_set_gencb(h, cb, w);

	int fd = http_bind_socket(cfg->bind, port, 1, err);
	if (fd < 0) {
		evhttp_free(h);
		return NULL;
	}
	struct evconnlistener *lev = evconnlistener_new(
	        w->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!lev || !(*bound = evhttp_bind_listener(h, lev))) {
		err_set(err, APP_EINTERNAL, NULL, "cannot attach listener on port %d", port);
		if (lev)
			evconnlistener_free(lev);
		else
			close(fd);
		evhttp_free(h);
		return NULL;
	}
	conns_watch_listener(w->conns, lev);
	return h;
}

/* Descriptors for the connection cap (conns.c enforces it), plus headroom for the pool,
 * listeners, logs and files. */
static void cap_connections(const struct config *cfg)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t want = (rlim_t)cfg->max_connections + (rlim_t)cfg->db_pool_size + 64;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max) {
		log_msg(LOG_WARN, "connection_cap", "wanted=%llu hard_limit=%llu",
		        (unsigned long long)want, (unsigned long long)rl.rlim_max);
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	setrlimit(RLIMIT_NOFILE, &rl);
}

int http_start(struct worker *w, struct err *err)
{
	cap_connections(w->cfg);
	if (!(w->conns = conns_new(w)))
		return err_set(err, APP_EINTERNAL, NULL, "out of memory");
	w->http = make_evhttp(w, w->cfg->http_port, on_http, &w->bound_http, err);
	if (!w->http)
		return -1;
	evhttp_set_bevcb(w->http, plain_bevcb, w);
	if (w->cfg->https_port) {
		w->https = make_evhttp(w, w->cfg->https_port, on_https, &w->bound_https, err);
		if (!w->https)
			return -1;
		evhttp_set_bevcb(w->https, tls_tracked_bevcb, w);
	}
	return 0;
}

void http_stop_accepting(struct worker *w)
{
	/* Deleting the bound socket frees its listener and closes the socket, so the kernel
	 * sends new connections to workers that still listen (or refuses them). */
	if (w->http && w->bound_http)
		evhttp_del_accept_socket(w->http, w->bound_http);
	if (w->https && w->bound_https)
		evhttp_del_accept_socket(w->https, w->bound_https);
	w->bound_http = w->bound_https = NULL;
	/* Idle keep-alive connections would otherwise hold the drain for the whole grace:
	 * a short timeout closes them, while a request still arriving keeps going. */
	if (w->conns)
		conns_drain(w->conns);
}

void http_free(struct worker *w)
{
	/* evhttp_free frees the listeners first: conns.c must not find them as it hears of the
	 * connections' closing. */
	w->bound_http = w->bound_https = NULL;
	if (w->http)
		evhttp_free(w->http);
	if (w->https)
		evhttp_free(w->https);
	w->http = w->https = NULL;
	conns_free(w->conns);
	w->conns = NULL;
}

const char *req_query(struct req *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

int req_form_refused(struct req *r, const char *text, size_t len, const char *const *repeatable)
{
	struct urlform_refusal bad;
	switch (urlform_check(text, len, repeatable, &bad)) {
	case 0:
		return 0;
	case -1:
		reply_problem(r, APP_EMALFORMED, bad.field[0] ? bad.field : NULL, "%s", bad.why);
		return 1;
	default:
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return 1;
	}
}

long long req_param_id(const struct req *r, int i)
{
	if (i < 0 || i >= r->nparams)
		return -1;
	const char *s = r->params[i];
	size_t n = strlen(s);
	if (n == 0 || n > 18 || strspn(s, "0123456789") != n || (s[0] == '0'))
		return -1;
	return strtoll(s, NULL, 10);
}

const char *req_header(const struct req *r, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

void req_db_submit(struct req *r)
{
	r->job.rid = r->rid;
	db_submit(r->w->db, &r->job);
}

int req_public_link(const struct req *r, const char *path, char *out, size_t n)
{
	const char *base = r->w->cfg->public_url, *host = req_header(r, "Host");
	size_t len = strlen(base);
	while (len > 0 && base[len - 1] == '/')
		len--;
	int w;
	if (len > 0)
		w = snprintf(out, n, "%.*s%s", (int)len, base, path);
	else
		w = snprintf(out, n, "%s://%s%s", r->https ? "https" : "http",
		             host ? host : "localhost", path);
	return w > 0 && (size_t)w < n ? 0 : -1;
}
