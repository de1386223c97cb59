/*
 * h_session.c: log in, log out, who am I.
 *
 * Log-in is three steps: (1) the database checks the throttle and returns the account's
 * hash (or none); (2) Argon2id verifies on the offload pool, against a dummy hash when the
 * login does not exist, so timing does not tell whether it does; (3) the database records
 * the outcome: a new session (a fresh token: rotation at every log-in) or a failure count.
 */
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
#include "worker.h"

struct login {
	struct offload_task task;
	struct req *r;
	char login[65];
	char password[129];
	char hash[PASSWORD_HASH_MAX];
	long long account_id;
	int ok;
	char token[AUTH_TOKEN_LEN + 1];
	char token_hash[67];
	char old_hash[67];
	char ip[64];
};

static void login_free(void *p)
{
	struct login *l = p;
	memset(l->password, 0, sizeof l->password);
	free(l);
}

static void finished(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct req *r = job->arg;
	struct login *l = r->hstate;
	if (e->code != APP_OK) {
		reply_error(r, e);
		return;
	}
	if (!l->ok) {
		reply_problem(r, APP_EUNAUTH, NULL, "wrong login or password");
		return;
	}
	const char *account = db_result_value(res, 0, 0);
	if (!account) {
		reply_problem(r, APP_EUNAUTH, NULL, "wrong login or password");
		return;
	}
	/* {"token": ..., "account": ...}: the account JSON is the database's. */
	size_t n = strlen(account) + AUTH_TOKEN_LEN + 32;
	char *body = malloc(n);
	if (!body) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	int len = snprintf(body, n, "{\"token\":\"%s\",\"account\":%s}", l->token, account);
	auth_set_cookie(r, l->token, r->w->cfg->session_max_hours * 3600);
	reply_json(r, 201, body, (size_t)len);
	free(body);
}

static void verify_work(struct offload_task *t)
{
	struct login *l = t->arg;
	int match = password_verify(l->hash[0] ? l->hash : l->r->w->dummy_hash, l->password);
	l->ok = match && l->hash[0] && l->account_id > 0;
}

static void verify_done(struct offload_task *t, int ran)
{
	struct login *l = t->arg;
	struct req *r = l->r;
	memset(l->password, 0, sizeof l->password);
	if (!ran) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "too many log-ins at once; try again");
		return;
	}
	if (l->ok) {
		if (auth_new_token(l->token) < 0) {
			reply_problem(r, APP_EUNAVAILABLE, NULL, "no randomness");
			return;
		}
		auth_token_hash_param(l->token, l->token_hash);
		db_job_init(&r->job, Q_LOGIN_SUCCEED, finished, r);
		db_job_param_int(&r->job, 0, l->account_id);
		db_job_param(&r->job, 1, l->token_hash);
		db_job_param(&r->job, 2, l->old_hash[0] ? l->old_hash : NULL);
		db_job_param_int(&r->job, 3, r->w->cfg->session_max_hours * 60);
		db_job_param(&r->job, 4, l->ip[0] ? l->ip : NULL);
		db_job_param_copy(&r->job, 5, req_header(r, "User-Agent"));
		db_job_param(&r->job, 6, l->login);
		db_job_param(&r->job, 7, r->rid);
	} else {
		db_job_init(&r->job, Q_LOGIN_FAIL, finished, r);
		db_job_param(&r->job, 0, l->login);
		db_job_param(&r->job, 1, l->ip[0] ? l->ip : NULL);
	}
	db_submit(r->w->db, &r->job);
}

static void looked_up(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct req *r = job->arg;
	struct login *l = r->hstate;
	if (e->code != APP_OK) {
		reply_error(r, e);
		return;
	}
	long long retry = db_result_int(res, 0, 2, 0);
	if (retry > 0) {
		char s[24];
		snprintf(s, sizeof s, "%lld", retry);
		reply_header(r, "Retry-After", s);
		reply_problem(r, APP_ETHROTTLED, NULL,
		              "too many failed log-ins; try again in %lld seconds", retry);
		return;
	}
	l->account_id = db_result_int(res, 0, 0, 0);
	const char *hash = db_result_value(res, 0, 1);
	snprintf(l->hash, sizeof l->hash, "%s", hash ? hash : "");
	l->task.work = verify_work;
	l->task.done = verify_done;
	l->task.arg = l;
	offload_submit(r->w->offload, &l->task);
}

void h_session_create(struct req *r)
{
	static const char *const keys[] = {"login", "password", NULL};
	struct err e;
	const char *login, *password;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_str(body, "login", 1, 64, &login, &e) < 0 ||
	    json_get_str(body, "password", 1, 128, &password, &e) < 0) {
		cJSON_Delete(body);
		reply_error(r, &e);
		return;
	}
	struct login *l = calloc(1, sizeof *l);
	if (!l) {
		cJSON_Delete(body);
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	l->r = r;
	snprintf(l->login, sizeof l->login, "%s", login);
	snprintf(l->password, sizeof l->password, "%s", password);
	cJSON_Delete(body);
	r->hstate = l;
	r->hstate_free = login_free;
	auth_peer_ip(r, l->ip, sizeof l->ip);
	if (r->account_id) { /* logging in again: the old session ends (rotation) */
		char buf[64];
		int via_cookie;
		const char *old = auth_request_token(r, buf, sizeof buf, &via_cookie);
		if (old)
			auth_token_hash_param(old, l->old_hash);
	}
	db_job_init(&r->job, Q_LOGIN_LOOKUP, looked_up, r);
	db_job_param(&r->job, 0, l->login);
	db_job_param(&r->job, 1, l->ip[0] ? l->ip : NULL);
	db_submit(r->w->db, &r->job);
}

static void logged_out(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct req *r = job->arg;
	(void)res;
	if (e->code != APP_OK) {
		reply_error(r, e);
		return;
	}
	auth_set_cookie(r, NULL, 0);
	reply_empty(r);
}

void h_session_delete(struct req *r)
{
	char buf[64], hash[67];
	int via_cookie;
	const char *token = auth_request_token(r, buf, sizeof buf, &via_cookie);
	if (!token || !r->account_id) {
		auth_set_cookie(r, NULL, 0);
		reply_empty(r); /* already logged out: the goal holds */
		return;
	}
	auth_token_hash_param(token, hash);
	db_job_init(&r->job, Q_SESSION_DELETE, logged_out, r);
	db_job_param_copy(&r->job, 0, hash);
	db_submit(r->w->db, &r->job);
}

void h_me(struct req *r)
{
	api_call(r, "me", cJSON_CreateObject(), 200);
}
