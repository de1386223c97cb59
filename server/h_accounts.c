/*
 * h_accounts.c: staff accounts, scoped role grants and the audit trail (admin).
 *
 * An account's password is hashed here, on the hashing pool, before the database sees the
 * account.  When the request names none, one is generated and shown in the answer.  It also
 * travels to the database sealed (AES-GCM under the secret file's key for stored answers),
 * comes back in the function's answer as password_sealed, and is opened into "password" just
 * before the reply: so the answer stored with an Idempotency-Key holds it only sealed, and a
 * replay shows the same password as the first answer did (0032).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "api.h"
#include "auth.h"
#include "sessions.h"
#include "handlers.h"
#include "json.h"
#include "offload.h"
#include "password.h"
#include "log.h"
#include "reply.h"
#include "req.h"
#include "secret.h"
#include "validate.h"
#include "weak_password.h"
#include "worker.h"

struct new_account {
	struct offload_task task;
	struct req *r;
	cJSON *args;
	char password[PASSWORD_BUF];
	char hash[PASSWORD_HASH_MAX];
	int failed;
};

static void new_account_free(void *p)
{
	struct new_account *a = p;
	memset(a->password, 0, sizeof a->password);
	cJSON_Delete(a->args);
	free(a);
}

static const char sealed_aad[] = "volunteerd generated password v1";

/* password sealed, in hex, into out (2 * (strlen + AEAD_OVERHEAD) + 1 bytes); 0 or -1. */
static int seal_password(const struct req *r, const char *password, char *out)
{
	uint8_t sealed[PASSWORD_BUF + AEAD_OVERHEAD];
	size_t len = strlen(password);
	if (aead_seal(r->w->secrets->answers, (const uint8_t *)sealed_aad, sizeof sealed_aad - 1,
	              password, len, sealed) < 0)
		return -1;
	secret_hex(sealed, len + AEAD_OVERHEAD, out);
	return 0;
}

/* The sealed password of hex into out (PASSWORD_BUF bytes); 0, or -1 when it does not open
 * (made under another secret file, or altered). */
static int open_password(const struct req *r, const char *hex, char *out)
{
	uint8_t sealed[PASSWORD_MAX_BYTES + AEAD_OVERHEAD];
	int n = secret_unhex(hex, sealed, sizeof sealed); /* so len < PASSWORD_BUF: room for NUL */
	if (n <= AEAD_OVERHEAD)
		return -1;
	size_t len = (size_t)n - AEAD_OVERHEAD;
	if (aead_open(r->w->secrets->answers, (const uint8_t *)sealed_aad, sizeof sealed_aad - 1,
	              sealed, len, out) < 0)
		return -1;
	out[len] = '\0';
	return 0;
}

/* On the first answer and on a replay alike: password_sealed becomes "password" (null if it
 * does not open: altered where it is stored.  A replay under another secret file does not get
 * here: its request fingerprint differs, and the database answers 422). */
static int add_generated_password(struct req *r, cJSON **result)
{
	const cJSON *sealed = cJSON_GetObjectItemCaseSensitive(*result, "password_sealed");
	if (!cJSON_IsString(sealed))
		return 0;
	char password[PASSWORD_BUF];
	int opened = open_password(r, sealed->valuestring, password) == 0;
	cJSON_DeleteItemFromObject(*result, "password_sealed");
	if (opened) {
		cJSON_AddStringToObject(*result, "password", password);
	} else {
		log_msg(LOG_WARN, "password_unsealable", "rid=%s", r->rid);
		cJSON_AddNullToObject(*result, "password");
	}
	memset(password, 0, sizeof password);
	return 0;
}

static void hash_work(struct offload_task *t)
{
	struct new_account *a = t->arg;
	a->failed = password_hash(a->password, a->hash) < 0;
}

static void hash_done(struct offload_task *t, int ran)
{
	struct new_account *a = t->arg;
	struct req *r = a->r;
	if (!ran || a->failed) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "busy hashing passwords; try again");
		return;
	}
	cJSON_AddStringToObject(a->args, "password_hash", a->hash);
	cJSON *args = a->args;
	a->args = NULL;
	api_call_post(r, "account_create", args, 201, add_generated_password);
}

void h_accounts_create(struct req *r)
{
	if (auth_reauth_required(r)) /* step-up (R19) */
		return;
	static const char *const keys[] = {"login", "password", "volunteer_id", NULL};
	struct err e;
	const char *login, *password;
	long long volunteer_id;
	int has_volunteer = 0;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_str(body, "login", 1, 64, &login, &e) < 0 ||
	    json_get_str(body, "password", 0, PASSWORD_MAX_CHARS, &password, &e) < 0 ||
	    json_get_int(body, "volunteer_id", 0, 1, (1LL << 53) - 1, &volunteer_id, &has_volunteer,
	                 &e) < 0)
		goto invalid;
	if (!valid_login(login)) {
		err_set(&e, APP_EINVALID, "login", "3-64 characters of letters, digits and ._@-");
		goto invalid;
	}
	if (password && password_check_new(password, login, "password", &e) < 0)
		goto invalid;
	struct new_account *a = calloc(1, sizeof *a);
	if (!a) {
		cJSON_Delete(body);
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	a->r = r;
	if (password) {
		memcpy(a->password, password, strlen(password) + 1); /* acceptable: it fits */
	} else if (password_generate(a->password, 16) < 0) {
		free(a);
		cJSON_Delete(body);
		reply_problem(r, APP_EUNAVAILABLE, NULL, "no randomness");
		return;
	} else {
		char sealed[2 * (PASSWORD_BUF + AEAD_OVERHEAD) + 1];
		if (seal_password(r, a->password, sealed) < 0) {
			free(a);
			cJSON_Delete(body);
			reply_problem(r, APP_EUNAVAILABLE, NULL, "no randomness");
			return;
		}
		cJSON_AddStringToObject(body, "password_sealed", sealed);
	}
	cJSON_DeleteItemFromObject(body, "password"); /* the database gets only the hash */
	a->args = body;
	r->hstate = a;
	r->hstate_free = new_account_free;
	a->task.work = hash_work;
	a->task.done = hash_done;
	a->task.arg = a;
	offload_submit(r->w->hashing, &a->task);
	return;
invalid:
	cJSON_Delete(body);
	reply_error(r, &e);
}

/* Committed: the account's sessions are looked up afresh by every worker of this server, so
 * that an admin grant given or taken counts at once (VOLUNTEERD_ADMIN_MFA; other servers hear
 * it through role_grants' trigger, 0030). */
static int grants_changed(struct req *r, cJSON **result)
{
	(void)result;
	sessions_account_revoked(r->w->sessions, req_param_id(r, 0));
	return 0;
}

static int grant_revoked(struct req *r, cJSON **result)
{
	grants_changed(r, result);
	return api_no_content(r, result);
}

void h_roles_grant(struct req *r)
{
	if (auth_reauth_required(r)) /* step-up (R19) */
		return;
	static const char *const keys[] = {"role", "org_unit_id", "team_id", NULL};
	struct err e;
	const char *role;
	long long unit = 0, team = 0;
	int has_unit = 0, has_team = 0;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_str(body, "role", 1, 20, &role, &e) < 0 ||
	    json_get_int(body, "org_unit_id", 0, 1, (1LL << 53) - 1, &unit, &has_unit, &e) < 0 ||
	    json_get_int(body, "team_id", 0, 1, (1LL << 53) - 1, &team, &has_team, &e) < 0)
		goto invalid;
	if (strcmp(role, "admin") && strcmp(role, "coordinator") && strcmp(role, "volunteer")) {
		err_set(&e, APP_EINVALID, "role", "must be admin, coordinator or volunteer");
		goto invalid;
	}
	if (has_unit && has_team) {
		err_set(&e, APP_EINVALID, "team_id", "give org_unit_id or team_id, not both");
		goto invalid;
	}
	if (!strcmp(role, "coordinator") && !has_unit && !has_team) {
		err_set(&e, APP_EINVALID, "org_unit_id",
		        "a coordinator needs org_unit_id or team_id");
		goto invalid;
	}
	if (!strcmp(role, "volunteer") && (has_unit || has_team)) {
		err_set(&e, APP_EINVALID, "org_unit_id", "a volunteer role has no scope");
		goto invalid;
	}
	if (api_path_id(r, body, 0, "account_id") < 0)
		return;
	api_call_post(r, "role_grant", body, 201, grants_changed);
	return;
invalid:
	cJSON_Delete(body);
	reply_error(r, &e);
}

void h_roles_revoke(struct req *r)
{
	if (auth_reauth_required(r)) /* step-up (R19) */
		return;
	static const char *const ids[] = {"account_id", "grant_id", NULL};
	api_call_path(r, "role_revoke", ids, NULL, 204, grant_revoked);
}

void h_audit_list(struct req *r)
{
	static const char *const keys[] = {"entity", "entity_id", "limit", "cursor", NULL};
	api_call_path(r, "audit_list", NULL, keys, 200, NULL);
}
