/*
 * conns.h: a worker's client connections: which are open, how many (in all and per client
 * address), how long each may take to send a request, and the requests refused before evhttp
 * reads them (answered here, in problem+json).
 *
 * All counts are the worker's own: the workers share the ports through SO_REUSEPORT, and the
 * kernel spreads a client's connections over them by a hash of its address and port.
 */
#ifndef VD_CONNS_H
#define VD_CONNS_H

struct worker;
struct bufferevent;
struct evconnlistener;
struct evhttp_request;
struct conns;

/* The tracker of w's connections (it reads w's base, cfg, metrics and bound sockets); NULL
 * when out of memory.  Freed by conns_free once evhttp has freed every connection. */
struct conns *conns_new(struct worker *w);
void conns_free(struct conns *cs);
/* For an evhttp bevcb: note bev, which evhttp attaches to the connection it has just
 * accepted, and return it.  Within the same loop turn, before a byte of it is read, the
 * connection is taken in hand (deadlines), or closed when its address already has its share
 * open.  With VOLUNTEERD_MAX_CONNECTIONS open, the worker's listeners stop until one closes. */
struct bufferevent *conns_track(struct conns *cs, struct bufferevent *bev);
/* From the request callback: the request is its handler's until answered, and no deadline
 * runs meanwhile; the last request a connection may make is answered with Connection: close,
 * and so is one followed by a refused request (which is then never read).  -1 when the
 * request itself (or one before it) was refused by the pre-parser (R11): not expected, as
 * such a request is answered before evhttp reads it; the caller answers 400 with
 * Connection: close, naming *field and saying *why (static strings). */
int conns_request(struct conns *cs, struct evhttp_request *ev, const char **field,
                  const char **why);
/* Watch lev for accept errors (EMFILE...): it then pauses for a moment instead of spinning. */
void conns_watch_listener(struct conns *cs, struct evconnlistener *lev);
/* Connections open now (accepted and not yet closed). */
int conns_open(const struct conns *cs);
/* Draining: idle connections close within a second, and so does any accepted from now on. */
void conns_drain(struct conns *cs);

#endif
