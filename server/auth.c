/*
 * auth.c: session resolution and CSRF, in front of every handler.
 *
 * A request carries at most one token: `Authorization: Bearer` wins over the cookie.  The
 * token is looked up by its SHA-256 only (the database never sees the token), and the
 * lookup enforces the idle and absolute limits; sessions.c caches live sessions per worker
 * (evicted on log-out everywhere through NOTIFY) and batches the look-ups it must make.  On
 * an AUTH_BATCHED route (check-in, check-out), a session the cache does not hold is
 * resolved by the group commit in the call's own transaction (batch.c) rather than by a
 * look-up first; any other answer before then waits for the session (auth_settle), so a
 * request without a live session gets 401 whatever else is wrong with it.  A
 * cookie-authenticated unsafe request must come from our own origin (Origin, else Referer): a
 * browser adds cookies to cross-site requests, but never a Bearer header, so Bearer calls need no
 * such check.  With VOLUNTEERD_ADMIN_MFA=required, an administrator's session not made with a
 * TOTP code reaches only the routes marked mfa_exempt (R19), and auth_reauth_required gives
 * sensitive changes their step-up rule.
 */
#include "auth.h"

#include <event2/http.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "queries.h"
#include "reply.h"
#include "req.h"
#include "router.h"
#include "secret.h"
#include "sessions.h"
#include "worker.h"

#define COOKIE_TLS   "__Host-vd_session"
#define COOKIE_PLAIN "vd_session"

int auth_new_token(char out[AUTH_TOKEN_LEN + 1])
{
	uint8_t raw[32];
	unsigned char b64[48];
	if (secret_random(raw, sizeof raw) < 0)
		return -1;
	int n = EVP_EncodeBlock(b64, raw, sizeof raw); /* 44 chars with one '=' */
	for (int i = 0; i < n; i++)
		b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	memcpy(out, b64, AUTH_TOKEN_LEN);
	out[AUTH_TOKEN_LEN] = '\0';
	return 0;
}

void auth_token_hash_param(const char *token, char out[67])
{
	uint8_t h[32];
	secret_sha256(token, strlen(token), h);
	out[0] = '\\';
	out[1] = 'x';
	secret_hex(h, sizeof h, out + 2);
}

static int token_shape_ok(const char *t, size_t len)
{
	return len == AUTH_TOKEN_LEN &&
	       strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == len;
}

/* Find name=value in a Cookie header. */
static const char *cookie_value(const char *header, const char *name, char *buf, size_t n)
{
	size_t nl = strlen(name);
	const char *p = header;
	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			size_t vl = len - nl - 1;
			if (vl >= n)
				return NULL;
			memcpy(buf, p + nl + 1, vl);
			buf[vl] = '\0';
			return buf;
		}
		p = end;
	}
	return NULL;
}

const char *auth_request_token(struct req *r, char *buf, size_t n, int *via_cookie)
{
	*via_cookie = 0;
	const char *h = req_header(r, "Authorization");
	if (h && !strncasecmp(h, "Bearer ", 7)) {
		const char *t = h + 7;
		while (*t == ' ')
			t++;
		size_t len = strlen(t);
		if (!token_shape_ok(t, len) || len >= n)
			return NULL;
		memcpy(buf, t, len + 1);
		return buf;
	}
	const char *c = req_header(r, "Cookie");
	if (!c)
		return NULL;
	const char *v = cookie_value(c, r->https ? COOKIE_TLS : COOKIE_PLAIN, buf, n);
	if (!v || !token_shape_ok(v, strlen(v)))
		return NULL;
	*via_cookie = 1;
	return v;
}

void auth_set_cookie(struct req *r, const char *token, int max_age_s)
{
	char h[256];
	snprintf(h, sizeof h, "%s=%s; Path=/; HttpOnly; SameSite=Lax%s; Max-Age=%d",
	         r->https ? COOKIE_TLS : COOKIE_PLAIN, token ? token : "",
	         r->https ? "; Secure" : "", token ? max_age_s : 0);
	reply_header(r, "Set-Cookie", h);
}

void auth_peer_ip(struct req *r, char *out, size_t n)
{
	snprintf(out, n, "%s", r->client_ip);
}

int auth_fetched_from_another_site(const struct req *r)
{
	const char *site = req_header(r, "Sec-Fetch-Site");
	return site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0;
}

void auth_log_cross_site(const struct req *r)
{
	log_msg(LOG_WARN, "cross_site_refused", "rid=%s ip=%s account=%lld route=%s", r->rid,
	        r->client_ip, r->account_id, r->route->pattern);
}

/* Same-origin check for cookie-authenticated writes: Origin (or Referer) must name the
 * host the request was sent to, with our scheme. */
static int same_origin(struct req *r)
{
	const char *host = req_header(r, "Host");
	const char *origin = req_header(r, "Origin");
	const char *referer = req_header(r, "Referer");
	const char *src = origin ? origin : referer;
	char want[300];
	if (!host || !src)
		return 0;
	int n = snprintf(want, sizeof want, "%s://%s", r->https ? "https" : "http", host);
	if (n <= 0 || (size_t)n >= sizeof want)
		return 0;
	if (strncmp(src, want, (size_t)n) != 0)
		return 0;
	return src[n] == '\0' || src[n] == '/';
}

static int is_unsafe(const struct req *r)
{
	return r->route->method != M_GET && r->route->method != M_HEAD &&
	       r->route->method != M_OPTIONS;
}

static void reply_no_session(struct req *r)
{
	reply_problem(r, APP_EUNAUTH, NULL, "log in first: the session is missing or expired");
}

/* An unsafe request from another site: 403, and 1.  A cookie session's must show our origin
 * (Origin or Referer).  An anonymous one is refused when its Origin names another site: a
 * browser's cross-site form or fetch, e.g. a log-in that would plant the attacker's session
 * (log-in CSRF); clients that send no Origin (scripts, curl) pass, as a Bearer token does.
 * A browser's Sec-Fetch-Site naming another site (R45) counts as such an Origin. */
static int refused_cross_site(struct req *r)
{
	int other_site = auth_fetched_from_another_site(r);
	if (!is_unsafe(r) || (!other_site && same_origin(r)))
		return 0;
	int cookie_session = r->via_cookie && (r->account_id || r->session_pending);
	int anonymous = !r->account_id && !r->session_pending;
	if (!cookie_session && !(anonymous && (req_header(r, "Origin") || other_site)))
		return 0;
	auth_log_cross_site(r);
	reply_problem(r, APP_EFORBIDDEN, NULL,
	              "cross-site request refused: Origin does not match this site");
	return 1;
}

static void take_session(struct req *r, const struct session_info *si)
{
	r->account_id = si->account;
	r->volunteer_id = si->volunteer;
	r->session_admin = si->admin;
	r->session_mfa = si->mfa;
	r->session_auth_at_ms = si->auth_at_ms;
}

/* VOLUNTEERD_ADMIN_MFA=required: an administrator's session without a second factor may only
 * enrol (R19).  1 after replying 403 (a page: to /me, where the enrollment is). */
static int refused_without_mfa(struct req *r)
{
	if (!config_admin_mfa_required(r->w->cfg) || !r->account_id || !r->session_admin ||
	    r->session_mfa || r->route->mfa_exempt)
		return 0;
	log_msg(LOG_WARN, "mfa_required", "rid=%s ip=%s account=%lld method=%s route=%s", r->rid,
	        r->client_ip, r->account_id, r->method, r->route->pattern);
	if (strncmp(r->route->pattern, "/api/", 5) != 0) {
		reply_redirect(r, "/me#totp");
		return 1;
	}
	reply_problem(r, APP_EMFA, NULL,
	              "administrators must use two-step verification: enrol with POST "
	              "/api/v1/me/totp and confirm a code (or on the /me page), then try again");
	return 1;
}

int auth_reauth_required(struct req *r)
{
	if (!config_admin_mfa_required(r->w->cfg))
		return 0;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now); /* the database's clock is the wall clock too */
	long long age_ms =
	        (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - r->session_auth_at_ms;
	if (age_ms <= (long long)r->w->cfg->reauth_s * 1000)
		return 0;
	log_msg(LOG_WARN, "reauth_required", "rid=%s ip=%s account=%lld route=%s age_s=%lld",
	        r->rid, r->client_ip, r->account_id, r->route->pattern, age_ms / 1000);
	reply_problem(r, APP_EREAUTH, NULL,
	              "this change needs a recent log-in: confirm your password (and code) with "
	              "POST /api/v1/session/reauth, then try again");
	return 1;
}

static void resolved(void *arg, const struct session_info *si, const struct err *e)
{
	struct req *r = arg;
	if (e->code != APP_OK) {
		reply_error(r, e);
		return;
	}
	take_session(r, si);
	if (!r->account_id && r->route->auth != AUTH_OPTIONAL) {
		reply_no_session(r);
		return;
	}
	if (refused_cross_site(r) || refused_without_mfa(r))
		return;
	r->route->handler(r);
}

/* auth_settle's wait for the session: the answer to give when it is live. */
struct settle {
	struct req *r;
	struct err answer;
};

static void settled(void *arg, const struct session_info *si, const struct err *e)
{
	struct settle *st = arg;
	struct req *r = st->r;
	struct err answer = st->answer;
	free(st);
	take_session(r, si);
	if (e->code != APP_OK)
		reply_error(r, e);
	else if (!si->account)
		reply_no_session(r);
	else if (!refused_cross_site(r))
		reply_error(r, &answer);
}

void auth_settle(struct req *r, const struct err *answer)
{
	struct settle *st = malloc(sizeof *st);
	r->session_pending = 0;
	if (!st) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	st->r = r;
	st->answer = *answer;
	sessions_look_up(r->w->sessions, r->session_hash, settled, st);
}

void auth_dispatch(struct req *r)
{
	char buf[64];
	if (r->route->auth == AUTH_PUBLIC) {
		r->route->handler(r);
		return;
	}
	const char *token = auth_request_token(r, buf, sizeof buf, &r->via_cookie);
	if (!token) {
		if (r->route->auth != AUTH_OPTIONAL) {
			reply_problem(r, APP_EUNAUTH, NULL, "log in first");
			return;
		}
		if (!refused_cross_site(r))
			r->route->handler(r);
		return;
	}
	/* Through the worker's session cache and batched look-ups (sessions.c). */
	uint8_t hash[32];
	secret_sha256(token, strlen(token), hash);
	/* (With admin MFA required, the rule needs what only a look-up knows: no group commit.) */
	if (r->route->auth == AUTH_BATCHED && !config_admin_mfa_required(r->w->cfg)) {
		struct session_info si;
		if (sessions_cached(r->w->sessions, hash, &si)) {
			struct err ok;
			err_clear(&ok);
			resolved(r, &si, &ok);
			return;
		}
		r->session_pending = 1; /* the group commit resolves it */
		memcpy(r->session_hash, hash, sizeof hash);
		if (!refused_cross_site(r)) /* (its 403 waits for the session: auth_settle) */
			r->route->handler(r);
		return;
	}
	sessions_resolve(r->w->sessions, hash, resolved, r);
}
