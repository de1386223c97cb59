/*
 * p_console.c: the coordinator's console (DESIGN §5, issue 7).
 *
 *   GET  /console                      today's and upcoming events in scope, the pending
 *                                      entries with bulk approval, the oldest open correction
 *                                      requests with a form each (sql/0020), a form that
 *                                      creates a weekly activity (api.page_console, sql/0010)
 *                                      on an hour policy the coordinator sees
 *                                      (api.page_console_policies, sql/0022);
 *   POST /console                      action=approve (ids) -> api.hours_approve_bulk,
 *                                      action=create -> activities_create_body (the API's
 *                                      own checks and api.activity_create),
 *                                      action=resolve (request_id, resolution, note) ->
 *                                      api.correction_request_resolve (sql/0020);
 *   GET  /console/entries/{id}         one entry (api.page_entry, sql/0020): its attendance,
 *                                      the open correction requests about it;
 *   POST /console/entries/{id}         action=approve -> api.hours_approve, action=reject
 *                                      (reason) -> api.hours_reject, action=correct
 *                                      (check_in, check_out, reason: local times) ->
 *                                      api.page_attendance_correct, which is
 *                                      api.attendance_correct (PATCH /attendance/{id}) on
 *                                      the entry's attendance, action=resolve as on /console;
 *   GET  /console/events/{id}          the live roster (api.page_roster, which is
 *                                      api.event_attendance with local times), a page of
 *                                      ROSTER_ROWS at a time (?cursor= from its "next page"
 *                                      link), all or of one state (?state=, the counts'
 *                                      links), with the counts of the whole event;
 *   POST /console/events/{id}          roster check-in / check-out of one volunteer through
 *                                      attendance_submit, exactly the API's path; with
 *                                      action=walkin the volunteer is found first by phone,
 *                                      volunteer number or ID number (api.page_walkin,
 *                                      sql/0016); the forms post to the page's own address
 *                                      (its ?state= and ?cursor=), and come back to it;
 *   GET  /console/activities/{id}      an activity's edit form (api.page_activity, sql/0031):
 *                                      title, place and hour policy (the policies it may
 *                                      use), linked from the roster's event card;
 *   POST /console/activities/{id}      action=activity -> activities_update_body (the API's
 *                                      own checks and api.activity_update), back to the form
 *                                      with ?done=saved;
 *   GET  /console/events/{id}/poster   the QR poster.  A rotating code (the default
 *                                      policy): the event's URL token as an SVG QR code and
 *                                      the 6-digit code, derived by activities_add_checkin as
 *                                      for GET /events/{id}, for a screen that stays on:
 *                                      console.js refetches it every 30 s, and without
 *                                      JavaScript the page reloads when the code's 45-s slot
 *                                      turns.  A fixed code (a static_code policy): the code
 *                                      and the permanent /checkin/{event id}, printable.
 *
 * Anonymous visitors are sent to the log-in form of /me (next=/console); a volunteer
 * without a staff role gets the 403 page (the SQL functions decide, as for the API).  Every
 * POST carries a one-time form token (purpose PAGE_P_CONSOLE, subject 0 or the entry, or
 * PAGE_P_ROSTER, subject the event; PAGE_P_ACTIVITY, subject the activity) that is also the write's
 * Idempotency-Key, and answers 303 on success.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "checkin_code.h"
#include "config.h"
#include "handlers.h"
#include "idnum.h"
#include "json.h"
#include "page.h"
#include "qrsvg.h"
#include "reply.h"
#include "req.h"
#include "secret.h"
#include "validate.h"
#include "worker.h"

#define MAX_BULK 1000 /* ids per approval, as POST /hours/approve */
/* Rows of a roster page: each carries a form with its token, so a page of long names must
 * stay within the 30 KB budget (test_roster.py measures the worst). */
#define ROSTER_ROWS 25

struct con {
	long long event_id; /* the path's id: the event, or the entry of /console/entries/{id} */
	int has_err;        /* 1: err (an API error), 2: err_msg (a page-level message) */
	struct err err;
	enum msg err_msg;
	int status;
	char action[12];
	cJSON *console; /* GET /console: api.page_console's answer while the policies load */
};

static void con_free(void *data)
{
	struct con *c = data;
	cJSON_Delete(c->console);
	free(c);
}

/* A path id: digits only, 1..2^53. */
static long long parse_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 1 || n > 15 || strspn(s, "0123456789") != n)
		return 0;
	return atoll(s);
}

static void oom(struct req *r)
{
	reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
}

static struct page *begin(struct req *r, const char *login_next, const char *what)
{
	struct page *p = page_new(r);
	if (!p)
		return NULL;
	if (!r->account_id) {
		page_redirect(p, login_next);
		return NULL;
	}
	struct con *c = page_data_new(p, sizeof *c, con_free);
	if (!c)
		return NULL;
	if (r->nparams > 0) {
		c->event_id = parse_id(r->params[0]);
		if (!c->event_id) {
			struct err e;
			err_set(&e, APP_ENOTFOUND, NULL, "%s not found", what);
			page_fail(p, &e);
			return NULL;
		}
	}
	return p;
}

/* page_start, then the staff pages' own stylesheet and script, and the links between them. */
static void staff_start(struct page *p, enum msg title, int links)
{
	page_start(p, title);
	html_raw(&p->out, "<link rel=\"stylesheet\" href=\"");
	page_static_url(&p->out, "staff.css");
	html_raw(&p->out, "\"><script src=\"");
	page_static_url(&p->out, "console.js");
	html_raw(&p->out, "\" defer></script>\n");
	if (links) {
		html_raw(&p->out, "<p class=\"row-actions noprint\"><a href=\"/console\">");
		page_msg(p, MSG_NAV_CONSOLE);
		html_raw(&p->out, "</a><a href=\"/admin\">");
		page_msg(p, MSG_NAV_ADMIN);
		html_raw(&p->out, "</a></p>\n");
	}
}

static void errors(struct page *p)
{
	struct con *c = p->data;
	if (c->has_err == 1) {
		page_error_box(p, &c->err);
	} else if (c->has_err == 2) {
		html_raw(&p->out, "<div class=\"error\" role=\"alert\"><p>");
		page_msg(p, c->err_msg);
		html_raw(&p->out, "</p></div>\n");
	}
}

static void fail_form(struct page *p, enum msg id, int status, void (*load)(struct page *))
{
	struct con *c = p->data;
	c->has_err = 2;
	c->err_msg = id;
	c->status = status;
	load(p);
}

/* The same for a refusal by the API: the page again, with e shown and its status. */
static void fail_api(struct page *p, const struct err *e, void (*load)(struct page *))
{
	struct con *c = p->data;
	c->has_err = 1;
	c->err = *e;
	c->status = app_err_status(e->code);
	load(p);
}

/* ---- GET /console ------------------------------------------------------------------- */

static void events_section(struct page *p, const cJSON *d)
{
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(d, "events"), *ev;
	const char *today = json_str(d, "today");
	html_raw(&p->out, "<section aria-labelledby=\"h-events\"><h2 id=\"h-events\">");
	page_msg(p, MSG_EVENTS_TITLE);
	html_raw(&p->out, "</h2>");
	if (cJSON_GetArraySize(events) == 0) {
		html_raw(&p->out, "<p>");
		page_msg(p, MSG_NO_EVENTS);
		html_raw(&p->out, "</p></section>\n");
		return;
	}
	if (json_num(d, "events_total") > cJSON_GetArraySize(events)) {
		html_rawf(&p->out, "<p class=\"hint\">%lld ", json_num(d, "events_total"));
		page_msg(p, MSG_EVENTS_MORE);
		html_raw(&p->out, "</p>");
	}
	html_raw(&p->out, "<ul class=\"events\" id=\"events\">");
	cJSON_ArrayForEach(ev, events)
	{
		long long id = json_num(ev, "id");
		html_rawf(&p->out, "<li data-event=\"%lld\"><strong>", id);
		page_text(p, json_str(ev, "title"));
		html_raw(&p->out, "</strong>");
		if (today && json_str(ev, "day") && !strcmp(today, json_str(ev, "day"))) {
			html_raw(&p->out, " <span class=\"tag approved\">");
			page_msg(p, MSG_TODAY);
			html_raw(&p->out, "</span>");
		}
		if (json_str(ev, "status") && !strcmp(json_str(ev, "status"), "cancelled")) {
			html_raw(&p->out, " <span class=\"tag void\">");
			page_msg(p, MSG_ERR_CANCELLED);
			html_raw(&p->out, "</span>");
		}
		html_raw(&p->out, "<br>");
		page_text(p, json_str(ev, "starts"));
		html_raw(&p->out, "–");
		page_text(p, json_str(ev, "ends_time"));
		html_raw(&p->out, " · ");
		page_text(p, json_str(ev, "location"));
		html_raw(&p->out, "<br>");
		page_msg(p, MSG_ST_SIGNED_UP);
		html_rawf(&p->out, " %lld", json_num(ev, "confirmed"));
		if (json_num(ev, "capacity"))
			html_rawf(&p->out, "/%lld", json_num(ev, "capacity"));
		html_raw(&p->out, " · ");
		page_msg(p, MSG_ST_ON_POST);
		html_rawf(&p->out,
		          " %lld<span class=\"row-actions\"><a href=\"/console/events/%lld\">",
		          json_num(ev, "on_post"), id);
		page_msg(p, MSG_ROSTER);
		html_rawf(&p->out, "</a><a href=\"/console/events/%lld/poster\">", id);
		page_msg(p, MSG_POSTER);
		html_raw(&p->out, "</a></span></li>");
	}
	html_raw(&p->out, "</ul></section>\n");
}

static void pending_section(struct page *p, const cJSON *d)
{
	const cJSON *pending = cJSON_GetObjectItemCaseSensitive(d, "pending"), *h;
	long long total = json_num(d, "pending_total");
	html_raw(&p->out,
	         "<section aria-labelledby=\"h-pending\" id=\"pending\"><h2 id=\"h-pending\">");
	page_msg(p, MSG_PENDING_TITLE);
	html_rawf(&p->out, " (%lld)</h2>", total);
	if (cJSON_GetArraySize(pending) == 0) {
		html_raw(&p->out, "<p>");
		page_msg(p, MSG_NO_PENDING);
		html_raw(&p->out, "</p></section>\n");
		return;
	}
	if (total > cJSON_GetArraySize(pending)) {
		html_rawf(&p->out, "<p class=\"hint\">%lld ", total);
		page_msg(p, MSG_PENDING_MORE);
		html_raw(&p->out, "</p>");
	}
	page_form_open(p, "/console", PAGE_P_CONSOLE, 0, 0, 0);
	html_raw(&p->out, "<input type=\"hidden\" name=\"action\" value=\"approve\">"
	                  "<div class=\"field check\" hidden><input type=\"checkbox\" "
	                  "id=\"select-all\"><label for=\"select-all\">");
	page_msg(p, MSG_SELECT_ALL);
	html_raw(&p->out, "</label></div><div class=\"tbl\"><table id=\"pending-list\"><thead><tr>"
	                  "<th scope=\"col\">✓</th><th scope=\"col\">");
	page_msg(p, MSG_VOLUNTEER);
	html_raw(&p->out, "</th><th scope=\"col\">");
	page_msg(p, MSG_ACTIVITY);
	html_raw(&p->out, "</th><th scope=\"col\" class=\"n\">");
	page_msg(p, MSG_HOURS);
	html_raw(&p->out, "</th></tr></thead><tbody>");
	cJSON_ArrayForEach(h, pending)
	{
		long long id = json_num(h, "id");
		html_rawf(
		        &p->out,
		        "<tr><td><input type=\"checkbox\" name=\"id\" value=\"%lld\" id=\"c-%lld\">"
		        "</td><td><label for=\"c-%lld\">",
		        id, id, id);
		page_text(p, json_str(h, "volunteer"));
		html_raw(&p->out, "</label></td><td>");
		page_text(p, json_str(h, "title"));
		html_raw(&p->out, "<br><span class=\"hint\">");
		page_text(p, json_str(h, "started"));
		html_rawf(&p->out, "</span> <a href=\"/console/entries/%lld\">", id);
		page_msg(p, MSG_DETAILS);
		html_raw(&p->out, "</a></td><td class=\"n\">");
		page_text(p, json_str(h, "hours"));
		html_raw(&p->out, "</td></tr>");
	}
	html_raw(&p->out, "</tbody></table></div><button type=\"submit\">");
	page_msg(p, MSG_APPROVE_SELECTED);
	html_raw(&p->out, "</button></form></section>\n");
}

/* ---- correction requests (sql/0020) ------------------------------------------------- */

/* The inline error of field `name` of the `action` form after a failed POST (for request
 * `subject` when the form is one of several), or NULL. */
static const char *form_err(struct page *p, const char *action, const char *name, long long subject)
{
	struct con *c = p->data;
	const char *extra;
	if (c->has_err != 1 || strcmp(c->action, action) != 0 || strcmp(c->err.field, name) != 0)
		return NULL;
	if (subject && parse_id(page_field(p, "request_id")) != subject)
		return NULL;
	enum msg id = page_err_msg(&c->err, &extra);
	return id == MSG_ERR_INVALID || id == MSG_ERR_CONFLICT ? c->err.detail : T(p, id);
}

/* A form field's value again after a failed POST of the same action (and request). */
static const char *form_again(struct page *p, const char *action, const char *name,
                              long long subject)
{
	struct con *c = p->data;
	if (!c->has_err || strcmp(c->action, action) != 0)
		return NULL;
	if (subject && parse_id(page_field(p, "request_id")) != subject)
		return NULL;
	return page_field(p, name);
}

static void inline_err(struct page *p, const char *id, const char *err)
{
	if (!err)
		return;
	html_rawf(&p->out, "<p class=\"err\" id=\"%s\">", id);
	page_text(p, err);
	html_raw(&p->out, "</p>");
}

/* A labelled <textarea> with ids f-<id> (and h-<id>, e-<id> for its hint and error). */
static void text_area(struct page *p, const char *id, const char *name, enum msg label, int hint,
                      const char *value, const char *err, int required, int maxlen)
{
	html_rawf(&p->out, "<div class=\"field\"><label for=\"f-%s\">", id);
	page_msg(p, label);
	html_rawf(&p->out,
	          "</label><textarea id=\"f-%s\" name=\"%s\" rows=\"2\" maxlength=\"%d\"%s", id,
	          name, maxlen, required ? " required" : "");
	if (hint >= 0 || err)
		html_rawf(&p->out, " aria-describedby=\"%s%s%s%s\"", hint >= 0 ? "h-" : "",
		          hint >= 0 ? id : "", err ? (hint >= 0 ? " e-" : "e-") : "",
		          err ? id : "");
	if (err)
		html_raw(&p->out, " aria-invalid=\"true\"");
	html_raw(&p->out, ">");
	if (value)
		page_text(p, value);
	html_raw(&p->out, "</textarea>");
	if (hint >= 0) {
		html_rawf(&p->out, "<p class=\"hint\" id=\"h-%s\">", id);
		page_msg(p, (enum msg)hint);
		html_raw(&p->out, "</p>");
	}
	if (err) {
		char eid[48];
		snprintf(eid, sizeof eid, "e-%s", id);
		inline_err(p, eid, err);
	}
	html_raw(&p->out, "</div>");
}

/* The form that resolves request `rid`, posted to `url` with a token for `subject`; inside a
 * <details> that stays open after a failed attempt. */
static void resolve_form(struct page *p, const char *url, long long subject, long long rid)
{
	const char *res = form_again(p, "resolve", "resolution", rid);
	const char *rerr = form_err(p, "resolve", "resolution", rid);
	char id[32], eid[40];
	html_rawf(&p->out, "<details%s><summary>",
	          form_again(p, "resolve", "note", rid) ? " open" : "");
	page_msg(p, MSG_RESOLVE);
	html_raw(&p->out, "</summary>");
	page_form_open(p, url, PAGE_P_CONSOLE, subject, 0, 0);
	html_rawf(&p->out,
	          "<input type=\"hidden\" name=\"action\" value=\"resolve\">"
	          "<input type=\"hidden\" name=\"request_id\" value=\"%lld\">"
	          "<fieldset class=\"radios\"%s><legend>",
	          rid, rerr ? " aria-describedby=\"e-res-" : "");
	if (rerr)
		html_rawf(&p->out, "%lld\"", rid);
	page_msg(p, MSG_RESOLUTION);
	html_rawf(&p->out,
	          "</legend><label><input type=\"radio\" name=\"resolution\" value=\"corrected\" "
	          "required%s>",
	          res && !strcmp(res, "corrected") ? " checked" : "");
	page_msg(p, MSG_RES_CORRECTED);
	html_rawf(&p->out,
	          "</label><label><input type=\"radio\" name=\"resolution\" "
	          "value=\"declined\"%s>",
	          res && !strcmp(res, "declined") ? " checked" : "");
	page_msg(p, MSG_RES_DECLINED);
	html_raw(&p->out, "</label>");
	snprintf(eid, sizeof eid, "e-res-%lld", rid);
	inline_err(p, eid, rerr);
	html_raw(&p->out, "</fieldset>");
	snprintf(id, sizeof id, "note-%lld", rid);
	text_area(p, id, "note", MSG_NOTE, MSG_NOTE_HINT, form_again(p, "resolve", "note", rid),
	          form_err(p, "resolve", "note", rid), 0, 2000);
	html_raw(&p->out, "<button type=\"submit\">");
	page_msg(p, MSG_SAVE);
	html_raw(&p->out, "</button></form></details>");
}

/* An entry's status as a coloured tag in the page's language. */
static void entry_tag(struct page *p, const char *status)
{
	const char *s = status ? status : "pending";
	html_raw(&p->out, " <span class=\"tag ");
	page_text(p, s);
	html_raw(&p->out, "\">");
	page_msg(p, !strcmp(s, "approved")   ? MSG_STATUS_APPROVED
	            : !strcmp(s, "rejected") ? MSG_STATUS_REJECTED
	            : !strcmp(s, "void")     ? MSG_STATUS_VOID
	                                     : MSG_STATUS_PENDING);
	html_raw(&p->out, "</span>");
}

/* The open correction requests over the actor's events, each with its resolve form. */
static void requests_section(struct page *p, const cJSON *d)
{
	const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(d, "requests"), *q;
	long long total = json_num(d, "requests_total");
	html_raw(&p->out,
	         "<section aria-labelledby=\"h-requests\" id=\"requests\"><h2 id=\"h-requests\">");
	page_msg(p, MSG_REQS_TITLE);
	html_rawf(&p->out, " (%lld)</h2>", total);
	if (cJSON_GetArraySize(reqs) == 0) {
		html_raw(&p->out, "<p>");
		page_msg(p, MSG_NO_REQS);
		html_raw(&p->out, "</p></section>\n");
		return;
	}
	if (total > cJSON_GetArraySize(reqs)) {
		html_rawf(&p->out, "<p class=\"hint\">%lld ", total);
		page_msg(p, MSG_REQS_MORE);
		html_raw(&p->out, "</p>");
	}
	html_raw(&p->out, "<ul class=\"requests\" id=\"request-list\">");
	cJSON_ArrayForEach(q, reqs)
	{
		long long id = json_num(q, "id"), entry = json_num(q, "entry_id");
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(q, "entry");
		html_rawf(&p->out, "<li data-request=\"%lld\"><strong>", id);
		page_text(p, json_str(q, "volunteer"));
		html_raw(&p->out, "</strong> · ");
		page_text(p, json_str(q, "title"));
		html_raw(&p->out, "<br><span class=\"hint\">");
		page_text(p, json_str(q, "created"));
		html_raw(&p->out, "</span><blockquote>");
		page_text(p, json_str(q, "message"));
		html_raw(&p->out, "</blockquote>");
		if (cJSON_IsObject(h)) {
			page_msg(p, MSG_REQ_ABOUT);
			html_raw(&p->out, ": ");
			page_text(p, json_str(h, "started"));
			html_raw(&p->out, "–");
			page_text(p, json_str(h, "ended"));
			html_raw(&p->out, " · ");
			page_text(p, json_str(h, "hours"));
			html_raw(&p->out, " ");
			page_msg(p, MSG_HOURS_UNIT);
			entry_tag(p, json_str(h, "status"));
			html_rawf(&p->out, " <a href=\"/console/entries/%lld\">", entry);
			page_msg(p, MSG_DETAILS);
			html_raw(&p->out, "</a>");
		} else if (json_num(q, "event_id")) {
			html_rawf(&p->out, "<a href=\"/console/events/%lld\">",
			          json_num(q, "event_id"));
			page_msg(p, MSG_ROSTER);
			html_raw(&p->out, "</a> ");
			page_text(p, json_str(q, "event_starts"));
		}
		resolve_form(p, "/console", 0, id);
		html_raw(&p->out, "</li>");
	}
	html_raw(&p->out, "</ul></section>\n");
}

/* The error text of one field of the create form, or NULL. */
/* The POST came from a form about an activity: /console's create form or the edit form of
 * /console/activities/{id} (each page has one of them, so they share the helpers below). */
static int activity_form(const struct con *c)
{
	return !strcmp(c->action, "create") || !strcmp(c->action, "activity");
}

static const char *field_err(struct page *p, const char *name)
{
	struct con *c = p->data;
	const char *f, *extra;
	if (c->has_err != 1 || !activity_form(c) || !c->err.field[0])
		return NULL;
	f = c->err.field;
	if (!strncmp(f, "recurrence.", 11))
		f += 11;
	if (!strcmp(f, "team_id") || !strcmp(f, "org_unit_id"))
		f = "team";
	if (!strcmp(f, "policy_id"))
		f = "policy";
	if (strcmp(f, name) != 0)
		return NULL;
	enum msg id = page_err_msg(&c->err, &extra);
	(void)extra;
	return id == MSG_ERR_INVALID || id == MSG_ERR_CONFLICT ? c->err.detail : T(p, id);
}

/* A refilled value of the create or edit form after a failed POST. */
static const char *refill(struct page *p, const char *name)
{
	struct con *c = p->data;
	return activity_form(c) ? page_field(p, name) : NULL;
}

static int day_checked(struct page *p, const char *day)
{
	struct evkeyval *kv;
	struct con *c = p->data;
	if (strcmp(c->action, "create") != 0)
		return 0;
	TAILQ_FOREACH(kv, &p->form, next)
	{
		if (!strcmp(kv->key, "byday") && !strcmp(kv->value, day))
			return 1;
	}
	return 0;
}

/* The hour policies the coordinator may choose (api.page_console_policies or
 * api.page_activity), `current` preselected unless the form comes back with another; hint
 * says what a choice means here. */
static void policy_select(struct page *p, const cJSON *policies, long long current, enum msg hint)
{
	const cJSON *pol;
	const char *sel = refill(p, "policy"), *err = field_err(p, "policy");
	html_raw(&p->out, "<div class=\"field\"><label for=\"f-policy\">");
	page_msg(p, MSG_POLICY);
	html_raw(&p->out, "</label><select id=\"f-policy\" name=\"policy\" "
	                  "aria-describedby=\"h-policy");
	html_raw(&p->out, err ? " e-policy\" aria-invalid=\"true\">" : "\">");
	cJSON_ArrayForEach(pol, policies)
	{
		long long id = json_num(pol, "id");
		char v[24];
		snprintf(v, sizeof v, "%lld", id);
		html_rawf(&p->out, "<option value=\"%lld\"%s>", id,
		          (sel ? !strcmp(sel, v) : id == current) ? " selected" : "");
		page_text(p, json_str(pol, "name"));
		html_raw(&p->out, " · ");
		if (json_str(pol, "unit"))
			page_text(p, json_str(pol, "unit"));
		else
			page_msg(p, MSG_POLICY_GLOBAL);
		if (json_str(pol, "approval_mode") &&
		    !strcmp(json_str(pol, "approval_mode"), "manual")) {
			html_raw(&p->out, " · ");
			page_msg(p, MSG_POLICY_MANUAL);
		}
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pol, "static_code"))) {
			html_raw(&p->out, " · ");
			page_msg(p, MSG_POLICY_STATIC);
		}
		html_raw(&p->out, "</option>");
	}
	html_raw(&p->out, "</select><p class=\"hint\" id=\"h-policy\">");
	page_msg(p, hint);
	html_raw(&p->out, "</p>");
	if (err) {
		html_raw(&p->out, "<p class=\"err\" id=\"e-policy\">");
		page_text(p, err);
		html_raw(&p->out, "</p>");
	}
	html_raw(&p->out, "</div>");
}

static void create_section(struct page *p, const cJSON *d, const cJSON *policies)
{
	static const char *const days[] = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"};
	const cJSON *teams = cJSON_GetObjectItemCaseSensitive(d, "teams"), *t;
	const char *sel = refill(p, "team"), *err;
	html_raw(&p->out, "<section aria-labelledby=\"h-new\" id=\"new\"><h2 id=\"h-new\">");
	page_msg(p, MSG_NEW_ACTIVITY);
	html_raw(&p->out, "</h2>");
	if (cJSON_GetArraySize(teams) == 0) {
		html_raw(&p->out, "<p>");
		page_msg(p, MSG_NO_TEAMS);
		html_raw(&p->out, "</p></section>\n");
		return;
	}
	page_form_open(p, "/console", PAGE_P_CONSOLE, 0, 0, 0);
	html_raw(&p->out, "<input type=\"hidden\" name=\"action\" value=\"create\">"
	                  "<div class=\"field\"><label for=\"f-team\">");
	page_msg(p, MSG_TEAM);
	err = field_err(p, "team");
	html_raw(&p->out, "</label><select id=\"f-team\" name=\"team\"");
	if (err)
		html_raw(&p->out, " aria-invalid=\"true\" aria-describedby=\"e-team\"");
	html_raw(&p->out, ">");
	cJSON_ArrayForEach(t, teams)
	{
		char v[48];
		snprintf(v, sizeof v, "%lld:%lld", json_num(t, "id"), json_num(t, "org_unit_id"));
		html_rawf(&p->out, "<option value=\"%s\"%s>", v,
		          sel && !strcmp(sel, v) ? " selected" : "");
		page_text(p, json_str(t, "name"));
		html_raw(&p->out, " · ");
		page_text(p, json_str(t, "unit"));
		html_raw(&p->out, "</option>");
	}
	html_raw(&p->out, "</select>");
	if (err) {
		html_raw(&p->out, "<p class=\"err\" id=\"e-team\">");
		page_text(p, err);
		html_raw(&p->out, "</p>");
	}
	html_raw(&p->out, "</div>");
	policy_select(p, policies, 1, MSG_POLICY_HINT);
	page_input(p, "text", "title", MSG_ACTIVITY, refill(p, "title"), -1, field_err(p, "title"),
	           "required maxlength=\"200\"");
	page_input(p, "text", "category", MSG_CATEGORY, refill(p, "category"), MSG_OPTIONAL,
	           field_err(p, "category"), "maxlength=\"50\"");
	page_input(p, "text", "location", MSG_PLACE, refill(p, "location"), MSG_OPTIONAL,
	           field_err(p, "location"), "maxlength=\"200\"");
	page_input(p, "number", "capacity", MSG_CAPACITY, refill(p, "capacity"), MSG_OPTIONAL,
	           field_err(p, "capacity"), "min=\"1\" max=\"100000\" inputmode=\"numeric\"");
	err = field_err(p, "byday");
	html_raw(&p->out, "<fieldset");
	if (err)
		html_raw(&p->out, " aria-describedby=\"e-byday\"");
	html_raw(&p->out, "><legend>");
	page_msg(p, MSG_WEEKDAYS);
	html_raw(&p->out, "</legend><div class=\"days\">");
	for (int i = 0; i < 7; i++) {
		html_rawf(&p->out, "<label><input type=\"checkbox\" name=\"byday\" value=\"%s\"%s>",
		          days[i], day_checked(p, days[i]) ? " checked" : "");
		page_msg(p, (enum msg)(MSG_DAY_MO + i));
		html_raw(&p->out, "</label>");
	}
	html_raw(&p->out, "</div>");
	if (err) {
		html_raw(&p->out, "<p class=\"err\" id=\"e-byday\">");
		page_text(p, err);
		html_raw(&p->out, "</p>");
	}
	html_raw(&p->out, "</fieldset><div class=\"grid2\">");
	page_input(p, "date", "from", MSG_FROM_DATE, refill(p, "from"), -1, field_err(p, "from"),
	           "required");
	page_input(p, "date", "until", MSG_UNTIL_DATE, refill(p, "until"), -1,
	           field_err(p, "until"), "required");
	page_input(p, "time", "start_time", MSG_START_TIME, refill(p, "start_time"), -1,
	           field_err(p, "start_time"), "required");
	page_input(p, "time", "end_time", MSG_END_TIME, refill(p, "end_time"), -1,
	           field_err(p, "end_time"), "required");
	html_raw(&p->out, "</div><button type=\"submit\">");
	page_msg(p, MSG_CREATE);
	html_raw(&p->out, "</button></form></section>\n");
}

static void console_policies_loaded(struct req *r, cJSON *policies, const struct err *e)
{
	struct page *p = page_of(r);
	struct con *c = p->data;
	cJSON *result = c->console;
	if (e->code != APP_OK) {
		page_fail(p, e);
		return;
	}
	const char *done = page_query(p, "done");
	staff_start(p, MSG_CONSOLE_TITLE, 1);
	if (done && !strcmp(done, "created")) {
		page_notice(p, MSG_DONE_CREATED);
	} else if (done && !strcmp(done, "resolved")) {
		page_notice(p, MSG_DONE_RESOLVED);
	} else if (done && !strcmp(done, "approved")) {
		long long n = parse_id(page_query(p, "n")), f = parse_id(page_query(p, "f"));
		html_raw(&p->out, "<div class=\"notice\" role=\"status\"><p>");
		page_msg(p, MSG_DONE_APPROVED);
		html_rawf(&p->out, " <span id=\"approved-n\">%lld</span>", n);
		if (f) {
			html_raw(&p->out, " · ");
			page_msg(p, MSG_APPROVE_FAILED);
			html_rawf(&p->out, " %lld", f);
		}
		html_raw(&p->out, "</p></div>\n");
	}
	errors(p);
	events_section(p, result);
	pending_section(p, result);
	requests_section(p, result);
	create_section(p, result, policies);
	page_end(p);
	cJSON_Delete(policies);
	page_send(p, c->status ? c->status : 200);
}

/* api.page_console's answer is kept (freed with the page) while the policies load. */
static void console_loaded(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct con *c = p->data;
	if (e->code != APP_OK) {
		page_fail(p, e);
		return;
	}
	cJSON_Delete(c->console);
	c->console = result;
	cJSON *args = cJSON_CreateObject();
	if (!args) {
		oom(r);
		return;
	}
	page_read(p, "page_console_policies", args, console_policies_loaded);
}

static void console_load(struct page *p)
{
	cJSON *args = cJSON_CreateObject();
	if (!args) {
		oom(p->r);
		return;
	}
	page_read(p, "page_console", args, console_loaded);
}

void h_page_console(struct req *r)
{
	struct page *p = begin(r, "/me?next=%2Fconsole", "event");
	if (p)
		console_load(p);
}

/* ---- POST /console ------------------------------------------------------------------ */

static void approved(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	if (e->code != APP_OK) {
		fail_api(p, e, console_load);
		return;
	}
	char url[96];
	snprintf(url, sizeof url, "/console?done=approved&n=%lld&f=%lld#pending",
	         json_num(result, "approved"), json_num(result, "failed"));
	cJSON_Delete(result);
	page_redirect(p, url);
}

static void approve(struct page *p)
{
	struct evkeyval *kv;
	int n = 0;
	cJSON *body = cJSON_CreateObject();
	cJSON *ids = body ? cJSON_AddArrayToObject(body, "ids") : NULL;
	if (!ids) {
		cJSON_Delete(body);
		oom(p->r);
		return;
	}
	TAILQ_FOREACH(kv, &p->form, next)
	{
		if (strcmp(kv->key, "id") != 0)
			continue;
		long long id = parse_id(kv->value);
		cJSON *v = id ? cJSON_CreateNumber((double)id) : NULL;
		if (!id || n >= MAX_BULK || !v) {
			cJSON_Delete(v);
			cJSON_Delete(body);
			if (id && n < MAX_BULK)
				oom(p->r);
			else
				fail_form(p, MSG_ERR_FORM, 422, console_load);
			return;
		}
		cJSON_AddItemToArray(ids, v);
		n++;
	}
	if (n == 0) {
		cJSON_Delete(body);
		fail_form(p, MSG_NONE_SELECTED, 422, console_load);
		return;
	}
	page_write(p, "hours_approve_bulk", body, approved);
}

static void created(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	cJSON_Delete(result);
	if (e->code != APP_OK) {
		fail_api(p, e, console_load);
		return;
	}
	page_redirect(p, "/console?done=created");
}

/* Add a non-empty form field to o as a string; 0 or -1 (no memory). */
static int add_str(struct page *p, cJSON *o, const char *key, int always)
{
	const char *v = page_field(p, key);
	if (!v || (!*v && !always))
		return 0;
	return cJSON_AddStringToObject(o, key, v) ? 0 : -1;
}

/* The form as a POST /activities body with a weekly recurrence, checked by the API's code. */
static void create(struct page *p)
{
	const char *team = page_field(p, "team"), *cap = page_field(p, "capacity");
	long long team_id = 0, unit_id = 0;
	struct evkeyval *kv;
	cJSON *body = cJSON_CreateObject(), *rec = cJSON_CreateObject(), *days;
	if (!body || !rec || !cJSON_AddItemToObject(body, "recurrence", rec)) {
		cJSON_Delete(rec);
		goto oom;
	}
	if (team) {
		const char *colon = strchr(team, ':');
		char buf[20];
		if (colon && (size_t)(colon - team) < sizeof buf) {
			memcpy(buf, team, (size_t)(colon - team));
			buf[colon - team] = '\0';
			team_id = parse_id(buf);
			unit_id = parse_id(colon + 1);
		}
	}
	/* an unknown team is 0 here; the API's checks name team_id */
	if (!cJSON_AddNumberToObject(body, "team_id", team_id ? (double)team_id : 0) ||
	    !cJSON_AddNumberToObject(body, "org_unit_id", unit_id ? (double)unit_id : 0) ||
	    add_str(p, body, "title", 1) < 0 || add_str(p, body, "category", 0) < 0 ||
	    add_str(p, body, "location", 0) < 0)
		goto oom;
	const char *pol = page_field(p, "policy");
	if (pol && *pol) {
		long long n = parse_id(pol);
		/* not a number: the text goes, for the API's message naming policy_id */
		if (n ? !cJSON_AddNumberToObject(body, "policy_id", (double)n)
		      : !cJSON_AddStringToObject(body, "policy_id", pol))
			goto oom;
	}
	if (cap && *cap) {
		long long n = parse_id(cap);
		/* a capacity that is not a number goes as the text, for the API's message */
		if (n ? !cJSON_AddNumberToObject(body, "capacity", (double)n)
		      : !cJSON_AddStringToObject(body, "capacity", cap))
			goto oom;
	}
	if (!cJSON_AddStringToObject(rec, "freq", "weekly") ||
	    !(days = cJSON_AddArrayToObject(rec, "byday")))
		goto oom;
	TAILQ_FOREACH(kv, &p->form, next)
	{
		if (!strcmp(kv->key, "byday")) {
			cJSON *d = cJSON_CreateString(kv->value);
			if (!d)
				goto oom;
			cJSON_AddItemToArray(days, d);
		}
	}
	if (add_str(p, rec, "from", 1) < 0 || add_str(p, rec, "until", 1) < 0 ||
	    add_str(p, rec, "start_time", 1) < 0 || add_str(p, rec, "end_time", 1) < 0)
		goto oom;
	page_capture(p, created);
	activities_create_body(p->r, body);
	return;
oom:
	cJSON_Delete(body);
	oom(p->r);
}

static void entry_load(struct page *p);

static void resolved(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct con *c = p->data;
	cJSON_Delete(result);
	if (e->code != APP_OK) {
		fail_api(p, e, c->event_id ? entry_load : console_load);
		return;
	}
	char url[80];
	if (c->event_id)
		snprintf(url, sizeof url, "/console/entries/%lld?done=resolved#requests",
		         c->event_id);
	else
		snprintf(url, sizeof url, "/console?done=resolved#requests");
	page_redirect(p, url);
}

/* The resolve form (on /console or an entry's page) through api.correction_request_resolve. */
static void resolve(struct page *p)
{
	struct con *c = p->data;
	long long rid = parse_id(page_field(p, "request_id"));
	if (!rid) {
		fail_form(p, MSG_ERR_FORM, 422, c->event_id ? entry_load : console_load);
		return;
	}
	cJSON *body = cJSON_CreateObject();
	if (!body || !cJSON_AddNumberToObject(body, "id", (double)rid) ||
	    add_str(p, body, "resolution", 0) < 0 || add_str(p, body, "note", 0) < 0) {
		cJSON_Delete(body);
		oom(p->r);
		return;
	}
	page_write(p, "correction_request_resolve", body, resolved);
}

void h_page_console_post(struct req *r)
{
	struct page *p = begin(r, "/me?next=%2Fconsole", "event");
	if (!p)
		return;
	struct con *c = p->data;
	const char *action = page_field(p, "action");
	int flags;
	if (action)
		snprintf(c->action, sizeof c->action, "%s", action);
	if (page_form_check(p, PAGE_P_CONSOLE, 0, &flags) < 0) {
		fail_form(p, MSG_ERR_FORM, 403, console_load);
		return;
	}
	if (action && !strcmp(action, "approve"))
		approve(p);
	else if (action && !strcmp(action, "create"))
		create(p);
	else if (action && !strcmp(action, "resolve"))
		resolve(p);
	else
		fail_form(p, MSG_ERR_FORM, 422, console_load);
}

/* ---- GET/POST /console/events/{id}: the roster --------------------------------------- */

/* The roster's states, as api.event_attendance names them, and the filter of the query when
 * it is one of them (NULL: the whole roster). */
static const char *const roster_states[] = {"signed_up", "on_post", "done", "missing", NULL};

static const char *view_state(struct page *p)
{
	const char *s = page_query(p, "state");
	for (int i = 0; s && roster_states[i]; i++)
		if (!strcmp(s, roster_states[i]))
			return roster_states[i];
	return NULL;
}

/* The roster's address for a view: state (or NULL), cursor (a volunteer id, or 0) and, after
 * a write, done ("in" or "out", or NULL).  Only our constants and numbers: no escaping needed
 * in a URL (in HTML the & still is: page_text). */
static void roster_url(const struct page *p, char *out, size_t n, const char *state,
                       long long cursor, const char *done)
{
	const struct con *c = p->data;
	char cur[24];
	snprintf(cur, sizeof cur, "%lld", cursor);
	const char *const keys[] = {"done", "state", "cursor"};
	const char *const values[] = {done, state, cursor > 0 ? cur : NULL};
	size_t len = (size_t)snprintf(out, n, "/console/events/%lld", c->event_id);
	char sep = '?';
	for (int i = 0; i < 3; i++) {
		if (!values[i] || len >= n)
			continue;
		len += (size_t)snprintf(out + len, n - len, "%c%s=%s", sep, keys[i], values[i]);
		sep = '&';
	}
}

/* The address of the roster page being shown (its filter and cursor), for its forms. */
static void roster_here(struct page *p, char *out, size_t n, const char *done)
{
	roster_url(p, out, n, view_state(p), parse_id(page_query(p, "cursor")), done);
}

/* <a href="url"> with the url escaped for the attribute, and attrs (our own markup). */
static void link_open(struct page *p, const char *url, const char *attrs)
{
	html_raw(&p->out, "<a href=\"");
	page_text(p, url);
	html_raw(&p->out, "\"");
	html_raw(&p->out, attrs);
	html_raw(&p->out, ">");
}

static enum msg state_msg(const char *s)
{
	if (s && !strcmp(s, "on_post"))
		return MSG_ST_ON_POST;
	if (s && !strcmp(s, "done"))
		return MSG_ST_DONE;
	if (s && !strcmp(s, "missing"))
		return MSG_ST_MISSING;
	return MSG_ST_SIGNED_UP;
}

static void event_card(struct page *p, const cJSON *ev)
{
	html_raw(&p->out, "<section class=\"card\"><h2>");
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
	html_rawf(&p->out,
	          "</dd></dl><p class=\"row-actions\"><a href=\"/console/activities/%lld\">",
	          json_num(ev, "activity_id"));
	page_msg(p, MSG_ACTIVITY_EDIT);
	html_raw(&p->out, "</a></p></section>\n");
}

/* One of the counts, a link to the list it counts: filter is the state it lists, NULL for
 * the sign-ups (the whole roster: everyone signed up, and the walk-ins). */
static void count(struct page *p, enum msg label, const cJSON *counts, const char *key,
                  const char *filter)
{
	char url[96];
	const char *shown = view_state(p);
	int current = filter ? shown && !strcmp(shown, filter) : !shown;
	roster_url(p, url, sizeof url, filter, 0, NULL);
	link_open(p, url, current ? " aria-current=\"page\"" : "");
	html_rawf(&p->out, "<span class=\"num\" id=\"n-%s\">%lld</span>", key,
	          json_num(counts, key));
	page_msg(p, label);
	html_raw(&p->out, "</a>");
}

/* After the table: back to the first page, on to the next (next_cursor), in the same filter. */
static void roster_pager(struct page *p, const cJSON *result)
{
	const char *next = json_str(result, "next_cursor");
	long long cursor = parse_id(page_query(p, "cursor"));
	char url[96];
	if (!cursor && !next)
		return;
	html_raw(&p->out, "<p class=\"row-actions\" id=\"pager\">");
	if (cursor) {
		roster_url(p, url, sizeof url, view_state(p), 0, NULL);
		link_open(p, url, "");
		page_msg(p, MSG_ROSTER_FIRST);
		html_raw(&p->out, "</a>");
	}
	if (next) {
		roster_url(p, url, sizeof url, view_state(p), parse_id(next), NULL);
		link_open(p, url, " rel=\"next\"");
		page_msg(p, MSG_ROSTER_NEXT);
		html_raw(&p->out, "</a>");
	}
	html_raw(&p->out, "</p>\n");
}

static void roster_button(struct page *p, long long volunteer, const char *action, enum msg label,
                          const char *name)
{
	struct con *c = p->data;
	char url[96];
	roster_here(p, url, sizeof url, NULL);
	page_form_open(p, url, PAGE_P_ROSTER, c->event_id, 0, 0);
	html_rawf(&p->out,
	          "<input type=\"hidden\" name=\"action\" value=\"%s\">"
	          "<input type=\"hidden\" name=\"volunteer_id\" value=\"%lld\">"
	          "<button type=\"submit\"%s aria-label=\"",
	          action, volunteer, !strcmp(action, "out") ? " class=\"second\"" : "");
	page_msg(p, label);
	html_raw(&p->out, " ");
	page_text(p, name);
	html_raw(&p->out, "\">");
	page_msg(p, label);
	html_raw(&p->out, "</button></form>");
}

/* Someone not on the list (a walk-in, or a volunteer without a phone of their own): found by
 * phone, volunteer number or ID number, then checked in as from the list. */
static void walkin_section(struct page *p)
{
	struct con *c = p->data;
	int again = !strcmp(c->action, "walkin");
	const char *err = NULL, *extra;
	if (again && c->has_err == 1 && !strcmp(c->err.field, "who"))
		err = T(p, page_err_msg(&c->err, &extra));
	char url[96];
	roster_here(p, url, sizeof url, NULL);
	html_raw(&p->out,
	         "<section aria-labelledby=\"h-walkin\" id=\"walkin\"><h2 id=\"h-walkin\">");
	page_msg(p, MSG_WALKIN);
	html_raw(&p->out, "</h2>");
	page_form_open(p, url, PAGE_P_ROSTER, c->event_id, 0, 0);
	html_raw(&p->out, "<input type=\"hidden\" name=\"action\" value=\"walkin\">");
	page_input(p, "text", "who", MSG_WALKIN_WHO, again ? page_field(p, "who") : NULL,
	           MSG_WALKIN_HINT, err, "autocomplete=\"off\" maxlength=\"20\" required");
	html_raw(&p->out, "<button type=\"submit\">");
	page_msg(p, MSG_ROSTER_IN);
	html_raw(&p->out, "</button></form></section>\n");
}

static void roster_loaded(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct con *c = p->data;
	if (e->code != APP_OK) {
		page_fail(p, e);
		return;
	}
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(result, "event");
	const cJSON *counts = cJSON_GetObjectItemCaseSensitive(result, "counts");
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(result, "items"), *it;
	const cJSON *times = cJSON_GetObjectItemCaseSensitive(result, "times");
	const char *done = page_query(p, "done");
	int cancelled = json_str(ev, "status") && !strcmp(json_str(ev, "status"), "cancelled");
	staff_start(p, MSG_ROSTER_TITLE, 1);
	if (done && !strcmp(done, "in"))
		page_notice(p, MSG_DONE_ROSTER_IN);
	else if (done && !strcmp(done, "out"))
		page_notice(p, MSG_DONE_ROSTER_OUT);
	errors(p);
	event_card(p, ev);
	int whole = !view_state(p) && !parse_id(page_query(p, "cursor"));
	html_raw(&p->out, "<div class=\"counts\">");
	count(p, MSG_ST_SIGNED_UP, counts, "signed_up", NULL);
	count(p, MSG_ST_ON_POST, counts, "on_post", "on_post");
	count(p, MSG_ST_DONE, counts, "done", "done");
	count(p, MSG_ST_MISSING, counts, "missing", "missing");
	html_rawf(&p->out,
	          "</div><p class=\"row-actions\"><a href=\"/console/events/%lld/poster\">",
	          c->event_id);
	page_msg(p, MSG_POSTER);
	html_raw(&p->out, "</a>");
	if (!whole) {
		html_rawf(&p->out, "<a href=\"/console/events/%lld\">", c->event_id);
		page_msg(p, MSG_ROSTER_ALL);
		html_raw(&p->out, "</a>");
	}
	html_raw(&p->out, "</p>\n");
	if (cJSON_GetArraySize(items) == 0) {
		html_raw(&p->out, "<p>");
		page_msg(p, whole ? MSG_NO_ROSTER : MSG_NO_ROSTER_HERE);
		html_raw(&p->out, "</p>");
	} else {
		html_raw(&p->out,
		         "<div class=\"tbl\"><table class=\"roster\" id=\"roster\"><thead><tr>"
		         "<th scope=\"col\">");
		page_msg(p, MSG_VOLUNTEER);
		html_raw(&p->out, "</th><th scope=\"col\">");
		page_msg(p, MSG_STATUS);
		html_raw(&p->out, "</th><th scope=\"col\">");
		page_msg(p, MSG_ACTIONS);
		html_raw(&p->out, "</th></tr></thead><tbody>");
	}
	cJSON_ArrayForEach(it, items)
	{
		long long vid = json_num(it, "volunteer_id");
		const char *state = json_str(it, "state"), *name = json_str(it, "name");
		char key[24];
		snprintf(key, sizeof key, "%lld", vid);
		const cJSON *tm = cJSON_GetObjectItemCaseSensitive(times, key);
		html_rawf(&p->out, "<tr data-volunteer=\"%lld\"><td>", vid);
		page_text(p, name);
		if (json_str(it, "signup") && !strcmp(json_str(it, "signup"), "waitlisted")) {
			html_raw(&p->out, " <span class=\"tag\">");
			page_msg(p, MSG_WAITLISTED);
			html_raw(&p->out, "</span>");
		}
		html_raw(&p->out, "</td><td><span class=\"tag ");
		page_text(p, state);
		html_raw(&p->out, "\">");
		page_msg(p, state_msg(state));
		html_raw(&p->out, "</span>");
		if (json_str(tm, "in")) {
			html_raw(&p->out, "<br>");
			page_text(p, json_str(tm, "in"));
			if (json_str(tm, "out")) {
				html_raw(&p->out, "–");
				page_text(p, json_str(tm, "out"));
				html_raw(&p->out, " · ");
				page_text(p, json_str(tm, "hours"));
				html_raw(&p->out, " ");
				page_msg(p, MSG_HOURS_UNIT);
			}
		}
		html_raw(&p->out, "</td><td>");
		if (!cancelled && state && !strcmp(state, "on_post"))
			roster_button(p, vid, "out", MSG_ROSTER_OUT, name);
		else if (!cancelled && state && strcmp(state, "done") != 0)
			roster_button(p, vid, "in", MSG_ROSTER_IN, name);
		long long eid = json_num(
		        cJSON_GetObjectItemCaseSensitive(
		                cJSON_GetObjectItemCaseSensitive(it, "attendance"), "entry"),
		        "id");
		if (eid) { /* reject it, or correct the times (a forgotten check-out) */
			html_rawf(&p->out, "<a href=\"/console/entries/%lld\">", eid);
			page_msg(p, MSG_DETAILS);
			html_raw(&p->out, "</a>");
		}
		html_raw(&p->out, "</td></tr>");
	}
	if (cJSON_GetArraySize(items) > 0)
		html_raw(&p->out, "</tbody></table></div>\n");
	roster_pager(p, result);
	if (!cancelled)
		walkin_section(p);
	page_end(p);
	cJSON_Delete(result);
	page_send(p, c->status ? c->status : 200);
}

/* {key: the path's id}, or NULL after replying 503. */
static cJSON *id_args(struct page *p, const char *key)
{
	struct con *c = p->data;
	cJSON *args = cJSON_CreateObject();
	if (!args || !cJSON_AddNumberToObject(args, key, (double)c->event_id)) {
		cJSON_Delete(args);
		oom(p->r);
		return NULL;
	}
	return args;
}

/* Read fn with the path's id as {key: id}: an entry, a poster. */
static void read_by_id(struct page *p, const char *fn, const char *key,
                       void (*then)(struct req *r, cJSON *result, const struct err *e))
{
	cJSON *args = id_args(p, key);
	if (args)
		page_read(p, fn, args, then);
}

/* A page of the roster: the query's state and cursor as they are (the SQL checks them, as for
 * the API: a bad one is the 422 page naming it). */
static void roster_load(struct page *p)
{
	static const char *const view[] = {"state", "cursor", NULL};
	cJSON *args = id_args(p, "event_id");
	if (!args)
		return;
	if (!cJSON_AddNumberToObject(args, "limit", ROSTER_ROWS)) {
		cJSON_Delete(args);
		oom(p->r);
		return;
	}
	api_query_args(p->r, args, view);
	page_read(p, "page_roster", args, roster_loaded);
}

void h_page_roster(struct req *r)
{
	struct page *p = begin(r, "/me?next=%2Fconsole", "event");
	if (p)
		roster_load(p);
}

static void roster_written(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct con *c = p->data;
	cJSON_Delete(result);
	if (e->code != APP_OK) {
		fail_api(p, e, roster_load);
		return;
	}
	char url[112];
	roster_here(p, url, sizeof url, strcmp(c->action, "out") ? "in" : "out");
	page_redirect(p, url);
}

/* Check volunteer vid in or out (action "in" or "out") through the API's path. */
static void roster_write(struct page *p, long long vid, const char *action)
{
	struct con *c = p->data;
	cJSON *body = cJSON_CreateObject();
	if (!body || !cJSON_AddNumberToObject(body, "volunteer_id", (double)vid)) {
		cJSON_Delete(body);
		oom(p->r);
		return;
	}
	page_capture(p, roster_written);
	if (!strcmp(action, "in"))
		attendance_submit(p->r, c->event_id, "checkin", 201, body, 0, 0);
	else
		attendance_submit(p->r, c->event_id, "checkout", 200, body, 0, 0);
}

/* Add an ID number's blind index under key to args as name.  0, or -1. */
static int add_blind_index(cJSON *args, const char *name, const uint8_t *key, const char *id)
{
	uint8_t mac[IDNUM_HMAC_LEN];
	char hex[2 * IDNUM_HMAC_LEN + 1];
	if (idnum_blind(key, id, mac) < 0)
		return -1;
	secret_hex(mac, sizeof mac, hex);
	return cJSON_AddStringToObject(args, name, hex) ? 0 : -1;
}

/* What identifies the walk-in, into args: an ID number only as its blind index (the number in
 * clear never reaches the database, as for registration), and during a key rotation its index
 * under the previous key too (rows rekey-ids has not rewritten yet hold that one); a phone or
 * volunteer number as typed.  0; 1 when it can be none of them (too long for a phone or a
 * volunteer number: most likely a mistyped ID number, which stays here); -1 when out of
 * memory. */
static int walkin_who(struct page *p, cJSON *args, const char *who)
{
	const struct idnum_keyring *ring = &p->r->w->secrets->id;
	char typed[IDNUM_LEN + 1], id[IDNUM_LEN + 1];
	size_t n;
	while (*who == ' ')
		who++;
	for (n = strlen(who); n > 0 && who[n - 1] == ' '; n--)
		;
	if (n > IDNUM_LEN || !valid_utf8(who, n))
		return 1;
	snprintf(typed, sizeof typed, "%.*s", (int)n, who);
	int rc = idnum_normalize(typed, id);
	if (rc < 0 && n > 14)
		rc = 1; /* too long for a phone or a volunteer number */
	else if (rc < 0)
		rc = cJSON_AddStringToObject(args, "who", typed) ? 0 : -1;
	else if (add_blind_index(args, "id_hmac", ring->current.index, id) < 0 ||
	         (ring->has_previous &&
	          add_blind_index(args, "id_hmac_previous", ring->previous.index, id) < 0))
		rc = -1;
	idnum_wipe(typed, sizeof typed);
	idnum_wipe(id, sizeof id);
	return rc;
}

static void walkin_found(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	long long vid = e->code == APP_OK ? json_num(result, "volunteer_id") : 0;
	cJSON_Delete(result);
	if (e->code != APP_OK) {
		roster_written(r, NULL, e); /* shown on the roster, the number kept in the form */
		return;
	}
	roster_write(p, vid, "in");
}

void h_page_roster_post(struct req *r)
{
	struct page *p = begin(r, "/me?next=%2Fconsole", "event");
	if (!p)
		return;
	struct con *c = p->data;
	const char *action = page_field(p, "action");
	const char *who = page_field(p, "who");
	long long vid = parse_id(page_field(p, "volunteer_id"));
	int flags, walkin = action && !strcmp(action, "walkin");
	if (page_form_check(p, PAGE_P_ROSTER, c->event_id, &flags) < 0 || !action ||
	    (walkin ? !who : !vid || (strcmp(action, "in") != 0 && strcmp(action, "out") != 0))) {
		fail_form(p, MSG_ERR_FORM, 403, roster_load);
		return;
	}
	snprintf(c->action, sizeof c->action, "%s", action);
	if (!walkin) {
		roster_write(p, vid, action);
		return;
	}
	cJSON *args = cJSON_CreateObject();
	int rc = !args || !cJSON_AddNumberToObject(args, "event_id", (double)c->event_id)
	                 ? -1
	                 : walkin_who(p, args, who);
	if (rc != 0) {
		cJSON_Delete(args);
		struct err e;
		if (rc < 0)
			err_set(&e, APP_EUNAVAILABLE, NULL, "out of memory");
		else
			err_set(&e, APP_EINVALID, "who",
			        "no volunteer has this phone number, volunteer number or ID "
			        "number");
		roster_written(r, NULL, &e);
		return;
	}
	page_read(p, "page_walkin", args, walkin_found);
}

/* ---- GET/POST /console/activities/{id}: correct an activity --------------------------- */

static void activity_load(struct page *p);

static void activity_loaded(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct con *c = p->data;
	char url[64];
	if (e->code != APP_OK) {
		page_fail(p, e);
		return;
	}
	const char *done = page_query(p, "done");
	const char *title = refill(p, "title"), *location = refill(p, "location");
	staff_start(p, MSG_ACTIVITY_EDIT, 1);
	if (done && !strcmp(done, "saved"))
		page_notice(p, MSG_DONE_ACTIVITY_SAVED);
	errors(p);
	html_raw(&p->out, "<section class=\"card\"><h2>");
	page_text(p, json_str(result, "title"));
	html_raw(&p->out, "</h2><p>");
	page_text(p, json_str(result, "team"));
	html_raw(&p->out, " · ");
	page_text(p, json_str(result, "unit"));
	html_raw(&p->out, "</p>");
	snprintf(url, sizeof url, "/console/activities/%lld", c->event_id);
	page_form_open(p, url, PAGE_P_ACTIVITY, c->event_id, 0, 0);
	html_raw(&p->out, "<input type=\"hidden\" name=\"action\" value=\"activity\">");
	page_input(p, "text", "title", MSG_ACTIVITY, title ? title : json_str(result, "title"), -1,
	           field_err(p, "title"), "required maxlength=\"200\"");
	page_input(p, "text", "location", MSG_PLACE,
	           location ? location : json_str(result, "location"), MSG_OPTIONAL,
	           field_err(p, "location"), "maxlength=\"200\"");
	policy_select(p, cJSON_GetObjectItemCaseSensitive(result, "policies"),
	              json_num(result, "policy_id"), MSG_ACTIVITY_POLICY_HINT);
	html_raw(&p->out, "<button type=\"submit\">");
	page_msg(p, MSG_SAVE);
	html_raw(&p->out, "</button></form></section>\n");
	page_end(p);
	cJSON_Delete(result);
	page_send(p, c->status ? c->status : 200);
}

static void activity_load(struct page *p)
{
	read_by_id(p, "page_activity", "activity_id", activity_loaded);
}

void h_page_activity(struct req *r)
{
	struct page *p = begin(r, "/me?next=%2Fconsole", "activity");
	if (p)
		activity_load(p);
}

static void activity_saved(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct con *c = p->data;
	char url[80];
	cJSON_Delete(result);
	if (e->code != APP_OK) {
		fail_api(p, e, activity_load);
		return;
	}
	snprintf(url, sizeof url, "/console/activities/%lld?done=saved", c->event_id);
	page_redirect(p, url);
}

/* The form as a PATCH /activities/{id} body, checked by the API's code: an emptied location
 * is null (none); a policy that is not a number goes as the text, for the API's message. */
static void activity_save(struct page *p)
{
	struct con *c = p->data;
	const char *location = page_field(p, "location"), *pol = page_field(p, "policy");
	long long policy = parse_id(pol);
	cJSON *body = cJSON_CreateObject();
	if (!body || add_str(p, body, "title", 1) < 0 ||
	    !(location && *location ? cJSON_AddStringToObject(body, "location", location)
	                            : cJSON_AddNullToObject(body, "location")) ||
	    (pol && (policy ? !cJSON_AddNumberToObject(body, "policy_id", (double)policy)
	                    : !cJSON_AddStringToObject(body, "policy_id", pol)))) {
		cJSON_Delete(body);
		oom(p->r);
		return;
	}
	page_capture(p, activity_saved);
	activities_update_body(p->r, c->event_id, body);
}

void h_page_activity_post(struct req *r)
{
	struct page *p = begin(r, "/me?next=%2Fconsole", "activity");
	if (!p)
		return;
	struct con *c = p->data;
	int flags;
	snprintf(c->action, sizeof c->action, "activity");
	if (page_form_check(p, PAGE_P_ACTIVITY, c->event_id, &flags) < 0) {
		fail_form(p, MSG_ERR_FORM, 403, activity_load);
		return;
	}
	activity_save(p);
}

/* ---- GET/POST /console/entries/{id}: one entry -------------------------------------- */

static void entry_load(struct page *p);

static void dl_row(struct page *p, enum msg label, const char *value)
{
	if (!value)
		return;
	html_raw(&p->out, "<dt>");
	page_msg(p, label);
	html_raw(&p->out, "</dt><dd>");
	page_text(p, value);
	html_raw(&p->out, "</dd>");
}

static void entry_card(struct page *p, const cJSON *d)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(d, "entry");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "volunteer");
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(d, "event"), *f;
	html_raw(&p->out, "<section class=\"card\" id=\"entry\"><h2>");
	page_text(p, json_str(ev, "title"));
	html_raw(&p->out, "</h2><dl><dt>");
	page_msg(p, MSG_VOLUNTEER);
	html_raw(&p->out, "</dt><dd>");
	page_text(p, json_str(v, "name"));
	html_raw(&p->out, " · ");
	page_text(p, json_str(v, "volunteer_no"));
	html_raw(&p->out, "</dd><dt>");
	page_msg(p, MSG_TIME);
	html_raw(&p->out, "</dt><dd>");
	page_text(p, json_str(h, "started"));
	html_raw(&p->out, "–");
	page_text(p, json_str(h, "ended"));
	html_raw(&p->out, " · <span id=\"entry-hours\">");
	page_text(p, json_str(h, "hours"));
	html_raw(&p->out, "</span> ");
	page_msg(p, MSG_HOURS_UNIT);
	html_raw(&p->out, "</dd><dt>");
	page_msg(p, MSG_STATUS);
	html_raw(&p->out, "</dt><dd id=\"entry-status\">");
	entry_tag(p, json_str(h, "status"));
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(h, "flags"))
	{
		if (cJSON_IsString(f) && !strcmp(f->valuestring, "auto_checkout")) {
			html_raw(&p->out, " <span class=\"tag pending\">");
			page_msg(p, MSG_AUTO_OUT);
			html_raw(&p->out, "</span>");
		}
	}
	html_raw(&p->out, "</dd>");
	dl_row(p, MSG_ENTRY_REASON, json_str(h, "reason"));
	dl_row(p, MSG_DECISION_REASON, json_str(h, "decision_reason"));
	html_raw(&p->out, "</dl><p class=\"row-actions\">");
	if (json_num(h, "replaced_by")) {
		html_rawf(&p->out, "<a href=\"/console/entries/%lld\" id=\"replaced-by\">",
		          json_num(h, "replaced_by"));
		page_msg(p, MSG_REPLACED);
		html_raw(&p->out, "</a>");
	}
	html_rawf(&p->out, "<a href=\"/console/events/%lld\">", json_num(ev, "id"));
	page_msg(p, MSG_ROSTER);
	html_raw(&p->out, "</a></p></section>\n");
}

static void entry_decide_section(struct page *p, const char *url, long long eid)
{
	html_raw(&p->out,
	         "<section aria-labelledby=\"h-decide\" id=\"decide\"><h2 id=\"h-decide\">");
	page_msg(p, MSG_PENDING_TITLE);
	html_raw(&p->out, "</h2>");
	page_form_open(p, url, PAGE_P_CONSOLE, eid, 0, 0);
	html_raw(&p->out, "<input type=\"hidden\" name=\"action\" value=\"approve\">"
	                  "<button type=\"submit\">");
	page_msg(p, MSG_APPROVE);
	html_raw(&p->out, "</button></form>");
	page_form_open(p, url, PAGE_P_CONSOLE, eid, 0, 0);
	html_raw(&p->out, "<input type=\"hidden\" name=\"action\" value=\"reject\">");
	text_area(p, "reason", "reason", MSG_REJECT_REASON, -1,
	          form_again(p, "reject", "reason", 0), form_err(p, "reject", "reason", 0), 1,
	          1000);
	html_raw(&p->out, "<button type=\"submit\" class=\"second\">");
	page_msg(p, MSG_REJECT);
	html_raw(&p->out, "</button></form></section>\n");
}

static void entry_correct_section(struct page *p, const char *url, long long eid, const cJSON *t)
{
	const char *in = form_again(p, "correct", "check_in", 0);
	const char *out = form_again(p, "correct", "check_out", 0);
	html_raw(&p->out,
	         "<section aria-labelledby=\"h-correct\" id=\"correct\"><h2 id=\"h-correct\">");
	page_msg(p, MSG_CORRECT_TIMES);
	html_raw(&p->out, "</h2><p class=\"hint\">");
	page_msg(p, MSG_CORRECT_HINT);
	html_raw(&p->out, "</p>");
	page_form_open(p, url, PAGE_P_CONSOLE, eid, 0, 0);
	html_raw(&p->out, "<input type=\"hidden\" name=\"action\" value=\"correct\">"
	                  "<div class=\"grid2\">");
	page_input(p, "datetime-local", "check_in", MSG_FIX_IN_AT,
	           in ? in : json_str(t, "check_in"), -1, form_err(p, "correct", "check_in_at", 0),
	           "required");
	page_input(p, "datetime-local", "check_out", MSG_FIX_OUT_AT,
	           out ? out : json_str(t, "check_out"), -1,
	           form_err(p, "correct", "check_out_at", 0), "required");
	html_raw(&p->out, "</div>");
	text_area(p, "creason", "reason", MSG_CORRECT_REASON, -1,
	          form_again(p, "correct", "reason", 0), form_err(p, "correct", "reason", 0), 1,
	          1000);
	html_raw(&p->out, "<button type=\"submit\">");
	page_msg(p, MSG_SAVE);
	html_raw(&p->out, "</button></form></section>\n");
}

static void entry_loaded(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct con *c = p->data;
	if (e->code != APP_OK) {
		page_fail(p, e);
		return;
	}
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(result, "entry");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(result, "attendance");
	const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(result, "requests"), *q;
	const char *done = page_query(p, "done"), *st = json_str(h, "status");
	char url[48];
	snprintf(url, sizeof url, "/console/entries/%lld", c->event_id);
	staff_start(p, MSG_ENTRY_TITLE, 1);
	if (done && !strcmp(done, "approved"))
		page_notice(p, MSG_DONE_APPROVED_ONE);
	else if (done && !strcmp(done, "rejected"))
		page_notice(p, MSG_DONE_REJECTED);
	else if (done && !strcmp(done, "corrected"))
		page_notice(p, MSG_DONE_CORRECTED);
	else if (done && !strcmp(done, "resolved"))
		page_notice(p, MSG_DONE_RESOLVED);
	errors(p);
	entry_card(p, result);
	if (cJSON_GetArraySize(reqs) > 0) {
		html_raw(&p->out, "<section aria-labelledby=\"h-requests\" id=\"requests\">"
		                  "<h2 id=\"h-requests\">");
		page_msg(p, MSG_REQS_TITLE);
		html_raw(&p->out, "</h2><ul class=\"requests\" id=\"request-list\">");
		cJSON_ArrayForEach(q, reqs)
		{
			html_rawf(&p->out, "<li data-request=\"%lld\"><span class=\"hint\">",
			          json_num(q, "id"));
			page_text(p, json_str(q, "created"));
			html_raw(&p->out, "</span><blockquote>");
			page_text(p, json_str(q, "message"));
			html_raw(&p->out, "</blockquote>");
			resolve_form(p, url, c->event_id, json_num(q, "id"));
			html_raw(&p->out, "</li>");
		}
		html_raw(&p->out, "</ul></section>\n");
	}
	if (st && !strcmp(st, "pending"))
		entry_decide_section(p, url, c->event_id);
	if (cJSON_IsObject(t) && !json_num(h, "replaced_by") && st && strcmp(st, "void") != 0)
		entry_correct_section(p, url, c->event_id, t);
	html_raw(&p->out, "<p><a href=\"/console\">");
	page_msg(p, MSG_BACK_CONSOLE);
	html_raw(&p->out, "</a></p>");
	page_end(p);
	cJSON_Delete(result);
	page_send(p, c->status ? c->status : 200);
}

static void entry_load(struct page *p)
{
	read_by_id(p, "page_entry", "entry_id", entry_loaded);
}

void h_page_entry(struct req *r)
{
	struct page *p = begin(r, "/me?next=%2Fconsole", "hour entry");
	if (p)
		entry_load(p);
}

/* After a write of the entry page: back to the page (the new entry's after a correction). */
static void entry_written(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct con *c = p->data;
	if (e->code != APP_OK) {
		cJSON_Delete(result);
		fail_api(p, e, entry_load);
		return;
	}
	long long id = c->event_id;
	const char *done = "approved";
	if (!strcmp(c->action, "correct")) {
		long long fresh = json_num(cJSON_GetObjectItemCaseSensitive(result, "entry"), "id");
		id = fresh ? fresh : id;
		done = "corrected";
	} else if (!strcmp(c->action, "reject")) {
		done = "rejected";
	} else if (!strcmp(c->action, "resolve")) {
		done = "resolved";
	}
	cJSON_Delete(result);
	char url[96];
	snprintf(url, sizeof url, "/console/entries/%lld?done=%s%s", id, done,
	         !strcmp(done, "resolved") ? "#requests" : "");
	page_redirect(p, url);
}

void h_page_entry_post(struct req *r)
{
	struct page *p = begin(r, "/me?next=%2Fconsole", "hour entry");
	if (!p)
		return;
	struct con *c = p->data;
	const char *action = page_field(p, "action");
	struct err e;
	const char *s;
	int flags;
	if (action)
		snprintf(c->action, sizeof c->action, "%s", action);
	if (page_form_check(p, PAGE_P_CONSOLE, c->event_id, &flags) < 0 || !action) {
		fail_form(p, MSG_ERR_FORM, 403, entry_load);
		return;
	}
	if (!strcmp(action, "resolve")) {
		resolve(p);
		return;
	}
	int reject = !strcmp(action, "reject"), correct = !strcmp(action, "correct");
	if (!reject && !correct && strcmp(action, "approve") != 0) {
		fail_form(p, MSG_ERR_FORM, 422, entry_load);
		return;
	}
	cJSON *body = cJSON_CreateObject();
	if (!body || !cJSON_AddNumberToObject(body, "entry_id", (double)c->event_id) ||
	    ((reject || correct) && add_str(p, body, "reason", 1) < 0) ||
	    (correct &&
	     (add_str(p, body, "check_in", 0) < 0 || add_str(p, body, "check_out", 0) < 0))) {
		cJSON_Delete(body);
		oom(r);
		return;
	}
	/* the API's own check of a reason (required, at most 1000 characters), naming it */
	if ((reject || correct) && json_get_str(body, "reason", 1, 1000, &s, &e) < 0) {
		cJSON_Delete(body);
		entry_written(r, NULL, &e);
		return;
	}
	page_write(p,
	           reject    ? "hours_reject"
	           : correct ? "page_attendance_correct"
	                     : "hours_approve",
	           body, entry_written);
}

/* ---- GET /console/events/{id}/poster ------------------------------------------------ */

static void poster_loaded(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	if (e->code != APP_OK) {
		page_fail(p, e);
		return;
	}
	/* a fixed code (the event's hour policy has static_code) makes a printable poster */
	const cJSON *mark = cJSON_GetObjectItemCaseSensitive(result, "_checkin");
	int fixed = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(mark, "static"));
	/* the link is absolute, and a fixed code's is the permanent one (activities_add_checkin) */
	if (activities_add_checkin(r, result) < 0 || !json_str(result, "checkin_url")) {
		cJSON_Delete(result);
		oom(r);
		return;
	}
	const char *url = json_str(result, "checkin_url");
	const char *code = json_str(result, "checkin_code");
	/* A rotating code: without JavaScript the page reloads just after the code's slot turns
	 * (console.js refetches the poster instead). */
	if (!fixed)
		p->refresh_s = CHECKIN_SLOT_SECONDS -
		               (int)((long long)time(NULL) % CHECKIN_SLOT_SECONDS) + 1;
	staff_start(p, MSG_POSTER, 0);
	html_raw(&p->out, "<p class=\"row-actions noprint\"><a href=\"/console\">");
	page_msg(p, MSG_BACK_CONSOLE);
	html_raw(&p->out, "</a>");
	if (fixed) {
		html_raw(&p->out, "<button type=\"button\" id=\"print\" hidden>");
		page_msg(p, MSG_PRINT);
		html_raw(&p->out, "</button>");
	}
	html_raw(&p->out, "</p>\n<section class=\"poster\" id=\"poster\"");
	if (!fixed)
		html_raw(&p->out, " data-refresh=\"30\"");
	html_raw(&p->out, " aria-labelledby=\"poster-title\"><h2 id=\"poster-title\">");
	page_text(p, json_str(result, "title"));
	html_raw(&p->out, "</h2><p>");
	page_text(p, json_str(result, "starts"));
	html_raw(&p->out, " – ");
	page_text(p, json_str(result, "ends_time"));
	html_raw(&p->out, "<br>");
	page_text(p, json_str(result, "location"));
	html_raw(&p->out, "</p><p><strong>");
	page_msg(p, MSG_POSTER_SCAN);
	html_raw(&p->out, "</strong></p>");
	if (qrsvg_render(&p->out, url, T(p, MSG_QR_LABEL)) < 0) {
		cJSON_Delete(result);
		oom(r);
		return;
	}
	html_raw(&p->out, "<p>");
	page_msg(p, MSG_POSTER_CODE);
	html_raw(&p->out, "</p><p class=\"code\" id=\"code\">");
	page_text(p, code);
	html_raw(&p->out, "</p><p class=\"url\">");
	page_text(p, url);
	html_raw(&p->out, fixed ? "</p><p class=\"hint\" id=\"poster-use\" data-use=\"print\">"
	                        : "</p><p class=\"hint\" id=\"poster-use\" data-use=\"screen\">");
	page_msg(p, fixed ? MSG_POSTER_PRINTABLE : MSG_POSTER_SCREEN);
	html_raw(&p->out, "</p></section>\n");
	page_end(p);
	cJSON_Delete(result);
	page_send(p, 200);
}

void h_page_poster(struct req *r)
{
	struct page *p = begin(r, "/me?next=%2Fconsole", "event");
	if (p)
		read_by_id(p, "page_poster", "event_id", poster_loaded);
}
