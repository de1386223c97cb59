/*
 * p_admin.c: GET /admin, the monthly report for administrators and coordinators (DESIGN §5,
 * issue 7): one row per child area (with its subtree) or per team, a drill-down through the
 * tree (each area links to the report under it), the way back up, a bar chart of approved
 * hours by unit and a 12-month trend, and CSV / Excel downloads (links to the API's
 * GET /api/v1/reports/monthly, which the session cookie authorizes).
 *
 * Data: api.page_admin (sql/0010_console.sql, 0019_team_reports.sql), which is
 * api.report_monthly (same scope checks: a volunteer gets 403, a unit outside scope 404) plus
 * the trend and the path.  A coordinator whose grants are all on teams gets the report of
 * their teams (the answer's "scope" is "teams", "under" may be null) and no choice "by area",
 * which would be 403 for them (0019).  The
 * charts are drawn by admin.js with uPlot (embedded static files, no CDN) from the two
 * tables, which stay on the page as the accessible form of the same figures.
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

struct adm {
	char month[8]; /* YYYY-MM or "" (the current month) */
};

static int valid_month(const char *m)
{
	return m && strlen(m) == 7 && strspn(m, "0123456789") == 4 && m[4] == '-' &&
	       strspn(m + 5, "0123456789") == 2 &&
	       ((m[5] == '0' && m[6] != '0') || (m[5] == '1' && m[6] >= '0' && m[6] <= '2'));
}

static int has_id(const cJSON *arr, long long id)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, arr)
	{
		if (cJSON_IsNumber(v) && (long long)v->valuedouble == id)
			return 1;
	}
	return 0;
}

/* href of the report under unit (by area, or by team); unit 0: no under (a teams view). */
static void report_href(struct page *p, const char *month, long long unit, int by_team)
{
	html_raw(&p->out, "/admin?month=");
	html_url_component(&p->out, month);
	html_rawf(&p->out, "&amp;by=%s", by_team ? "team" : "org_unit");
	if (unit > 0)
		html_rawf(&p->out, "&amp;under=%lld", unit);
}

static void th(struct page *p, enum msg id, int numeric)
{
	html_raw(&p->out, numeric ? "<th scope=\"col\" class=\"n\">" : "<th scope=\"col\">");
	page_msg(p, id);
	html_raw(&p->out, "</th>");
}

static void figures(struct page *p, const cJSON *row)
{
	static const char *const keys[] = {"volunteers", "approved_hours", "pending_hours",
	                                   "events", "new_volunteers"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		html_raw(&p->out, "<td class=\"n\">");
		const char *s = json_str(row, keys[i]);
		if (s)
			page_text(p, s);
		else
			html_rawf(&p->out, "%lld", json_num(row, keys[i]));
		html_raw(&p->out, "</td>");
	}
}

/* The month and grouping form; without `area` (grants on teams only) grouping is by team. */
static void filters(struct page *p, const char *month, int by_team, long long under, int area)
{
	html_raw(&p->out, "<form method=\"get\" action=\"/admin\" class=\"filters noprint\">");
	page_input(p, "month", "month", MSG_MONTH, month, -1, NULL,
	           "required pattern=\"[0-9]{4}-[0-9]{2}\"");
	if (under > 0)
		html_rawf(&p->out, "<input type=\"hidden\" name=\"under\" value=\"%lld\">", under);
	if (!area) {
		html_raw(&p->out, "<input type=\"hidden\" name=\"by\" value=\"team\">"
		                  "<div class=\"field\"><button type=\"submit\">");
		page_msg(p, MSG_SHOW);
		html_raw(&p->out, "</button></div></form>\n");
		return;
	}
	html_raw(&p->out, "<div class=\"field\"><label for=\"f-by\">");
	page_msg(p, MSG_BY);
	html_raw(&p->out, "</label><select id=\"f-by\" name=\"by\"><option value=\"org_unit\"");
	html_raw(&p->out, by_team ? ">" : " selected>");
	page_msg(p, MSG_BY_AREA);
	html_raw(&p->out, by_team ? "</option><option value=\"team\" selected>"
	                          : "</option><option value=\"team\">");
	page_msg(p, MSG_BY_TEAM);
	html_raw(&p->out, "</option></select></div><div class=\"field\"><button type=\"submit\">");
	page_msg(p, MSG_SHOW);
	html_raw(&p->out, "</button></div></form>\n");
}

static void render(struct page *p, const cJSON *d)
{
	const cJSON *rep = cJSON_GetObjectItemCaseSensitive(d, "report");
	const cJSON *rows = cJSON_GetObjectItemCaseSensitive(rep, "rows"), *row;
	const cJSON *totals = cJSON_GetObjectItemCaseSensitive(rep, "totals");
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(d, "path"), *u;
	const cJSON *parents = cJSON_GetObjectItemCaseSensitive(d, "parents");
	const cJSON *trend = cJSON_GetObjectItemCaseSensitive(d, "trend"), *t;
	const char *month = json_str(rep, "month") ? json_str(rep, "month") : "";
	long long under = json_num(rep, "under");
	const char *by = json_str(rep, "by");
	int by_team = by && !strcmp(by, "team"), n = 0;
	int area = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(d, "area"));
	const char *scope = json_str(rep, "scope");
	int teams_view = scope && !strcmp(scope, "teams");

	page_start(p, MSG_ADMIN_TITLE);
	html_raw(&p->out, "<link rel=\"stylesheet\" href=\"");
	page_static_url(&p->out, "staff.css");
	html_raw(&p->out, "\"><link rel=\"stylesheet\" href=\"");
	page_static_url(&p->out, "uplot.min.css");
	html_raw(&p->out, "\"><script src=\"");
	page_static_url(&p->out, "uplot.min.js");
	html_raw(&p->out, "\" defer></script><script src=\"");
	page_static_url(&p->out, "admin.js");
	html_raw(&p->out,
	         "\" defer></script>\n<p class=\"row-actions noprint\"><a href=\"/console\">");
	page_msg(p, MSG_NAV_CONSOLE);
	html_raw(&p->out, "</a></p>\n");

	/* the way back up the tree */
	html_raw(&p->out, "<ol class=\"crumbs\" aria-label=\"");
	page_msg(p, MSG_DRILL_UP);
	html_raw(&p->out, "\">");
	cJSON_ArrayForEach(u, path)
	{
		long long id = json_num(u, "id");
		if (id == under) {
			html_raw(&p->out, "<li aria-current=\"page\"><strong>");
			page_text(p, json_str(u, "name"));
			html_raw(&p->out, "</strong></li>");
		} else {
			html_raw(&p->out, "<li><a href=\"");
			report_href(p, month, id, by_team);
			html_raw(&p->out, "\">");
			page_text(p, json_str(u, "name"));
			html_raw(&p->out, "</a></li>");
		}
	}
	if (teams_view && under > 0) {
		/* a part of one's teams: the way back to all of them */
		html_raw(&p->out, "<li><a href=\"");
		report_href(p, month, 0, 1);
		html_raw(&p->out, "\">");
		page_msg(p, MSG_MY_TEAMS);
		html_raw(&p->out, "</a></li>");
	}
	html_raw(&p->out, "</ol>\n");
	filters(p, month, by_team, under, area);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "closed")))
		page_notice(p, MSG_MONTH_CLOSED);

	/* downloads: the API's own exports, authorized by the session cookie */
	html_raw(&p->out, "<p class=\"row-actions noprint\">");
	for (int i = 0; i < 2; i++) {
		html_raw(&p->out, i ? "<a id=\"dl-xlsx\" href=\"" : "<a id=\"dl-csv\" href=\"");
		html_raw(&p->out, "/api/v1/reports/monthly?month=");
		html_url_component(&p->out, month);
		html_rawf(&p->out, "&amp;by=%s", by_team ? "team" : "org_unit");
		if (under > 0)
			html_rawf(&p->out, "&amp;under=%lld", under);
		html_rawf(&p->out, "&amp;format=%s\" download>", i ? "xlsx" : "csv");
		page_msg(p, i ? MSG_DOWNLOAD_XLSX : MSG_DOWNLOAD_CSV);
		html_raw(&p->out, "</a>");
	}
	html_raw(&p->out, "</p>\n");

	/* the report table (also the bar chart's data) */
	html_raw(&p->out, "<div class=\"tbl\" tabindex=\"0\"><table id=\"units\"><caption>");
	if (json_str(rep, "under_name"))
		page_text(p, json_str(rep, "under_name"));
	else
		page_msg(p, MSG_MY_TEAMS);
	html_raw(&p->out, " · ");
	page_text(p, month);
	html_raw(&p->out, " · ");
	page_msg(p, by_team ? MSG_BY_TEAM : MSG_BY_AREA);
	html_raw(&p->out, "</caption><thead><tr>");
	th(p, MSG_COL_UNIT, 0);
	th(p, MSG_COL_VOLUNTEERS, 1);
	th(p, MSG_APPROVED_HOURS, 1);
	th(p, MSG_PENDING_HOURS, 1);
	th(p, MSG_COL_EVENTS, 1);
	th(p, MSG_COL_NEW, 1);
	html_raw(&p->out, "</tr></thead><tbody>");
	cJSON_ArrayForEach(row, rows)
	{
		long long id = json_num(row, "id");
		n++;
		html_raw(&p->out, "<tr data-label=\"");
		page_text(p, json_str(row, "name"));
		html_raw(&p->out, "\" data-hours=\"");
		page_text(p, json_str(row, "approved_hours"));
		html_raw(&p->out, "\"><th scope=\"row\">");
		if (!by_team) {
			/* an area with areas below drills down by area; a leaf shows its teams */
			html_raw(&p->out, "<a href=\"");
			report_href(p, month, id, !has_id(parents, id));
			html_raw(&p->out, "\">");
			page_text(p, json_str(row, "name"));
			html_raw(&p->out, "</a>");
		} else {
			page_text(p, json_str(row, "name"));
		}
		html_raw(&p->out, "</th>");
		figures(p, row);
		html_raw(&p->out, "</tr>");
	}
	if (n == 0) {
		html_raw(&p->out, "<tr><td colspan=\"6\">");
		page_msg(p, MSG_NO_ROWS);
		html_raw(&p->out, "</td></tr>");
	}
	html_raw(&p->out, "</tbody><tfoot><tr><th scope=\"row\">");
	page_msg(p, MSG_TOTAL);
	html_raw(&p->out, "</th>");
	figures(p, totals);
	html_raw(&p->out, "</tr></tfoot></table></div>\n");

	/* the charts, drawn by admin.js from the tables */
	if (n > 0) {
		html_raw(&p->out, "<figure class=\"chart\"><figcaption id=\"cap-units\">");
		page_msg(p, MSG_CHART_UNITS);
		html_raw(&p->out, "</figcaption><div id=\"chart-units\" role=\"img\" "
		                  "aria-labelledby=\"cap-units\"></div></figure>\n");
	}
	html_raw(&p->out, "<figure class=\"chart\"><figcaption id=\"cap-trend\">");
	page_msg(p, MSG_CHART_TREND);
	html_raw(&p->out, "</figcaption><div id=\"chart-trend\" role=\"img\" "
	                  "aria-labelledby=\"cap-trend\"></div></figure>\n"
	                  "<div class=\"tbl\" tabindex=\"0\"><table id=\"trend\"><caption>");
	page_msg(p, MSG_CHART_TREND);
	html_raw(&p->out, "</caption><thead><tr>");
	th(p, MSG_MONTH, 0);
	th(p, MSG_APPROVED_HOURS, 1);
	html_raw(&p->out, "</tr></thead><tbody>");
	cJSON_ArrayForEach(t, trend)
	{
		html_raw(&p->out, "<tr data-label=\"");
		page_text(p, json_str(t, "month"));
		html_raw(&p->out, "\" data-hours=\"");
		page_text(p, json_str(t, "approved_hours"));
		html_raw(&p->out, "\"><th scope=\"row\">");
		page_text(p, json_str(t, "month"));
		html_raw(&p->out, "</th><td class=\"n\">");
		page_text(p, json_str(t, "approved_hours"));
		html_raw(&p->out, "</td></tr>");
	}
	html_raw(&p->out, "</tbody></table></div>\n");
	page_end(p);
	page_send(p, 200);
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

void h_page_admin(struct req *r)
{
	struct page *p = page_new(r);
	if (!p)
		return;
	if (!r->account_id) {
		page_redirect(p, "/me?next=%2Fadmin");
		return;
	}
	struct adm *a = page_data_new(p, sizeof *a, NULL);
	if (!a)
		return;
	cJSON *args = cJSON_CreateObject();
	if (!args) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	const char *month = page_query(p, "month"), *by = page_query(p, "by");
	const char *under = page_query(p, "under");
	struct err e;
	if (month && *month && !valid_month(month)) {
		cJSON_Delete(args);
		err_set(&e, APP_EINVALID, "month", "month must be YYYY-MM");
		page_fail(p, &e);
		return;
	}
	if (by && strcmp(by, "org_unit") != 0 && strcmp(by, "team") != 0) {
		cJSON_Delete(args);
		err_set(&e, APP_EINVALID, "by", "by must be org_unit or team");
		page_fail(p, &e);
		return;
	}
	size_t ul = under ? strlen(under) : 0;
	if (ul > 0 && (ul > 15 || strspn(under, "0123456789") != ul || atoll(under) < 1)) {
		cJSON_Delete(args);
		err_set(&e, APP_ENOTFOUND, NULL, "org unit not found");
		page_fail(p, &e);
		return;
	}
	if (month && *month)
		snprintf(a->month, sizeof a->month, "%s", month);
	/* without `by` the database picks: by area, or by team for grants on teams only */
	if ((a->month[0] && !cJSON_AddStringToObject(args, "month", a->month)) ||
	    (by && *by && !cJSON_AddStringToObject(args, "by", by)) ||
	    (ul > 0 && !cJSON_AddNumberToObject(args, "under", (double)atoll(under)))) {
		cJSON_Delete(args);
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	page_read(p, "page_admin", args, loaded);
}
