/*
 * reply.h: the only senders of a response.  Each function sends exactly once and then
 * frees the req (after metrics and the access log): the caller must not touch r after.
 */
#ifndef VD_REPLY_H
#define VD_REPLY_H

#include <stddef.h>

#include "err.h"

struct req;
struct evbuffer;
typedef struct cJSON cJSON;

/* Add a response header before replying (copied). */
void reply_header(struct req *r, const char *name, const char *value);
/* Add Retry-After: seconds (a throttle's answer, before its 429). */
void reply_retry_after(struct req *r, long long seconds);
/* Send body (len bytes, copied) with content type ctype (which must name its charset). */
void reply_raw(struct req *r, int status, const char *ctype, const char *body, size_t len);
/* Send buf's contents (taken: emptied) with ctype. */
void reply_buffer(struct req *r, int status, const char *ctype, struct evbuffer *buf);
/* Send size bytes of the file open on fd with ctype.  fd is taken: libevent closes it once
 * sent (or this function does when it cannot be queued, replying 503 instead). */
void reply_file(struct req *r, int status, const char *ctype, int fd, size_t size);
/* Send a JSON text as application/json. */
void reply_json(struct req *r, int status, const char *json, size_t len);
/* Send obj as application/json and cJSON_Delete it. */
void reply_cjson(struct req *r, int status, cJSON *obj);
/* Send an RFC 9457 problem for e (with `errors: [{field, message}]` when e->field is set).
 * When r->api_then is set (a page running the API's handler logic), e goes to it instead,
 * once (api_then is cleared first), and it replies. */
void reply_error(struct req *r, const struct err *e);
void reply_problem(struct req *r, enum app_err code, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* A whole answer to a request that evhttp never parsed (conns.c refuses it before): the
 * status line, the headers of reply_buffer's answers with Connection: close and a Date, and
 * the problem for e (as reply_error sends it), appended to out, a connection's output.  rid
 * is its request id; https adds HSTS.  0, or -1 when out of memory (nothing appended). */
int reply_refusal(struct evbuffer *out, const struct err *e, const char *rid, int https);
/* 204 No Content. */
void reply_empty(struct req *r);
/* An HTML page (len bytes, copied) as text/html; charset=utf-8, with the pages' security
 * headers: a CSP without inline script or style, frame-ancestors 'none', nosniff,
 * Referrer-Policy same-origin. */
void reply_html(struct req *r, int status, const char *body, size_t len);
/* 303 See Other to location (a path on this site, e.g. "/me"): POST-redirect-GET. */
void reply_redirect(struct req *r, const char *location);
/* A static asset with a long, immutable Cache-Control (the URL carries its version). */
void reply_static(struct req *r, const char *ctype, const char *body, size_t len);

#endif
