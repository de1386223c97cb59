/*
 * h_registry.c: the area tree (org units), teams and team membership.
 *
 * Each handler checks the shape of its input here (400 for a body that is not a JSON object,
 * 422 naming the field for a wrong type, length or enum) and hands the rest to one function
 * of sql/0003_registry.sql through api_call: existence, uniqueness and scope are decided
 * there, in the same transaction as the change and its audit row.  Who may see and change
 * what is written once, at the top of that file.
 *
 * PATCH bodies: an absent key leaves the field alone; a present one must be valid, and only
 * parent_id (org units) and parent_team_id (teams) may be null (meaning "no parent").
 */
#include <string.h>

#include "api.h"
#include "handlers.h"
#include "json.h"
#include "reply.h"
#include "req.h"
#include "validate.h"

#define ID_MAX ((1LL << 53) - 1)

static int has_key(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key) != NULL;
}

/* An org unit's code: 1-64 characters without spaces (the SQL re-checks Unicode spaces). */
static int code_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int team_kind_ok(const char *s)
{
	return !strcmp(s, "general") || !strcmp(s, "party_branch") || !strcmp(s, "unit");
}

/* kind, code and name of an org unit; required for a create, else only when present. */
static int org_unit_fields(const cJSON *body, int create, struct err *e)
{
	const char *kind = NULL, *code = NULL, *name = NULL;
	if (json_get_str(body, "kind", create || has_key(body, "kind"), 20, &kind, e) < 0 ||
	    json_get_str(body, "code", create || has_key(body, "code"), 64, &code, e) < 0 ||
	    json_get_str(body, "name", create || has_key(body, "name"), 100, &name, e) < 0)
		return -1;
	if (kind && !valid_org_kind(kind))
		return err_set(e, APP_EINVALID, "kind",
		               "must be district, subdistrict, community, grid, center, station or "
		               "point");
	if (code && !code_ok(code))
		return err_set(e, APP_EINVALID, "code", "1-64 characters without spaces");
	return 0;
}

static void call_with_path_id(struct req *r, const char *fn)
{
	static const char *const ids[] = {"id", NULL};
	api_call_path(r, fn, ids, NULL, 200, NULL);
}

static void call_list(struct req *r, const char *fn, const char *const keys[])
{
	api_call_path(r, fn, NULL, keys, 200, NULL);
}

void h_org_units_create(struct req *r)
{
	static const char *const keys[] = {"parent_id", "kind", "code", "name", NULL};
	struct err e;
	long long parent;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_int(body, "parent_id", 0, 1, ID_MAX, &parent, NULL, &e) < 0 ||
	    org_unit_fields(body, 1, &e) < 0) {
		cJSON_Delete(body);
		reply_error(r, &e);
		return;
	}
	api_call(r, "org_unit_create", body, 201);
}

void h_org_units_list(struct req *r)
{
	static const char *const keys[] = {"parent_id", "under", "kind", "limit", "cursor", NULL};
	call_list(r, "org_unit_list", keys);
}

void h_org_units_get(struct req *r)
{
	call_with_path_id(r, "org_unit_get");
}

void h_org_units_update(struct req *r)
{
	static const char *const keys[] = {"parent_id", "kind", "code", "name", NULL};
	struct err e;
	long long parent;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_int(body, "parent_id", 0, 1, ID_MAX, &parent, NULL, &e) < 0 ||
	    org_unit_fields(body, 0, &e) < 0) {
		cJSON_Delete(body);
		reply_error(r, &e);
		return;
	}
	if (api_path_id(r, body, 0, "id") < 0)
		return;
	api_call(r, "org_unit_update", body, 200);
}

/* name, kind, org_unit_id and parent_team_id of a team; name and org_unit_id are required for
 * a create; parent_team_id may always be null. */
static int team_fields(const cJSON *body, int create, struct err *e)
{
	const char *name = NULL, *kind = NULL;
	long long id;
	if (json_get_str(body, "name", create || has_key(body, "name"), 100, &name, e) < 0 ||
	    json_get_int(body, "org_unit_id", create || has_key(body, "org_unit_id"), 1, ID_MAX,
	                 &id, NULL, e) < 0 ||
	    json_get_int(body, "parent_team_id", 0, 1, ID_MAX, &id, NULL, e) < 0 ||
	    json_get_str(body, "kind", has_key(body, "kind") && !create, 20, &kind, e) < 0)
		return -1;
	if (kind && !team_kind_ok(kind))
		return err_set(e, APP_EINVALID, "kind", "must be general, party_branch or unit");
	return 0;
}

void h_teams_create(struct req *r)
{
	static const char *const keys[] = {"name", "org_unit_id", "parent_team_id", "kind", NULL};
	struct err e;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 || team_fields(body, 1, &e) < 0) {
		cJSON_Delete(body);
		reply_error(r, &e);
		return;
	}
	api_call(r, "team_create", body, 201);
}

void h_teams_list(struct req *r)
{
	static const char *const keys[] = {
	        "org_unit_id", "under", "parent_team_id", "kind", "limit", "cursor", NULL};
	call_list(r, "team_list", keys);
}

void h_teams_get(struct req *r)
{
	call_with_path_id(r, "team_get");
}

void h_teams_update(struct req *r)
{
	static const char *const keys[] = {"name", "org_unit_id", "parent_team_id", "kind", NULL};
	struct err e;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 || team_fields(body, 0, &e) < 0) {
		cJSON_Delete(body);
		reply_error(r, &e);
		return;
	}
	if (api_path_id(r, body, 0, "id") < 0)
		return;
	api_call(r, "team_update", body, 200);
}

/* The SQL says whether the membership is new (201) or an update of the role (200) in
 * `_created`, which is not part of the answer.  A replayed Idempotency-Key brings the
 * stored `_created` back, so a retry gets the first answer's status too. */
static int member_status(struct req *r, cJSON **result)
{
	cJSON *created = cJSON_GetObjectItemCaseSensitive(*result, "_created");
	r->api_status = cJSON_IsTrue(created) ? 201 : 200;
	cJSON_DeleteItemFromObjectCaseSensitive(*result, "_created");
	return 0;
}

void h_team_members_add(struct req *r)
{
	static const char *const keys[] = {"volunteer_id", "role", NULL};
	struct err e;
	long long volunteer;
	const char *role = NULL;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_int(body, "volunteer_id", 1, 1, ID_MAX, &volunteer, NULL, &e) < 0 ||
	    json_get_str(body, "role", 0, 20, &role, &e) < 0)
		goto invalid;
	if (role && strcmp(role, "member") && strcmp(role, "leader")) {
		err_set(&e, APP_EINVALID, "role", "must be member or leader");
		goto invalid;
	}
	if (api_path_id(r, body, 0, "team_id") < 0)
		return;
	api_call_post(r, "team_member_add", body, 201, member_status);
	return;
invalid:
	cJSON_Delete(body);
	reply_error(r, &e);
}

void h_team_members_remove(struct req *r)
{
	static const char *const ids[] = {"team_id", "volunteer_id", NULL};
	api_call_path(r, "team_member_remove", ids, NULL, 204, api_no_content);
}
