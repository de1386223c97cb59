/*
 * http.h: evhttp set-up for a worker (limits, timeouts, methods, listeners) and the
 * request entry point that turns an evhttp request into a struct req and routes it.
 */
#ifndef VD_HTTP_H
#define VD_HTTP_H

struct worker;
struct err;

/* Create w->http (and w->https when configured) bound to SO_REUSEPORT sockets. 0 or -1. */
int http_start(struct worker *w, struct err *err);
/* Stop accepting new connections (keeps the evhttp objects for in-flight requests). */
void http_stop_accepting(struct worker *w);
/* Connections open now (accepted and not yet closed). */
int http_open_connections(const struct worker *w);
/* Free the evhttp objects (closes every connection). */
void http_free(struct worker *w);
/* Bind a listening TCP socket with SO_REUSEPORT; -1 with err on failure.  listen() is
 * called only when do_listen is set, so the parent can check a port without taking
 * connections. */
int http_bind_socket(const char *addr, int port, int do_listen, struct err *err);

#endif
