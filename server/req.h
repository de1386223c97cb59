/*
 * req.h: one HTTP request in flight, from evhttp's callback to the single reply.
 *
 * Ownership: http.c allocates a struct req per request and reply.c frees it right after
 * the reply is sent; a handler that starts a database job keeps the req alive until the
 * job's done callback replies.  Everything a handler allocates for the request hangs on
 * it (hstate, freed by hstate_free) so that one free releases it all.
 */
#ifndef VD_REQ_H
#define VD_REQ_H

#include <event2/keyvalq_struct.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "netaddr.h"

struct evhttp_request;
struct worker;
struct route;
struct cJSON;

#define REQ_MAX_PARAMS 4

struct req {
	struct evhttp_request *ev;
	struct worker *w;
	const struct route *route;
	int route_index; /* index in the route table, or -1 (unmatched) */
	int tls;         /* arrived on the HTTPS port */
	int https; /* the client used HTTPS: to our port, or to a trusted proxy that says so */
	char client_ip[NETADDR_TEXT_MAX]; /* the socket's peer, or, behind a trusted proxy, the
	                                     client it names (X-Forwarded-For) */
	const char *method;               /* "GET", ... (static) */
	char rid[24];   /* request id: from X-Request-Id when sane, else generated */
	uint64_t t0_us; /* monotonic start, for the latency histogram */
	char *path;     /* owned copy of the path, params point into it */
	const char *params[REQ_MAX_PARAMS];
	int nparams;
	struct evkeyvalq query; /* decoded query string */
	char *body;             /* owned, NUL-terminated copy of the request body */
	size_t body_len;
	struct db_job job;
	long long account_id;         /* 0 when anonymous (filled by auth.c) */
	long long volunteer_id;       /* the caller's volunteer record, 0 if none */
	int via_cookie;               /* the session came from the cookie (CSRF rules apply) */
	int session_admin;            /* the caller's account holds an admin grant (auth.c) */
	int session_mfa;              /* the session was made or upgraded with a TOTP code */
	long long session_auth_at_ms; /* Unix time in ms of the session's last authentication */
	/* An AUTH_BATCHED route whose session the worker had not cached: the token's hash,
	 * resolved by the group commit (or by auth_settle before any other answer). */
	int session_pending;
	uint8_t session_hash[32];
	int no_idempotency; /* the answer cannot be replayed (e.g. a generated password) */
	int api_status;     /* api.c: the status of a successful call */
	int (*api_post)(struct req *r, struct cJSON **result); /* api.c: see api_call_post */
	/* api.c and reply_error: when set (by a page), the API's result or error goes here
	 * instead of a JSON reply; see api_then_fn in api.h. */
	void (*api_then)(struct req *r, struct cJSON *result, const struct err *e);
	/* api.c: when set, told of the call's error before it is answered (h_attendance.c
	 * counts wrong check-in codes with it). */
	void (*api_refused)(struct req *r, const struct err *e);
	const char *idem_key; /* a page's one-time form token, used as the Idempotency-Key;
	                         borrowed from pstate */
	void *hstate;         /* handler state, freed with hstate_free */
	void (*hstate_free)(void *);
	/* A page's own state (server/pages), kept apart from hstate because a page runs API
	 * handlers' shared code, which may use hstate; freed after hstate. */
	void *pstate;
	void (*pstate_free)(void *);
	int replied;
};

/* The query parameter's value, or NULL. */
const char *req_query(struct req *r, const char *name);
/* Whether TEXT, a query or a form body, was refused (R29, common/urlform.h): a field given
 * twice (but those in REPEATABLE), a %00, a bad %-escape or bytes that are not UTF-8 is 400
 * naming the field.  1 when refused (answered), 0 to go on. */
int req_form_refused(struct req *r, const char *text, size_t len, const char *const *repeatable);
/* Parse path parameter i as a positive id; -1 when it is not one. */
long long req_param_id(const struct req *r, int i);
/* A request header, or NULL. */
const char *req_header(const struct req *r, const char *name);
/* Submit r->job to the worker's pool, with r's id for the log (db_error). */
void req_db_submit(struct req *r);
/* The absolute link to path (which starts with '/'): after VOLUNTEERD_PUBLIC_URL, or else the
 * scheme and Host this request came to, so that a QR code or a printed link opens on a phone.
 * 0, or -1 when it does not fit in n. */
int req_public_link(const struct req *r, const char *path, char *out, size_t n);

#endif
