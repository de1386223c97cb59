/*
 * h_password.c: a user's own account: password, sessions, data and erasure (ASVS 2.1.5,
 * 2.1.6, 3.3.3, 3.3.4, 8.3.2; PIPL Art. 45 and 47).
 *
 *   POST   /api/v1/me/password {current_password, new_password}  200 {"sessions_ended": n}
 *   GET    /api/v1/me/sessions                                    200 {"items": [...]}
 *   DELETE /api/v1/me/sessions                                    200 {"sessions_ended": n}
 *   GET    /api/v1/me/data        everything held about the caller, as a JSON file to keep
 *   POST   /api/v1/me/erase {current_password}         200 {"volunteer_no": ..., "erased": true}
 *
 * A password change is log-in's three steps (h_session.c): (1) the database returns the
 * account's login and hash with the log-in throttle's state; (2) the hashing pool verifies
 * the current password and hashes the new one; (3) the database stores the new hash, if the
 * stored one is still the hash just verified, and ends every other session of the account;
 * or it counts a wrong current password as a failed log-in, so that this form is no way
 * around the brute-force limit.  The caller's own session goes on.  Both passwords are
 * wiped once hashed.  Sessions ended here are refused by every worker of this server from
 * the moment the answer is sent (sessions_account_revoked, as a log-out), and by other
 * servers through the sessions table's trigger (dblisten.c).
 *
 * The erasure of one's own personal data takes the same steps with the password alone: step
 * 3 is me_erase (sql/0018_erasure.sql), which ends every session, the caller's too, and the
 * answer clears the cookie.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "config.h"
#include "db.h"
#include "handlers.h"
#include "json.h"
#include "log.h"
#include "offload.h"
#include "password.h"
#include "queries.h"
#include "reply.h"
#include "req.h"
#include "router.h"
#include "sessions.h"
#include "validate.h"
#include "weak_password.h"
#include "worker.h"

struct change {
	struct offload_task task;
	struct req *r;
	char current[PASSWORD_BUF];
	char fresh[PASSWORD_BUF];
	char login[65];
	char hash[PASSWORD_HASH_MAX];     /* the stored hash, verified against */
	char new_hash[PASSWORD_HASH_MAX]; /* of the new password */
	char keep[67];                    /* the caller's token hash: that session goes on */
	char ip[64];
	int erase; /* POST /me/erase: verify only, then erase */
	int verified, hashed;
	/* password_check_start: verify only, then ok(r, ok_arg); a wrong password names field */
	const char *field;
	password_ok_fn ok;
	void *ok_arg;
	void (*ok_arg_free)(void *);
};

static void change_wipe(struct change *c)
{
	OPENSSL_cleanse(c->current,
	                sizeof c->current); /* not elided, as a memset before free may be */
	OPENSSL_cleanse(c->fresh, sizeof c->fresh);
}

static void change_free(void *p)
{
	struct change *c = p;
	change_wipe(c);
	if (c->ok_arg_free)
		c->ok_arg_free(c->ok_arg);
	free(c);
}

/* {"sessions_ended": n} from a query whose one value is that count, once no worker of this
 * server trusts the ended sessions any more. */
static void ended_reply(struct req *r, const struct db_result *res)
{
	sessions_account_revoked(r->w->sessions, r->account_id);
	char body[48];
	int n = snprintf(body, sizeof body, "{\"sessions_ended\":%lld}",
	                 db_result_int(res, 0, 0, 0));
	api_answer(r, 200, body, (size_t)n);
}

static void changed(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct change *c = job->arg;
	if (e->code != APP_OK) {
		reply_error(c->r, e);
		return;
	}
	ended_reply(c->r, res);
}

/* The account is erased and all its sessions ended, the caller's with them. */
static void erased(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct change *c = job->arg;
	struct req *r = c->r;
	if (e->code != APP_OK) {
		reply_error(r, e);
		return;
	}
	sessions_account_revoked(r->w->sessions, r->account_id);
	auth_set_cookie(r, NULL, 0);
	const char *json = db_result_value(res, 0, 0);
	if (!json) /* me_erase always returns its object; never NULL, but never strlen(NULL) */
		json = "{\"erased\":true}";
	api_answer(r, 200, json, strlen(json));
}

static void failure_counted(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct change *c = job->arg;
	(void)res;
	if (e->code != APP_OK) {
		reply_error(c->r, e);
		return;
	}
	reply_problem(c->r, APP_EINVALID, c->field ? c->field : "current_password",
	              "wrong password");
}

static void change_work(struct offload_task *t)
{
	struct change *c = t->arg;
	c->verified = password_verify(c->hash, c->current) == 1;
	c->hashed = c->verified && !c->erase && !c->ok && password_hash(c->fresh, c->new_hash) == 0;
}

static void change_done(struct offload_task *t, int ran)
{
	struct change *c = t->arg;
	struct req *r = c->r;
	change_wipe(c);
	if (!ran) {
		reply_problem(r, APP_EUNAVAILABLE, NULL,
		              "too many password checks at once; try again");
		return;
	}
	if (!c->verified) {
		db_job_init(&r->job, Q_LOGIN_FAIL, failure_counted, c);
		db_job_param(&r->job, 0, c->login);
		db_job_param(&r->job, 1, c->ip[0] ? c->ip : NULL);
	} else if (c->ok) {
		c->ok(r, c->ok_arg);
		return;
	} else if (c->erase) {
		db_job_init(&r->job, Q_ME_ERASE, erased, c);
		db_job_param_int(&r->job, 0, r->account_id);
		db_job_param(&r->job, 1, c->hash);
		db_job_param(&r->job, 2, c->ip[0] ? c->ip : NULL);
		db_job_param(&r->job, 3, r->rid);
	} else if (!c->hashed) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "cannot hash the password; try again");
		return;
	} else {
		db_job_init(&r->job, Q_PASSWORD_CHANGE, changed, c);
		db_job_param_int(&r->job, 0, r->account_id);
		db_job_param(&r->job, 1, c->hash);
		db_job_param(&r->job, 2, c->new_hash);
		db_job_param(&r->job, 3, c->keep);
		db_job_param(&r->job, 4, c->ip[0] ? c->ip : NULL);
		db_job_param(&r->job, 5, r->rid);
	}
	req_db_submit(r);
}

static void looked_up(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct change *c = job->arg;
	struct req *r = c->r;
	if (e->code != APP_OK) {
		reply_error(r, e);
		return;
	}
	const char *login = db_result_value(res, 0, 0), *hash = db_result_value(res, 0, 1);
	if (!login || !hash) { /* disabled or gone since the session was resolved */
		reply_problem(r, APP_EUNAUTH, NULL,
		              "log in first: the session is missing or expired");
		return;
	}
	long long retry = db_result_int(res, 0, 2, 0);
	if (retry > 0) {
		login_throttled(r, retry);
		return;
	}
	struct err weak;
	if (c->fresh[0] && password_check_new(c->fresh, login, "new_password", &weak) < 0) {
		reply_error(r, &weak); /* built on the login: known only now */
		return;
	}
	snprintf(c->login, sizeof c->login, "%s", login);
	snprintf(c->hash, sizeof c->hash, "%s", hash);
	c->task.work = change_work;
	c->task.done = change_done;
	c->task.arg = c;
	offload_submit(r->w->hashing, &c->task);
}

/* The caller's token hash as a bytea parameter; -1 when the request carries none. */
static int caller_token_hash(struct req *r, char out[67])
{
	char buf[64];
	int via_cookie;
	const char *token = auth_request_token(r, buf, sizeof buf, &via_cookie);
	if (!token)
		return -1;
	auth_token_hash_param(token, out);
	return 0;
}

/* Step 1 of every flow (fresh is NULL for the erasure and the check); NULL after replying, else
 * the flow's state, hung on r and under way. */
static struct change *account_flow_start(struct req *r, const char *current, const char *fresh,
                                         password_ok_fn ok)
{
	struct change *c = calloc(1, sizeof *c);
	if (!c) {
		api_oom(r);
		return NULL;
	}
	c->ok = ok;
	c->r = r;
	if (caller_token_hash(r, c->keep) < 0) {
		free(c);
		reply_problem(r, APP_EUNAUTH, NULL,
		              "log in first: the session is missing or expired");
		return NULL;
	}
	c->erase = !fresh && !ok;
	snprintf(c->current, sizeof c->current, "%s", current);
	snprintf(c->fresh, sizeof c->fresh, "%s", fresh ? fresh : "");
	auth_peer_ip(r, c->ip, sizeof c->ip);
	r->hstate = c;
	r->hstate_free = change_free;
	db_job_init(&r->job, Q_PASSWORD_LOOKUP, looked_up, c);
	db_job_param_int(&r->job, 0, r->account_id);
	db_job_param(&r->job, 1, c->ip[0] ? c->ip : NULL);
	req_db_submit(r);
	return c;
}

int password_check_start(struct req *r, const char *password, const char *field, password_ok_fn ok,
                         void *arg, void (*arg_free)(void *))
{
	struct change *c = account_flow_start(r, password, NULL, ok);
	if (!c) {
		if (arg_free)
			arg_free(arg);
		return -1;
	}
	c->field = field;
	c->ok_arg = arg;
	c->ok_arg_free = arg_free;
	return 0;
}

int password_change_start(struct req *r, const char *current, const char *fresh)
{
	struct err e;
	if (password_check_new(fresh, NULL, "new_password", &e) == 0 && !strcmp(current, fresh))
		err_set(&e, APP_EINVALID, "new_password", "must differ from the current password");
	if (e.code != APP_OK) {
		reply_error(r, &e);
		return -1;
	}
	return account_flow_start(r, current, fresh, NULL) ? 0 : -1;
}

int me_erase_start(struct req *r, const char *current)
{
	return account_flow_start(r, current, NULL, NULL) ? 0 : -1;
}

static void wipe_passwords(cJSON *body)
{
	json_wipe_str(body, "current_password");
	json_wipe_str(body, "new_password");
	cJSON_Delete(body);
}

void h_password_change(struct req *r)
{
	static const char *const keys[] = {"current_password", "new_password", NULL};
	struct err e;
	const char *current, *fresh;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_str(body, "current_password", 1, PASSWORD_MAX_CHARS, &current, &e) < 0 ||
	    json_get_str(body, "new_password", 1, PASSWORD_MAX_CHARS, &fresh, &e) < 0) {
		wipe_passwords(body);
		reply_error(r, &e);
		return;
	}
	password_change_start(r, current, fresh);
	wipe_passwords(body);
}

void h_me_erase(struct req *r)
{
	static const char *const keys[] = {"current_password", NULL};
	struct err e;
	const char *current;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_str(body, "current_password", 1, PASSWORD_MAX_CHARS, &current, &e) < 0) {
		wipe_passwords(body);
		reply_error(r, &e);
		return;
	}
	me_erase_start(r, current);
	wipe_passwords(body);
}

/* ---- the caller's sessions ---------------------------------------------------------- */

struct mine {
	char keep[67];
	char ip[64];
};

static void listed(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct req *r = job->arg;
	if (e->code != APP_OK) {
		reply_error(r, e);
		return;
	}
	const char *json = db_result_value(res, 0, 0);
	if (!json) /* an aggregate: never, but an empty list is the truth then */
		json = "{\"items\":[]}";
	api_answer(r, 200, json, strlen(json));
}

static void others_ended(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct req *r = job->arg;
	if (e->code != APP_OK) {
		reply_error(r, e);
		return;
	}
	ended_reply(r, res);
}

/* The caller's token hash and address, kept with the request for the query's parameters;
 * NULL after replying. */
static struct mine *mine_of(struct req *r)
{
	struct mine *m = calloc(1, sizeof *m);
	if (!m) {
		api_oom(r);
		return NULL;
	}
	if (caller_token_hash(r, m->keep) < 0) {
		free(m);
		reply_problem(r, APP_EUNAUTH, NULL,
		              "log in first: the session is missing or expired");
		return NULL;
	}
	auth_peer_ip(r, m->ip, sizeof m->ip);
	r->hstate = m;
	r->hstate_free = free;
	return m;
}

void h_sessions_list(struct req *r)
{
	struct mine *m = mine_of(r);
	if (!m)
		return;
	db_job_init(&r->job, Q_SESSIONS_JSON, listed, r);
	db_job_param_int(&r->job, 0, r->account_id);
	db_job_param(&r->job, 1, m->keep);
	db_job_param_int(&r->job, 2, r->w->cfg->session_idle_min);
	req_db_submit(r);
}

void sessions_end_others(struct req *r)
{
	struct mine *m = mine_of(r);
	if (!m)
		return;
	db_job_init(&r->job, Q_SESSIONS_END_OTHERS, others_ended, r);
	db_job_param_int(&r->job, 0, r->account_id);
	db_job_param(&r->job, 1, m->keep);
	db_job_param(&r->job, 2, m->ip[0] ? m->ip : NULL);
	db_job_param(&r->job, 3, r->rid);
	req_db_submit(r);
}

void h_sessions_end_others(struct req *r)
{
	sessions_end_others(r);
}

/* ---- the caller's data ---------------------------------------------------------------- */

static int as_attachment(struct req *r, cJSON **result)
{
	(void)result;
	log_msg(LOG_INFO, "export", "rid=%s ip=%s account=%lld route=%s format=json", r->rid,
	        r->client_ip, r->account_id, r->route->pattern);
	reply_header(r, "Content-Disposition", "attachment; filename=\"volunteerd-my-data.json\"");
	return 0;
}

void h_me_data(struct req *r)
{
	cJSON *args = cJSON_CreateObject();
	if (!args || !cJSON_AddNumberToObject(args, "idle_minutes", r->w->cfg->session_idle_min)) {
		cJSON_Delete(args);
		api_oom(r);
		return;
	}
	api_call_post(r, "me_data", args, 200, as_attachment);
}
