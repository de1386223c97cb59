/*
 * h_corrections.c: POST /api/v1/correction-requests, a volunteer's report of an error in
 * their own record (DESIGN §1: the volunteer may report, the organizer must correct).  The
 * shape is checked here; api.correction_request_create (sql/0009_pages.sql) checks that the
 * entry is the caller's and records the request with its audit row.  /me's form calls the
 * same entry point.
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
