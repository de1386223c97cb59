/*
 * router.h: the one route table.  A pattern is a path whose `{name}` segments match any
 * single non-empty segment; matched segments become req->params in order.
 */
#ifndef VD_ROUTER_H
#define VD_ROUTER_H

#include <stddef.h>
#include <stdint.h>

struct req;

typedef void (*handler_fn)(struct req *r);

enum route_method {
	M_GET = 1,
	M_POST = 2,
	M_PUT = 4,
	M_DELETE = 8,
	M_PATCH = 16,
	M_OPTIONS = 32,
	M_HEAD = 64,
};

enum route_auth {
	AUTH_UNSET,    /* a route that names no policy: router_check refuses to start (R24), and
	                  auth.c would treat it as AUTH_USER */
	AUTH_PUBLIC,   /* no session lookup (health, metrics) */
	AUTH_OPTIONAL, /* the caller is resolved when a token is sent */
	AUTH_USER,     /* 401 without a valid session */
	AUTH_BATCHED,  /* AUTH_USER for a handler that goes to the group commit (batch.c): a session
	                  the worker has not cached is resolved there, in the call's own
	                  transaction, not by a look-up of its own first (auth.c) */
};

struct route {
	int method; /* one enum route_method bit */
	const char *pattern;
	handler_fn handler;
	enum route_auth auth;
	int max_body; /* 0 = the configured default */
	/* 1: open to an administrator without a second factor under VOLUNTEERD_ADMIN_MFA=required
	 * (what enrolling needs: log-in and out, GET /me, /me/totp, /me/password, the /me page) */
	int mfa_exempt;
};

/* Route r by its method and path: sets route, route_index and params, or replies
 * 404 / 405 (with Allow) itself and returns -1. */
int router_dispatch(struct req *r, int method);
/* "GET", "POST", ... for one enum route_method bit ("HEAD" for anything else). */
const char *router_method_name(int m);
/* The largest request body route takes: its own max_body, else max_body (the configured
 * VOLUNTEERD_MAX_BODY), and never more than that. */
uint64_t router_route_body_limit(const struct route *route, uint64_t max_body);
/* The same for a request to method (a name, "POST") and path (len bytes, not NUL-terminated;
 * 0 when unknown): max_body when no route matches.  For conns.c's pre-parser, which reads
 * the limit before a body byte is read. */
uint64_t router_body_limit(const char *method, const char *path, size_t len, uint64_t max_body);
/* The smallest body limit of any route: a body up to it needs no look-up. */
uint64_t router_min_body_limit(uint64_t max_body);
/* The table checked once at start (R24, deny by default): every route names its access
 * policy, one method and a handler, and no method and pattern comes twice.  0, or -1 with e
 * naming the route. */
struct err;
int router_check(struct err *e);
/* The same checks over any table of n routes (server/route_check.c, which a unit test links
 * without the handlers). */
int route_table_check(const struct route *table, int n, struct err *e);
/* Number of routes and the i-th route, for metrics labels. */
int router_count(void);
const struct route *router_get(int i);

#endif
