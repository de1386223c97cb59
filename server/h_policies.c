/*
 * h_policies.c: hour policies, the rules of DESIGN §3 as data (GET/POST /hour-policies,
 * GET/PATCH /hour-policies/{id}).
 *
 * Each field's type and range is checked here, a 422 naming the field; who owns, sees and
 * changes a policy, name uniqueness and the audit row are sql/0022_hour_policies.sql's.  A
 * create takes the defaults of DESIGN §3 for every field it omits; a PATCH changes only the
 * keys it names (daily_cap_minutes and checkin_close_after_start_minutes may be null: no
 * cap, check-in open until the end).  The owner (org_unit_id) is fixed at creation.
 */
#include <string.h>

#include "api.h"
#include "handlers.h"
#include "json.h"
#include "reply.h"
#include "req.h"

#define ID_MAX ((1LL << 53) - 1)

/* The ranges: a day for minimum credit, cap, early check-in and grace; a week for the late
 * close of check-in (events last up to 31 days). */
#define DAY_MIN  1440
#define WEEK_MIN 10080

/* The rule fields of a create or a PATCH (all optional: absent keeps the default or the
 * current value); name is required for a create. */
static int policy_fields(const cJSON *body, int create, struct err *e)
{
	const char *name, *mode;
	long long v;
	int b, has;
	if (json_get_str(body, "name", create, 100, &name, e) < 0)
		return -1;
	if (!create && cJSON_GetObjectItemCaseSensitive(body, "name") && !name)
		return err_set(e, APP_EINVALID, "name", "must not be null");
	if (json_get_int(body, "rounding_minutes", 0, 1, 60, &v, &has, e) < 0)
		return -1;
	if (has && 60 % v != 0)
		return err_set(e, APP_EINVALID, "rounding_minutes",
		               "must divide an hour: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60");
	if (json_get_int(body, "min_credit_minutes", 0, 0, DAY_MIN, &v, NULL, e) < 0 ||
	    json_get_int(body, "daily_cap_minutes", 0, 1, DAY_MIN, &v, NULL, e) < 0 ||
	    json_get_int(body, "checkin_open_before_minutes", 0, 0, DAY_MIN, &v, NULL, e) < 0 ||
	    json_get_int(body, "checkin_close_after_start_minutes", 0, 0, WEEK_MIN, &v, NULL, e) <
	            0 ||
	    json_get_int(body, "checkout_grace_minutes", 0, 0, DAY_MIN, &v, NULL, e) < 0 ||
	    json_get_bool(body, "walk_ins_allowed", 0, &b, NULL, e) < 0 ||
	    json_get_bool(body, "static_code", 0, &b, NULL, e) < 0 ||
	    json_get_str(body, "approval_mode", 0, 10, &mode, e) < 0)
		return -1;
	if (mode && strcmp(mode, "auto") != 0 && strcmp(mode, "manual") != 0)
		return err_set(e, APP_EINVALID, "approval_mode", "must be auto or manual");
	/* null is "no limit" only where the rule has one; elsewhere it is refused */
	static const char *const not_null[] = {"rounding_minutes",
	                                       "min_credit_minutes",
	                                       "checkin_open_before_minutes",
	                                       "checkout_grace_minutes",
	                                       "approval_mode",
	                                       "walk_ins_allowed",
	                                       "static_code",
	                                       NULL};
	for (int i = 0; not_null[i]; i++)
		if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(body, not_null[i])))
			return err_set(e, APP_EINVALID, not_null[i], "must not be null");
	return 0;
}

/* The body's keys: the owner (set once, at creation), then the rules a PATCH may change. */
static const char *const policy_keys[] = {"org_unit_id",
                                          "name",
                                          "rounding_minutes",
                                          "min_credit_minutes",
                                          "daily_cap_minutes",
                                          "checkin_open_before_minutes",
                                          "checkin_close_after_start_minutes",
                                          "checkout_grace_minutes",
                                          "approval_mode",
                                          "walk_ins_allowed",
                                          "static_code",
                                          NULL};

void h_hour_policies_create(struct req *r)
{
	struct err e;
	long long unit;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, policy_keys, &e) < 0 ||
	    json_get_int(body, "org_unit_id", 0, 1, ID_MAX, &unit, NULL, &e) < 0 ||
	    policy_fields(body, 1, &e) < 0) {
		cJSON_Delete(body);
		reply_error(r, &e);
		return;
	}
	api_call(r, "hour_policy_create", body, 201);
}

void h_hour_policies_list(struct req *r)
{
	static const char *const keys[] = {"org_unit_id", "limit", "cursor", NULL};
	api_call_path(r, "hour_policy_list", NULL, keys, 200, NULL);
}

void h_hour_policies_get(struct req *r)
{
	static const char *const ids[] = {"id", NULL};
	api_call_path(r, "hour_policy_get", ids, NULL, 200, NULL);
}

void h_hour_policies_update(struct req *r)
{
	struct err e;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, policy_keys + 1, &e) < 0 || policy_fields(body, 0, &e) < 0)
		goto invalid;
	if (cJSON_GetArraySize(body) == 0) {
		err_set(&e, APP_EINVALID, "name", "give at least one field to change");
		goto invalid;
	}
	if (api_path_id(r, body, 0, "id") < 0)
		return;
	api_call(r, "hour_policy_update", body, 200);
	return;
invalid:
	cJSON_Delete(body);
	reply_error(r, &e);
}
