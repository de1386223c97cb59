/*
 * p_certificate.c: certificates of the service record (志愿服务记录证明, 民发〔2015〕149号).
 *
 *   GET  /me/certificates          the volunteer's certificates and a form to issue one
 *   POST /me/certificates          issue one (from, to: optional dates), then 303 to it
 *   GET  /certificates/{number}?c= the certificate, for anyone holding its link: printable,
 *                                  with a QR code of that link, and its status (valid or
 *                                  revoked) as this server holds it
 *
 * The certificate follows the 2015 guidance's four parts: the volunteer (name, ID number
 * masked, volunteer number), the service (period, approved hours, what they were), the
 * issuing body (with room for the person in charge, the handling officer, a telephone number
 * and the seal, since the form is printed and taken to be sealed) and the rest (number, date,
 * how to verify).  Writes go through POST /api/v1/me/certificates (certificates_create_body).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "handlers.h"
#include "json.h"
#include "page.h"
#include "qrsvg.h"
#include "reply.h"
#include "req.h"
#include "worker.h"

struct certs {
	int has_err;
	struct err err;
	int status;
};

/* staff.css has the tables and the print layout; console.js shows the print button. */
static void print_assets(struct page *p)
{
	html_raw(&p->out, "<link rel=\"stylesheet\" href=\"");
	page_static_url(&p->out, "staff.css");
	html_raw(&p->out, "\"><script src=\"");
	page_static_url(&p->out, "console.js");
	html_raw(&p->out, "\" defer></script>\n");
}

/* "2026-01-01 – 2026-06-30", or the whole record when both ends are open. */
static void period(struct page *p, const cJSON *per)
{
	const char *from = json_str(per, "from"), *to = json_str(per, "to");
	if (!from && !to) {
		page_msg(p, MSG_CERT_ALL_TIME);
		return;
	}
	page_text(p, from ? from : "…");
	html_raw(&p->out, " – ");
	page_text(p, to ? to : "…");
}

/* ---- GET and POST /me/certificates ---------------------------------------------------- */

static void list_loaded(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct certs *c = p->data;
	if (e->code != APP_OK) {
		page_fail(p, e);
		return;
	}
	page_start(p, MSG_CERTS_TITLE);
	if (c->has_err)
		page_error_box(p, &c->err);
	html_raw(&p->out, "<p>");
	page_msg(p, MSG_CERTS_INTRO);
	html_raw(&p->out, "</p>");
	page_form_open(p, "/me/certificates", PAGE_P_CERT, 0, 0, 0);
	page_input(p, "date", "from", MSG_CERT_FROM, page_field(p, "from"), -1,
	           c->has_err && !strcmp(c->err.field, "from") ? T(p, MSG_ERR_INVALID) : NULL, "");
	page_input(p, "date", "to", MSG_CERT_TO, page_field(p, "to"), -1,
	           c->has_err && !strcmp(c->err.field, "to") ? T(p, MSG_ERR_INVALID) : NULL, "");
	html_raw(&p->out, "<button type=\"submit\">");
	page_msg(p, MSG_CERT_ISSUE);
	html_raw(&p->out, "</button></form>\n<h2>");
	page_msg(p, MSG_CERTS_ISSUED);
	html_raw(&p->out, "</h2>");
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(result, "items"), *it;
	if (cJSON_GetArraySize(items) == 0) {
		html_raw(&p->out, "<p id=\"no-certs\">");
		page_msg(p, MSG_CERTS_NONE);
		html_raw(&p->out, "</p>");
	} else {
		html_raw(&p->out, "<ul class=\"certs\">");
		cJSON_ArrayForEach(it, items)
		{
			const cJSON *service = cJSON_GetObjectItemCaseSensitive(it, "service");
			char path[128];
			if (certificate_path(json_str(it, "number"), json_str(it, "code"), path,
			                     sizeof path) < 0)
				continue;
			html_raw(&p->out, "<li><a href=\"");
			page_text(p, path);
			html_raw(&p->out, "\">");
			page_text(p, json_str(it, "number"));
			html_raw(&p->out, "</a> · ");
			period(p, cJSON_GetObjectItemCaseSensitive(it, "period"));
			html_raw(&p->out, " · ");
			page_text(p, json_str(service, "approved_hours"));
			html_raw(&p->out, " ");
			page_msg(p, MSG_HOURS_UNIT);
			const char *status = json_str(it, "status");
			if (status && !strcmp(status, "revoked")) {
				html_raw(&p->out, " · ");
				page_msg(p, MSG_CERT_REVOKED_SHORT);
			}
			html_raw(&p->out, "</li>");
		}
		html_raw(&p->out, "</ul>");
	}
	html_raw(&p->out, "<p><a href=\"/me\">");
	page_msg(p, MSG_SEE_MY_HOURS);
	html_raw(&p->out, "</a></p>\n");
	page_end(p);
	cJSON_Delete(result);
	page_send(p, c->status ? c->status : 200);
}

static struct page *begin(struct req *r)
{
	struct page *p = page_new(r);
	if (!p)
		return NULL;
	if (!r->account_id) {
		page_redirect(p, "/me?next=%2Fme%2Fcertificates");
		return NULL;
	}
	return page_data_new(p, sizeof(struct certs), NULL) ? p : NULL;
}

static void load(struct page *p)
{
	cJSON *args = cJSON_CreateObject();
	if (!args) {
		reply_problem(p->r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	page_read(p, "me_certificates", args, list_loaded);
}

void h_page_my_certificates(struct req *r)
{
	struct page *p = begin(r);
	if (p)
		load(p);
}

/* Issued: 303 to the certificate; or the list again with the error. */
static void issued(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	struct certs *c = p->data;
	if (e->code != APP_OK) {
		cJSON_Delete(result);
		c->has_err = 1;
		c->err = *e;
		c->status = app_err_status(e->code);
		load(p);
		return;
	}
	char path[128];
	int ok = certificate_path(json_str(result, "number"), json_str(result, "code"), path,
	                          sizeof path) == 0;
	cJSON_Delete(result);
	page_redirect(p, ok ? path : "/me/certificates");
}

void h_page_my_certificates_post(struct req *r)
{
	struct page *p = begin(r);
	if (!p)
		return;
	struct certs *c = p->data;
	int flags;
	if (page_form_check(p, PAGE_P_CERT, 0, &flags) < 0) {
		err_set(&c->err, APP_EFORBIDDEN, NULL, "the form expired");
		c->has_err = 1;
		c->status = 403;
		load(p);
		return;
	}
	cJSON *body = cJSON_CreateObject();
	if (!body) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	static const char *const keys[] = {"from", "to"};
	for (size_t i = 0; i < 2; i++) {
		const char *v = page_field(p, keys[i]);
		if (v && *v)
			cJSON_AddStringToObject(body, keys[i], v);
	}
	page_capture(p, issued);
	certificates_create_body(r, body);
}

/* ---- GET /certificates/{number}?c=code -------------------------------------------------- */

static void dt_dd(struct page *p, enum msg label, const char *value, const char *id)
{
	html_raw(&p->out, "<dt>");
	page_msg(p, label);
	html_rawf(&p->out, "</dt><dd id=\"%s\">", id);
	page_text(p, value ? value : "—");
	html_raw(&p->out, "</dd>");
}

static void service_table(struct page *p, const cJSON *service)
{
	const cJSON *line, *more = cJSON_GetObjectItemCaseSensitive(service, "more");
	html_raw(&p->out,
	         "<div class=\"tbl\"><table id=\"cert-lines\"><thead><tr><th scope=\"col\">");
	page_msg(p, MSG_CERT_ACTIVITY);
	html_raw(&p->out, "</th><th scope=\"col\">");
	page_msg(p, MSG_CERT_TEAM);
	html_raw(&p->out, "</th><th scope=\"col\">");
	page_msg(p, MSG_CERT_DAYS);
	html_raw(&p->out, "</th><th scope=\"col\" class=\"n\">");
	page_msg(p, MSG_CERT_SESSIONS);
	html_raw(&p->out, "</th><th scope=\"col\" class=\"n\">");
	page_msg(p, MSG_HOURS_UNIT);
	html_raw(&p->out, "</th></tr></thead><tbody>");
	cJSON_ArrayForEach(line, cJSON_GetObjectItemCaseSensitive(service, "lines"))
	{
		html_raw(&p->out, "<tr><td>");
		page_text(p, json_str(line, "activity"));
		html_raw(&p->out, "</td><td>");
		page_text(p, json_str(line, "team"));
		html_raw(&p->out, "</td><td>");
		const char *first = json_str(line, "first_day"), *last = json_str(line, "last_day");
		page_text(p, first);
		if (first && last && strcmp(first, last)) { /* one day: shown once */
			html_raw(&p->out, " – ");
			page_text(p, last);
		}
		html_rawf(&p->out, "</td><td class=\"n\">%lld</td><td class=\"n\">",
		          json_num(line, "sessions"));
		page_text(p, json_str(line, "hours"));
		html_raw(&p->out, "</td></tr>");
	}
	if (cJSON_IsObject(more)) {
		html_raw(&p->out, "<tr><td colspan=\"3\">");
		page_msg(p, MSG_CERT_MORE);
		html_rawf(&p->out, " (%lld)</td><td class=\"n\"></td><td class=\"n\">",
		          json_num(more, "activities"));
		page_text(p, json_str(more, "hours"));
		html_raw(&p->out, "</td></tr>");
	}
	html_raw(&p->out, "</tbody></table></div>");
}

static void certificate_loaded(struct req *r, cJSON *result, const struct err *e)
{
	struct page *p = page_of(r);
	if (e->code != APP_OK) {
		page_fail(p, e);
		return;
	}
	const cJSON *vol = cJSON_GetObjectItemCaseSensitive(result, "volunteer");
	const cJSON *service = cJSON_GetObjectItemCaseSensitive(result, "service");
	const cJSON *issuer = cJSON_GetObjectItemCaseSensitive(result, "issuer");
	const char *status = json_str(result, "status");
	int revoked = status && !strcmp(status, "revoked");
	char url[sizeof r->w->cfg->public_url + 128];
	if (certificate_url(r, json_str(result, "number"), json_str(result, "code"), url,
	                    sizeof url) < 0) {
		cJSON_Delete(result);
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	page_start(p, MSG_CERT_TITLE);
	print_assets(p);
	html_raw(&p->out, "<p class=\"row-actions noprint\"><button type=\"button\" id=\"print\" "
	                  "hidden>");
	page_msg(p, MSG_CERT_PRINT);
	html_raw(&p->out, "</button></p>\n");
	html_rawf(&p->out, "<p class=\"%s\" id=\"cert-status\" role=\"status\">",
	          revoked ? "error" : "notice");
	page_msg(p, revoked ? MSG_CERT_REVOKED : MSG_CERT_VALID);
	if (revoked && json_str(result, "revoke_reason")) {
		html_raw(&p->out, " ");
		page_msg(p, MSG_CERT_REVOKE_REASON);
		html_raw(&p->out, "<span id=\"cert-reason\">");
		page_text(p, json_str(result, "revoke_reason"));
		html_raw(&p->out, "</span>");
	}
	html_raw(&p->out, "</p>\n<section class=\"cert\" aria-labelledby=\"cert-v\"><dl>");
	dt_dd(p, MSG_CERT_NUMBER, json_str(result, "number"), "cert-number");
	html_raw(&p->out, "</dl><h2 id=\"cert-v\">");
	page_msg(p, MSG_CERT_PART_VOLUNTEER);
	html_raw(&p->out, "</h2><dl>");
	dt_dd(p, MSG_NAME, json_str(vol, "name"), "cert-name");
	dt_dd(p, MSG_CERT_ID_NUMBER, json_str(vol, "id_number"), "cert-id");
	dt_dd(p, MSG_VOLUNTEER_NO, json_str(vol, "volunteer_no"), "cert-no");
	html_raw(&p->out, "</dl><h2>");
	page_msg(p, MSG_CERT_PART_SERVICE);
	html_raw(&p->out, "</h2><dl><dt>");
	page_msg(p, MSG_CERT_PERIOD);
	html_raw(&p->out, "</dt><dd id=\"cert-period\">");
	period(p, cJSON_GetObjectItemCaseSensitive(result, "period"));
	html_raw(&p->out, "</dd>");
	dt_dd(p, MSG_CERT_HOURS, json_str(service, "approved_hours"), "cert-hours");
	html_raw(&p->out, "</dl>");
	service_table(p, service);
	html_raw(&p->out, "<h2>");
	page_msg(p, MSG_CERT_PART_ISSUER);
	html_raw(&p->out, "</h2><dl>");
	dt_dd(p, MSG_CERT_ISSUER, json_str(issuer, "name"), "cert-issuer");
	html_raw(&p->out, "</dl><p class=\"sign\"><span>");
	page_msg(p, MSG_CERT_HEAD);
	html_raw(&p->out, "</span><span>");
	page_msg(p, MSG_CERT_OFFICER);
	html_raw(&p->out, "</span><span>");
	page_msg(p, MSG_CERT_CONTACT);
	html_raw(&p->out, "</span></p><p class=\"seal\">");
	page_msg(p, MSG_CERT_SEAL);
	html_raw(&p->out, "</p><h2>");
	page_msg(p, MSG_CERT_PART_OTHER);
	html_raw(&p->out, "</h2><dl>");
	dt_dd(p, MSG_CERT_ISSUED_ON, json_str(result, "issued_on"), "cert-issued");
	html_raw(&p->out, "</dl><p>");
	page_msg(p, MSG_CERT_VERIFY);
	html_raw(&p->out, "</p>");
	if (qrsvg_render(&p->out, url, T(p, MSG_CERT_QR_LABEL)) < 0) {
		cJSON_Delete(result);
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	html_raw(&p->out, "<p class=\"url\">");
	page_text(p, url);
	html_raw(&p->out, "</p></section>\n");
	page_end(p);
	cJSON_Delete(result);
	reply_header(r, "X-Robots-Tag", "noindex"); /* a link shared in public names a person */
	page_send(p, 200);
}

void h_page_certificate(struct req *r)
{
	struct page *p = page_new(r);
	if (!p)
		return;
	const char *number = r->nparams > 0 ? r->params[0] : NULL, *code = page_query(p, "c");
	cJSON *args = cJSON_CreateObject();
	if (!args || !cJSON_AddStringToObject(args, "number", number ? number : "") ||
	    !cJSON_AddStringToObject(args, "code", code ? code : "")) {
		cJSON_Delete(args);
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	page_read(p, "page_certificate", args, certificate_loaded);
}
