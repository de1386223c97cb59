/*
 * h_totp.c: two-step verification with TOTP (RFC 6238) and step-up re-authentication (R19).
 *
 *   POST   /api/v1/me/totp                          201 {"secret", "otpauth_uri", "qr_svg",
 *                                                        "confirmed": false}
 *   POST   /api/v1/me/totp/confirm {code}           200 {"totp": true, "session": {"mfa": true}}
 *   DELETE /api/v1/me/totp {current_password, code} 204
 *   DELETE /api/v1/accounts/{id}/totp               204 (a system administrator: a lost phone)
 *   POST   /api/v1/session/reauth {password, totp?} 200 {"reauthenticated": true, "mfa": b}
 *
 * The secret is 20 random bytes made here, sealed under the secret file's TOTP key and bound
 * to the account (common/totp.h), and shown once, as base32, an otpauth URI and its QR code;
 * the answer is not stored with an Idempotency-Key and not cached.  Codes are checked here
 * against the secret that Q_TOTP_STATE returns; the database takes the step they matched only
 * when it is later than the last one, in the statement that records the change, so a code
 * works once.  Whenever what a session is known by changes (made with a second factor, last
 * authenticated), the caches of every worker drop it before the answer is sent
 * (sessions_revoked, sessions_account_revoked); other servers hear it through the sessions
 * table's trigger (0030).  Neither a secret nor a code is ever logged; both are wiped.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "auth.h"
#include "db.h"
#include "handlers.h"
#include "html.h"
#include "json.h"
#include "log.h"
#include "qrsvg.h"
#include "queries.h"
#include "reply.h"
#include "req.h"
#include "secret.h"
#include "sessions.h"
#include "totp.h"
#include "validate.h"
#include "worker.h"

/* One request's TOTP flow. */
struct totp_flow {
	struct req *r;
	char code[TOTP_DIGITS + 2]; /* as typed; "" when none */
	uint8_t secret[TOTP_SECRET_LEN];
	uint8_t hash[32]; /* the caller's session token hash */
	char hash_param[67];
	char ip[64];
	long long step;
	api_then_fn then; /* a page's continuation of the enrollment */
	/* a wrong code's answer, once counted (wrong_code) */
	enum app_err wrong_err;
	const char *wrong_field;
};

static void flow_free(void *p)
{
	struct totp_flow *f = p;
	OPENSSL_cleanse(f, sizeof *f);
	free(f);
}

static void wrong_code_counted(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct totp_flow *f = job->arg;
	(void)res;
	if (e->code != APP_OK) {
		reply_error(f->r, e);
		return;
	}
	reply_problem(f->r, f->wrong_err, f->wrong_field,
	              "wrong or already used verification code");
}

/* A wrong code sent with the right password counts as a failed log-in, as it does at log-in:
 * the log-in throttle (checked with the password) then stops someone who has the password
 * from trying the million codes through this route instead. */
static void wrong_code(struct totp_flow *f, enum app_err err, const char *field)
{
	struct req *r = f->r;
	f->wrong_err = err;
	f->wrong_field = field;
	db_job_init(&r->job, Q_LOGIN_FAIL_ACCOUNT, wrong_code_counted, f);
	db_job_param_int(&r->job, 0, r->account_id);
	db_job_param(&r->job, 1, f->ip[0] ? f->ip : NULL);
	req_db_submit(r);
}

/* A flow for r with the code (may be NULL) and the caller's session; NULL after replying. */
static struct totp_flow *flow_new(struct req *r, const char *code)
{
	char buf[64];
	int via_cookie;
	const char *token = auth_request_token(r, buf, sizeof buf, &via_cookie);
	if (!token) {
		reply_problem(r, APP_EUNAUTH, NULL,
		              "log in first: the session is missing or expired");
		return NULL;
	}
	struct totp_flow *f = calloc(1, sizeof *f);
	if (!f) {
		api_oom(r);
		return NULL;
	}
	f->r = r;
	if (code && strlen(code) < sizeof f->code)
		snprintf(f->code, sizeof f->code, "%s", code);
	else if (code) /* longer than any code: wrong, never matches */
		snprintf(f->code, sizeof f->code, "x");
	secret_sha256(token, strlen(token), f->hash);
	auth_token_hash_param(token, f->hash_param);
	auth_peer_ip(r, f->ip, sizeof f->ip);
	return f;
}

/* Start Q_TOTP_STATE for the caller, answered to done. */
static void state_look_up(struct totp_flow *f, db_done_fn done)
{
	struct req *r = f->r;
	db_job_init(&r->job, Q_TOTP_STATE, done, f);
	db_job_param_int(&r->job, 0, r->account_id);
	req_db_submit(r);
}

int totp_state_read(struct req *r, const struct db_result *res, const struct err *e,
                    long long account, struct totp_state *st)
{
	uint8_t sealed[TOTP_SEALED_LEN];
	memset(st, 0, sizeof *st);
	if (e->code != APP_OK) {
		reply_error(r, e);
		return -1;
	}
	if (db_result_rows(res) < 1)
		return 0;
	st->exists = 1;
	st->confirmed = db_result_bool(res, 0, 1);
	st->last_step = db_result_int(res, 0, 2, 0);
	const char *hex = db_result_value(res, 0, 0);
	int n = hex ? secret_unhex(hex, sealed, sizeof sealed) : -1;
	if (n == TOTP_SEALED_LEN &&
	    totp_open(r->w->secrets->totp, account, sealed, (size_t)n, st->secret) == 0)
		return 0;
	log_msg(LOG_ERROR, "totp_unreadable", "rid=%s account=%lld", r->rid, account);
	reply_problem(
	        r, APP_EUNAVAILABLE, NULL,
	        "two-step verification cannot be checked (the server's secret file changed?); "
	        "an administrator can clear it for this account");
	return -1;
}

long long totp_state_verify(struct totp_state *st, const char *code)
{
	long long step =
	        totp_verify(st->secret, sizeof st->secret, time(NULL), code, st->last_step);
	totp_state_wipe(st);
	return step;
}

void totp_state_wipe(struct totp_state *st)
{
	OPENSSL_cleanse(st->secret, sizeof st->secret);
}

/* {"step": step}: the arguments of the functions that take a matched step; NULL without
 * memory. */
static cJSON *step_args(long long step)
{
	cJSON *args = cJSON_CreateObject();
	if (args && !cJSON_AddNumberToObject(args, "step", (double)step)) {
		cJSON_Delete(args);
		return NULL;
	}
	return args;
}

/* ---- enrollment ------------------------------------------------------------------------ */

/* {"login"} -> what the user's app needs: the secret as text, URI and QR code.  0, or -1
 * after replying 503. */
static int enrolled(struct req *r, cJSON **result)
{
	struct totp_flow *f = r->hstate;
	const cJSON *login = cJSON_GetObjectItemCaseSensitive(*result, "login");
	char b32[TOTP_B32_LEN + 1];
	struct html uri, svg;
	cJSON *out = NULL;
	html_init(&uri);
	html_init(&svg);
	totp_base32(f->secret, sizeof f->secret, 0, b32, sizeof b32);
	OPENSSL_cleanse(f->secret, sizeof f->secret);
	html_raw(&uri, "otpauth://totp/volunteerd:");
	html_url_component(&uri, cJSON_IsString(login) ? login->valuestring : "");
	html_rawf(&uri, "?secret=%s&issuer=volunteerd&algorithm=SHA1&digits=%d&period=%d", b32,
	          TOTP_DIGITS, TOTP_PERIOD);
	if (!html_failed(&uri) && qrsvg_render(&svg, uri.buf, "otpauth") == 0 &&
	    !html_failed(&svg) && (out = cJSON_CreateObject()) &&
	    cJSON_AddStringToObject(out, "secret", b32) &&
	    cJSON_AddStringToObject(out, "otpauth_uri", uri.buf) &&
	    cJSON_AddStringToObject(out, "qr_svg", svg.buf) &&
	    cJSON_AddFalseToObject(out, "confirmed")) {
		cJSON_Delete(*result);
		*result = out;
		out = NULL;
	}
	int ok = !out && cJSON_GetObjectItemCaseSensitive(*result, "secret");
	cJSON_Delete(out);
	OPENSSL_cleanse(b32, sizeof b32);
	if (uri.buf)
		OPENSSL_cleanse(uri.buf, uri.len);
	html_free(&uri);
	html_free(&svg);
	if (!ok) {
		api_oom(r);
		return -1;
	}
	reply_header(r, "Cache-Control", "no-store");
	log_msg(LOG_INFO, "totp_enroll_started", "rid=%s account=%lld", r->rid, r->account_id);
	return 0;
}

/* api.totp_enroll's outcome: the API's 201, or the page's continuation (saved in the flow,
 * since api_call_then takes r->api_then for itself). */
static void enroll_done(struct req *r, cJSON *result, const struct err *e)
{
	struct totp_flow *f = r->hstate;
	api_then_fn then = f->then;
	if (e->code != APP_OK) {
		cJSON_Delete(result);
		if (then)
			then(r, NULL, e);
		else
			reply_error(r, e);
		return;
	}
	if (enrolled(r, &result) < 0) {
		cJSON_Delete(result);
		return;
	}
	if (then)
		then(r, result, e);
	else
		reply_cjson(r, 201, result);
}

int totp_enroll_start(struct req *r)
{
	uint8_t sealed[TOTP_SEALED_LEN];
	char hex[2 * TOTP_SEALED_LEN + 1];
	struct totp_flow *f = flow_new(r, NULL);
	if (!f)
		return -1;
	r->hstate = f;
	r->hstate_free = flow_free;
	f->then = r->api_then;
	r->api_then = NULL;
	if (secret_random(f->secret, sizeof f->secret) < 0 ||
	    totp_seal(r->w->secrets->totp, r->account_id, f->secret, sealed) < 0) {
		struct err e;
		err_set(&e, APP_EUNAVAILABLE, NULL, "no randomness; try again");
		enroll_done(r, NULL, &e);
		return -1;
	}
	secret_hex(sealed, sizeof sealed, hex);
	cJSON *args = cJSON_CreateObject();
	if (!args || !cJSON_AddStringToObject(args, "secret_sealed", hex)) {
		struct err e;
		cJSON_Delete(args);
		err_set(&e, APP_EUNAVAILABLE, NULL, "out of memory");
		enroll_done(r, NULL, &e);
		return -1;
	}
	r->no_idempotency = 1; /* the answer holds the secret: never stored for a replay */
	api_call_then(r, "totp_enroll", args, enroll_done);
	return 0;
}

void h_totp_enroll(struct req *r)
{
	totp_enroll_start(r);
}

/* ---- confirmation ---------------------------------------------------------------------- */

/* Committed: the caller's session counts as made with a second factor everywhere now. */
static int confirmed(struct req *r, cJSON **result)
{
	struct totp_flow *f = r->hstate;
	(void)result;
	sessions_revoked(r->w->sessions, f->hash);
	r->session_mfa = 1;
	log_msg(LOG_INFO, "totp_enrolled", "rid=%s account=%lld", r->rid, r->account_id);
	return 0;
}

static void confirm_state(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct totp_flow *f = job->arg;
	struct req *r = f->r;
	struct totp_state st;
	if (totp_state_read(r, res, e, r->account_id, &st) < 0)
		return;
	if (!st.exists || st.confirmed) {
		totp_state_wipe(&st);
		reply_problem(r, APP_ECONFLICT, NULL,
		              st.confirmed ? "two-step verification is on already"
		                           : "no enrollment to confirm: start one first");
		return;
	}
	long long step = totp_state_verify(&st, f->code);
	if (step < 0) {
		log_msg(LOG_INFO, "totp_confirm_failed", "rid=%s account=%lld", r->rid,
		        r->account_id);
		reply_problem(r, APP_EINVALID, "code",
		              "wrong code: type the current 6-digit code of the app (and check "
		              "that the phone's clock is right)");
		return;
	}
	cJSON *args = step_args(step);
	if (!args || !cJSON_AddStringToObject(args, "session", f->hash_param + 2)) {
		cJSON_Delete(args);
		api_oom(r);
		return;
	}
	api_call_post(r, "totp_confirm", args, 200, confirmed);
}

int totp_confirm_start(struct req *r, const char *code)
{
	struct totp_flow *f = flow_new(r, code);
	if (!f)
		return -1;
	r->hstate = f;
	r->hstate_free = flow_free;
	state_look_up(f, confirm_state);
	return 0;
}

void h_totp_confirm(struct req *r)
{
	static const char *const keys[] = {"code", NULL};
	struct err e;
	const char *code;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_str(body, "code", 1, 16, &code, &e) < 0) {
		cJSON_Delete(body);
		reply_error(r, &e);
		return;
	}
	totp_confirm_start(r, code);
	json_wipe_str(body, "code");
	cJSON_Delete(body);
}

/* ---- turning it off ------------------------------------------------------------------- */

/* Committed: no session of the account counts as made with a second factor any more. */
static int disabled(struct req *r, cJSON **result)
{
	sessions_account_revoked(r->w->sessions, r->account_id);
	r->session_mfa = 0;
	log_msg(LOG_INFO, "totp_disabled", "rid=%s account=%lld", r->rid, r->account_id);
	return api_no_content(r, result);
}

static void disable_state(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct totp_flow *f = job->arg;
	struct req *r = f->r;
	struct totp_state st;
	if (totp_state_read(r, res, e, r->account_id, &st) < 0)
		return;
	if (!st.confirmed) {
		totp_state_wipe(&st);
		reply_problem(r, APP_ECONFLICT, NULL, "two-step verification is not on");
		return;
	}
	long long step = totp_state_verify(&st, f->code);
	if (step < 0) {
		log_msg(LOG_WARN, "totp_disable_failed", "rid=%s account=%lld reason=code", r->rid,
		        r->account_id);
		wrong_code(f, APP_EINVALID, "code");
		return;
	}
	cJSON *args = step_args(step);
	if (!args) {
		api_oom(r);
		return;
	}
	api_call_post(r, "totp_disable", args, 204, disabled);
}

static void disable_verified(struct req *r, void *arg)
{
	(void)r;
	state_look_up(arg, disable_state);
}

int totp_disable_start(struct req *r, const char *current_password, const char *code)
{
	struct totp_flow *f = flow_new(r, code);
	if (!f)
		return -1;
	return password_check_start(r, current_password, "current_password", disable_verified, f,
	                            flow_free);
}

/* Wipe the secrets of a body and free it. */
static void body_discard(cJSON *body)
{
	json_wipe_str(body, "current_password");
	json_wipe_str(body, "password");
	json_wipe_str(body, "code");
	json_wipe_str(body, "totp");
	cJSON_Delete(body);
}

void h_totp_disable(struct req *r)
{
	static const char *const keys[] = {"current_password", "code", NULL};
	struct err e;
	const char *current, *code;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_str(body, "current_password", 1, PASSWORD_MAX_CHARS, &current, &e) < 0 ||
	    json_get_str(body, "code", 1, 16, &code, &e) < 0) {
		body_discard(body);
		reply_error(r, &e);
		return;
	}
	totp_disable_start(r, current, code);
	body_discard(body);
}

/* ---- an administrator clears another's ----------------------------------------------- */

static int cleared(struct req *r, cJSON **result)
{
	long long account = req_param_id(r, 0);
	sessions_account_revoked(r->w->sessions, account);
	log_msg(LOG_INFO, "totp_cleared", "rid=%s actor=%lld account=%lld", r->rid, r->account_id,
	        account);
	return api_no_content(r, result);
}

void h_account_totp_clear(struct req *r)
{
	static const char *const ids[] = {"account_id", NULL};
	if (auth_reauth_required(r))
		return;
	api_call_path(r, "account_totp_clear", ids, NULL, 204, cleared);
}

/* ---- step-up re-authentication ------------------------------------------------------- */

static void reauthed(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct totp_flow *f = job->arg;
	struct req *r = f->r;
	if (e->code != APP_OK) {
		reply_error(r, e);
		return;
	}
	if (!db_result_bool(res, 0, 0)) { /* a concurrent request took the step */
		reply_problem(r, APP_ETOTP, "totp",
		              "this code was used already; wait for the next one");
		return;
	}
	sessions_revoked(r->w->sessions, f->hash);
	int mfa = f->step > 0 || r->session_mfa;
	log_msg(LOG_INFO, "reauth", "rid=%s account=%lld mfa=%d", r->rid, r->account_id, mfa);
	char body[64];
	int n = snprintf(body, sizeof body, "{\"reauthenticated\":true,\"mfa\":%s}",
	                 mfa ? "true" : "false");
	api_answer(r, 200, body, (size_t)n);
}

static void reauth_state(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct totp_flow *f = job->arg;
	struct req *r = f->r;
	struct totp_state st;
	if (totp_state_read(r, res, e, r->account_id, &st) < 0)
		return;
	if (st.confirmed && !f->code[0]) {
		totp_state_wipe(&st);
		reply_problem(r, APP_ETOTP, "totp",
		              "this account uses two-step verification: send the code as totp too");
		return;
	}
	f->step = st.confirmed ? totp_state_verify(&st, f->code) : 0;
	totp_state_wipe(&st);
	if (f->step < 0) {
		log_msg(LOG_WARN, "reauth_failed", "rid=%s account=%lld reason=totp", r->rid,
		        r->account_id);
		wrong_code(f, APP_ETOTP, "totp");
		return;
	}
	db_job_init(&r->job, Q_SESSION_REAUTH, reauthed, f);
	db_job_param(&r->job, 0, f->hash_param);
	db_job_param_int(&r->job, 1, r->account_id);
	if (f->step > 0)
		db_job_param_int(&r->job, 2, f->step);
	else
		db_job_param(&r->job, 2, NULL);
	db_job_param(&r->job, 3, f->ip[0] ? f->ip : NULL);
	db_job_param(&r->job, 4, r->rid);
	req_db_submit(r);
}

static void reauth_verified(struct req *r, void *arg)
{
	(void)r;
	state_look_up(arg, reauth_state);
}

void h_session_reauth(struct req *r)
{
	static const char *const keys[] = {"password", "totp", NULL};
	struct err e;
	const char *password, *code = NULL;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_str(body, "password", 1, PASSWORD_MAX_CHARS, &password, &e) < 0 ||
	    json_get_str(body, "totp", 0, 16, &code, &e) < 0) {
		body_discard(body);
		reply_error(r, &e);
		return;
	}
	struct totp_flow *f = flow_new(r, code);
	if (f)
		password_check_start(r, password, "password", reauth_verified, f, flow_free);
	body_discard(body);
}
