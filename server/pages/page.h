/*
 * page.h: the infrastructure of volunteerd's server-rendered pages (DESIGN §5).  How to write
 * a page (see p_checkin.c, p_register.c, p_me.c for complete examples):
 *
 *  1. Route.  Add `{M_GET, "/x", h_page_x, AUTH_OPTIONAL, 0}` (and M_POST for its form) to
 *     server/router.c, declare the handler under "pages" in server/handlers.h, and document
 *     the path in server/openapi.json (tag "pages"; test_openapi keeps the table and the
 *     document in step).  AUTH_OPTIONAL: r->account_id / r->volunteer_id are set when a
 *     session cookie is valid, 0 otherwise; a page decides itself what anonymous visitors see.
 *     A cookie-authenticated POST must come from our own origin (auth.c checks Origin).
 *
 *  2. State.  `struct page *p = page_new(r);` (NULL: it replied 503).  It hangs on r->pstate
 *     (freed with the request), picks the language (?lang=zh|en, which also sets the
 *     `vd_lang` cookie; then the cookie; then Accept-Language; zh-CN by default), and parses a
 *     POST body (application/x-www-form-urlencoded) into p->form: page_field(p, "name").
 *     Put the page's own data in p->data (freed with p->data_free).
 *
 *  3. Data.  Every read and write goes through the API's SQL functions:
 *       page_read(p, "fn", args, then)   a read (no Idempotency-Key), e.g. api.page_me;
 *       page_write(p, "fn", args, then)  a write carrying the form's one-time token as its
 *                                        Idempotency-Key (page_form_check sets it), so a
 *                                        double tap or a replayed offline submission is
 *                                        answered from the stored result, never done twice;
 *     or, where the API handler has C checks of its own, its shared entry point in
 *     handlers.h (attendance_submit, volunteers_create_body, corrections_create_body) after
 *     page_capture(p, then).  `then(r, result, e)` gets the JSON result (taken) or the error
 *     (any 4xx/5xx of the call or of the checks before it); it must reply.  Get the page
 *     back with page_of(r).  Log-in is page_login(p, login, password, next): the API's own
 *     flow (throttle, Argon2id off the loop, a new session); on success the session cookie
 *     is set on this reply, r->account_id / r->volunteer_id are the new account's, and
 *     next(p) continues; a failure goes to the captured `then` (e->code APP_EUNAUTH or
 *     APP_ETHROTTLED).
 *
 *  4. Output.  page_start(p, MSG_TITLE) writes the doctype, head (CSS, the offline-queue JS,
 *     icon), the header with the language switch and the <main> landmark; then write the
 *     body with html_raw (our markup only) and html_text / page_text (anything from users or
 *     the database: ALWAYS escaped); page_end(p); page_send(p, status).  Strings come from
 *     the catalogues only: T(p, MSG_X) (add ids to msg.h and BOTH lang_zh.c and lang_en.c).
 *     Form helpers: page_form_open(p, action, queueable) (with the hidden one-time token),
 *     page_input(...) (label, input, hint and inline error, wired with aria-describedby),
 *     page_error_box / page_notice for messages.  page_redirect(p, "/path") answers 303 for
 *     POST-redirect-GET; page_fail(p, e) renders a whole error page for an API error.
 *     reply_html adds the CSP (no inline script or style: use classes from static/app.css;
 *     behaviour goes in static/app.js), nosniff, Referrer-Policy and frame-ancestors.
 *
 *  5. Tokens.  A form carries `_t`, a token MACed with the server's form key over the
 *     session (or "anonymous"), a purpose, a subject id, flags, the issue time and a random
 *     nonce.  page_form_check(p, purpose, subject, &flags) verifies it on POST (CSRF; a form
 *     older than PAGE_FORM_TTL is refused) and sets the Idempotency-Key from the nonce.
 *     PAGE_FLAG_PRESENCE is for the check-in page: the QR token was genuine when the page was
 *     rendered (valid for PAGE_PRESENCE_TTL).
 *
 *  6. Static files: put them in server/pages/static/, list them in the Makefile's
 *     PAGE_STATIC and in static.c's table; link them with page_static_url (the URL carries a
 *     content hash, so they are served with a one-year immutable Cache-Control).
 *
 * Budget: a page stays under 30 KB without images (test_pages.py checks).  Mobile first:
 * design for 360 px, tap targets at least 44 px, labels on every field.
 */
#ifndef VD_PAGES_PAGE_H
#define VD_PAGES_PAGE_H

#include <event2/keyvalq_struct.h>
#include <stddef.h>

#include "html.h"
#include "msg.h"

struct req;
struct err;
struct session_login;
typedef struct cJSON cJSON;

#define PAGE_FORM_TTL     (4 * 3600) /* seconds a form stays valid */
#define PAGE_PRESENCE_TTL (20 * 60)  /* seconds a scanned QR code vouches for presence */
#define PAGE_TOKEN_LEN    63         /* characters of a form token */

enum page_purpose {
	PAGE_P_CHECKIN = 1,
	PAGE_P_REGISTER = 2,
	PAGE_P_ME = 3,
	PAGE_P_LOGIN = 4,
	PAGE_P_CONSOLE = 5,  /* /console: approve, create an activity (p_console.c) */
	PAGE_P_ROSTER = 6,   /* /console/events/{id}: roster check-in and check-out */
	PAGE_P_CERT = 7,     /* /me/certificates: issue a certificate (p_certificate.c) */
	PAGE_P_ACTIVITY = 8, /* /console/activities/{id}: correct an activity (p_console.c) */
};
enum page_flags { PAGE_FLAG_PRESENCE = 1 };

struct page {
	struct req *r;
	int en;                 /* 1: English, 0: zh-CN */
	const char *const *msg; /* the chosen catalogue */
	struct html out;        /* the page being written */
	struct evkeyvalq form;  /* decoded POST fields */
	char idem[40];          /* the Idempotency-Key from the form token */
	long long token_age;    /* seconds since the checked form token was issued */
	struct session_login *login;
	void (*login_next)(struct page *p);
	void (*then)(struct req *r, cJSON *result, const struct err *e);
	void *data; /* the page's own state */
	void (*data_free)(void *data);
	int refresh_s; /* > 0: page_start asks a browser without JavaScript to reload after this
	                * many seconds (<noscript><meta http-equiv=refresh>) */
};

#define T(p, id) ((p)->msg[(id)])

/* A page for r, hung on r->pstate; NULL after replying 503 (no memory) or 400 (a POST body
 * that is not a form). */
struct page *page_new(struct req *r);
/* The page's own state: size zeroed bytes as p->data, freed with the page by data_free (NULL:
 * free).  NULL after replying 503. */
void *page_data_new(struct page *p, size_t size, void (*data_free)(void *data));
/* The page of a request that page_new made. */
struct page *page_of(struct req *r);
/* A decoded POST field (borrowed; NULL when absent). */
const char *page_field(struct page *p, const char *name);
/* A query parameter (borrowed; NULL when absent). */
const char *page_query(struct page *p, const char *name);

/* Reads and writes through api_call (see 3. above).  args is taken. */
void page_read(struct page *p, const char *fn, cJSON *args,
               void (*then)(struct req *r, cJSON *result, const struct err *e));
void page_write(struct page *p, const char *fn, cJSON *args,
                void (*then)(struct req *r, cJSON *result, const struct err *e));
/* Route the outcome of the next API call (or shared handler entry point) to then, as a
 * write with the form's Idempotency-Key. */
void page_capture(struct page *p, void (*then)(struct req *r, cJSON *result, const struct err *e));
/* Log in with the API's flow, then next(p); failures go to the captured then (set it with
 * page_capture first). */
void page_login(struct page *p, const char *login, const char *password, const char *totp,
                void (*next)(struct page *p));

/* Output. */
void page_start(struct page *p, enum msg title);
void page_end(struct page *p);
void page_text(struct page *p, const char *s); /* escaped */
void page_msg(struct page *p, enum msg id);    /* a catalogue string, escaped */
void page_send(struct page *p, int status);    /* replies; p is gone after */
void page_redirect(struct page *p, const char *location);
/* A whole page saying what went wrong with an API call, with the error's status. */
void page_fail(struct page *p, const struct err *e);
/* The catalogue's words for an API error (e.g. "check-in closed" -> MSG_ERR_WINDOW_CLOSED);
 * *extra is set to the server's detail when no specific message fits (show it escaped). */
enum msg page_err_msg(const struct err *e, const char **extra);
/* <div class="error" role="alert">...</div> for an API error, or a catalogue message. */
void page_error_box(struct page *p, const struct err *e);
void page_notice(struct page *p, enum msg id);
/* <form method="post" action=...> with the hidden token; queueable adds data-queue (the
 * offline queue of app.js may keep and replay it: never for a form with a password). */
void page_form_open(struct page *p, const char *action, enum page_purpose purpose,
                    long long subject, int flags, int queueable);
/* A labelled input: type, name, label, value (escaped), hint (or -1), inline error text
 * (escaped, or NULL), and extra attributes (our own markup, e.g. "inputmode=\"numeric\""). */
void page_input(struct page *p, const char *type, const char *name, enum msg label,
                const char *value, int hint, const char *error, const char *attrs);
/* The URL of a static file with its version, e.g. "/static/app.css?v=1a2b3c4d". */
void page_static_url(struct html *h, const char *name);

/* Tokens. */
int page_token(struct page *p, enum page_purpose purpose, long long subject, int flags,
               char out[PAGE_TOKEN_LEN + 1]);
/* 0 and *flags when the form's `_t` is ours, for this session, purpose and subject, and
 * younger than PAGE_FORM_TTL (also sets p->idem and p->token_age); -1 otherwise. */
int page_form_check(struct page *p, enum page_purpose purpose, long long subject, int *flags);

/* Decode base64url (no padding) that encodes exactly n bytes; 0 or -1. */
int page_b64url_decode(const char *s, unsigned char *out, size_t n);

/* A local redirect target from a `next` field: a path on this site, else "/me". */
const char *page_safe_next(const char *next);

#endif
