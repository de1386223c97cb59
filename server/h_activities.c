/*
 * h_activities.c: activities (one-off or weekly), their events, and sign-ups.
 *
 * Each handler checks shapes and formats here (400 for bad JSON, 422 naming the field), then
 * makes one api_call; sql/0005_activities.sql decides scope, capacity and state.  Times go to
 * the database normalized to RFC 3339 in UTC so that PostgreSQL never meets a form it parses
 * differently from parse_rfc3339; local dates and times of a recurrence are expanded there,
 * in the deployment's zone.
 *
 * The check-in code and the QR URL are never stored: the database marks the events that the
 * caller may see them for (a hidden `_checkin` member), and activities_add_checkin() derives both
 * from the server's check-in key (common/checkin_code.h) and removes the marker before the reply.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "checkin_code.h"
#include "config.h"
#include "handlers.h"
#include "json.h"
#include "reply.h"
#include "req.h"
#include "secret.h"
#include "validate.h"
#include "worker.h"

#define MAX_ID           ((1LL << 53) - 1)
#define MAX_CAPACITY     100000
#define MAX_EVENT_S      (31LL * 86400)  /* one event lasts at most 31 days */
#define MAX_DISTANCE_S   (731LL * 86400) /* a one-off starts within 2 years of now */
#define MAX_RECURRENCE_Y 2               /* a recurrence spans at most 2 years */

/* Prefix e->field with "recurrence." so that the client knows which object is meant. */
static int in_recurrence(struct err *e)
{
	char f[sizeof e->field];
	/* keys are short (json_check_keys names at most what the client sent, cut here) */
	snprintf(f, sizeof f, "recurrence.%.40s", e->field);
	memcpy(e->field, f, sizeof f);
	return -1;
}

/* A time argument: RFC 3339 with an offset, replaced in obj by its UTC form.  Query strings
 * decode '+' as a space, so a space where the offset's sign belongs is read as '+'. */
static int norm_time(cJSON *obj, const char *key, const char *s, long long *epoch, struct err *e)
{
	char buf[64], out[32];
	if (!s || strlen(s) >= sizeof buf)
		return err_set(e, APP_EINVALID, key, "must be an RFC 3339 time with an offset");
	snprintf(buf, sizeof buf, "%s", s);
	for (char *p = buf + (strlen(buf) > 19 ? 19 : strlen(buf)); *p; p++)
		if (*p == ' ')
			*p = '+';
	if (parse_rfc3339(buf, epoch) < 0)
		return err_set(
		        e, APP_EINVALID, key,
		        "must be an RFC 3339 time with an offset, e.g. 2026-03-01T08:00:00+08:00");
	format_rfc3339(*epoch, 0, out);
	cJSON *v = cJSON_CreateString(out);
	if (!v || !cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v)) {
		cJSON_Delete(v);
		return err_set(e, APP_EUNAVAILABLE, NULL, "out of memory");
	}
	return 0;
}

/* {freq:"weekly", byday:[...], from, until, start_time, end_time}, each rule a 422 naming
 * recurrence.<key>. */
static int check_recurrence(const cJSON *rec, struct err *e)
{
	static const char *const keys[] = {"freq",       "byday",    "from", "until",
	                                   "start_time", "end_time", NULL};
	const char *freq, *from, *until, *st, *et;
	const cJSON *byday, *day;
	int fy, fm, fd, uy, um, ud, smin, emin, seen = 0;
	if (json_check_keys(rec, keys, e) < 0 || json_get_str(rec, "freq", 1, 20, &freq, e) < 0 ||
	    json_get_array(rec, "byday", 1, 7, &byday, e) < 0 ||
	    json_get_str(rec, "from", 1, 10, &from, e) < 0 ||
	    json_get_str(rec, "until", 1, 10, &until, e) < 0 ||
	    json_get_str(rec, "start_time", 1, 5, &st, e) < 0 ||
	    json_get_str(rec, "end_time", 1, 5, &et, e) < 0)
		return in_recurrence(e);
	if (strcmp(freq, "weekly") != 0)
		return err_set(e, APP_EINVALID, "recurrence.freq", "only \"weekly\" is supported");
	if (cJSON_GetArraySize(byday) == 0)
		return err_set(e, APP_EINVALID, "recurrence.byday", "name at least one weekday");
	cJSON_ArrayForEach(day, byday)
	{
		int wd = cJSON_IsString(day) ? valid_weekday(day->valuestring) : 0;
		if (!wd)
			return err_set(e, APP_EINVALID, "recurrence.byday",
			               "weekdays are MO, TU, WE, TH, FR, SA, SU");
		if (seen & (1 << wd))
			return err_set(e, APP_EINVALID, "recurrence.byday", "%s is named twice",
			               day->valuestring);
		seen |= 1 << wd;
	}
	if (parse_date(from, &fy, &fm, &fd) < 0)
		return err_set(e, APP_EINVALID, "recurrence.from", "must be a date YYYY-MM-DD");
	if (parse_date(until, &uy, &um, &ud) < 0)
		return err_set(e, APP_EINVALID, "recurrence.until", "must be a date YYYY-MM-DD");
	long long d0 = validate_days_from_civil(fy, fm, fd);
	long long d1 = validate_days_from_civil(uy, um, ud);
	if (d1 < d0)
		return err_set(e, APP_EINVALID, "recurrence.until", "must not be before from");
	/* from + 2 years; 29 February counts as 28 February in a common year */
	int last = validate_days_in_month(fy + MAX_RECURRENCE_Y, fm);
	long long cap = validate_days_from_civil(fy + MAX_RECURRENCE_Y, fm, fd > last ? last : fd);
	if (d1 > cap)
		return err_set(e, APP_EINVALID, "recurrence.until",
		               "a recurrence spans at most %d years", MAX_RECURRENCE_Y);
	if (parse_hhmm(st, &smin) < 0)
		return err_set(e, APP_EINVALID, "recurrence.start_time", "must be HH:MM");
	if (parse_hhmm(et, &emin) < 0)
		return err_set(e, APP_EINVALID, "recurrence.end_time", "must be HH:MM");
	if (emin <= smin)
		return err_set(e, APP_EINVALID, "recurrence.end_time",
		               "must be after start_time (events end on the day they start)");
	return 0;
}

/* The fields that POST and PATCH /activities share, with the same limits.  On create title is
 * required; on a PATCH a title or policy_id that is given must not be null (an activity always
 * has both), while category, location and capacity may be null (none; capacity: unlimited). */
static int activity_fields(const cJSON *body, int create, struct err *e)
{
	const char *title, *category, *location;
	long long capacity, policy;
	int patch_title = !create && cJSON_GetObjectItemCaseSensitive(body, "title");
	int patch_policy = !create && cJSON_GetObjectItemCaseSensitive(body, "policy_id");
	if (json_get_str(body, "title", create || patch_title, 200, &title, e) < 0 ||
	    json_get_str(body, "category", 0, 50, &category, e) < 0 ||
	    json_get_str(body, "location", 0, 200, &location, e) < 0 ||
	    json_get_int(body, "capacity", 0, 1, MAX_CAPACITY, &capacity, NULL, e) < 0 ||
	    json_get_int(body, "policy_id", patch_policy, 1, MAX_ID, &policy, NULL, e) < 0)
		return -1;
	return 0;
}

void activities_create_body(struct req *r, cJSON *body)
{
	static const char *const keys[] = {"team_id",    "org_unit_id", "title",     "category",
	                                   "location",   "capacity",    "starts_at", "ends_at",
	                                   "recurrence", "policy_id",   NULL};
	struct err e;
	const char *starts, *ends;
	const cJSON *rec;
	long long team, unit, t0, t1;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_int(body, "team_id", 1, 1, MAX_ID, &team, NULL, &e) < 0 ||
	    json_get_int(body, "org_unit_id", 1, 1, MAX_ID, &unit, NULL, &e) < 0 ||
	    activity_fields(body, 1, &e) < 0 ||
	    json_get_str(body, "starts_at", 0, 40, &starts, &e) < 0 ||
	    json_get_str(body, "ends_at", 0, 40, &ends, &e) < 0 ||
	    json_get_object(body, "recurrence", 0, &rec, &e) < 0)
		goto invalid;
	if (rec) {
		if (starts || ends) {
			err_set(&e, APP_EINVALID, starts ? "starts_at" : "ends_at",
			        "give starts_at and ends_at, or recurrence, not both");
			goto invalid;
		}
		if (check_recurrence(rec, &e) < 0)
			goto invalid;
	} else {
		cJSON_DeleteItemFromObjectCaseSensitive(body, "recurrence"); /* a null */
		if (!starts || !ends) {
			err_set(&e, APP_EINVALID, starts ? "ends_at" : "starts_at",
			        "required (or give a recurrence)");
			goto invalid;
		}
		if (norm_time(body, "starts_at", starts, &t0, &e) < 0 ||
		    norm_time(body, "ends_at", ends, &t1, &e) < 0)
			goto invalid;
		if (t1 <= t0) {
			err_set(&e, APP_EINVALID, "ends_at", "must be after starts_at");
			goto invalid;
		}
		if (t1 - t0 > MAX_EVENT_S) {
			err_set(&e, APP_EINVALID, "ends_at", "an event lasts at most 31 days");
			goto invalid;
		}
		long long now = (long long)time(NULL);
		if (t0 < now - MAX_DISTANCE_S || t0 > now + MAX_DISTANCE_S) {
			err_set(&e, APP_EINVALID, "starts_at", "must be within two years of today");
			goto invalid;
		}
	}
	api_call(r, "activity_create", body, 201);
	return;
invalid:
	cJSON_Delete(body);
	reply_error(r, &e);
}

void h_activities_create(struct req *r)
{
	cJSON *body = api_body(r);
	if (body)
		activities_create_body(r, body);
}

/* PATCH /activities/{id}: what POST /activities checks for the fields it names; the ones
 * that place the activity (team, org unit) or time its events cannot change here. */
void activities_update_body(struct req *r, long long id, cJSON *body)
{
	static const char *const keys[] = {"title",     "category", "location",    "capacity",
	                                   "policy_id", "team_id",  "org_unit_id", "recurrence",
	                                   "starts_at", "ends_at",  NULL};
	static const struct {
		const char *key, *why;
	} fixed[] = {
	        {"team_id", "cannot be changed: create a new activity instead"},
	        {"org_unit_id", "cannot be changed: create a new activity instead"},
	        {"recurrence", "cannot be changed: create a new activity instead"},
	        {"starts_at", "an activity has no times of its own: change an event's with "
	                      "PATCH /events/{id}"},
	        {"ends_at", "an activity has no times of its own: change an event's with "
	                    "PATCH /events/{id}"},
	};
	struct err e;
	if (json_check_keys(body, keys, &e) < 0)
		goto invalid;
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (cJSON_GetObjectItemCaseSensitive(body, fixed[i].key)) {
			err_set(&e, APP_EINVALID, fixed[i].key, "%s", fixed[i].why);
			goto invalid;
		}
	if (activity_fields(body, 0, &e) < 0)
		goto invalid;
	if (!body->child) {
		err_set(&e, APP_EINVALID, "title",
		        "give at least one of title, category, location, capacity, policy_id");
		goto invalid;
	}
	if (!cJSON_AddNumberToObject(body, "id", (double)id)) {
		cJSON_Delete(body);
		api_oom(r);
		return;
	}
	api_call(r, "activity_update", body, 200);
	return;
invalid:
	cJSON_Delete(body);
	reply_error(r, &e);
}

void h_activities_update(struct req *r)
{
	long long id = req_param_id(r, 0);
	cJSON *body;
	if (id <= 0) {
		reply_problem(r, APP_ENOTFOUND, NULL, "not found");
		return;
	}
	body = api_body(r);
	if (body)
		activities_update_body(r, id, body);
}

void h_activities_get(struct req *r)
{
	static const char *const ids[] = {"id", NULL};
	api_call_path(r, "activity_get", ids, NULL, 200, NULL);
}

/* Turn the database's `_checkin` marker of one event into checkin_code and checkin_url.  The
 * URL is absolute (req_public_link), since it is meant for a QR code: the rotating token's
 * link, or for a fixed-code event the permanent /checkin/{event id}, which a printed poster
 * can carry (the page then asks for the code printed beside it).  A Host header too long for
 * the buffer leaves the path alone. */
int activities_add_checkin(struct req *r, cJSON *ev)
{
	const cJSON *mark = cJSON_GetObjectItemCaseSensitive(ev, "_checkin");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "id");
	if (!mark)
		return 0;
	if (!cJSON_IsNumber(id) || id->valuedouble < 1)
		return -1;
	long long event_id = (long long)id->valuedouble;
	long long slot = checkin_slot((long long)time(NULL));
	const cJSON *fixed = cJSON_GetObjectItemCaseSensitive(mark, "static");
	char code[CHECKIN_CODE_LEN + 1], path[CHECKIN_TOKEN_LEN + 32],
	        url[sizeof r->w->cfg->public_url + 320];
	if (cJSON_IsString(fixed) && fixed->valuestring) {
		snprintf(code, sizeof code, "%s", fixed->valuestring);
		snprintf(path, sizeof path, "/checkin/%lld", event_id);
	} else {
		char token[CHECKIN_TOKEN_LEN + 1];
		if (checkin_code(r->w->secrets->checkin, event_id, slot, code) < 0 ||
		    checkin_token(r->w->secrets->checkin, event_id, slot, token) < 0)
			return -1;
		snprintf(path, sizeof path, "/checkin/%s", token);
	}
	if (req_public_link(r, path, url, sizeof url) < 0)
		snprintf(url, sizeof url, "%s", path);
	cJSON_DeleteItemFromObjectCaseSensitive(ev, "_checkin");
	if (!cJSON_AddStringToObject(ev, "checkin_code", code) ||
	    !cJSON_AddStringToObject(ev, "checkin_url", url))
		return -1;
	return 0;
}

/* Post hook of one event (GET, PATCH). */
static int event_post(struct req *r, cJSON **result)
{
	if (activities_add_checkin(r, *result) < 0) {
		api_oom(r);
		return -1;
	}
	return 0;
}

/* Post hook of a page of events. */
static int events_post(struct req *r, cJSON **result)
{
	cJSON *items = cJSON_GetObjectItemCaseSensitive(*result, "items"), *ev;
	cJSON_ArrayForEach(ev, items)
	{
		if (activities_add_checkin(r, ev) < 0) {
			api_oom(r);
			return -1;
		}
	}
	return 0;
}

/* Copy the list parameters into args; from/to must be a date or an RFC 3339 time (the latter
 * normalized to UTC).  0, or -1 after replying 422. */
static int list_args(struct req *r, cJSON *args, int with_filters)
{
	static const char *const page_keys[] = {"limit", "cursor", NULL};
	static const char *const filter_keys[] = {"org_unit_id", "team_id", NULL};
	static const char *const time_keys[] = {"from", "to", NULL};
	struct err e;
	api_query_args(r, args, page_keys);
	if (!with_filters)
		return 0;
	api_query_args(r, args, filter_keys);
	for (int i = 0; time_keys[i]; i++) {
		const char *v = req_query(r, time_keys[i]);
		int y, m, d;
		long long t;
		if (!v)
			continue;
		if (parse_date(v, &y, &m, &d) == 0) {
			cJSON_AddStringToObject(args, time_keys[i], v);
			continue;
		}
		cJSON_AddStringToObject(args, time_keys[i], v);
		if (norm_time(args, time_keys[i], v, &t, &e) < 0) {
			snprintf(e.detail, sizeof e.detail,
			         "must be a date YYYY-MM-DD or an RFC 3339 time with an offset");
			cJSON_Delete(args);
			reply_error(r, &e);
			return -1;
		}
	}
	return 0;
}

void h_activity_events(struct req *r)
{
	cJSON *args = cJSON_CreateObject();
	if (!args) {
		api_oom(r);
		return;
	}
	if (api_path_id(r, args, 0, "id") < 0 || list_args(r, args, 0) < 0)
		return;
	api_call_post(r, "activity_events", args, 200, events_post);
}

void h_events_list(struct req *r)
{
	cJSON *args = cJSON_CreateObject();
	if (!args) {
		api_oom(r);
		return;
	}
	if (list_args(r, args, 1) < 0)
		return;
	api_call_post(r, "events_list", args, 200, events_post);
}

void h_events_get(struct req *r)
{
	static const char *const ids[] = {"id", NULL};
	api_call_path(r, "event_get", ids, NULL, 200, event_post);
}

void h_events_update(struct req *r)
{
	static const char *const keys[] = {"status", "capacity", "starts_at", "ends_at", NULL};
	struct err e;
	const char *status, *starts, *ends;
	long long capacity, t;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_str(body, "status", 0, 20, &status, &e) < 0 ||
	    json_get_str(body, "starts_at", 0, 40, &starts, &e) < 0 ||
	    json_get_str(body, "ends_at", 0, 40, &ends, &e) < 0)
		goto invalid;
	/* capacity: a number, or null for no limit */
	const cJSON *cap = cJSON_GetObjectItemCaseSensitive(body, "capacity");
	if (cap && !cJSON_IsNull(cap) &&
	    json_get_int(body, "capacity", 1, 1, MAX_CAPACITY, &capacity, NULL, &e) < 0)
		goto invalid;
	if (!status && !cap && !starts && !ends) {
		err_set(&e, APP_EINVALID, "status",
		        "give at least one of status, capacity, starts_at, ends_at");
		goto invalid;
	}
	if (status && strcmp(status, "scheduled") && strcmp(status, "cancelled")) {
		err_set(&e, APP_EINVALID, "status", "must be scheduled or cancelled");
		goto invalid;
	}
	if (!status)
		cJSON_DeleteItemFromObjectCaseSensitive(body, "status");
	if ((starts && norm_time(body, "starts_at", starts, &t, &e) < 0) ||
	    (ends && norm_time(body, "ends_at", ends, &t, &e) < 0))
		goto invalid;
	if (!starts)
		cJSON_DeleteItemFromObjectCaseSensitive(body, "starts_at");
	if (!ends)
		cJSON_DeleteItemFromObjectCaseSensitive(body, "ends_at");
	if (api_path_id(r, body, 0, "id") < 0)
		return;
	api_call_post(r, "event_update", body, 200, event_post);
	return;
invalid:
	cJSON_Delete(body);
	reply_error(r, &e);
}

/* 201 for a new sign-up, 200 for the one that already existed. */
static int signup_post(struct req *r, cJSON **result)
{
	const cJSON *created = cJSON_GetObjectItemCaseSensitive(*result, "_created");
	r->api_status = cJSON_IsFalse(created) ? 200 : 201;
	cJSON_DeleteItemFromObjectCaseSensitive(*result, "_created");
	return 0;
}

void h_signups_create(struct req *r)
{
	static const char *const keys[] = {"volunteer_id", NULL};
	struct err e;
	long long volunteer_id = 0;
	int has_volunteer = 0;
	/* An empty body means {} (the caller signs up themself). */
	cJSON *body = r->body_len == 0 ? cJSON_CreateObject() : api_body(r);
	if (!body) {
		if (r->body_len == 0)
			api_oom(r);
		return;
	}
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_int(body, "volunteer_id", 0, 1, MAX_ID, &volunteer_id, &has_volunteer, &e) < 0)
		goto invalid;
	if (!has_volunteer) {
		if (r->volunteer_id <= 0) {
			err_set(&e, APP_EINVALID, "volunteer_id",
			        "your account has no volunteer record: name the volunteer");
			goto invalid;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(body, "volunteer_id");
		cJSON_AddNumberToObject(body, "volunteer_id", (double)r->volunteer_id);
	}
	if (api_path_id(r, body, 0, "event_id") < 0)
		return;
	api_call_post(r, "signup_create", body, 201, signup_post);
	return;
invalid:
	cJSON_Delete(body);
	reply_error(r, &e);
}

void h_signups_cancel(struct req *r)
{
	static const char *const ids[] = {"event_id", "volunteer_id", NULL};
	api_call_path(r, "signup_cancel", ids, NULL, 204, api_no_content);
}
