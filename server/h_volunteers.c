/*
 * h_volunteers.c: registration (self and by staff), search, read and edit of volunteers.
 *
 * The handlers check the body here (types, lengths, formats: 400/422 naming the field) and
 * then run one api.volunteer_* function (sql/0004_volunteers.sql; create is 0016's, which
 * adds team_id, with 0027's consent around it and 0038's INSERT naming the reserved id), which
 * does scope, the change and the audit row in one transaction.
 *
 * Invariant: the ID number in clear never leaves this file's buffers (the request's
 * struct vol_write, wiped once the number is encrypted, and when the request ends).  It is
 * checked, normalized, encrypted (AES-256-GCM, bound to the volunteer's id: a registration
 * reserves the id first, sql/0026_id_number_keys.sql), indexed (HMAC-SHA256) and masked
 * here; the database gets only those three, error messages never quote it, and nothing here
 * logs.  A password likewise reaches the database only as an Argon2id hash, computed on the
 * hashing pool.
 *
 * Self-registration (no login) with an ID number needs `consent_id_number: true`, the
 * separate consent to keep it (PIPL Art. 29; sql/0027_consent.sql records it with the
 * notice's version, VOLUNTEERS_ID_CONSENT_NOTICE).  Staff enter numbers from paper forms
 * without it: the database records their attestation.  Self-registrations are throttled per
 * client address (each may cost a hash and a row): VOLUNTEERD_REGISTER_TRIES in
 * VOLUNTEERD_REGISTER_WINDOW seconds, counted in the table the workers share; then 429.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "config.h"
#include "db.h"
#include "handlers.h"
#include "idnum.h"
#include "json.h"
#include "metrics.h"
#include "monotime.h"
#include "offload.h"
#include "password.h"
#include "queries.h"
#include "reply.h"
#include "req.h"
#include "secret.h"
#include "sessions.h"
#include "throttle.h"
#include "validate.h"
#include "weak_password.h"
#include "worker.h"

#define ID_MAX      ((1LL << 53) - 1)
#define SKILLS_MAX  20 /* items */
#define SKILL_CHARS 32
#define NAME_CHARS  50
#define WORK_CHARS  200

/* A write on its way to the database: owns args, and the ID number in clear (normalized) and
 * the password, both wiped with it, until api_call takes args.  Its steps, each skipped when
 * not needed: prepare (ask the database for what the encryption needs: a new volunteer's id,
 * reserved, since the ciphertext is bound to it; during a key rotation, whether the previous
 * key's blind index is taken), protect the ID number, hash the password (hashing pool), call. */
struct vol_write {
	struct offload_task task;
	struct req *r;
	cJSON *args;
	const char *fn; /* static */
	int status;
	int patch;                     /* an update (PATCH), not a registration */
	long long volunteer_id;        /* the path's (update) or the reserved one; 0 before */
	char id_number[IDNUM_LEN + 1]; /* "" when the body gives none */
	char password[PASSWORD_BUF];   /* "" when the body gives none */
	char hash[PASSWORD_HASH_MAX];
	int failed;
};

static void vol_write_free(void *p)
{
	struct vol_write *w = p;
	idnum_wipe(w->id_number, sizeof w->id_number);
	idnum_wipe(w->password, sizeof w->password);
	cJSON_Delete(w->args);
	free(w);
}

static void hash_work(struct offload_task *t)
{
	struct vol_write *w = t->arg;
	w->failed = password_hash(w->password, w->hash) < 0;
	idnum_wipe(w->password, sizeof w->password);
}

/* A password set by staff, or an erasure, ended the account's sessions in the database (the
 * answer names the account): no worker of this server serves them from its cache either, from
 * the moment the answer is sent.  NOTIFY alone would leave the other workers a moment in which
 * the old session still works. */
static int account_sessions_revoked(struct req *r, cJSON **result)
{
	const cJSON *account = cJSON_GetObjectItemCaseSensitive(*result, "account_id");
	if (cJSON_IsNumber(account))
		sessions_account_revoked(r->w->sessions, (long long)account->valuedouble);
	return 0;
}

static void hash_done(struct offload_task *t, int ran)
{
	struct vol_write *w = t->arg;
	struct req *r = w->r;
	if (!ran || w->failed) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "busy hashing passwords; try again");
		return;
	}
	if (!cJSON_AddStringToObject(w->args, "password_hash", w->hash)) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	cJSON *args = w->args;
	w->args = NULL;
	if (w->patch)
		api_call_post(r, w->fn, args, w->status, account_sessions_revoked);
	else
		api_call(r, w->fn, args, w->status);
}

/* The last steps: hash the password when there is one, then run fn with args. */
static void vol_write_call(struct vol_write *w)
{
	if (!w->password[0]) {
		cJSON *args = w->args;
		w->args = NULL;
		api_call(w->r, w->fn, args, w->status);
		return;
	}
	w->task.work = hash_work;
	w->task.done = hash_done;
	w->task.arg = w;
	offload_submit(w->r->w->hashing, &w->task);
}

/* A key that is present with JSON null. */
static int is_null(const cJSON *obj, const char *key)
{
	return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* Refuse null for a key that cannot be cleared. */
static int not_null(const cJSON *obj, const char *key, struct err *e)
{
	if (is_null(obj, key))
		return err_set(e, APP_EINVALID, key, "must not be null");
	return 0;
}

/* Each skill: a non-blank string of at most SKILL_CHARS characters without control
 * characters (the same rules as any string field, through json_get_str). */
static int check_skills(const cJSON *skills, struct err *e)
{
	const cJSON *s;
	cJSON_ArrayForEach(s, skills)
	{
		cJSON *one = cJSON_CreateObject();
		const char *v;
		if (!one)
			return err_set(e, APP_EUNAVAILABLE, "", "out of memory");
		int rc = cJSON_AddItemReferenceToObject(one, "skills", (cJSON *)(uintptr_t)s)
		                 ? json_get_str(one, "skills", 1, SKILL_CHARS, &v, e)
		                 : err_set(e, APP_EUNAVAILABLE, "", "out of memory");
		cJSON_Delete(one); /* deletes the reference only */
		if (rc < 0) {
			if (e->code == APP_EINVALID)
				snprintf(e->detail, sizeof e->detail,
				         "each skill must be a non-empty string of at most %d "
				         "characters",
				         SKILL_CHARS);
			return -1;
		}
	}
	return 0;
}

/* Check every field of a create (patch = 0) or update (patch = 1) body, a self-registration's
 * (self = 1) with its rule for the ID number; on success *password is the password or NULL
 * (borrowed from body). */
static int check_body(const cJSON *body, int patch, int self, const char **password, struct err *e)
{
	static const char *const create_keys[] = {"name",      "phone",        "org_unit_id",
	                                          "id_number", "gender",       "birth_date",
	                                          "work_unit", "party_member", "skills",
	                                          "password",  "team_id",      "consent_id_number",
	                                          NULL};
	static const char *const patch_keys[] = {
	        "name",      "phone",        "org_unit_id", "id_number", "gender", "birth_date",
	        "work_unit", "party_member", "skills",      "password",  "status", NULL};
	const char *name, *phone, *id_number, *gender, *birth_date, *work_unit, *status;
	const cJSON *skills;
	long long unit, team;
	int flag, consent = 0, req = !patch;

	if (json_check_keys(body, patch ? patch_keys : create_keys, e) < 0)
		return -1;
	if (patch && (not_null(body, "name", e) < 0 || not_null(body, "phone", e) < 0 ||
	              not_null(body, "org_unit_id", e) < 0 ||
	              not_null(body, "party_member", e) < 0 || not_null(body, "skills", e) < 0 ||
	              not_null(body, "password", e) < 0 || not_null(body, "status", e) < 0))
		return -1;
	if (json_get_str(body, "name", req, NAME_CHARS, &name, e) < 0 ||
	    json_get_str(body, "phone", req, 20, &phone, e) < 0 ||
	    json_get_int(body, "org_unit_id", req, 1, ID_MAX, &unit, NULL, e) < 0 ||
	    json_get_int(body, "team_id", 0, 1, ID_MAX, &team, NULL, e) < 0 ||
	    json_get_str(body, "id_number", 0, IDNUM_LEN, &id_number, e) < 0 ||
	    json_get_str(body, "gender", 0, 6, &gender, e) < 0 ||
	    json_get_str(body, "birth_date", 0, 10, &birth_date, e) < 0 ||
	    json_get_str(body, "work_unit", 0, WORK_CHARS, &work_unit, e) < 0 ||
	    json_get_bool(body, "party_member", 0, &flag, NULL, e) < 0 ||
	    json_get_bool(body, "consent_id_number", 0, &consent, NULL, e) < 0 ||
	    json_get_array(body, "skills", 0, SKILLS_MAX, &skills, e) < 0 ||
	    json_get_str(body, "password", 0, PASSWORD_MAX_CHARS, password, e) < 0 ||
	    json_get_str(body, "status", 0, 9, &status, e) < 0)
		return -1;
	if (phone && !valid_phone(phone))
		return err_set(e, APP_EINVALID, "phone",
		               "must be a mainland mobile number: 11 digits starting with 13-19");
	if (id_number && !valid_id_number(id_number))
		return err_set(e, APP_EINVALID, "id_number",
		               "must be an 18-character citizen ID number with a valid birth date "
		               "and check character");
	if (gender && strcmp(gender, "male") && strcmp(gender, "female"))
		return err_set(e, APP_EINVALID, "gender", "must be male or female");
	int y, m, d;
	if (birth_date && parse_date(birth_date, &y, &m, &d) < 0)
		return err_set(e, APP_EINVALID, "birth_date", "must be a date YYYY-MM-DD");
	if (skills && check_skills(skills, e) < 0)
		return -1;
	/* the account a password makes logs in with the phone number */
	if (*password && password_check_new(*password, phone, "password", e) < 0)
		return -1;
	if (status && strcmp(status, "active") && strcmp(status, "suspended"))
		return err_set(e, APP_EINVALID, "status", "must be active or suspended");
	/* last, so that check_body_all names the other fields first */
	if (self && id_number && !consent)
		return err_set(
		        e, APP_EINVALID, "consent_id_number",
		        "must be true to register with an ID number: keeping it needs its own, "
		        "separate consent");
	return 0;
}

/* Take field out of a copy of a body that check_body found at fault there, so that it can go on
 * to the fields after it: a required field of a create gets a valid stand-in (never stored), and
 * so does an ID number, whose consent is checked last. */
static void set_aside(cJSON *probe, const char *field, int patch)
{
	json_wipe_str(probe, field);
	cJSON_DeleteItemFromObjectCaseSensitive(probe, field);
	if (patch)
		return;
	if (!strcmp(field, "name"))
		cJSON_AddStringToObject(probe, "name", "x");
	else if (!strcmp(field, "phone"))
		cJSON_AddStringToObject(probe, "phone", "13800000000");
	else if (!strcmp(field, "org_unit_id"))
		cJSON_AddNumberToObject(probe, "org_unit_id", 1);
	else if (!strcmp(field, "id_number"))
		cJSON_AddStringToObject(probe, "id_number", "110105199001010010");
}

/* check_body, naming every field at fault: after the first (e), check_body runs again on a copy
 * with each faulty field set aside, and e->more gets the next one, until none is left. */
static int check_body_all(const cJSON *body, int patch, int self, const char **password,
                          struct err *e)
{
	if (check_body(body, patch, self, password, e) == 0)
		return 0;
	if (e->code != APP_EINVALID || !e->field[0])
		return -1;
	cJSON *probe = cJSON_Duplicate(body, 1);
	const char *faulty = e->field;
	while (probe && e->n_more < ERR_MORE_MAX) {
		set_aside(probe, faulty, patch);
		struct err next;
		const char *unused;
		if (check_body(probe, patch, self, &unused, &next) == 0 ||
		    next.code != APP_EINVALID || !next.field[0])
			break;
		int before = e->n_more;
		err_more(e, next.field, next.detail);
		if (e->n_more == before) /* named already: its stand-in did not do */
			break;
		faulty = e->more[before].field;
	}
	if (probe) {
		json_wipe_str(probe, "id_number");
		json_wipe_str(probe, "password");
		cJSON_Delete(probe);
	}
	return -1;
}

/* Take the ID number out of args into w (normalized), or turn an explicit null (update) into
 * id_number_clear.  0, or -1 when out of memory. */
static int take_id_number(struct vol_write *w, cJSON *args)
{
	cJSON *it = cJSON_GetObjectItemCaseSensitive(args, "id_number");
	if (!it)
		return 0;
	if (cJSON_IsNull(it)) { /* PATCH: remove the number */
		cJSON_DeleteItemFromObjectCaseSensitive(args, "id_number");
		return cJSON_AddTrueToObject(args, "id_number_clear") ? 0 : -1;
	}
	idnum_normalize(it->valuestring, w->id_number); /* checked before: cannot fail */
	json_wipe_str(args, "id_number");
	cJSON_DeleteItemFromObjectCaseSensitive(args, "id_number");
	return 0;
}

/* Add the ID number's ciphertext (bound to w->volunteer_id), blind index and masked form to
 * w->args (and, unless the body gives them, the birth date and gender it encodes), then wipe
 * the number.  0, or -1. */
static int protect_id_number(struct vol_write *w)
{
	const struct idnum_key *key = &w->r->w->secrets->id.current;
	char masked[19], birth[11];
	uint8_t enc[IDNUM_ENC_LEN], mac[IDNUM_HMAC_LEN];
	char enc_hex[2 * IDNUM_ENC_LEN + 1], mac_hex[2 * IDNUM_HMAC_LEN + 1];
	cJSON *args = w->args;
	const char *id = w->id_number;
	int rc = -1;
	if (!id[0])
		return 0;
	if (idnum_encrypt(key, w->volunteer_id, id, enc) < 0 ||
	    idnum_blind(key->index, id, mac) < 0)
		goto out;
	secret_hex(enc, sizeof enc, enc_hex);
	secret_hex(mac, sizeof mac, mac_hex);
	mask_id_number(id, masked);
	idnum_birth_date(id, birth);
	if (!cJSON_AddStringToObject(args, "id_number_enc", enc_hex) ||
	    !cJSON_AddStringToObject(args, "id_number_hmac", mac_hex) ||
	    !cJSON_AddStringToObject(args, "id_number_masked", masked))
		goto out;
	if (!cJSON_GetObjectItemCaseSensitive(args, "birth_date") &&
	    !cJSON_AddStringToObject(args, "birth_date", birth))
		goto out;
	if (!cJSON_GetObjectItemCaseSensitive(args, "gender") &&
	    !cJSON_AddStringToObject(args, "gender", idnum_gender(id)))
		goto out;
	rc = 0;
out:
	idnum_wipe(w->id_number, sizeof w->id_number);
	idnum_wipe(birth, sizeof birth);
	return rc;
}

/* Protect the ID number, then the last steps. */
static void vol_write_protected(struct vol_write *w)
{
	if (protect_id_number(w) < 0) {
		reply_problem(w->r, APP_EUNAVAILABLE, NULL,
		              "cannot protect the ID number; try again");
		return;
	}
	vol_write_call(w);
}

static void prepared(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct vol_write *w = job->arg;
	if (e->code != APP_OK) {
		reply_error(w->r, e);
		return;
	}
	const char *taken = db_result_value(res, 0, 1);
	if (taken && taken[0] == 't') { /* under the previous key: the same 409 as the index's */
		reply_problem(w->r, APP_ECONFLICT, "id_number",
		              "id_number already exists or overlaps");
		return;
	}
	w->volunteer_id = db_result_int(res, 0, 0, 0);
	vol_write_protected(w);
}

/* Ask the database what the encryption needs (Q_ID_NUMBER_PREPARE): a new volunteer's id, and
 * during a rotation whether another volunteer holds the number under the previous key (the
 * unique index sees only the current key's).  Without either need, go on at once. */
static void vol_write_prepare(struct vol_write *w)
{
	const struct idnum_keyring *ring = &w->r->w->secrets->id;
	struct req *r = w->r;
	uint8_t mac[IDNUM_HMAC_LEN];
	char hex[2 * IDNUM_HMAC_LEN + 1];
	if (!w->id_number[0] || (w->volunteer_id && !ring->has_previous)) {
		vol_write_protected(w);
		return;
	}
	db_job_init(&r->job, Q_ID_NUMBER_PREPARE, prepared, w);
	if (ring->has_previous) {
		if (idnum_blind(ring->previous.index, w->id_number, mac) < 0) {
			reply_problem(r, APP_EUNAVAILABLE, NULL, "cannot protect the ID number");
			return;
		}
		secret_hex(mac, sizeof mac, hex);
	}
	int rc = db_job_param_copy(&r->job, 0, ring->has_previous ? hex : NULL);
	if (w->volunteer_id)
		rc |= db_job_param_int(&r->job, 1, w->volunteer_id);
	else
		db_job_param(&r->job, 1, NULL); /* a registration: its id is reserved now */
	if (rc < 0) {
		db_job_clear(&r->job);
		api_oom(r);
		return;
	}
	req_db_submit(r);
}

/* Drop keys whose value is null: on create, null means "not given". */
static void drop_nulls(cJSON *obj)
{
	cJSON *it = obj->child;
	while (it) {
		cJSON *next = it->next;
		if (cJSON_IsNull(it))
			cJSON_Delete(cJSON_DetachItemViaPointer(obj, it));
		it = next;
	}
}

int volunteers_check(const cJSON *body, struct err *e)
{
	const char *password = NULL;
	return check_body_all(body, 0, 1, &password, e);
}

static void volunteer_write_body(struct req *r, cJSON *body, int patch);

/* Delete a body that may hold the ID number or a password in clear. */
void volunteers_discard_body(cJSON *body)
{
	json_wipe_str(body, "id_number");
	json_wipe_str(body, "password");
	cJSON_Delete(body);
}

/* 1 after replying 429 when the caller's address has used its self-registrations for now (see
 * the top of the file); otherwise this one is counted. */
static int register_throttled(struct req *r)
{
	const struct config *c = r->w->cfg;
	char ip[64];
	auth_peer_ip(r, ip, sizeof ip);
	uint32_t wait = throttle_take(metrics_register_throttle(r->w->metrics),
	                              throttle_addr_key(ip), mono_ms() / 1000,
	                              (uint32_t)c->register_window_s, (uint32_t)c->register_tries);
	if (!wait)
		return 0;
	reply_retry_after(r, wait);
	reply_problem(r, APP_ETHROTTLED, NULL,
	              "too many registrations from this address; try again in %u seconds", wait);
	return 1;
}

/* A self-registration's consent goes to the database with the version of the notice it
 * answered.  0, or -1 out of memory. */
static int add_consent_notice(cJSON *body)
{
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "consent_id_number")))
		return 0;
	return cJSON_AddStringToObject(body, "id_consent_notice", VOLUNTEERS_ID_CONSENT_NOTICE)
	               ? 0
	               : -1;
}

/* The common path of POST and PATCH: check, protect, hash, call. */
static void volunteer_write(struct req *r, int patch)
{
	cJSON *body = api_body(r);
	if (!body)
		return;
	volunteer_write_body(r, body, patch);
}

void volunteers_create_body(struct req *r, cJSON *body)
{
	volunteer_write_body(r, body, 0);
}

static void volunteer_write_body(struct req *r, cJSON *body, int patch)
{
	struct err e;
	const char *password = NULL;
	int self = !patch && !r->account_id; /* staff are neither asked nor throttled */
	if (check_body_all(body, patch, self, &password, &e) < 0) {
		volunteers_discard_body(body);
		reply_error(r, &e);
		return;
	}
	if (self && register_throttled(r)) {
		volunteers_discard_body(body);
		return;
	}
	if (self && add_consent_notice(body) < 0) {
		volunteers_discard_body(body);
		api_oom(r);
		return;
	}
	struct vol_write *w = calloc(1, sizeof *w);
	if (!w) {
		volunteers_discard_body(body);
		api_oom(r);
		return;
	}
	w->r = r;
	w->patch = patch;
	w->fn = patch ? "volunteer_update" : "volunteer_create";
	w->status = patch ? 200 : 201;
	r->hstate = w;
	r->hstate_free = vol_write_free;
	if (password) { /* the database gets only the hash */
		snprintf(w->password, sizeof w->password, "%s", password);
		json_wipe_str(body, "password");
		cJSON_DeleteItemFromObjectCaseSensitive(body, "password");
	}
	if (!patch)
		drop_nulls(body);
	if (take_id_number(w, body) < 0) {
		cJSON_Delete(body);
		api_oom(r);
		return;
	}
	if (patch && api_path_id(r, body, 0, "id") < 0) /* body deleted */
		return;
	w->args = body;
	w->volunteer_id = patch ? req_param_id(r, 0) : 0;
	vol_write_prepare(w);
}

void h_volunteers_create(struct req *r)
{
	volunteer_write(r, 0);
}

void h_volunteers_update(struct req *r)
{
	volunteer_write(r, 1);
}

void h_volunteers_list(struct req *r)
{
	static const char *const keys[] = {"q",     "org_unit_id", "team_id", "status",
	                                   "limit", "cursor",      NULL};
	api_call_path(r, "volunteer_list", NULL, keys, 200, NULL);
}

void h_volunteers_get(struct req *r)
{
	static const char *const ids[] = {"id", NULL};
	api_call_path(r, "volunteer_get", ids, NULL, 200, NULL);
}

void h_volunteers_erase(struct req *r)
{
	static const char *const ids[] = {"id", NULL};
	api_call_path(r, "volunteer_erase", ids, NULL, 200, account_sessions_revoked);
}
