/*
 * p_checkin.c: GET and POST /checkin/{code}, what a volunteer opens from the QR poster.
 *
 * {code} is the poster's rotating URL token (common/checkin_code.h: it names the event) or
 * a plain event id; when the token is no longer current (or for an id), the form asks for
 * the 6-digit code read off the poster.  States shown: not logged in (phone + password,
 * which logs in and checks in), ready to check in, checked in (with the time; a check-out
 * button, which asks for no code: a check-out needs none, so a stale token in the URL does
 * not stop it), checked out (the credited time and its status).
 *
 * The POST runs exactly the API's path: attendance_submit() (h_attendance.c) with the code,
 * whose genuineness is decided there with the check-in key.  The one exception is stated in
 * page.h: a form rendered while the URL token was current carries PAGE_FLAG_PRESENCE in its
 * MACed token, and vouches for the code for PAGE_PRESENCE_TTL, so that a volunteer who takes
 * a minute to log in, or whose tap waited in the offline queue, is not refused for a token
 * that rotated meanwhile.  Every other rule (window, one open attendance, overlap, walk-ins,
 * capacity) is api.checkin's.  Success answers 303 back to the page (POST-redirect-GET); the
 * form's one-time token is the Idempotency-Key, so a double tap checks in once.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkin_code.h"
#include "handlers.h"
#include "json.h"
#include "page.h"
#include "validate.h"
#include "reply.h"
#include "req.h"
#include "secret.h"
#include "worker.h"

struct ck {
	long long event_id;
	int presence; /* the URL token is current */
	int is_token; /* {code} is a token (not an event id) */
	char code[CHECKIN_TOKEN_LEN + 1];
	char action[10]; /* "checkin" or "checkout" of the POST */
	char phone[40];  /* refilled after a failed log-in */
	int has_err;
	struct err err;
	enum msg err_msg; /* when has_err == 2: a page-level message */
	int status;
	int flags; /* of the checked form token */
};

/* Read {code}: 0 with ck filled, -1 when it names no event. */
static int resolve(struct req *r, struct ck *ck)
{
	const char *code = r->params[0];
	size_t n = strlen(code);
	long long now = (long long)time(NULL), ev = 0;
	if (n == CHECKIN_TOKEN_LEN) {
		unsigned char raw[24];
		memcpy(ck->code, code, n + 1);
		ck->is_token = 1;
		if (checkin_token_verify(r->w->secrets->checkin, code, now, &ev, NULL) == 0) {
			ck->presence = 1;
		} else if (page_b64url_decode(code, raw, sizeof raw) == 0) {
			/* a stale (or forged) token: show the event, ask for the typed code */
			for (int i = 0; i < 8; i++)
				ev = ev << 8 | raw[i];
		}
	} else if (n >= 1 && n <= 15 && strspn(code, "0123456789") == n) {
		memcpy(ck->code, code, n + 1);
		ev = atoll(code);
	}
	ck->event_id = ev;
	return ev > 0 ? 0 : -1;
}

static void render(struct page *p, const cJSON *data);

static void state_line(struct page *p, enum msg what, const char *time_)
{
	html_raw(&p->out, "<p class=\"state\">");
	page_msg(p, what);
	html_raw(&p->out, " ");
	page_text(p, time_);
	html_raw(&p->out, "</p>");
}

static int truthy(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static enum msg status_msg(const char *s)
{
	if (s && !strcmp(s, "approved"))
		return MSG_STATUS_APPROVED;
	if (s && !strcmp(s, "rejected"))
		return MSG_STATUS_REJECTED;
	if (s && !strcmp(s, "void"))
		return MSG_STATUS_VOID;
	return MSG_STATUS_PENDING;
}

/* The form: hidden action, the typed code for a check-in when the URL's token is not
 * current, a big button.  Logged-out: phone and password too (never queued offline). */
static void action_form(struct page *p, struct ck *ck, const char *action, enum msg button)
{
	char url[64];
	int anon = p->r->account_id == 0;
	const char *code_err = NULL;
	if (ck->has_err == 1 && !strcmp(ck->err.field, "code")) {
		const char *extra;
		code_err = T(p, page_err_msg(&ck->err, &extra));
	}
	snprintf(url, sizeof url, "/checkin/%s", ck->code);
	page_form_open(p, url, PAGE_P_CHECKIN, ck->event_id, ck->presence ? PAGE_FLAG_PRESENCE : 0,
	               !anon);
	html_raw(&p->out, "<input type=\"hidden\" name=\"action\" value=\"");
	html_raw(&p->out, action);
	html_raw(&p->out, "\">");
	if (anon) {
		page_input(p, "tel", "phone", MSG_PHONE, ck->phone[0] ? ck->phone : NULL,
		           MSG_PHONE_HINT, NULL,
		           "inputmode=\"numeric\" autocomplete=\"tel\" required maxlength=\"20\"");
		page_input(p, "password", "password", MSG_PASSWORD, NULL, -1, NULL,
		           "autocomplete=\"current-password\" required maxlength=\"128\"");
		if (ck->has_err == 1 && ck->err.code == APP_ETOTP) /* the account uses TOTP */
			page_input(p, "text", "totp", MSG_TOTP_CODE, NULL, MSG_TOTP_CODE_HINT, NULL,
			           "inputmode=\"numeric\" autocomplete=\"one-time-code\" "
			           "pattern=\"[0-9]{6}\" maxlength=\"6\" required autofocus");
	}
	if (!ck->presence && !strcmp(action, "checkin"))
		page_input(
		        p, "text", "code", MSG_CODE, NULL, MSG_CODE_HINT, code_err,
		        "inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{6}\" "
		        "maxlength=\"6\" required");
	html_raw(&p->out, "<button type=\"submit\" class=\"big\">");
	page_msg(p, anon ? MSG_LOGIN_CHECKIN : button);
	html_raw(&p->out, "</button></form>\n");
	if (anon) {
		html_raw(&p->out, "<p>");
		page_msg(p, MSG_NO_ACCOUNT);
		html_raw(&p->out, " <a href=\"/register?next=%2Fcheckin%2F");
		html_url_component(&p->out, ck->code);
		html_raw(&p->out, "\">");
		page_msg(p, MSG_REGISTER);
		html_raw(&p->out, "</a></p>\n");
	}
}

static void render(struct page *p, const cJSON *data)
{
	struct ck *ck = p->data;
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(data, "event");
	if (!cJSON_IsObject(ev)) {
		struct err e;
		err_set(&e, APP_ENOTFOUND, NULL, "event not found");
		page_fail(p, &e);
		return;
	}
	const cJSON *vol = cJSON_GetObjectItemCaseSensitive(data, "volunteer");
	const cJSON *att = cJSON_GetObjectItemCaseSensitive(data, "attendance");
	const char *signup = json_str(data, "signup");
	const char *done = page_query(p, "done");
	page_start(p, MSG_CHECKIN_TITLE);
	if (done && !strcmp(done, "in"))
		page_notice(p, MSG_DONE_CHECKIN);
	else if (done && !strcmp(done, "out"))
		page_notice(p, MSG_DONE_CHECKOUT);
	const char *st = json_str(ev, "status");
	int open = cJSON_IsObject(att) && truthy(att, "open");
	/* an error about the code shows next to the code field, when the form has one (the
	 * check-out form has none) */
	if (ck->has_err == 1 && (strcmp(ck->err.field, "code") != 0 || ck->presence || open))
		page_error_box(p, &ck->err);
	else if (ck->has_err == 2) {
		html_raw(&p->out, "<div class=\"error\" role=\"alert\"><p>");
		page_msg(p, ck->err_msg);
		html_raw(&p->out, "</p></div>\n");
	}
	html_raw(&p->out,
	         "<p id=\"queue-status\" class=\"notice\" role=\"status\" hidden data-queued=\"");
	page_msg(p, MSG_QUEUED);
	html_raw(&p->out, " ");
	page_msg(p, MSG_OFFLINE_TIME);
	html_raw(&p->out, "\" data-sent=\"");
	page_msg(p, MSG_SENT);
	html_raw(&p->out, " ");
	page_msg(p, MSG_OFFLINE_TIME);
	html_raw(&p->out, "\"></p>\n<section class=\"card\"><h2>");
	page_text(p, json_str(ev, "title"));
	html_raw(&p->out, "</h2><dl><dt>");
	page_msg(p, MSG_TIME);
	html_raw(&p->out, "</dt><dd>");
	page_text(p, json_str(ev, "starts"));
	html_raw(&p->out, " – ");
	page_text(p, json_str(ev, "ends_time"));
	html_raw(&p->out, "</dd><dt>");
	page_msg(p, MSG_PLACE);
	html_raw(&p->out, "</dt><dd>");
	page_text(p, json_str(ev, "location"));
	html_raw(&p->out, "</dd></dl></section>\n");

	if (st && !strcmp(st, "cancelled")) {
		page_notice(p, MSG_EVENT_CANCELLED);
	} else if (!p->r->account_id) {
		action_form(p, ck, "checkin", MSG_CHECKIN);
	} else if (!cJSON_IsObject(vol)) {
		page_notice(p, MSG_NO_VOLUNTEER);
	} else if (open) {
		state_line(p, MSG_CHECKED_IN_AT, json_str(att, "check_in_time"));
		action_form(p, ck, "checkout", MSG_CHECKOUT);
	} else if (cJSON_IsObject(att)) {
		state_line(p, MSG_CHECKED_IN_AT, json_str(att, "check_in_time"));
		state_line(p, MSG_CHECKED_OUT_AT, json_str(att, "check_out_time"));
		html_raw(&p->out, "<p class=\"state\">");
		page_msg(p, MSG_CREDITED);
		html_raw(&p->out, " <span id=\"credited\">");
		page_text(p, json_str(att, "hours"));
		html_raw(&p->out, "</span> ");
		page_msg(p, MSG_HOURS_UNIT);
		html_raw(&p->out, " <span class=\"tag\">");
		page_msg(p, status_msg(json_str(att, "status")));
		html_raw(&p->out, "</span></p>\n");
	} else if (truthy(ev, "ended")) {
		page_notice(p, MSG_EVENT_ENDED);
	} else {
		if (!signup || strcmp(signup, "confirmed") != 0) {
			html_raw(&p->out, "<p class=\"hint\">");
			page_msg(p, MSG_NOT_SIGNED_UP);
			html_raw(&p->out, "</p>");
		}
		action_form(p, ck, "checkin", MSG_CHECKIN);
	}
	html_raw(&p->out, "<p><a href=\"/me\">");
	page_msg(p, MSG_SEE_MY_HOURS);
	html_raw(&p->out, "</a></p>\n");
	page_end(p);
	page_send(p, ck->status ? ck->status : 200);
}

static void loaded(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	if (e->code != APP_OK) {
		page_fail(p, e);
		return;
	}
	render(p, result);
	cJSON_Delete(result);
}

/* Read the page's data and render it (after a GET, or a POST that failed). */
static void load(struct page *p)
{
	struct ck *ck = p->data;
	cJSON *args = cJSON_CreateObject();
	if (!args) {
		reply_problem(p->r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	cJSON_AddNumberToObject(args, "event_id", (double)ck->event_id);
	page_read(p, "page_checkin", args, loaded);
}

static struct page *begin(struct req *r)
{
	struct page *p = page_new(r);
	if (!p)
		return NULL;
	struct ck *ck = page_data_new(p, sizeof *ck, NULL);
	if (!ck)
		return NULL;
	if (resolve(r, ck) < 0) {
		struct err e;
		err_set(&e, APP_ENOTFOUND, NULL, "no such check-in code");
		page_fail(p, &e);
		return NULL;
	}
	return p;
}

void h_page_checkin(struct req *r)
{
	struct page *p = begin(r);
	if (p)
		load(p);
}

static void written(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct ck *ck = p->data;
	cJSON_Delete(result);
	if (e->code == APP_OK) {
		char url[96];
		snprintf(url, sizeof url, "/checkin/%s?done=%s", ck->code,
		         !strcmp(ck->action, "checkout") ? "out" : "in");
		page_redirect(p, url);
		return;
	}
	ck->has_err = 1;
	ck->err = *e;
	ck->status = app_err_status(e->code);
	load(p);
}

/* The time of a tap queued offline (client_at), kept when it lies between the moment the
 * page with its presence proof was issued and now; 0 (now) otherwise.  The proof bounds what
 * a wrong or forged clock can claim to the time the volunteer really had the page open. */
static long long tap_time(struct page *p)
{
	const char *s = page_field(p, "client_at");
	long long at, now = (long long)time(NULL);
	if (!s || parse_rfc3339(s, &at) < 0 || at > now || at < now - p->token_age)
		return 0;
	return at;
}

/* After the log-in (or at once when logged in): the API's own check-in or check-out. */
static void submit(struct page *p)
{
	struct ck *ck = p->data;
	const char *typed = page_field(p, "code");
	cJSON *body = cJSON_CreateObject();
	if (!body) {
		reply_problem(p->r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	if (typed && !*typed)
		typed = NULL;
	int vouched =
	        !typed && (ck->flags & PAGE_FLAG_PRESENCE) && p->token_age <= PAGE_PRESENCE_TTL;
	const char *code = typed ? typed : ck->is_token ? ck->code : NULL;
	if (code)
		cJSON_AddStringToObject(body, "code", code);
	attendance_submit(p->r, ck->event_id, ck->action,
	                  !strcmp(ck->action, "checkin") ? 201 : 200, body, vouched,
	                  vouched ? tap_time(p) : 0);
}

void h_page_checkin_post(struct req *r)
{
	struct page *p = begin(r);
	if (!p)
		return;
	struct ck *ck = p->data;
	const char *action = page_field(p, "action");
	const char *phone = page_field(p, "phone");
	const char *password = page_field(p, "password");
	if (phone)
		snprintf(ck->phone, sizeof ck->phone, "%s", phone);
	if (page_form_check(p, PAGE_P_CHECKIN, ck->event_id, &ck->flags) < 0 || !action ||
	    (strcmp(action, "checkin") && strcmp(action, "checkout"))) {
		ck->has_err = 2;
		ck->err_msg = MSG_ERR_FORM;
		ck->status = 403;
		load(p);
		return;
	}
	snprintf(ck->action, sizeof ck->action, "%s", action);
	page_capture(p, written);
	if (r->account_id) {
		submit(p);
		return;
	}
	if (!phone || !*phone || !password || !*password) {
		ck->has_err = 2;
		ck->err_msg = MSG_ERR_LOGIN;
		ck->status = 401;
		load(p);
		return;
	}
	page_login(p, phone, password, page_field(p, "totp"), submit);
}
