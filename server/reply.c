/*
 * reply.c: the only place that sends a response, and the end of every request.
 *
 * Every reply gets an explicit Content-Type with its charset, X-Request-Id, nosniff and
 * no-store; over HTTPS, Strict-Transport-Security; 503 gets Retry-After; a worker that is draining
 * adds Connection: close. After sending: the access log line, the metrics, worker bookkeeping, then
 * the req is freed.  A second reply on the same req is a bug: it is logged and ignored.
 * reply_refusal writes the same headers, and the same problem body, for a request that evhttp
 * never parsed (conns.c refuses it first), straight into the connection's output.
 */
#include "reply.h"

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "metrics.h"
#include "monotime.h"
#include "req.h"
#include "router.h"
#include "worker.h"

void reply_header(struct req *r, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

void reply_retry_after(struct req *r, long long seconds)
{
	char s[24];
	snprintf(s, sizeof s, "%lld", seconds);
	reply_header(r, "Retry-After", s);
}

#define PROBLEM_TYPE "application/problem+json; charset=utf-8"
/* Browsers heed it over HTTPS only; two years, this host only (no includeSubDomains). */
#define HSTS "max-age=63072000"

/* Every answer that is not a page (JSON, CSV, Excel, an image, a refusal) is data: nothing in
 * it may load, run or be framed, and it sends no Referer on.  The pages set their own. */
#define DATA_CSP      "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#define DATA_REFERRER "no-referrer"
#define FRAMES        "DENY"
/* The same three, written out for reply_refusal's one printf. */
#define DATA_SECURITY_HEADERS                                                                      \
	"Content-Security-Policy: " DATA_CSP "\r\n"                                                \
	"Referrer-Policy: " DATA_REFERRER "\r\n"                                                   \
	"X-Frame-Options: " FRAMES "\r\n"

/* A TLS record holds at most 16 KB of data. */
#define ONE_TLS_RECORD 16384

/*
 * evhttp puts the status line and headers in one chunk of the connection's output and the
 * body in another, and OpenSSL's bufferevent writes each chunk as its own TLS record and its
 * own write(): two packets for every small answer.  Made contiguous after evhttp_send_reply
 * (which only queues the write), a small answer leaves as one record in one packet.  Only
 * when nothing was queued before: a write that OpenSSL has begun must be retried from the
 * same buffer.
 */
static struct evbuffer *tls_output_if_idle(struct req *r)
{
	if (!r->tls)
		return NULL;
	struct evhttp_connection *c = evhttp_request_get_connection(r->ev);
	struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
	struct evbuffer *out = bev ? bufferevent_get_output(bev) : NULL;
	return out && evbuffer_get_length(out) == 0 ? out : NULL;
}

static void finish(struct req *r, int status)
{
	uint64_t dur = mono_us() - r->t0_us;
	struct worker *w = r->w;
	const char *route = r->route ? r->route->pattern : "unmatched";
	metrics_request(w->metrics, r->route_index, status, dur);
	log_msg(status >= 500 ? LOG_WARN : LOG_INFO, "request",
	        "rid=%s method=%s route=%s status=%d dur_ms=%.3f ip=%s account=%lld", r->rid,
	        r->method, route, status, (double)dur / 1000.0, r->client_ip, r->account_id);
	if (r->hstate_free && r->hstate)
		r->hstate_free(r->hstate);
	if (r->pstate_free && r->pstate)
		r->pstate_free(r->pstate);
	evhttp_clear_headers(&r->query);
	free(r->path);
	free(r->body);
	free(r);
	worker_request_done(w);
}

void reply_buffer(struct req *r, int status, const char *ctype, struct evbuffer *buf)
{
	if (r->replied) {
		log_msg(LOG_ERROR, "double_reply", "rid=%s status=%d", r->rid, status);
		return;
	}
	r->replied = 1;
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "X-Request-Id", r->rid);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (r->https)
		evhttp_add_header(h, "Strict-Transport-Security", HSTS);
	if (!evhttp_find_header(h, "Content-Security-Policy")) {
		evhttp_add_header(h, "Content-Security-Policy", DATA_CSP);
		evhttp_add_header(h, "Referrer-Policy", DATA_REFERRER);
		evhttp_add_header(h, "X-Frame-Options", FRAMES);
	}
	if (!evhttp_find_header(h, "Cache-Control"))
		evhttp_add_header(h, "Cache-Control", "no-store");
	if (status == 503 && !evhttp_find_header(h, "Retry-After"))
		evhttp_add_header(h, "Retry-After", "1");
	if (r->w->draining)
		evhttp_add_header(h, "Connection", "close");
	struct evbuffer *tls_out = tls_output_if_idle(r);
	evhttp_send_reply(r->ev, status, NULL, buf);
	if (tls_out && evbuffer_get_length(tls_out) <= ONE_TLS_RECORD)
		evbuffer_pullup(tls_out, -1);
	finish(r, status);
}

void reply_raw(struct req *r, int status, const char *ctype, const char *body, size_t len)
{
	struct evbuffer *buf = evbuffer_new();
	if (buf && len)
		evbuffer_add(buf, body, len);
	reply_buffer(r, status, ctype, buf);
	if (buf)
		evbuffer_free(buf);
}

void reply_file(struct req *r, int status, const char *ctype, int fd, size_t size)
{
	struct evbuffer *buf = evbuffer_new();
	/* The segment owns fd from here (closed with its last reference); evbuffer_add_file
	 * would leave it unclear who closes fd on failure. */
	struct evbuffer_file_segment *seg =
	        size ? evbuffer_file_segment_new(fd, 0, (ev_off_t)size, 0) : NULL;
	if (!seg)
		close(fd);
	int ok = buf &&
	         (!size || (seg && evbuffer_add_file_segment(buf, seg, 0, (ev_off_t)size) == 0));
	if (seg)
		evbuffer_file_segment_free(seg);
	if (!ok) {
		if (buf)
			evbuffer_free(buf);
		reply_problem(r, APP_EUNAVAILABLE, NULL, "cannot send the file");
		return;
	}
	reply_buffer(r, status, ctype, buf);
	evbuffer_free(buf);
}

void reply_json(struct req *r, int status, const char *json, size_t len)
{
	reply_raw(r, status, "application/json; charset=utf-8", json, len);
}

void reply_cjson(struct req *r, int status, cJSON *obj)
{
	char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
	cJSON_Delete(obj);
	if (!text) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	reply_json(r, status, text, strlen(text));
	free(text);
}

/* One {"field", "message"} of a problem's "errors" (out of memory: left out). */
static void add_field_error(cJSON *errs, const char *field, const char *message)
{
	cJSON *one = cJSON_CreateObject();
	if (!one)
		return;
	cJSON_AddStringToObject(one, "field", field);
	cJSON_AddStringToObject(one, "message", message);
	cJSON_AddItemToArray(errs, one);
}

/* The RFC 9457 problem for e, with `errors: [{field, message}]` when e names a field; NULL
 * when out of memory.  The caller frees it. */
static char *problem_text(const struct err *e)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "type", app_err_type(e->code));
	cJSON_AddStringToObject(o, "title", app_err_title(e->code));
	cJSON_AddNumberToObject(o, "status", app_err_status(e->code));
	cJSON_AddStringToObject(o, "detail", e->detail[0] ? e->detail : app_err_title(e->code));
	if (e->field[0]) {
		cJSON *errs = cJSON_AddArrayToObject(o, "errors");
		add_field_error(errs, e->field, e->detail);
		for (int i = 0; i < e->n_more; i++)
			add_field_error(errs, e->more[i].field, e->more[i].detail);
	}
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

void reply_error(struct req *r, const struct err *e)
{
	if (r->session_pending) { /* authentication answers first */
		auth_settle(r, e);
		return;
	}
	if (r->api_then) {
		void (*then)(struct req *, cJSON *, const struct err *) = r->api_then;
		r->api_then = NULL;
		then(r, NULL, e);
		return;
	}
	char *text = problem_text(e);
	if (!text) { /* out of memory: a fixed body still tells the client what happened */
		static const char oom[] = "{\"type\":\"urn:volunteerd:problem:unavailable\","
		                          "\"title\":\"Service Unavailable\",\"status\":503}";
		reply_raw(r, 503, PROBLEM_TYPE, oom, sizeof oom - 1);
		return;
	}
	reply_raw(r, app_err_status(e->code), PROBLEM_TYPE, text, strlen(text));
	free(text);
}

int reply_refusal(struct evbuffer *out, const struct err *e, const char *rid, int https)
{
	char *text = problem_text(e);
	if (!text)
		return -1;
	char date[40];
	struct tm tm;
	time_t now = time(NULL);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
	int status = app_err_status(e->code);
	/* One printf: the answer is one chunk, so one TLS record and one packet. */
	int n = evbuffer_add_printf(out,
	                            "HTTP/1.1 %d %s\r\n"
	                            "Content-Type: " PROBLEM_TYPE "\r\n"
	                            "X-Request-Id: %s\r\n"
	                            "X-Content-Type-Options: nosniff\r\n"
	                            "%s" DATA_SECURITY_HEADERS "Cache-Control: no-store\r\n"
	                            "Connection: close\r\n"
	                            "Date: %s\r\n"
	                            "Content-Length: %zu\r\n\r\n%s",
	                            status, app_err_title(e->code), rid,
	                            https ? "Strict-Transport-Security: " HSTS "\r\n" : "", date,
	                            strlen(text), text);
	free(text);
	return n < 0 ? -1 : 0;
}

void reply_problem(struct req *r, enum app_err code, const char *field, const char *fmt, ...)
{
	struct err e;
	err_set(&e, code, field, "%s", "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.detail, sizeof e.detail, fmt, ap);
	va_end(ap);
	reply_error(r, &e);
}

void reply_empty(struct req *r)
{
	reply_raw(r, 204, "text/plain; charset=utf-8", NULL, 0);
}

/* The pages' policy: no inline script or style at all, so that an escaping bug cannot run
 * code; forms post only here; nobody may frame us. */
#define PAGE_CSP                                                                                   \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

static void security_headers(struct req *r)
{
	reply_header(r, "Content-Security-Policy", PAGE_CSP);
	reply_header(r, "Referrer-Policy", "same-origin");
	reply_header(r, "X-Frame-Options", FRAMES);
}

void reply_html(struct req *r, int status, const char *body, size_t len)
{
	security_headers(r);
	reply_header(r, "Vary", "Accept-Language, Cookie");
	reply_raw(r, status, "text/html; charset=utf-8", body, len);
}

void reply_redirect(struct req *r, const char *location)
{
	security_headers(r);
	reply_header(r, "Location", location);
	reply_raw(r, 303, "text/plain; charset=utf-8", NULL, 0);
}

void reply_static(struct req *r, const char *ctype, const char *body, size_t len)
{
	reply_header(r, "Cache-Control", "public, max-age=31536000, immutable");
	security_headers(r);
	reply_raw(r, 200, ctype, body, len);
}
