/*
 * page.c: the pages' shared machinery (see page.h for how a page uses it): per-request page
 * state, language choice, form parsing, one-time form tokens, the API bridge (reads, writes,
 * log-in) and the HTML frame.
 *
 * Invariants: every string that did not come from this program is written with html_text;
 * a form token is only accepted for the session (or the anonymous visitor) it was made for;
 * the Idempotency-Key of a page write is derived from the token's random nonce, so two
 * submissions of one rendered form are one write.
 */
#include "page.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "auth.h"
#include "config.h"
#include "handlers.h"
#include "lang.h"
#include "reply.h"
#include "router.h"
#include "req.h"
#include "secret.h"
#include "worker.h"

#define TOKEN_RAW 47 /* ver, purpose, flags, issued (8), subject (8), nonce (12), mac (16) */
#define MAC_LEN   16

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct page_private {
	struct page pub;
	char session_token[AUTH_TOKEN_LEN + 1]; /* set by a log-in during this request */
};

static void page_free(void *v)
{
	struct page *p = v;
	if (p->data_free && p->data)
		p->data_free(p->data);
	if (p->login)
		session_login_free(p->login);
	evhttp_clear_headers(&p->form);
	html_free(&p->out);
	free(p);
}

/* "en" or "zh" from the query, else the vd_lang cookie, else Accept-Language. */
static int choose_english(struct req *r)
{
	const char *q = req_query(r, "lang");
	if (q && (!strcmp(q, "en") || !strcmp(q, "zh"))) {
		/* no script reads it: HttpOnly; over HTTPS only back over HTTPS (R20) */
		char cookie[96];
		snprintf(cookie, sizeof cookie,
		         "vd_lang=%s; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly%s", q,
		         r->https ? "; Secure" : "");
		reply_header(r, "Set-Cookie", cookie);
		return !strcmp(q, "en");
	}
	const char *c = req_header(r, "Cookie");
	for (const char *s = c; s && (s = strstr(s, "vd_lang=")); s += 8) {
		if (s != c && s[-1] != ' ' && s[-1] != ';')
			continue;
		if (!strncmp(s + 8, "en", 2))
			return 1;
		if (!strncmp(s + 8, "zh", 2))
			return 0;
	}
	/* The first tag that is zh* or en* decides (q-values are rarely out of order). */
	const char *al = req_header(r, "Accept-Language");
	for (const char *s = al; s && *s;) {
		while (*s == ' ' || *s == ',')
			s++;
		if (!strncasecmp(s, "zh", 2))
			return 0;
		if (!strncasecmp(s, "en", 2))
			return 1;
		s = strchr(s, ',');
	}
	return 0;
}

/* A form post from another site: its Origin names another scheme, host or port, or the
 * browser's Sec-Fetch-Site says so.  auth.c refuses those for cookie sessions; this also
 * covers anonymous posts (log-in CSRF).  A request without either (an old browser, curl)
 * passes: the form token still binds it. */
static int foreign_origin(struct req *r)
{
	const char *origin = req_header(r, "Origin");
	const char *host = req_header(r, "Host");
	char want[300];
	if (auth_fetched_from_another_site(r))
		return 1;
	if (!origin)
		return 0;
	if (!host)
		return 1;
	snprintf(want, sizeof want, "%s://%s", r->https ? "https" : "http", host);
	return strcmp(origin, want) != 0;
}

void *page_data_new(struct page *p, size_t size, void (*data_free)(void *data))
{
	void *data = calloc(1, size);
	if (!data) {
		reply_problem(p->r, APP_EUNAVAILABLE, NULL, "out of memory");
		return NULL;
	}
	p->data = data;
	p->data_free = data_free ? data_free : free;
	return data;
}

struct page *page_new(struct req *r)
{
	struct page_private *pp = calloc(1, sizeof *pp);
	if (!pp) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return NULL;
	}
	struct page *p = &pp->pub;
	p->r = r;
	html_init(&p->out);
	TAILQ_INIT(&p->form);
	r->pstate = p;
	r->pstate_free = page_free;
	p->en = choose_english(r);
	p->msg = p->en ? lang_en : lang_zh;
	if (r->route->method == M_POST && foreign_origin(r)) {
		auth_log_cross_site(r);
		reply_problem(r, APP_EFORBIDDEN, NULL, "cross-site form refused");
		return NULL;
	}
	if (r->route->method == M_POST) {
		/* the forms' lists of checkboxes: the entries to approve, a weekly rule's days */
		static const char *const repeatable[] = {"id", "byday", NULL};
		const char *ct = req_header(r, "Content-Type");
		if ((ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) ||
		    strlen(r->body) != r->body_len) {
			reply_problem(r, APP_EMALFORMED, NULL, "expected a form");
			return NULL;
		}
		if (req_form_refused(r, r->body, r->body_len, repeatable))
			return NULL;
		if (evhttp_parse_query_str(r->body, &p->form) < 0) {
			reply_problem(r, APP_EMALFORMED, NULL, "expected a form");
			return NULL;
		}
	}
	return p;
}

struct page *page_of(struct req *r)
{
	return r->pstate;
}

const char *page_field(struct page *p, const char *name)
{
	return evhttp_find_header(&p->form, name);
}

const char *page_query(struct page *p, const char *name)
{
	return req_query(p->r, name);
}

/* ---- tokens ------------------------------------------------------------------------- */

static void put64(unsigned char *b, unsigned long long v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (unsigned char)(v & 0xff);
}

static unsigned long long get64(const unsigned char *b)
{
	unsigned long long v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static void b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
		             (i + 2 < n ? in[i + 2] : 0);
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = b64[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
}

/* Decode exactly n bytes from s (which must be exactly as long as their encoding). */
int page_b64url_decode(const char *s, unsigned char *out, size_t n)
{
	size_t want = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	if (strlen(s) != want)
		return -1;
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < want; i++) {
		const char *c = strchr(b64, s[i]);
		if (!c || !s[i])
			return -1;
		acc = acc << 6 | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < n)
				out[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	return o == n ? 0 : -1;
}

/* What a token is bound to: the SHA-256 of the session token, or zeros when anonymous. */
static void binding(struct page *p, unsigned char out[32])
{
	struct page_private *pp = (struct page_private *)p;
	char buf[64];
	int via;
	const char *tok = pp->session_token[0] ? pp->session_token : NULL;
	if (!tok && p->r->account_id)
		tok = auth_request_token(p->r, buf, sizeof buf, &via);
	memset(out, 0, 32);
	if (tok)
		secret_sha256(tok, strlen(tok), out);
}

/* anon: bind to "anonymous" whatever the session. */
static void token_mac(struct page *p, const unsigned char *raw, int anon, unsigned char mac[32])
{
	unsigned char msg[32 + TOKEN_RAW - MAC_LEN];
	if (anon)
		memset(msg, 0, 32);
	else
		binding(p, msg);
	memcpy(msg + 32, raw, TOKEN_RAW - MAC_LEN);
	secret_hmac(p->r->w->secrets->form, msg, sizeof msg, mac);
}

int page_token(struct page *p, enum page_purpose purpose, long long subject, int flags,
               char out[PAGE_TOKEN_LEN + 1])
{
	unsigned char raw[TOKEN_RAW], mac[32];
	raw[0] = 1;
	raw[1] = (unsigned char)purpose;
	raw[2] = (unsigned char)flags;
	put64(raw + 3, (unsigned long long)time(NULL));
	put64(raw + 11, (unsigned long long)subject);
	if (secret_random(raw + 19, 12) < 0)
		return -1;
	token_mac(p, raw, 0, mac);
	memcpy(raw + TOKEN_RAW - MAC_LEN, mac, MAC_LEN);
	b64_encode(raw, sizeof raw, out);
	return 0;
}

int page_form_check(struct page *p, enum page_purpose purpose, long long subject, int *flags)
{
	unsigned char raw[TOKEN_RAW], mac[32];
	const char *t = page_field(p, "_t");
	if (!t || page_b64url_decode(t, raw, sizeof raw) < 0 || raw[0] != 1 || raw[1] != purpose ||
	    (long long)get64(raw + 11) != subject)
		return -1;
	/* A form rendered to an anonymous visitor stays good after they log in (a double tap
	 * on "log in and check in" arrives with the new cookie); a cross-site post of it is
	 * still refused by auth.c's Origin check. */
	token_mac(p, raw, 0, mac);
	if (CRYPTO_memcmp(mac, raw + TOKEN_RAW - MAC_LEN, MAC_LEN) != 0) {
		token_mac(p, raw, 1, mac);
		if (CRYPTO_memcmp(mac, raw + TOKEN_RAW - MAC_LEN, MAC_LEN) != 0)
			return -1;
	}
	long long issued = (long long)get64(raw + 3), now = (long long)time(NULL);
	if (issued > now + 60 || now - issued > PAGE_FORM_TTL)
		return -1;
	*flags = raw[2];
	p->token_age = now - issued;
	char hex[25];
	secret_hex(raw + 19, 12, hex);
	snprintf(p->idem, sizeof p->idem, "form-%s", hex);
	return 0;
}

const char *page_safe_next(const char *next)
{
	if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' || strlen(next) > 200)
		return "/me";
	for (const char *s = next; *s; s++)
		if ((unsigned char)*s < 0x21 || *s == '\\' || *s == '"' || *s == '<' || *s == '>')
			return "/me";
	return next;
}

/* ---- the API bridge ----------------------------------------------------------------- */

void page_read(struct page *p, const char *fn, cJSON *args,
               void (*then)(struct req *r, cJSON *result, const struct err *e))
{
	p->r->no_idempotency = 1;
	p->r->idem_key = NULL;
	api_call_then(p->r, fn, args, then);
}

void page_capture(struct page *p, void (*then)(struct req *r, cJSON *result, const struct err *e))
{
	p->then = then;
	p->r->no_idempotency = 0;
	p->r->idem_key = p->idem[0] ? p->idem : NULL;
	p->r->api_then = then;
}

void page_write(struct page *p, const char *fn, cJSON *args,
                void (*then)(struct req *r, cJSON *result, const struct err *e))
{
	page_capture(p, then);
	api_call_then(p->r, fn, args, then);
}

static void logged_in(struct req *r, const char *token, const char *account_json)
{
	struct page *p = page_of(r);
	struct page_private *pp = (struct page_private *)p;
	cJSON *a = cJSON_Parse(account_json);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
	const cJSON *vol = cJSON_GetObjectItemCaseSensitive(a, "volunteer_id");
	r->account_id = cJSON_IsNumber(id) ? (long long)id->valuedouble : 0;
	r->volunteer_id = cJSON_IsNumber(vol) ? (long long)vol->valuedouble : 0;
	cJSON_Delete(a);
	snprintf(pp->session_token, sizeof pp->session_token, "%s", token);
	auth_set_cookie(r, token, r->w->cfg->session_max_hours * 3600);
	if (!r->account_id) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	p->login_next(p);
}

void page_login(struct page *p, const char *login, const char *password, const char *totp,
                void (*next)(struct page *p))
{
	p->login_next = next;
	p->r->no_idempotency = 1; /* the log-in itself is not a replayable write */
	if (session_login(p->r, login, password, totp, logged_in, &p->login) == 0)
		p->r->no_idempotency = 0;
}

/* ---- output ------------------------------------------------------------------------- */

void page_text(struct page *p, const char *s)
{
	html_text(&p->out, s);
}

void page_msg(struct page *p, enum msg id)
{
	html_text(&p->out, T(p, id));
}

void page_start(struct page *p, enum msg title)
{
	struct html *h = &p->out;
	html_raw(h, "<!doctype html>\n<html lang=\"");
	page_msg(p, MSG_LANG_TAG);
	html_raw(h, "\"><head><meta charset=\"utf-8\">"
	            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
	            "<title>");
	page_msg(p, title);
	html_raw(h, " · ");
	page_msg(p, MSG_SITE);
	html_raw(h, "</title><link rel=\"stylesheet\" href=\"");
	page_static_url(h, "app.css");
	html_raw(h, "\"><link rel=\"icon\" type=\"image/svg+xml\" href=\"");
	page_static_url(h, "icon.svg");
	html_raw(h, "\"><script src=\"");
	page_static_url(h, "app.js");
	html_raw(h, "\" defer></script>");
	/* only without JavaScript: with it, the page's own script refreshes what changes */
	if (p->refresh_s > 0)
		html_rawf(h, "<noscript><meta http-equiv=\"refresh\" content=\"%d\"></noscript>",
		          p->refresh_s);
	html_raw(h, "</head>\n<body><a class=\"skip\" href=\"#main\">");
	page_msg(p, MSG_SKIP);
	html_raw(h, "</a><header><a class=\"brand\" href=\"/me\">");
	page_msg(p, MSG_SITE);
	html_raw(h, "</a><nav><a href=\"/me\">");
	page_msg(p, MSG_NAV_ME);
	html_rawf(h, "</a> <a href=\"?lang=%s\" lang=\"%s\">", p->en ? "zh" : "en",
	          p->en ? "zh-CN" : "en");
	page_msg(p, MSG_SWITCH_LANG);
	html_raw(h, "</a></nav></header>\n<main id=\"main\"><h1>");
	page_msg(p, title);
	html_raw(h, "</h1>\n");
}

void page_end(struct page *p)
{
	html_raw(&p->out, "</main></body></html>\n");
}

void page_send(struct page *p, int status)
{
	struct req *r = p->r;
	if (html_failed(&p->out)) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	reply_html(r, status, p->out.buf, p->out.len);
}

void page_redirect(struct page *p, const char *location)
{
	reply_redirect(p->r, location);
}

static const struct {
	const char *needle;
	enum msg id;
} known[] = {
        {"too many wrong check-in codes", MSG_ERR_CODE_THROTTLED},
        {"too many registrations", MSG_ERR_REGISTER_THROTTLED},
        {"separate consent", MSG_ERR_ID_CONSENT},
        {"wrong or expired check-in code", MSG_ERR_BAD_CODE},
        {"check-in code is required", MSG_ERR_CODE_REQUIRED},
        {"already checked in at this event", MSG_ERR_ALREADY_IN},
        {"already checked in at event", MSG_ERR_ALREADY_IN_OTHER},
        {"already checked out", MSG_ERR_ALREADY_OUT}, /* before "not checked in" (sql/0037) */
        {"not checked in at this event", MSG_ERR_NOT_IN},
        {"check-in closed", MSG_ERR_WINDOW_CLOSED},
        {"check-in opens", MSG_ERR_WINDOW_NOT_OPEN},
        {"takes no walk-ins", MSG_ERR_NO_WALKIN},
        {"no volunteer has this phone number", MSG_ERR_WALKIN_UNKNOWN},
        {"is full", MSG_ERR_FULL},
        {"cancelled", MSG_ERR_CANCELLED},
        {"has ended", MSG_ERR_ENDED},
        {"already open", MSG_ERR_REQUEST_OPEN},
        {"wrong login or password", MSG_ERR_LOGIN},
        {"wrong password", MSG_ERR_WRONG_PASSWORD},
        {"password was changed at the same moment", MSG_ERR_PASSWORD_RACE},
        {"is too easy to guess", MSG_ERR_PASSWORD_WEAK},
        {"must differ from the current password", MSG_ERR_SAME_PASSWORD},
        {"already the login", MSG_ERR_PHONE_TAKEN},
        {"the form expired", MSG_ERR_FORM},
        {"no approved service hours in this period", MSG_ERR_NO_HOURS},
        {"to must not be before from", MSG_ERR_PERIOD},
        {"holds staff roles", MSG_ERR_ERASE_STAFF},
        {"neither time was changed", MSG_ERR_NO_CHANGE},
        {"check-out is before check-in", MSG_ERR_OUT_BEFORE_IN},
        {"is in the future", MSG_ERR_FUTURE},
        {"say why the request is declined", MSG_ERR_NOTE},
        {"this correction request was resolved", MSG_ERR_RESOLVED},
        {"the entry is already", MSG_ERR_DECIDED},
};

enum msg page_err_msg(const struct err *e, const char **extra)
{
	*extra = NULL;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strstr(e->detail, known[i].needle))
			return known[i].id;
	if (e->code == APP_ETOTP || !strcmp(e->field, "code") || !strcmp(e->field, "totp"))
		return e->code == APP_ETOTP && strstr(e->detail, "uses two-step")
		               ? MSG_ERR_TOTP_REQUIRED
		               : MSG_ERR_TOTP;
	int status = app_err_status(e->code);
	if (e->field[0] && (status == 422 || status == 400 || status == 409)) {
		if (strstr(e->detail, "required") || strstr(e->detail, "must not be empty"))
			return MSG_ERR_REQUIRED;
		if (!strcmp(e->field, "phone"))
			return status == 409 ? MSG_ERR_PHONE_TAKEN : MSG_ERR_PHONE;
		if (!strcmp(e->field, "id_number"))
			return status == 409 ? MSG_ERR_ID_TAKEN : MSG_ERR_ID_NUMBER;
		if (!strcmp(e->field, "password") || !strcmp(e->field, "new_password"))
			return MSG_ERR_PASSWORD;
		if (!strcmp(e->field, "org_unit_id"))
			return MSG_ERR_UNIT;
		if (strstr(e->detail, "at most") || strstr(e->detail, "control characters") ||
		    strstr(e->detail, "UTF-8"))
			return MSG_ERR_TOO_LONG;
	}
	switch (status) {
	case 401:
		return MSG_ERR_AUTH;
	case 403:
		return MSG_ERR_FORBIDDEN;
	case 404:
		return MSG_ERR_NOT_FOUND;
	case 429:
		return MSG_ERR_THROTTLED;
	case 409:
		*extra = e->detail;
		return MSG_ERR_CONFLICT;
	case 400:
	case 413:
	case 422:
		*extra = e->detail;
		return MSG_ERR_INVALID;
	default:
		return MSG_ERR_UNAVAILABLE;
	}
}

void page_error_box(struct page *p, const struct err *e)
{
	const char *extra;
	enum msg id = page_err_msg(e, &extra);
	html_raw(&p->out, "<div class=\"error\" role=\"alert\"><p>");
	page_msg(p, id);
	if (extra) {
		html_raw(&p->out, " ");
		page_text(p, extra);
	}
	html_raw(&p->out, "</p></div>\n");
}

void page_notice(struct page *p, enum msg id)
{
	html_raw(&p->out, "<div class=\"notice\" role=\"status\"><p>");
	page_msg(p, id);
	html_raw(&p->out, "</p></div>\n");
}

void page_fail(struct page *p, const struct err *e)
{
	page_start(p, MSG_ERR_TITLE);
	page_error_box(p, e);
	html_raw(&p->out, "<p><a href=\"/me\">");
	page_msg(p, MSG_SEE_MY_HOURS);
	html_raw(&p->out, "</a></p>");
	page_end(p);
	int status = app_err_status(e->code);
	page_send(p, status >= 400 ? status : 500);
}

void page_form_open(struct page *p, const char *action, enum page_purpose purpose,
                    long long subject, int flags, int queueable)
{
	char tok[PAGE_TOKEN_LEN + 1];
	if (page_token(p, purpose, subject, flags, tok) < 0)
		tok[0] = '\0'; /* no randomness: the form will be refused, never replayed */
	html_raw(&p->out, "<form method=\"post\" action=\"");
	page_text(p, action);
	html_raw(&p->out, queueable ? "\" data-queue=\"1\">" : "\">");
	html_raw(&p->out, "<input type=\"hidden\" name=\"_t\" value=\"");
	page_text(p, tok);
	html_raw(&p->out, "\">");
}

void page_input(struct page *p, const char *type, const char *name, enum msg label,
                const char *value, int hint, const char *error, const char *attrs)
{
	struct html *h = &p->out;
	html_raw(h, "<div class=\"field\"><label for=\"f-");
	html_text(h, name);
	html_raw(h, "\">");
	page_msg(p, label);
	html_raw(h, "</label><input id=\"f-");
	html_text(h, name);
	html_raw(h, "\" name=\"");
	html_text(h, name);
	html_raw(h, "\" type=\"");
	html_text(h, type);
	html_raw(h, "\"");
	if (value) {
		html_raw(h, " value=\"");
		html_text(h, value);
		html_raw(h, "\"");
	}
	if (hint >= 0 || error) {
		html_raw(h, " aria-describedby=\"");
		if (hint >= 0) {
			html_raw(h, "h-");
			html_text(h, name);
		}
		if (error) {
			html_raw(h, hint >= 0 ? " e-" : "e-");
			html_text(h, name);
		}
		html_raw(h, "\"");
	}
	if (error)
		html_raw(h, " aria-invalid=\"true\"");
	if (attrs) {
		html_raw(h, " ");
		html_raw(h, attrs);
	}
	html_raw(h, ">");
	if (hint >= 0) {
		html_raw(h, "<p class=\"hint\" id=\"h-");
		html_text(h, name);
		html_raw(h, "\">");
		page_msg(p, (enum msg)hint);
		html_raw(h, "</p>");
	}
	if (error) {
		html_raw(h, "<p class=\"err\" id=\"e-");
		html_text(h, name);
		html_raw(h, "\">");
		html_text(h, error);
		html_raw(h, "</p>");
	}
	html_raw(h, "</div>\n");
}
