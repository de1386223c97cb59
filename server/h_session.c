/*
 * h_session.c: log in, log out, who am I.
 *
 * Log-in is three steps: (1) the database checks the throttle and returns the account's
 * hash (or none); (2) Argon2id verifies on the hashing pool, against a dummy hash when the
 * login does not exist, so timing does not tell whether it does; (3) the database records
 * the outcome: a new session (a fresh token: rotation at every log-in) or a failure count.
 * The flow is session_login() (handlers.h), shared by POST /api/v1/session and the pages'
 * log-in forms; only what happens on success differs.
 *
 * Between (2) and (3), an account with two-step verification on (R19) needs its TOTP code:
 * the database gives the sealed secret and the last step accepted, the code is checked here
 * (an HMAC: cheap, on the loop), and login_succeed_totp takes the step in the same statement
 * that makes the session, so a code works once.  A missing code is 401 totp-required naming
 * `totp`; a wrong or used one is the same 401 and counts as a failed log-in (R17), after the
 * right password, so it never tells a guesser more than a wrong password would.
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
#include "secret.h"
#include "sessions.h"
#include "totp.h"
#include "validate.h"
#include "worker.h"

struct login {
	struct offload_task task;
	struct req *r;
	char login[65];
	char password[PASSWORD_BUF]; /* the whole password: a cut one could never match */
	int too_long;                /* longer than any password can be: never matches */
	char hash[PASSWORD_HASH_MAX];
	char new_hash[PASSWORD_HASH_MAX]; /* "" unless hash was made at an older cost (R15) */
	long long account_id;
	int ok;
	char token[AUTH_TOKEN_LEN + 1];
	char token_hash[67];
	char old_hash[67];
	char ip[64];
	char totp[TOTP_DIGITS + 2]; /* the code typed, "" when none */
	long long step;             /* the step it matched */
	session_login_fn ok_fn;
};

static void login_free(void *p)
{
	struct login *l = p;
	OPENSSL_cleanse(l->password, sizeof l->password);
	OPENSSL_cleanse(l->totp, sizeof l->totp);
	free(l);
}

/* The first 8 hex digits of a session token's hash ("\\x..." as a parameter): enough to follow
 * one session through the log (R41), nothing that could be used as the token. */
static const char *session_tag(const char *hash_param, char out[9])
{
	snprintf(out, 9, "%.8s", hash_param + 2);
	return out;
}

static void log_login_failed(const struct login *l, const char *reason)
{
	log_msg(LOG_WARN, "login_failed", "rid=%s ip=%s account=%lld reason=%s", l->r->rid, l->ip,
	        l->account_id, reason);
}

/* The caller's session has ended: no worker may serve it from its cache any more. */
static void forget_session(struct req *r)
{
	char buf[64];
	int via_cookie;
	uint8_t h[32];
	const char *token = auth_request_token(r, buf, sizeof buf, &via_cookie);
	if (!token)
		return;
	secret_sha256(token, strlen(token), h);
	sessions_revoked(r->w->sessions, h);
}

static void finished(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct login *l = job->arg;
	struct req *r = l->r;
	if (e->code != APP_OK) {
		reply_error(r, e);
		return;
	}
	if (!l->ok) {
		log_login_failed(l, "password");
		reply_problem(r, APP_EUNAUTH, NULL, "wrong login or password");
		return;
	}
	const char *account = db_result_value(res, 0, 0);
	if (!account && l->step) { /* the step was taken by a concurrent log-in */
		log_login_failed(l, "totp_used");
		reply_problem(r, APP_ETOTP, "totp",
		              "this code was used already; wait for the next one");
		return;
	}
	if (!account) {
		log_login_failed(l, "account");
		reply_problem(r, APP_EUNAUTH, NULL, "wrong login or password");
		return;
	}
	char tag[9];
	log_msg(LOG_INFO, "login_ok", "rid=%s ip=%s account=%lld session=%s mfa=%d rotated=%d",
	        r->rid, l->ip, l->account_id, session_tag(l->token_hash, tag), l->step > 0,
	        l->old_hash[0] != 0);
	if (l->old_hash[0]) /* rotated: the old token is refused everywhere from now on */
		forget_session(r);
	l->ok_fn(r, l->token, account);
}

/* POST /session's success: the cookie and {"token": ..., "account": ...}. */
static void api_logged_in(struct req *r, const char *token, const char *account)
{
	/* {"token": ..., "account": ...}: the account JSON is the database's. */
	size_t n = strlen(account) + AUTH_TOKEN_LEN + 32;
	char *body = malloc(n);
	if (!body) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	int len = snprintf(body, n, "{\"token\":\"%s\",\"account\":%s}", token, account);
	auth_set_cookie(r, token, r->w->cfg->session_max_hours * 3600);
	reply_json(r, 201, body, (size_t)len);
	free(body);
}

/* Step (3): the new session, made with the code's step when there is one. */
static void succeed(struct login *l)
{
	struct req *r = l->r;
	if (auth_new_token(l->token) < 0) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "no randomness");
		return;
	}
	auth_token_hash_param(l->token, l->token_hash);
	int k = 0;
	if (l->step) {
		db_job_init(&r->job, Q_LOGIN_SUCCEED_TOTP, finished, l);
		db_job_param_int(&r->job, k++, l->step);
	} else {
		db_job_init(&r->job, Q_LOGIN_SUCCEED, finished, l);
	}
	db_job_param_int(&r->job, k++, l->account_id);
	db_job_param(&r->job, k++, l->token_hash);
	db_job_param(&r->job, k++, l->old_hash[0] ? l->old_hash : NULL);
	db_job_param_int(&r->job, k++, r->w->cfg->session_max_hours * 60);
	db_job_param(&r->job, k++, l->ip[0] ? l->ip : NULL);
	db_job_param_copy(&r->job, k++, req_header(r, "User-Agent"));
	db_job_param(&r->job, k++, l->login);
	db_job_param(&r->job, k, r->rid);
	req_db_submit(r);
}

/* A wrong or used code, after the right password: counted as a failed log-in. */
static void totp_failure_counted(struct db_job *job, const struct db_result *res,
                                 const struct err *e)
{
	struct login *l = job->arg;
	(void)res;
	if (e->code != APP_OK) {
		reply_error(l->r, e);
		return;
	}
	reply_problem(l->r, APP_ETOTP, "totp", "wrong or already used verification code");
}

static void totp_looked_up(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct login *l = job->arg;
	struct req *r = l->r;
	struct totp_state st;
	if (totp_state_read(r, res, e, l->account_id, &st) < 0)
		return;
	if (!st.confirmed) { /* no second factor: the log-in as it always was */
		succeed(l);
		return;
	}
	if (!l->totp[0]) {
		totp_state_wipe(&st);
		log_msg(LOG_INFO, "login_totp_missing", "rid=%s account=%lld", r->rid,
		        l->account_id);
		reply_problem(r, APP_ETOTP, "totp",
		              "this account uses two-step verification: send the 6-digit code from "
		              "your authenticator app as totp");
		return;
	}
	l->step = totp_state_verify(&st, l->totp);
	if (l->step > 0) {
		succeed(l);
		return;
	}
	l->step = 0;
	log_login_failed(l, "totp");
	db_job_init(&r->job, Q_LOGIN_FAIL, totp_failure_counted, l);
	db_job_param(&r->job, 0, l->login);
	db_job_param(&r->job, 1, l->ip[0] ? l->ip : NULL);
	req_db_submit(r);
}

static void verify_work(struct offload_task *t)
{
	struct login *l = t->arg;
	int match = password_verify(l->hash[0] ? l->hash : l->r->w->dummy_hash, l->password);
	l->ok = match && !l->too_long && l->hash[0] && l->account_id > 0;
	if (l->ok && password_needs_rehash(l->hash) && password_hash(l->password, l->new_hash) < 0)
		l->new_hash[0] = '\0'; /* the old hash still serves: try again next time */
}

/* The password is right: is a second factor due?  (totp_looked_up) */
static void look_up_totp(struct login *l)
{
	db_job_init(&l->r->job, Q_TOTP_STATE, totp_looked_up, l);
	db_job_param_int(&l->r->job, 0, l->account_id);
	req_db_submit(l->r);
}

/* The new hash is stored (or the password changed meanwhile, or the store failed: the log-in
 * goes on with the hash it verified). */
static void rehashed(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct login *l = job->arg;
	(void)res;
	if (e->code == APP_OK)
		log_msg(LOG_INFO, "password_rehashed", "rid=%s account=%lld", l->r->rid,
		        l->account_id);
	look_up_totp(l);
}

static void verify_done(struct offload_task *t, int ran)
{
	struct login *l = t->arg;
	struct req *r = l->r;
	memset(l->password, 0, sizeof l->password);
	if (!ran) {
		log_msg(LOG_WARN, "login_shed", "rid=%s ip=%s", r->rid, l->ip);
		reply_problem(r, APP_EUNAVAILABLE, NULL, "too many log-ins at once; try again");
		return;
	}
	if (!l->ok) {
		db_job_init(&r->job, Q_LOGIN_FAIL, finished, l);
		db_job_param(&r->job, 0, l->login);
		db_job_param(&r->job, 1, l->ip[0] ? l->ip : NULL);
	} else if (l->new_hash[0]) {
		db_job_init(&r->job, Q_PASSWORD_REHASH, rehashed, l);
		db_job_param_int(&r->job, 0, l->account_id);
		db_job_param(&r->job, 1, l->hash);
		db_job_param(&r->job, 2, l->new_hash);
	} else {
		look_up_totp(l);
		return;
	}
	req_db_submit(r);
}

void login_throttled(struct req *r, long long retry_after)
{
	reply_retry_after(r, retry_after);
	reply_problem(r, APP_ETHROTTLED, NULL, "too many failed log-ins; try again in %lld seconds",
	              retry_after);
}

static void looked_up(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct login *l = job->arg;
	struct req *r = l->r;
	if (e->code != APP_OK) {
		reply_error(r, e);
		return;
	}
	long long retry = db_result_int(res, 0, 2, 0);
	if (retry > 0) {
		log_msg(LOG_WARN, "login_locked", "rid=%s ip=%s retry_s=%lld", r->rid, l->ip,
		        retry);
		login_throttled(r, retry);
		return;
	}
	l->account_id = db_result_int(res, 0, 0, 0);
	const char *hash = db_result_value(res, 0, 1);
	snprintf(l->hash, sizeof l->hash, "%s", hash ? hash : "");
	l->task.work = verify_work;
	l->task.done = verify_done;
	l->task.arg = l;
	offload_submit(r->w->hashing, &l->task);
}

int session_login(struct req *r, const char *login, const char *password, const char *totp,
                  session_login_fn ok, struct session_login **state)
{
	struct login *l = calloc(1, sizeof *l);
	if (!l) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return -1;
	}
	l->r = r;
	l->ok_fn = ok;
	snprintf(l->login, sizeof l->login, "%s", login);
	if (totp && strlen(totp) < sizeof l->totp) /* a longer one is wrong: never matches */
		snprintf(l->totp, sizeof l->totp, "%s", totp);
	else if (totp)
		snprintf(l->totp, sizeof l->totp, "x");
	if (strlen(password) < sizeof l->password) /* else verified as "" and refused */
		memcpy(l->password, password, strlen(password) + 1);
	else
		l->too_long = 1;
	*state = (struct session_login *)l;
	auth_peer_ip(r, l->ip, sizeof l->ip);
	if (r->account_id) { /* logging in again: the old session ends (rotation) */
		char buf[64];
		int via_cookie;
		const char *old = auth_request_token(r, buf, sizeof buf, &via_cookie);
		if (old)
			auth_token_hash_param(old, l->old_hash);
	}
	db_job_init(&r->job, Q_LOGIN_LOOKUP, looked_up, l);
	db_job_param(&r->job, 0, l->login);
	db_job_param(&r->job, 1, l->ip[0] ? l->ip : NULL);
	req_db_submit(r);
	return 0;
}

void session_login_free(struct session_login *s)
{
	if (s)
		login_free(s);
}

static void api_login_free(void *p)
{
	session_login_free(p);
}

void h_session_create(struct req *r)
{
	static const char *const keys[] = {"login", "password", "totp", NULL};
	struct err e;
	const char *login, *password, *totp = NULL;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_str(body, "login", 1, 64, &login, &e) < 0 ||
	    json_get_str(body, "password", 1, PASSWORD_MAX_CHARS, &password, &e) < 0 ||
	    json_get_str(body, "totp", 0, 16, &totp, &e) < 0) {
		json_wipe_str(body, "password");
		cJSON_Delete(body);
		reply_error(r, &e);
		return;
	}
	struct session_login *state = NULL;
	int rc = session_login(r, login, password, totp, api_logged_in, &state);
	json_wipe_str(body, "password");
	json_wipe_str(body, "totp");
	cJSON_Delete(body);
	if (rc == 0) { /* no callback has run yet: db.c never completes inside db_submit */
		r->hstate = state;
		r->hstate_free = api_login_free;
	}
}

/* The session is gone: clear the cookie; 204, or the page's continuation. */
static void logged_out_reply(struct req *r)
{
	auth_set_cookie(r, NULL, 0);
	if (r->api_then) {
		api_then_fn then = r->api_then;
		struct err ok;
		err_clear(&ok);
		r->api_then = NULL;
		then(r, NULL, &ok);
		return;
	}
	reply_empty(r);
}

static void logged_out(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct req *r = job->arg;
	(void)res;
	if (e->code != APP_OK) {
		reply_error(r, e);
		return;
	}
	char buf[64], hash[67], tag[9];
	int via_cookie;
	const char *token = auth_request_token(r, buf, sizeof buf, &via_cookie);
	if (token) {
		auth_token_hash_param(token, hash);
		log_msg(LOG_INFO, "logout", "rid=%s ip=%s account=%lld session=%s", r->rid,
		        r->client_ip, r->account_id, session_tag(hash, tag));
	}
	forget_session(r); /* committed: every worker refuses the token from now on */
	logged_out_reply(r);
}

void session_logout(struct req *r)
{
	char buf[64], hash[67];
	int via_cookie;
	const char *token = auth_request_token(r, buf, sizeof buf, &via_cookie);
	if (!token || !r->account_id) {
		logged_out_reply(r); /* already logged out: the goal holds */
		return;
	}
	auth_token_hash_param(token, hash);
	db_job_init(&r->job, Q_SESSION_DELETE, logged_out, r);
	db_job_param_copy(&r->job, 0, hash);
	req_db_submit(r);
}

void h_session_delete(struct req *r)
{
	session_logout(r);
}

/* GET /me's addition from the session: whether it was made with a second factor. */
static int add_session(struct req *r, cJSON **result)
{
	cJSON *session = cJSON_AddObjectToObject(*result, "session");
	if (session)
		cJSON_AddBoolToObject(session, "mfa", r->session_mfa);
	return 0;
}

void h_me(struct req *r)
{
	api_call_post(r, "me", cJSON_CreateObject(), 200, add_session);
}
