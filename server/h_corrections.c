/*
 * h_corrections.c: correction requests (DESIGN §1: the volunteer may report an error, the
 * organizer must correct it).
 *
 *   POST /api/v1/correction-requests {entry_id?, event_id?, message}       201 (volunteer)
 *   GET  /api/v1/correction-requests?status=&event_id=&volunteer_id=&limit=&cursor=
 *                                                                           200 {items,
 * next_cursor} POST /api/v1/correction-requests/{id}/resolve {resolution, note?}      200
 * (coordinator)
 *
 * The shape is checked here; api.correction_request_create (sql/0009_pages.sql) checks that
 * the entry is the caller's, api.correction_requests_list and api.correction_request_resolve
 * (sql/0020_correction_resolutions.sql) the scope (that of approving the event's hours), the
 * values and the state, each with its audit row.  /me's and /console's forms call the same
 * SQL functions.
 */
#include "api.h"
#include "handlers.h"
#include "json.h"
#include "reply.h"
#include "req.h"

#define MAX_ID ((1LL << 53) - 1)

void corrections_create_body(struct req *r, cJSON *body)
{
	static const char *const keys[] = {"entry_id", "event_id", "message", NULL};
	struct err e;
	long long id;
	const char *message;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_int(body, "entry_id", 0, 1, MAX_ID, &id, NULL, &e) < 0 ||
	    json_get_int(body, "event_id", 0, 1, MAX_ID, &id, NULL, &e) < 0 ||
	    json_get_str(body, "message", 1, 2000, &message, &e) < 0) {
		cJSON_Delete(body);
		reply_error(r, &e);
		return;
	}
	api_call(r, "correction_request_create", body, 201);
}

void h_correction_requests_create(struct req *r)
{
	cJSON *body = api_body(r);
	if (body)
		corrections_create_body(r, body);
}

void h_correction_requests_list(struct req *r)
{
	static const char *const keys[] = {"status", "event_id", "volunteer_id",
	                                   "limit",  "cursor",   NULL};
	api_call_path(r, "correction_requests_list", NULL, keys, 200, NULL);
}

void h_correction_requests_resolve(struct req *r)
{
	static const char *const keys[] = {"resolution", "note", NULL};
	struct err e;
	const char *s;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_str(body, "resolution", 1, 20, &s, &e) < 0 ||
	    json_get_str(body, "note", 0, 2000, &s, &e) < 0) {
		cJSON_Delete(body);
		reply_error(r, &e);
		return;
	}
	if (api_path_id(r, body, 0, "id") < 0)
		return;
	api_call(r, "correction_request_resolve", body, 200);
}
