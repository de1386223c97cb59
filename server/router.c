/*
 * router.c: the route table and the matcher.
 *
 * The table is the single list of what the server answers; the OpenAPI document mirrors
 * it.  Matching is a linear scan over split segments: the table is small and the scan
 * touches no memory outside it.
 */
#include "router.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "handlers.h"
#include "reply.h"
#include "req.h"

static const struct route routes[] = {
        {M_GET, "/livez", h_livez, AUTH_PUBLIC, 0, 0},
        {M_GET, "/readyz", h_readyz, AUTH_PUBLIC, 0, 0},
        {M_GET, "/metrics", h_metrics, AUTH_PUBLIC, 0, 0},
        {M_GET, "/api/v1/openapi.json", h_openapi, AUTH_PUBLIC, 0, 0},
        {M_POST, "/api/v1/session", h_session_create, AUTH_OPTIONAL, 4096, 1},
        {M_POST, "/api/v1/session/reauth", h_session_reauth, AUTH_USER, 4096, 1},
        {M_DELETE, "/api/v1/session", h_session_delete, AUTH_OPTIONAL, 0, 1},
        {M_GET, "/api/v1/me", h_me, AUTH_USER, 0, 1},
        {M_POST, "/api/v1/me/totp", h_totp_enroll, AUTH_USER, 0, 1},
        {M_POST, "/api/v1/me/totp/confirm", h_totp_confirm, AUTH_USER, 4096, 1},
        {M_DELETE, "/api/v1/me/totp", h_totp_disable, AUTH_USER, 4096, 1},
        {M_POST, "/api/v1/me/password", h_password_change, AUTH_USER, 4096, 1},
        {M_GET, "/api/v1/me/sessions", h_sessions_list, AUTH_USER, 0, 0},
        {M_DELETE, "/api/v1/me/sessions", h_sessions_end_others, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/me/data", h_me_data, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/me/erase", h_me_erase, AUTH_USER, 4096, 0},
        {M_POST, "/api/v1/me/certificates", h_me_certificates_create, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/me/certificates", h_me_certificates_list, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/org-units", h_org_units_create, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/org-units", h_org_units_list, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/org-units/{id}", h_org_units_get, AUTH_USER, 0, 0},
        {M_PATCH, "/api/v1/org-units/{id}", h_org_units_update, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/teams", h_teams_create, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/teams", h_teams_list, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/teams/{id}", h_teams_get, AUTH_USER, 0, 0},
        {M_PATCH, "/api/v1/teams/{id}", h_teams_update, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/teams/{id}/members", h_team_members_add, AUTH_USER, 0, 0},
        {M_DELETE, "/api/v1/teams/{id}/members/{volunteer_id}", h_team_members_remove, AUTH_USER, 0,
         0},
        {M_POST, "/api/v1/volunteers", h_volunteers_create, AUTH_OPTIONAL, 0, 0},
        {M_GET, "/api/v1/volunteers", h_volunteers_list, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/volunteers/{id}", h_volunteers_get, AUTH_USER, 0, 0},
        {M_PATCH, "/api/v1/volunteers/{id}", h_volunteers_update, AUTH_USER, 0, 0},
        {M_DELETE, "/api/v1/volunteers/{id}", h_volunteers_erase, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/events/{id}/check-ins", h_checkin, AUTH_BATCHED, 0, 0},
        {M_POST, "/api/v1/events/{id}/check-outs", h_checkout, AUTH_BATCHED, 0, 0},
        {M_GET, "/api/v1/events/{id}/attendance", h_event_attendance, AUTH_USER, 0, 0},
        {M_PATCH, "/api/v1/attendance/{id}", h_attendance_correct, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/hours", h_hours_report, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/hours/approve", h_hours_approve_bulk, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/hours/{id}/approve", h_hours_approve, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/hours/{id}/reject", h_hours_reject, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/volunteers/{id}/hours", h_volunteer_hours, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/volunteers/{id}/certificates", h_volunteer_certificates_create, AUTH_USER,
         0, 0},
        {M_POST, "/api/v1/certificates/{id}/revoke", h_certificates_revoke, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/accounts", h_accounts_create, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/accounts/{id}/roles", h_roles_grant, AUTH_USER, 0, 0},
        {M_DELETE, "/api/v1/accounts/{id}/roles/{grant_id}", h_roles_revoke, AUTH_USER, 0, 0},
        {M_DELETE, "/api/v1/accounts/{id}/totp", h_account_totp_clear, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/audit", h_audit_list, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/activities", h_activities_create, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/activities/{id}", h_activities_get, AUTH_USER, 0, 0},
        {M_PATCH, "/api/v1/activities/{id}", h_activities_update, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/activities/{id}/events", h_activity_events, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/events", h_events_list, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/events/{id}", h_events_get, AUTH_USER, 0, 0},
        {M_PATCH, "/api/v1/events/{id}", h_events_update, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/events/{id}/signups", h_signups_create, AUTH_USER, 0, 0},
        {M_DELETE, "/api/v1/events/{id}/signups/{volunteer_id}", h_signups_cancel, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/reports/monthly", h_reports_monthly, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/reports/monthly/{month}/close", h_reports_close, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/reports/volunteers", h_reports_volunteers, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/reports/party-members", h_reports_party_members, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/correction-requests", h_correction_requests_create, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/hour-policies", h_hour_policies_list, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/hour-policies", h_hour_policies_create, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/hour-policies/{id}", h_hour_policies_get, AUTH_USER, 0, 0},
        {M_PATCH, "/api/v1/hour-policies/{id}", h_hour_policies_update, AUTH_USER, 0, 0},
        {M_GET, "/api/v1/correction-requests", h_correction_requests_list, AUTH_USER, 0, 0},
        {M_POST, "/api/v1/correction-requests/{id}/resolve", h_correction_requests_resolve,
         AUTH_USER, 0, 0},
        /* the console's page of one entry (p_console.c), with the pages below */
        {M_GET, "/console/entries/{id}", h_page_entry, AUTH_OPTIONAL, 0, 0},
        {M_POST, "/console/entries/{id}", h_page_entry_post, AUTH_OPTIONAL, 32768, 0},
        /* pages (server/pages/page.h) */
        {M_GET, "/", h_page_root, AUTH_PUBLIC, 0, 0},
        {M_GET, "/static/{name}", h_page_static, AUTH_PUBLIC, 0, 0},
        {M_GET, "/checkin/{code}", h_page_checkin, AUTH_OPTIONAL, 0, 0},
        {M_POST, "/checkin/{code}", h_page_checkin_post, AUTH_OPTIONAL, 8192, 0},
        {M_GET, "/register", h_page_register, AUTH_OPTIONAL, 0, 0},
        {M_POST, "/register", h_page_register_post, AUTH_OPTIONAL, 8192, 0},
        {M_GET, "/me", h_page_me, AUTH_OPTIONAL, 0, 1},
        {M_POST, "/me", h_page_me_post, AUTH_OPTIONAL, 8192, 1},
        {M_GET, "/me/certificates", h_page_my_certificates, AUTH_OPTIONAL, 0, 0},
        {M_POST, "/me/certificates", h_page_my_certificates_post, AUTH_OPTIONAL, 8192, 0},
        {M_GET, "/certificates/{number}", h_page_certificate, AUTH_OPTIONAL, 0, 0},
        {M_GET, "/console", h_page_console, AUTH_OPTIONAL, 0, 0},
        {M_POST, "/console", h_page_console_post, AUTH_OPTIONAL, 65536, 0},
        {M_GET, "/console/events/{id}", h_page_roster, AUTH_OPTIONAL, 0, 0},
        {M_POST, "/console/events/{id}", h_page_roster_post, AUTH_OPTIONAL, 8192, 0},
        {M_GET, "/console/events/{id}/poster", h_page_poster, AUTH_OPTIONAL, 0, 0},
        {M_GET, "/console/activities/{id}", h_page_activity, AUTH_OPTIONAL, 0, 0},
        {M_POST, "/console/activities/{id}", h_page_activity_post, AUTH_OPTIONAL, 8192, 0},
        {M_GET, "/admin", h_page_admin, AUTH_OPTIONAL, 0, 0},
};

#define NROUTES ((int)(sizeof routes / sizeof routes[0]))

int router_check(struct err *e)
{
	return route_table_check(routes, NROUTES, e);
}

int router_count(void)
{
	return NROUTES;
}

const struct route *router_get(int i)
{
	return i >= 0 && i < NROUTES ? &routes[i] : NULL;
}

/* Match path against pattern; on success fill params (pointing into path, which the
 * caller has made writable and owns). */
static int match(const char *pattern, char *path, const char **params, size_t *lens, int *nparams)
{
	const char *p = pattern;
	char *s = path;
	int n = 0;
	while (*p && *s) {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			char *se = strchr(s, '/');
			size_t len = se ? (size_t)(se - s) : strlen(s);
			if (!pe || len == 0 || n >= REQ_MAX_PARAMS)
				return 0;
			lens[n] = len;
			params[n++] = s;
			p = pe + 1;
			s += len;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	if (*p || *s)
		return 0;
	*nparams = n;
	return 1;
}

uint64_t router_route_body_limit(const struct route *route, uint64_t max_body)
{
	uint64_t own = route && route->max_body > 0 ? (uint64_t)route->max_body : max_body;
	return own < max_body ? own : max_body;
}

uint64_t router_min_body_limit(uint64_t max_body)
{
	uint64_t min = max_body;
	for (int i = 0; i < NROUTES; i++) {
		uint64_t own = router_route_body_limit(&routes[i], max_body);
		min = own < min ? own : min;
	}
	return min;
}

uint64_t router_body_limit(const char *method, const char *path, size_t len, uint64_t max_body)
{
	char copy[256]; /* match() wants a string; no route takes a longer path in practice */
	const char *params[REQ_MAX_PARAMS];
	size_t lens[REQ_MAX_PARAMS];
	int nparams, m = M_GET;
	if (!len || len >= sizeof copy)
		return max_body;
	while (m < M_HEAD && strcmp(router_method_name(m), method))
		m <<= 1;
	memcpy(copy, path, len);
	copy[len] = '\0';
	for (int i = 0; i < NROUTES; i++)
		if (routes[i].method == m && match(routes[i].pattern, copy, params, lens, &nparams))
			return router_route_body_limit(&routes[i], max_body);
	return max_body;
}

int router_dispatch(struct req *r, int method)
{
	int allowed = 0;
	const char *params[REQ_MAX_PARAMS];
	size_t lens[REQ_MAX_PARAMS];
	int nparams = 0;
	/* HEAD is answered as GET; evhttp drops the body. */
	int want = method == M_HEAD ? M_GET : method;

	for (int i = 0; i < NROUTES; i++) {
		if (!match(routes[i].pattern, r->path, params, lens, &nparams))
			continue;
		if (routes[i].method == want) {
			r->route = &routes[i];
			r->route_index = i;
			r->nparams = nparams;
			for (int k = 0; k < nparams; k++) {
				r->params[k] = params[k];
				r->path[params[k] - r->path + (ptrdiff_t)lens[k]] = '\0';
			}
			return 0;
		}
		allowed |= routes[i].method;
	}
	if (!allowed) {
		reply_problem(r, APP_ENOTFOUND, NULL, "no such resource");
		return -1;
	}
	if (method == M_OPTIONS) {
		/* OPTIONS on a known path: say what it allows (CORS is not offered). */
		allowed |= M_OPTIONS;
	}
	char allow[96] = "";
	for (int m = M_GET; m <= M_HEAD; m <<= 1) {
		if (!(allowed & m))
			continue;
		if (allow[0])
			strcat(allow, ", ");
		strcat(allow, router_method_name(m));
		if (m == M_GET && !(allowed & M_HEAD)) {
			strcat(allow, ", HEAD");
		}
	}
	reply_header(r, "Allow", allow);
	if (method == M_OPTIONS) {
		reply_empty(r);
		return -1;
	}
	reply_problem(r, APP_EMETHOD, NULL, "method not allowed here; see the Allow header");
	return -1;
}
