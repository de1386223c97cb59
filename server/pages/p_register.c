/*
 * p_register.c: GET and POST /register, self-registration.
 *
 * The form's fields become the JSON body of POST /api/v1/volunteers and go through the same
 * code: volunteers_check() names every field at fault, as the API's 422 does, so that every
 * field's error shows at once, inline, next to it; then volunteers_create_body() runs the
 * API's path (checks again, hashes the password off the loop, api.volunteer_create, which
 * checks the unit and the phone's uniqueness).
 * Success logs the new volunteer in with the API's log-in flow and answers 303 to `next`
 * (e.g. back to the check-in page that sent them here) or /me.
 *
 * The ID number is optional and comes with its own consent: a checkbox, unticked until the
 * person ticks it, and a short notice of what the number is for (PIPL Art. 29; the API's
 * consent_id_number).  A number without the tick is refused next to the box.  The API's
 * throttle of registrations per address answers 429 here too, with a message that says so.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "page.h"
#include "reply.h"
#include "req.h"
#include "validate.h"

#define MAX_ERRS (1 + ERR_MORE_MAX) /* what volunteers_check can name */

struct reg {
	struct err errs[MAX_ERRS];
	int nerr;
	int status;
	char phone[24];
	char password[PASSWORD_BUF];
};

static void reg_free(void *v)
{
	struct reg *g = v;
	memset(g->password, 0, sizeof g->password);
	free(g);
}

static const char *field_error(struct page *p, const char *field)
{
	struct reg *g = p->data;
	for (int i = 0; i < g->nerr; i++)
		if (!strcmp(g->errs[i].field, field)) {
			const char *extra;
			return T(p, page_err_msg(&g->errs[i], &extra));
		}
	return NULL;
}

static void add_error(struct reg *g, const struct err *e)
{
	if (g->nerr < MAX_ERRS)
		g->errs[g->nerr++] = *e;
}

static int is_inline(const char *const fields[], const char *field)
{
	for (int i = 0; fields[i]; i++)
		if (!strcmp(fields[i], field))
			return 1;
	return 0;
}

/* The optional ID number, and beside it the separate consent to keep it with its notice. */
static void id_number_fields(struct page *p)
{
	const char *err = field_error(p, "consent_id_number");
	page_input(p, "text", "id_number", MSG_ID_NUMBER, page_field(p, "id_number"),
	           MSG_ID_NUMBER_HINT, field_error(p, "id_number"),
	           "maxlength=\"18\" autocomplete=\"off\" spellcheck=\"false\" "
	           "autocapitalize=\"characters\"");
	html_raw(&p->out, "<div class=\"field check\"><input id=\"f-consent_id_number\" "
	                  "name=\"consent_id_number\" type=\"checkbox\" value=\"1\" "
	                  "aria-describedby=\"h-consent_id_number");
	html_raw(&p->out, err ? " e-consent_id_number\" aria-invalid=\"true\"" : "\"");
	if (page_field(p, "consent_id_number"))
		html_raw(&p->out, " checked");
	html_raw(&p->out, "><label for=\"f-consent_id_number\">");
	page_msg(p, MSG_ID_CONSENT);
	html_raw(&p->out, "</label><p class=\"hint\" id=\"h-consent_id_number\">");
	page_msg(p, MSG_ID_CONSENT_NOTICE);
	html_raw(&p->out, "</p>");
	if (err) {
		html_raw(&p->out, "<p class=\"err\" id=\"e-consent_id_number\">");
		page_text(p, err);
		html_raw(&p->out, "</p>");
	}
	html_raw(&p->out, "</div>\n");
}

static void render(struct page *p, const cJSON *choices)
{
	struct reg *g = p->data;
	const char *next = page_field(p, "next") ? page_field(p, "next") : page_query(p, "next");
	const char *unit = page_field(p, "org_unit_id");
	page_start(p, MSG_REGISTER_TITLE);
	static const char *const inline_fields[] = {"name",        "phone",     "password",
	                                            "org_unit_id", "id_number", "consent_id_number",
	                                            "work_unit",   NULL};
	for (int i = 0; i < g->nerr; i++) /* errors not about a field of this form */
		if (!is_inline(inline_fields, g->errs[i].field))
			page_error_box(p, &g->errs[i]);
	page_form_open(p, "/register", PAGE_P_REGISTER, 0, 0, 0);
	if (next) {
		html_raw(&p->out, "<input type=\"hidden\" name=\"next\" value=\"");
		page_text(p, page_safe_next(next));
		html_raw(&p->out, "\">");
	}
	page_input(p, "text", "name", MSG_NAME, page_field(p, "name"), -1, field_error(p, "name"),
	           "autocomplete=\"name\" required maxlength=\"50\"");
	page_input(p, "tel", "phone", MSG_PHONE, page_field(p, "phone"), MSG_PHONE_HINT,
	           field_error(p, "phone"),
	           "inputmode=\"numeric\" autocomplete=\"tel\" required maxlength=\"20\"");
	page_input(p, "password", "password", MSG_PASSWORD, NULL, MSG_PASSWORD_HINT,
	           field_error(p, "password"),
	           "autocomplete=\"new-password\" required minlength=\"10\" maxlength=\"128\"");

	const char *unit_err = field_error(p, "org_unit_id");
	html_raw(&p->out, "<div class=\"field\"><label for=\"f-org_unit_id\">");
	page_msg(p, MSG_UNIT);
	html_raw(&p->out, "</label><select id=\"f-org_unit_id\" name=\"org_unit_id\" required");
	if (unit_err)
		html_raw(&p->out, " aria-invalid=\"true\" aria-describedby=\"e-org_unit_id\"");
	html_raw(&p->out, "><option value=\"\">");
	page_msg(p, MSG_UNIT_CHOOSE);
	html_raw(&p->out, "</option>");
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(choices, "items"), *u;
	cJSON_ArrayForEach(u, items)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(u, "id");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(u, "name");
		const cJSON *parent = cJSON_GetObjectItemCaseSensitive(u, "parent_name");
		if (!cJSON_IsNumber(id) || !cJSON_IsString(name))
			continue;
		char ids[24];
		snprintf(ids, sizeof ids, "%lld", (long long)id->valuedouble);
		html_rawf(&p->out, "<option value=\"%s\"%s>", ids,
		          unit && !strcmp(unit, ids) ? " selected" : "");
		if (cJSON_IsString(parent)) {
			page_text(p, parent->valuestring);
			html_raw(&p->out, " · ");
		}
		page_text(p, name->valuestring);
		html_raw(&p->out, "</option>");
	}
	html_raw(&p->out, "</select>");
	if (unit_err) {
		html_raw(&p->out, "<p class=\"err\" id=\"e-org_unit_id\">");
		page_text(p, unit_err);
		html_raw(&p->out, "</p>");
	}
	html_raw(&p->out, "</div>\n");
	id_number_fields(p);
	html_raw(&p->out, "<div class=\"field\"><label for=\"f-work_unit\">");
	page_msg(p, MSG_WORK_UNIT);
	page_msg(p, MSG_OPTIONAL);
	html_raw(&p->out, "</label><input id=\"f-work_unit\" name=\"work_unit\" type=\"text\" "
	                  "maxlength=\"200\" autocomplete=\"organization\"");
	if (page_field(p, "work_unit")) {
		html_raw(&p->out, " value=\"");
		page_text(p, page_field(p, "work_unit"));
		html_raw(&p->out, "\"");
	}
	html_raw(&p->out, "></div>\n<div class=\"field check\"><input id=\"f-party\" "
	                  "name=\"party_member\" type=\"checkbox\" value=\"1\"");
	if (page_field(p, "party_member"))
		html_raw(&p->out, " checked");
	html_raw(&p->out, "><label for=\"f-party\">");
	page_msg(p, MSG_PARTY_MEMBER);
	html_raw(&p->out, "</label></div>\n<button type=\"submit\" class=\"big\">");
	page_msg(p, MSG_REGISTER);
	html_raw(&p->out, "</button></form>\n<p><a href=\"/me\">");
	page_msg(p, MSG_HAVE_ACCOUNT);
	html_raw(&p->out, "</a></p>\n");
	page_end(p);
	page_send(p, g->status ? g->status : 200);
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

static void load(struct page *p)
{
	cJSON *args = cJSON_CreateObject();
	if (!args) {
		reply_problem(p->r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	page_read(p, "org_unit_choices", args, loaded);
}

static struct page *begin(struct req *r)
{
	struct page *p = page_new(r);
	if (!p)
		return NULL;
	struct reg *g = page_data_new(p, sizeof *g, reg_free);
	return g ? p : NULL;
}

void h_page_register(struct req *r)
{
	struct page *p = begin(r);
	if (!p)
		return;
	if (r->account_id) {
		page_redirect(p, "/me");
		return;
	}
	load(p);
}

/* The form as the API's JSON body (numbers and booleans typed as the API wants them). */
static cJSON *form_body(struct page *p)
{
	static const char *const strings[] = {"name", "phone", "password", "work_unit", NULL};
	cJSON *b = cJSON_CreateObject();
	if (!b)
		return NULL;
	for (int i = 0; strings[i]; i++) {
		const char *v = page_field(p, strings[i]);
		if (v && (*v || i < 3))
			cJSON_AddStringToObject(b, strings[i], v);
	}
	const char *unit = page_field(p, "org_unit_id");
	if (unit && *unit) {
		if (strspn(unit, "0123456789") == strlen(unit) && strlen(unit) <= 15)
			cJSON_AddNumberToObject(b, "org_unit_id", (double)atoll(unit));
		else
			cJSON_AddStringToObject(b, "org_unit_id", unit);
	}
	if (page_field(p, "party_member"))
		cJSON_AddTrueToObject(b, "party_member");
	const char *id = page_field(p, "id_number");
	if (id && *id)
		cJSON_AddStringToObject(b, "id_number", id);
	if (page_field(p, "consent_id_number"))
		cJSON_AddTrueToObject(b, "consent_id_number");
	return b;
}

/* Every field's error, as the API's checks name them. */
static void collect_errors(struct page *p, const cJSON *body)
{
	struct reg *g = p->data;
	struct err e;
	if (volunteers_check(body, &e) == 0 || !e.field[0])
		return; /* a fault of no field: the API's path answers it */
	add_error(g, &e);
	for (int i = 0; i < e.n_more; i++) {
		struct err one;
		err_set(&one, e.code, e.more[i].field, "%s", e.more[i].detail);
		add_error(g, &one);
	}
}

static void after_login(struct page *p)
{
	const char *next = page_field(p, "next");
	page_redirect(p, page_safe_next(next ? next : "/me"));
}

static void login_failed(struct req *r, cJSON *result, const struct err *e)
{
	(void)e;
	cJSON_Delete(result);
	page_redirect(page_of(r), "/me"); /* registered; the log-in form is there */
}

static void created(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct reg *g = p->data;
	cJSON_Delete(result);
	if (e->code != APP_OK) {
		add_error(g, e);
		g->status = app_err_status(e->code);
		load(p);
		return;
	}
	page_capture(p, login_failed);
	page_login(p, g->phone, g->password, NULL, after_login);
	memset(g->password, 0, sizeof g->password);
}

void h_page_register_post(struct req *r)
{
	struct page *p = begin(r);
	if (!p)
		return;
	struct reg *g = p->data;
	int flags;
	if (r->account_id) {
		page_redirect(p, "/me");
		return;
	}
	if (page_form_check(p, PAGE_P_REGISTER, 0, &flags) < 0) {
		struct err e;
		err_set(&e, APP_EFORBIDDEN, NULL, "the form expired");
		add_error(g, &e);
		g->status = 403;
		load(p);
		return;
	}
	cJSON *body = form_body(p);
	if (!body) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	collect_errors(p, body);
	if (g->nerr) {
		volunteers_discard_body(body);
		g->status = 422;
		load(p);
		return;
	}
	snprintf(g->phone, sizeof g->phone, "%s", page_field(p, "phone"));
	snprintf(g->password, sizeof g->password, "%s", page_field(p, "password"));
	page_capture(p, created);
	volunteers_create_body(r, body);
}
