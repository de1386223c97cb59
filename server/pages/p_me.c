/*
 * p_me.c: GET and POST /me, the volunteer's own page: at the top, while they are checked in,
 * the event they are on duty at with a check-out button (so that a check-in tab closed or
 * dropped does not strand them); hours this month and this year (and a link to the certificates
 * of the record, p_certificate.c), star levels, the service record with each entry's status and
 * a way to report an error in it, upcoming events with sign-up and cancel, log-in / log-out, and
 * the account's password, other sessions and closing.
 *
 * Data comes from api.page_me (sql/0009_pages.sql, which totals through the API's own
 * volunteer_hours_json; the open attendance and a check-out's credited time, 0036); writes are
 * the API's functions: the check-out through attendance_submit, exactly the path of POST
 * /events/{id}/check-outs and of the check-in page's button (one's own needs no code,
 * sql/0033_self_checkout.sql), signup_create, signup_cancel,
 * corrections_create_body (POST /correction-requests), the log-in flow of POST /session,
 * session_logout of DELETE /session, password_change_start and sessions_end_others of
 * POST /me/password and DELETE /me/sessions (the account section, for staff too), and
 * me_erase_start of POST /me/erase (closing the account, for volunteers), and
 * volunteer_update with id_number_clear, as PATCH /volunteers/{id} {"id_number": null}, to
 * withdraw the consent to keep the ID number (sql/0027_consent.sql), and two-step verification
 * (R19, h_totp.c): totp_enroll_start, totp_confirm_start, totp_disable_start.  Every POST
 * answers 303 to /me?done=... on success, but the start of an enrollment: its secret and QR
 * code are shown once, in the answer to that POST (not cached), with the form to confirm it.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "json.h"
#include "page.h"
#include "reply.h"
#include "req.h"

struct me {
	int has_err;
	struct err err;
	int status;
	cJSON *enrollment; /* a just-started TOTP enrollment to show, or NULL */
};

static void me_free(void *data)
{
	struct me *m = data;
	cJSON_Delete(m->enrollment);
	free(m);
}

static void errors(struct page *p)
{
	struct me *m = p->data;
	if (m->has_err)
		page_error_box(p, &m->err);
}

/* After the account was closed (/me?done=erased&no=V...): what became of it, with the
 * volunteer number under which the hours stay. */
static void erased_notice(struct page *p)
{
	const char *done = page_query(p, "done"), *no = page_query(p, "no");
	if (!done || strcmp(done, "erased"))
		return;
	html_raw(&p->out, "<div class=\"notice\" role=\"status\"><p>");
	page_msg(p, MSG_DONE_ERASED);
	if (no && strlen(no) <= 32 &&
	    strspn(no, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == strlen(no)) {
		html_raw(&p->out, " <strong id=\"erased-no\">");
		page_text(p, no);
		html_raw(&p->out, "</strong>");
	}
	html_raw(&p->out, "</p></div>\n");
}

/* The log-in form's code field: optional, and marked (with the focus) when the server said
 * the account needs a code or the code was wrong. */
static void totp_field(struct page *p)
{
	struct me *m = p->data;
	int asked = m->has_err && m->err.code == APP_ETOTP;
	const char *extra;
	page_input(p, "text", "totp", MSG_TOTP_CODE, NULL, MSG_TOTP_CODE_HINT,
	           asked ? T(p, page_err_msg(&m->err, &extra)) : NULL,
	           asked ? "inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"6\" "
	                   "pattern=\"[0-9]{6}\" required autofocus"
	                 : "inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"6\" "
	                   "pattern=\"[0-9]{6}\"");
}

static void login_form(struct page *p)
{
	struct me *m = p->data;
	const char *next = page_field(p, "next") ? page_field(p, "next") : page_query(p, "next");
	page_start(p, MSG_LOGIN_TITLE);
	erased_notice(p);
	errors(p);
	page_form_open(p, "/me", PAGE_P_LOGIN, 0, 0, 0);
	html_raw(&p->out, "<input type=\"hidden\" name=\"action\" value=\"login\">");
	if (next) {
		html_raw(&p->out, "<input type=\"hidden\" name=\"next\" value=\"");
		page_text(p, page_safe_next(next));
		html_raw(&p->out, "\">");
	}
	page_input(p, "tel", "phone", MSG_PHONE, page_field(p, "phone"), MSG_PHONE_HINT, NULL,
	           "inputmode=\"numeric\" autocomplete=\"tel\" required maxlength=\"64\"");
	page_input(p, "password", "password", MSG_PASSWORD, NULL, -1, NULL,
	           "autocomplete=\"current-password\" required maxlength=\"128\"");
	totp_field(p);
	html_raw(&p->out, "<button type=\"submit\" class=\"big\">");
	page_msg(p, MSG_LOGIN);
	html_raw(&p->out, "</button></form>\n<p>");
	page_msg(p, MSG_NO_ACCOUNT);
	html_raw(&p->out, " <a href=\"/register\">");
	page_msg(p, MSG_REGISTER);
	html_raw(&p->out, "</a></p>\n");
	page_end(p);
	page_send(p, m->status ? m->status : 200);
}

/* A form of one button that posts action with key=subject; cls: the button's class, or NULL. */
static void button_form(struct page *p, const char *action, long long subject, const char *key,
                        enum msg button, const char *cls)
{
	page_form_open(p, "/me", PAGE_P_ME, subject, 0, 0);
	html_rawf(&p->out,
	          "<input type=\"hidden\" name=\"action\" value=\"%s\">"
	          "<input type=\"hidden\" name=\"%s\" value=\"%lld\">"
	          "<button type=\"submit\"",
	          action, key, subject);
	if (cls)
		html_rawf(&p->out, " class=\"%s\"", cls);
	html_raw(&p->out, ">");
	page_msg(p, button);
	html_raw(&p->out, "</button></form>");
}

static void small_form(struct page *p, const char *action, long long subject, const char *key,
                       enum msg button, int second)
{
	button_form(p, action, subject, key, button, second ? "second" : NULL);
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

static void total(struct page *p, enum msg label, const cJSON *t, const char *key, const char *id)
{
	html_raw(&p->out, "<div><span class=\"num\" id=\"");
	html_raw(&p->out, id);
	html_raw(&p->out, "\">");
	page_text(p, json_str(t, key) ? json_str(t, key) : "0.00");
	html_raw(&p->out, "</span>");
	page_msg(p, label);
	html_raw(&p->out, "</div>");
}

/* One form to report an error in any live entry not already under a request: a select
 * costs far fewer bytes than a form per row (the page stays under 30 KB). */
static void report_form(struct page *p, const cJSON *entries)
{
	const cJSON *h;
	int n = 0;
	cJSON_ArrayForEach(h, entries)
	{
		const char *st = json_str(h, "status");
		if (!st || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "requested")) ||
		    (strcmp(st, "approved") && strcmp(st, "pending")))
			continue;
		if (n++ == 0) {
			html_raw(&p->out, "<details id=\"report\"><summary>");
			page_msg(p, MSG_REPORT_ERROR);
			html_raw(&p->out, "</summary>");
			page_form_open(p, "/me", PAGE_P_ME, 0, 0, 0);
			html_raw(&p->out,
			         "<input type=\"hidden\" name=\"action\" value=\"correction\">"
			         "<div class=\"field\"><label for=\"f-entry\">");
			page_msg(p, MSG_ENTRY);
			html_raw(&p->out, "</label><select id=\"f-entry\" name=\"entry_id\">");
		}
		html_rawf(&p->out, "<option value=\"%lld\">", json_num(h, "id"));
		page_text(p, json_str(h, "date"));
		html_raw(&p->out, " ");
		page_text(p, json_str(h, "start"));
		html_raw(&p->out, " ");
		page_text(p, json_str(h, "title"));
		html_raw(&p->out, "</option>");
	}
	if (n == 0)
		return;
	html_raw(&p->out, "</select></div><div class=\"field\"><label for=\"f-message\">");
	page_msg(p, MSG_REPORT_WHAT);
	html_raw(&p->out, "</label><textarea id=\"f-message\" name=\"message\" rows=\"3\" "
	                  "maxlength=\"2000\" required></textarea></div><button type=\"submit\">");
	page_msg(p, MSG_REPORT_SEND);
	html_raw(&p->out, "</button></form></details>\n");
}

/* The inline error of a field of the form posted with `action`, after it failed, else NULL
 * (the password and the erasure forms both ask for the current password). */
static const char *form_err(struct page *p, const char *action, const char *field)
{
	struct me *m = p->data;
	const char *extra;
	const char *posted = page_field(p, "action");
	if (!m->has_err || !posted || strcmp(posted, action) || strcmp(m->err.field, field))
		return NULL;
	return T(p, page_err_msg(&m->err, &extra));
}

/* Close the account: the volunteer's personal data is erased, the hours stay (POST
 * /api/v1/me/erase's flow).  The password confirms it, and a box that says it is final. */
static void erase_section(struct page *p)
{
	html_raw(&p->out, "<details id=\"erase\"");
	if (form_err(p, "erase", "current_password") || form_err(p, "erase", "confirm"))
		html_raw(&p->out, " open");
	html_raw(&p->out, "><summary>");
	page_msg(p, MSG_ERASE);
	html_raw(&p->out, "</summary><p>");
	page_msg(p, MSG_ERASE_HINT);
	html_raw(&p->out, "</p>");
	page_form_open(p, "/me", PAGE_P_ME, 0, 0, 0);
	html_raw(&p->out, "<input type=\"hidden\" name=\"action\" value=\"erase\">");
	page_input(p, "password", "erase_password", MSG_ERASE_PASSWORD, NULL, -1,
	           form_err(p, "erase", "current_password"),
	           "autocomplete=\"current-password\" required maxlength=\"128\"");
	html_raw(&p->out,
	         "<div class=\"field check\"><input id=\"f-erase-confirm\" name=\"confirm\" "
	         "type=\"checkbox\" value=\"1\" required><label for=\"f-erase-confirm\">");
	page_msg(p, MSG_ERASE_CONFIRM);
	html_raw(&p->out, "</label></div><button type=\"submit\" class=\"second\">");
	page_msg(p, MSG_ERASE_BUTTON);
	html_raw(&p->out, "</button></form></details>\n");
}

/* A catalogue string, a space, and a value (escaped). */
static void msg_value(struct page *p, enum msg label, const char *value)
{
	page_msg(p, label);
	html_raw(&p->out, " ");
	page_text(p, value);
}

/* An event as /me lists it: its title, then when and where (page_event_json's fields). */
static void event_summary(struct page *p, const cJSON *e)
{
	html_raw(&p->out, "<strong>");
	page_text(p, json_str(e, "title"));
	html_raw(&p->out, "</strong><br>");
	page_text(p, json_str(e, "starts"));
	html_raw(&p->out, " – ");
	page_text(p, json_str(e, "ends_time"));
	html_raw(&p->out, " · ");
	page_text(p, json_str(e, "location"));
}

/* The open attendance (at most one), first on the page: where, since when, and the check-out
 * button, which needs no code (sql/0033), so that a volunteer whose check-in tab is gone can
 * still check out.  Nothing when they are not checked in. */
static void on_duty_section(struct page *p, const cJSON *d)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(d, "on_duty");
	if (!cJSON_IsObject(o))
		return;
	html_raw(&p->out, "<section class=\"card\" aria-labelledby=\"h-on-duty\" id=\"on-duty\">"
	                  "<h2 id=\"h-on-duty\">");
	page_msg(p, MSG_ON_DUTY);
	html_raw(&p->out, "</h2><p>");
	event_summary(p, o);
	html_raw(&p->out, "</p><p class=\"state\" id=\"on-duty-since\">");
	msg_value(p, MSG_ON_DUTY_SINCE, json_str(o, "check_in_time"));
	html_raw(&p->out, "</p>");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "can_check_out")))
		button_form(p, "checkout", json_num(o, "id"), "event_id", MSG_CHECKOUT, "big");
	html_raw(&p->out, "</section>\n");
}

/* The event of the open attendance, or 0 when the volunteer is not on duty. */
static long long on_duty_event(const cJSON *d)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(d, "on_duty");
	return cJSON_IsObject(o) ? json_num(o, "id") : 0;
}

/* An upcoming event with the sign-up's state and its button: cancel a live sign-up, else sign
 * up.  The event the volunteer is on duty at is marked so, and one they have checked out of
 * is marked "checked out", with neither button: a sign-up that was served is kept (0040). */
static void upcoming_item(struct page *p, const cJSON *e, long long on_duty)
{
	const char *su = json_str(e, "signup");
	int live = su && strcmp(su, "cancelled") != 0;
	int here = on_duty > 0 && json_num(e, "id") == on_duty;
	html_raw(&p->out, here ? "<li class=\"on-duty\">" : "<li>");
	event_summary(p, e);
	if (live) {
		html_raw(&p->out, " <span class=\"tag\">");
		page_msg(p, !strcmp(su, "waitlisted") ? MSG_WAITLISTED : MSG_SIGNED_UP);
		html_raw(&p->out, "</span>");
	}
	if (here) {
		html_raw(&p->out, " <a class=\"tag approved\" href=\"#on-duty\">");
		page_msg(p, MSG_ON_DUTY);
		html_raw(&p->out, "</a></li>");
		return;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "served"))) {
		html_raw(&p->out, " <span class=\"tag\">");
		page_msg(p, MSG_SERVED);
		html_raw(&p->out, "</span></li>");
		return;
	}
	html_raw(&p->out, "<br>");
	if (live)
		small_form(p, "cancel", json_num(e, "id"), "event_id", MSG_CANCEL_SIGNUP, 1);
	else
		small_form(p, "signup", json_num(e, "id"), "event_id", MSG_SIGN_UP, 0);
	html_raw(&p->out, "</li>");
}

/* After a check-out from that section (/me?done=out&attendance=ID): the credited time and its
 * status, as the database has them (page_me's checked_out); a plain "checked out" when the
 * link names no check-out of this volunteer's. */
static void checked_out_notice(struct page *p, const cJSON *d)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(d, "checked_out");
	const char *st = json_str(c, "status");
	if (!cJSON_IsObject(c) || !json_str(c, "hours")) {
		page_notice(p, MSG_DONE_CHECKOUT);
		return;
	}
	html_raw(&p->out, "<div class=\"notice\" role=\"status\" id=\"checked-out\"><p>");
	msg_value(p, MSG_DONE_CHECKED_OUT, json_str(c, "hours"));
	html_raw(&p->out, " ");
	page_msg(p, MSG_HOURS_UNIT);
	html_raw(&p->out, " <span class=\"tag ");
	page_text(p, st);
	html_raw(&p->out, "\">");
	page_msg(p, status_msg(st));
	html_raw(&p->out, "</span></p></div>\n");
}

/* The ID number (masked) and its consent, as recorded: given by the volunteer (when, which
 * notice) or entered by staff from a paper form, or withdrawn; and a form to withdraw it, which
 * deletes the number.  Nothing when there is neither a number nor a record. */
static void id_number_section(struct page *p, const cJSON *d)
{
	const char *masked = json_str(d, "id_number");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(d, "id_number_consent");
	const char *method = json_str(c, "method"), *withdrawn = json_str(c, "withdrawn");
	if (!masked && !cJSON_IsObject(c))
		return;
	html_raw(&p->out, "<section aria-labelledby=\"h-id\" id=\"id-number\"><h2 id=\"h-id\">");
	page_msg(p, MSG_MY_ID_NUMBER);
	html_raw(&p->out, "</h2><p id=\"id-consent\">");
	if (masked) {
		html_raw(&p->out, "<strong id=\"id-masked\">");
		page_text(p, masked);
		html_raw(&p->out, "</strong><br>");
	}
	if (!method || (masked && withdrawn)) {
		page_msg(p, MSG_ID_CONSENT_NONE);
	} else if (withdrawn) {
		msg_value(p, MSG_ID_WITHDRAWN, withdrawn);
	} else {
		msg_value(p, strcmp(method, "staff") ? MSG_ID_CONSENT_SELF : MSG_ID_CONSENT_STAFF,
		          json_str(c, "given"));
		if (json_str(c, "notice_version")) {
			html_raw(&p->out, " · ");
			msg_value(p, MSG_ID_NOTICE_VERSION, json_str(c, "notice_version"));
		}
	}
	html_raw(&p->out, "</p>");
	if (masked) {
		html_raw(&p->out, "<p class=\"hint\">");
		page_msg(p, MSG_ID_WITHDRAW_HINT);
		html_raw(&p->out, "</p>");
		small_form(p, "withdraw_id", 0, "x", MSG_ID_WITHDRAW, 1);
	}
	html_raw(&p->out, "</section>\n");
}

/* The 6-digit code input of the /me forms (named code, as the API's field). */
static void code_input(struct page *p, const char *action)
{
	page_input(p, "text", "code", MSG_TOTP_CODE, NULL, -1, form_err(p, action, "code"),
	           "inputmode=\"numeric\" autocomplete=\"one-time-code\" required maxlength=\"6\" "
	           "pattern=\"[0-9]{6}\"");
}

/* Two-step verification: start (then the QR code, the key and a form to confirm), or turn it
 * off with the password and a code. */
static void totp_section(struct page *p, const cJSON *d)
{
	struct me *m = p->data;
	int on = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "totp"));
	const char *secret = json_str(m->enrollment, "secret");
	html_raw(&p->out, "<section aria-labelledby=\"h-totp\" id=\"totp\"><h2 id=\"h-totp\">");
	page_msg(p, MSG_TOTP);
	html_raw(&p->out, "</h2><p id=\"totp-state\">");
	page_msg(p, on ? MSG_TOTP_ON : MSG_TOTP_OFF);
	html_raw(&p->out, "</p>");
	if (on) {
		page_form_open(p, "/me", PAGE_P_ME, 0, 0, 0);
		html_raw(&p->out, "<input type=\"hidden\" name=\"action\" value=\"totp_off\">");
		page_input(p, "password", "totp_password", MSG_TOTP_PASSWORD, NULL, -1,
		           form_err(p, "totp_off", "current_password"),
		           "autocomplete=\"current-password\" required maxlength=\"128\"");
		code_input(p, "totp_off");
		html_raw(&p->out, "<button type=\"submit\" class=\"second\">");
		page_msg(p, MSG_TOTP_OFF_BUTTON);
		html_raw(&p->out, "</button></form></section>\n");
		return;
	}
	if (secret || form_err(p, "totp_confirm", "code")) {
		if (secret) {
			html_raw(&p->out, "<p>");
			page_msg(p, MSG_TOTP_SCAN);
			/* our own SVG (qrsvg.c: presentation attributes only), not user text */
			html_raw(&p->out, "</p><div id=\"totp-qr\" class=\"qr\">");
			html_raw(&p->out, json_str(m->enrollment, "qr_svg"));
			html_raw(&p->out, "</div><p>");
			page_msg(p, MSG_TOTP_SECRET);
			html_raw(&p->out, " <code id=\"totp-secret\">");
			page_text(p, secret);
			html_raw(&p->out, "</code></p>");
		}
		page_form_open(p, "/me", PAGE_P_ME, 0, 0, 0);
		html_raw(&p->out, "<input type=\"hidden\" name=\"action\" value=\"totp_confirm\">");
		code_input(p, "totp_confirm");
		html_raw(&p->out, "<button type=\"submit\">");
		page_msg(p, MSG_TOTP_CONFIRM);
		html_raw(&p->out, "</button></form>");
	}
	small_form(p, "totp_start", 0, "x", MSG_TOTP_START, secret != NULL);
	html_raw(&p->out, "</section>\n");
}

/* Change the password (the other sessions end with it), or end the other sessions alone:
 * for volunteers and staff alike, since every account logs in here. */
static void account_section(struct page *p, int volunteer)
{
	html_raw(&p->out,
	         "<section aria-labelledby=\"h-account\" id=\"account\"><h2 id=\"h-account\">");
	page_msg(p, MSG_ACCOUNT);
	html_raw(&p->out, "</h2>");
	page_form_open(p, "/me", PAGE_P_ME, 0, 0, 0); /* never queued offline: it holds passwords */
	html_raw(&p->out, "<input type=\"hidden\" name=\"action\" value=\"password\">");
	page_input(p, "password", "current_password", MSG_CURRENT_PASSWORD, NULL, -1,
	           form_err(p, "password", "current_password"),
	           "autocomplete=\"current-password\" required maxlength=\"128\"");
	page_input(p, "password", "new_password", MSG_NEW_PASSWORD, NULL, MSG_NEW_PASSWORD_HINT,
	           form_err(p, "password", "new_password"),
	           "autocomplete=\"new-password\" required minlength=\"10\" maxlength=\"128\"");
	html_raw(&p->out, "<button type=\"submit\">");
	page_msg(p, MSG_CHANGE_PASSWORD);
	html_raw(&p->out, "</button></form>");
	small_form(p, "logout_others", 0, "x", MSG_LOGOUT_OTHERS, 1);
	html_raw(&p->out, "<p><a href=\"/api/v1/me/data\" download>");
	page_msg(p, MSG_MY_DATA);
	html_raw(&p->out, "</a></p>");
	if (volunteer)
		erase_section(p);
	html_raw(&p->out, "</section>\n");
}

static void render(struct page *p, const cJSON *d)
{
	struct me *m = p->data;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "volunteer");
	const char *done = page_query(p, "done");
	static const struct {
		const char *key;
		enum msg id;
	} notes[] = {{"signup", MSG_DONE_SIGNUP},   {"cancel", MSG_DONE_CANCEL},
	             {"request", MSG_DONE_REQUEST}, {"password", MSG_DONE_PASSWORD},
	             {"others", MSG_DONE_OTHERS},   {"id", MSG_DONE_ID_WITHDRAWN},
	             {"totp_on", MSG_DONE_TOTP_ON}, {"totp_off", MSG_DONE_TOTP_OFF}};
	page_start(p, MSG_ME_TITLE);
	for (size_t i = 0; done && i < sizeof notes / sizeof notes[0]; i++)
		if (!strcmp(done, notes[i].key))
			page_notice(p, notes[i].id);
	if (done && !strcmp(done, "out"))
		checked_out_notice(p, d);
	errors(p);
	on_duty_section(p, d);
	if (!cJSON_IsObject(v)) {
		page_notice(p, MSG_NO_VOLUNTEER);
	} else {
		html_raw(&p->out, "<p>");
		page_msg(p, MSG_HELLO);
		html_raw(&p->out, "<strong id=\"me-name\">");
		page_text(p, json_str(v, "name"));
		html_raw(&p->out, "</strong> · ");
		page_msg(p, MSG_VOLUNTEER_NO);
		html_raw(&p->out, " ");
		page_text(p, json_str(v, "volunteer_no"));
		html_raw(&p->out, " · ");
		page_text(p, json_str(v, "org_unit"));
		html_raw(&p->out, "</p>\n");

		const cJSON *month = cJSON_GetObjectItemCaseSensitive(d, "month");
		const cJSON *year = cJSON_GetObjectItemCaseSensitive(d, "year");
		html_raw(&p->out, "<h2>");
		page_msg(p, MSG_THIS_MONTH);
		html_raw(&p->out, "</h2><div class=\"totals\">");
		total(p, MSG_APPROVED_HOURS, month, "approved_hours", "month-approved");
		total(p, MSG_PENDING_HOURS, month, "pending_hours", "month-pending");
		html_raw(&p->out, "</div><h2>");
		page_msg(p, MSG_THIS_YEAR);
		html_raw(&p->out, "</h2><div class=\"totals\">");
		total(p, MSG_APPROVED_HOURS, year, "approved_hours", "year-approved");
		total(p, MSG_PENDING_HOURS, year, "pending_hours", "year-pending");
		html_raw(&p->out, "</div>\n<p><a href=\"/me/certificates\" id=\"my-certs\">");
		page_msg(p, MSG_MY_CERTS);
		html_raw(&p->out, "</a></p>\n");

		const cJSON *stars = cJSON_GetObjectItemCaseSensitive(d, "stars"), *s;
		if (cJSON_GetArraySize(stars) > 0) {
			html_raw(&p->out, "<h2>");
			page_msg(p, MSG_STARS);
			html_raw(&p->out, "</h2><ul>");
			cJSON_ArrayForEach(s, stars)
			{
				html_raw(&p->out, "<li>");
				page_text(p, json_str(s, "name"));
				html_rawf(&p->out, ": %lld ★</li>", json_num(s, "level"));
			}
			html_raw(&p->out, "</ul>\n");
		}

		const cJSON *up = cJSON_GetObjectItemCaseSensitive(d, "upcoming"), *e;
		html_raw(&p->out, "<h2>");
		page_msg(p, MSG_UPCOMING);
		html_raw(&p->out, "</h2>");
		if (cJSON_GetArraySize(up) == 0) {
			html_raw(&p->out, "<p>");
			page_msg(p, MSG_NO_UPCOMING);
			html_raw(&p->out, "</p>");
		}
		html_raw(&p->out, "<ul class=\"events\">");
		long long on_duty = on_duty_event(d);
		cJSON_ArrayForEach(e, up)
		{
			upcoming_item(p, e, on_duty);
		}
		html_raw(&p->out, "</ul>\n");

		const cJSON *entries = cJSON_GetObjectItemCaseSensitive(d, "entries"), *h;
		html_raw(&p->out, "<h2>");
		page_msg(p, MSG_MY_ENTRIES);
		html_raw(&p->out, "</h2>");
		if (cJSON_GetArraySize(entries) == 0) {
			html_raw(&p->out, "<p>");
			page_msg(p, MSG_NO_ENTRIES);
			html_raw(&p->out, "</p>");
		} else {
			html_raw(&p->out, "<table id=\"entries\"><thead><tr><th scope=\"col\">");
			page_msg(p, MSG_DATE);
			html_raw(&p->out, "</th><th scope=\"col\">");
			page_msg(p, MSG_ACTIVITY);
			html_raw(&p->out, "</th><th scope=\"col\">");
			page_msg(p, MSG_HOURS);
			html_raw(&p->out, "</th><th scope=\"col\">");
			page_msg(p, MSG_STATUS);
			html_raw(&p->out, "</th></tr></thead><tbody>");
		}
		cJSON_ArrayForEach(h, entries)
		{
			const char *st = json_str(h, "status");
			html_raw(&p->out, "<tr><td>");
			page_text(p, json_str(h, "date"));
			html_raw(&p->out, "<br>");
			page_text(p, json_str(h, "start"));
			html_raw(&p->out, "–");
			page_text(p, json_str(h, "end"));
			html_raw(&p->out, "</td><td>");
			page_text(p, json_str(h, "title"));
			html_raw(&p->out, "</td><td>");
			page_text(p, json_str(h, "hours"));
			html_raw(&p->out, "</td><td><span class=\"tag ");
			page_text(p, st);
			html_raw(&p->out, "\">");
			page_msg(p, status_msg(st));
			html_raw(&p->out, "</span>");
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "requested"))) {
				html_raw(&p->out, "<br><span class=\"tag\">");
				page_msg(p, MSG_REQUESTED);
				html_raw(&p->out, "</span>");
			}
			html_raw(&p->out, "</td></tr>");
		}
		if (cJSON_GetArraySize(entries) > 0) {
			html_raw(&p->out, "</tbody></table>\n");
			report_form(p, entries);
		}

		const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(d, "requests"), *q;
		if (cJSON_GetArraySize(reqs) > 0) {
			html_raw(&p->out, "<h2>");
			page_msg(p, MSG_MY_REQUESTS);
			html_raw(&p->out, "</h2><ul id=\"requests\">");
			cJSON_ArrayForEach(q, reqs)
			{
				/* the outcome (sql/0020): open, or resolved as corrected or
				 * declined */
				const char *res = json_str(q, "resolution");
				int corrected = res && !strcmp(res, "corrected");
				int declined = res && !strcmp(res, "declined");
				html_rawf(&p->out, "<li data-request=\"%lld\">", json_num(q, "id"));
				page_text(p, json_str(q, "created"));
				html_raw(&p->out, corrected  ? " <span class=\"tag approved\">"
				                  : declined ? " <span class=\"tag rejected\">"
				                             : " <span class=\"tag\">");
				page_msg(p, corrected  ? MSG_REQ_RESOLVED
				            : declined ? MSG_REQ_REJECTED
				                       : MSG_REQ_OPEN);
				html_raw(&p->out, "</span> ");
				page_text(p, json_str(q, "message"));
				if (json_str(q, "note")) {
					html_raw(&p->out, "<br><span class=\"hint\">");
					page_msg(p, MSG_REQ_NOTE);
					html_raw(&p->out, "</span> ");
					page_text(p, json_str(q, "note"));
				}
				html_raw(&p->out, "</li>");
			}
			html_raw(&p->out, "</ul>\n");
		}
		id_number_section(p, d);
	}
	account_section(p, cJSON_IsObject(v));
	totp_section(p, d);
	small_form(p, "logout", 0, "x", MSG_LOGOUT, 1);
	page_end(p);
	page_send(p, m->status ? m->status : 200);
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

/* A positive id written in decimal, else 0. */
static long long id_of(const char *v)
{
	if (!v || !*v || strlen(v) > 15 || strspn(v, "0123456789") != strlen(v))
		return 0;
	return atoll(v);
}

static void load(struct page *p)
{
	if (!p->r->account_id) {
		login_form(p);
		return;
	}
	cJSON *args = cJSON_CreateObject();
	long long closed = id_of(page_query(p, "attendance")); /* after a check-out */
	if (!args ||
	    (closed > 0 && !cJSON_AddNumberToObject(args, "attendance_id", (double)closed))) {
		cJSON_Delete(args);
		reply_problem(p->r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	page_read(p, "page_me", args, loaded);
}

static struct page *begin(struct req *r)
{
	struct page *p = page_new(r);
	if (!p)
		return NULL;
	struct me *m = page_data_new(p, sizeof *m, me_free);
	return m ? p : NULL;
}

void h_page_me(struct req *r)
{
	struct page *p = begin(r);
	if (p)
		load(p);
}

/* A write's outcome: 303 to /me?done=<action>, or the page again with the error. */
static void written(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct me *m = p->data;
	cJSON_Delete(result);
	if (e->code == APP_OK) {
		const char *a = page_field(p, "action");
		char url[48];
		snprintf(url, sizeof url, "/me?done=%s",
		         !strcmp(a, "signup")          ? "signup"
		         : !strcmp(a, "cancel")        ? "cancel"
		         : !strcmp(a, "password")      ? "password"
		         : !strcmp(a, "logout_others") ? "others"
		         : !strcmp(a, "withdraw_id")   ? "id"
		         : !strcmp(a, "totp_confirm")  ? "totp_on"
		         : !strcmp(a, "totp_off")      ? "totp_off"
		                                       : "request");
		page_redirect(p, url);
		return;
	}
	m->has_err = 1;
	m->err = *e;
	m->status = app_err_status(e->code);
	load(p);
}

/* The erasure's outcome: 303 to the log-in form with a notice and the volunteer number (the
 * session and its cookie are gone), or the page again with the error. */
static void erased(struct req *r, cJSON *result, const struct err *e)
{
	if (e->code != APP_OK) {
		written(r, result, e);
		return;
	}
	char url[80];
	const char *no = json_str(result, "volunteer_no");
	snprintf(url, sizeof url, "/me?done=erased&no=%s", no ? no : "");
	cJSON_Delete(result);
	page_redirect(page_of(r), url);
}

/* A check-out's outcome: 303 to /me?done=out&attendance=ID, where the page reads back the
 * credited time; or the page again with the error (e.g. 409: already checked out elsewhere). */
static void checked_out(struct req *r, cJSON *result, const struct err *e)
{
	if (e->code != APP_OK) {
		written(r, result, e);
		return;
	}
	char url[64];
	snprintf(url, sizeof url, "/me?done=out&attendance=%lld", json_num(result, "id"));
	cJSON_Delete(result);
	page_redirect(page_of(r), url);
}

/* An enrollment started: the page with its secret and QR code, shown this once. */
static void totp_started(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct me *m = p->data;
	if (e->code != APP_OK) {
		written(r, result, e);
		return;
	}
	m->enrollment = result; /* (sent with Cache-Control: no-store, h_totp.c) */
	load(p);
}

/* The /me page's two-step verification forms; 0 when action is none of them. */
static int totp_post(struct page *p, const char *action)
{
	struct req *r = p->r;
	const char *code = page_field(p, "code");
	if (!strcmp(action, "totp_start")) {
		page_capture(p, totp_started);
		totp_enroll_start(r);
	} else if (!strcmp(action, "totp_confirm")) {
		page_capture(p, written);
		totp_confirm_start(r, code ? code : "");
	} else if (!strcmp(action, "totp_off")) {
		const char *current = page_field(p, "totp_password");
		page_capture(p, written);
		if (!current || !*current) {
			struct err e;
			err_set(&e, APP_EINVALID, "current_password", "required");
			written(r, NULL, &e);
		} else {
			totp_disable_start(r, current, code ? code : "");
		}
	} else {
		return 0;
	}
	return 1;
}

static void logged_in(struct page *p)
{
	const char *next = page_field(p, "next");
	page_redirect(p, page_safe_next(next));
}

static void logged_out(struct req *r, cJSON *result, const struct err *e)
{
	cJSON_Delete(result);
	if (e->code != APP_OK) {
		page_fail(page_of(r), e);
		return;
	}
	page_redirect(page_of(r), "/me");
}

static long long field_id(struct page *p, const char *key)
{
	return id_of(page_field(p, key));
}

/* The page again, with a 400 for a form that is not one of ours. */
static void bad_form(struct page *p)
{
	struct me *m = p->data;
	err_set(&m->err, APP_EMALFORMED, NULL, "bad form");
	m->has_err = 1;
	m->status = 400;
	load(p);
}

/* The volunteer withdraws the consent to keep their ID number: the API's PATCH of their own
 * record with the number removed. */
static void withdraw_id_number(struct page *p)
{
	cJSON *args = cJSON_CreateObject();
	if (!args || !p->r->volunteer_id ||
	    !cJSON_AddNumberToObject(args, "id", (double)p->r->volunteer_id) ||
	    !cJSON_AddTrueToObject(args, "id_number_clear")) {
		cJSON_Delete(args);
		bad_form(p);
		return;
	}
	page_write(p, "volunteer_update", args, written);
}

/* The volunteer checks out of their open attendance at event_id (the on-duty section): the
 * API's own path, as POST /events/{id}/check-outs and the check-in page's button take. */
static void check_out(struct page *p, long long event_id)
{
	cJSON *body = cJSON_CreateObject();
	if (!body || event_id <= 0) {
		cJSON_Delete(body);
		bad_form(p);
		return;
	}
	page_capture(p, checked_out);
	attendance_submit(p->r, event_id, "checkout", 200, body, 0, 0);
}

void h_page_me_post(struct req *r)
{
	struct page *p = begin(r);
	if (!p)
		return;
	struct me *m = p->data;
	const char *action = page_field(p, "action");
	int flags;
	if (!action)
		action = "";
	/* sign-up and check-out forms are per event (the token names it); the others have no
	 * subject */
	int per_event = !strcmp(action, "signup") || !strcmp(action, "cancel") ||
	                !strcmp(action, "checkout");
	long long subject = !strcmp(action, "correction") ? field_id(p, "entry_id")
	                    : per_event                   ? field_id(p, "event_id")
	                                                  : 0;
	enum page_purpose purpose = !strcmp(action, "login") ? PAGE_P_LOGIN : PAGE_P_ME;
	if (page_form_check(p, purpose, per_event ? subject : 0, &flags) < 0) {
		err_set(&m->err, APP_EFORBIDDEN, NULL, "the form expired");
		m->has_err = 1;
		m->status = 403;
		load(p);
		return;
	}
	if (!strcmp(action, "login")) {
		const char *login = page_field(p, "phone"), *pw = page_field(p, "password");
		page_capture(p, written);
		if (!login || !*login || !pw || !*pw) {
			err_set(&m->err, APP_EUNAUTH, NULL, "wrong login or password");
			m->has_err = 1;
			m->status = 401;
			load(p);
			return;
		}
		page_login(p, login, pw, page_field(p, "totp"), logged_in);
		return;
	}
	if (!r->account_id) {
		page_redirect(p, "/me");
		return;
	}
	if (!strcmp(action, "logout")) {
		page_capture(p, logged_out);
		session_logout(r);
		return;
	}
	if (!strcmp(action, "logout_others")) {
		page_capture(p, written);
		sessions_end_others(r);
		return;
	}
	if (!strcmp(action, "erase")) {
		const char *current = page_field(p, "erase_password");
		page_capture(p, erased);
		struct err e;
		if (!current || !*current)
			err_set(&e, APP_EINVALID, "current_password", "required");
		else if (!page_field(p, "confirm"))
			err_set(&e, APP_EINVALID, "confirm", "required");
		else {
			me_erase_start(r, current);
			return;
		}
		erased(r, NULL, &e);
		return;
	}
	if (!strcmp(action, "withdraw_id")) {
		withdraw_id_number(p);
		return;
	}
	if (totp_post(p, action))
		return;
	if (!strcmp(action, "checkout")) {
		check_out(p, subject);
		return;
	}
	if (!strcmp(action, "password")) {
		const char *current = page_field(p, "current_password");
		page_capture(p, written);
		if (!current || !*current) {
			struct err e;
			err_set(&e, APP_EINVALID, "current_password", "required");
			written(r, NULL, &e);
			return;
		}
		const char *fresh = page_field(p, "new_password");
		password_change_start(r, current, fresh ? fresh : "");
		return;
	}
	cJSON *args = cJSON_CreateObject();
	if (!args || subject <= 0) {
		cJSON_Delete(args);
		bad_form(p);
		return;
	}
	if (!strcmp(action, "correction")) {
		const char *msg = page_field(p, "message");
		cJSON_AddNumberToObject(args, "entry_id", (double)subject);
		cJSON_AddStringToObject(args, "message", msg ? msg : "");
		page_capture(p, written);
		corrections_create_body(r, args);
		return;
	}
	if (strcmp(action, "signup") && strcmp(action, "cancel")) {
		cJSON_Delete(args);
		bad_form(p);
		return;
	}
	cJSON_AddNumberToObject(args, "event_id", (double)subject);
	cJSON_AddNumberToObject(args, "volunteer_id", (double)r->volunteer_id);
	page_write(p, !strcmp(action, "signup") ? "signup_create" : "signup_cancel", args, written);
}
