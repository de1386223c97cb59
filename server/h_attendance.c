/*
 * h_attendance.c: check-in, check-out, the roster, corrections, self-reports and approval.
 *
 * The rules are in the database (sql/0006_attendance.sql); this file checks the shape of the
 * input and the one thing only the server can: whether a rotating check-in code or QR token
 * is genuine (the key never leaves the process).  Arguments for the database are built here
 * from checked fields only, so a client cannot smuggle in `code_ok`.
 *
 * Wrong codes are throttled per account (common/checkin_code.c: a 6-digit code, static or
 * rotating, could otherwise be guessed online).  Every refusal of a check-in that carried a
 * code as a wrong code (403 naming "code", whether C or SQL found it wrong) counts in a table
 * the workers share (metrics_code_throttle); a check-in with a code from an account over the
 * limit gets 429 with Retry-After before it is queued.  A check-out needs no code, and one
 * sent along is dropped here: never checked, counted or throttled.  A correct check-in pays one
 * look at that table: no statement, lock or allocation.  When the session is not cached yet (the
 * group commit would resolve it), the account is unknown before the call; then, only while some
 * account is blocked, the session is resolved first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "checkin_code.h"
#include "handlers.h"
#include "config.h"
#include "json.h"
#include "metrics.h"
#include "monotime.h"
#include "reply.h"
#include "req.h"
#include "secret.h"
#include "sessions.h"
#include "throttle.h"
#include "validate.h"
#include "worker.h"

#define MAX_ID ((1LL << 53) - 1)

/* The body, or an empty object when there is none (approve needs no body). */
static cJSON *body_or_empty(struct req *r)
{
	if (r->body_len == 0) {
		cJSON *o = cJSON_CreateObject();
		if (!o)
			reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return o;
	}
	return api_body(r);
}

static int fail(struct req *r, cJSON *a, cJSON *b, const struct err *e)
{
	cJSON_Delete(a);
	cJSON_Delete(b);
	reply_error(r, e);
	return -1;
}

/* Is code (6 digits, or a poster's URL token) genuine for this event now? */
static int code_genuine(struct req *r, long long event_id, const char *code)
{
	long long now = (long long)time(NULL), token_event = 0;
	if (strlen(code) == CHECKIN_CODE_LEN)
		return checkin_code_verify(r->w->secrets->checkin, event_id, now, code);
	return checkin_token_verify(r->w->secrets->checkin, code, now, &token_event, NULL) == 0 &&
	       token_event == event_id;
}

/* Seconds account must wait before its next call with a code (0: none). */
static uint32_t code_wait(struct req *r, long long account)
{
	const struct config *c = r->w->cfg;
	return throttle_wait(metrics_code_throttle(r->w->metrics), (uint64_t)account,
	                     mono_ms() / 1000, (uint32_t)c->code_window_s, (uint32_t)c->code_tries);
}

static void code_throttled(struct req *r, uint32_t wait)
{
	reply_retry_after(r, wait);
	reply_problem(r, APP_ETHROTTLED, "code",
	              "too many wrong check-in codes; try again in %u seconds", wait);
}

/* api.c's r->api_refused for a call with a code: a wrong code counts against the account
 * (known by now: the group commit has resolved a pending session). */
static void code_refused(struct req *r, const struct err *e)
{
	const struct config *c = r->w->cfg;
	if (e->code == APP_EFORBIDDEN && !strcmp(e->field, "code") && r->account_id > 0)
		throttle_fail(metrics_code_throttle(r->w->metrics), (uint64_t)r->account_id,
		              mono_ms() / 1000, (uint32_t)c->code_window_s,
		              (uint32_t)c->code_tries);
}

/* A call with a code waiting for its session (r->hstate), while some account is blocked. */
struct code_gate {
	cJSON *args;
	const char *fn;
	int status;
};

static void code_gate_free(void *p)
{
	struct code_gate *g = p;
	cJSON_Delete(g->args);
	free(g);
}

static void code_gate_resolved(void *arg, const struct session_info *si, const struct err *e)
{
	struct req *r = arg;
	struct code_gate *g = r->hstate;
	long long account = si->account;
	r->account_id = account;
	r->volunteer_id = si->volunteer;
	if (e->code != APP_OK) {
		reply_error(r, e);
		return;
	}
	if (!account) {
		reply_problem(r, APP_EUNAUTH, NULL,
		              "log in first: the session is missing or expired");
		return;
	}
	uint32_t wait = code_wait(r, account);
	if (wait) {
		code_throttled(r, wait);
		return;
	}
	cJSON *args = g->args;
	g->args = NULL;
	api_call_batched(r, g->fn, args, g->status);
}

/* The call, or 429 for an account over the wrong-code limit (see the top of the file). */
static void submit_with_code(struct req *r, const char *fn, cJSON *args, int status)
{
	r->api_refused = code_refused;
	if (r->account_id) {
		uint32_t wait = code_wait(r, r->account_id);
		if (wait) {
			cJSON_Delete(args);
			code_throttled(r, wait);
			return;
		}
	} else if (r->session_pending &&
	           throttle_any(metrics_code_throttle(r->w->metrics), mono_ms() / 1000)) {
		struct code_gate *g = calloc(1, sizeof *g);
		if (!g) {
			cJSON_Delete(args);
			reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
			return;
		}
		*g = (struct code_gate){args, fn, status};
		r->hstate = g;
		r->hstate_free = code_gate_free;
		r->session_pending = 0; /* resolved here, not by the group commit */
		sessions_resolve(r->w->sessions, r->session_hash, code_gate_resolved, r);
		return;
	}
	api_call_batched(r, fn, args, status);
}

/* Shared by check-in and check-out: {volunteer_id?, code?}. */
static void attendance_call(struct req *r, const char *fn, int status)
{
	cJSON *body = body_or_empty(r);
	if (!body)
		return;
	attendance_submit(r, req_param_id(r, 0), fn, status, body, 0, 0);
}

void attendance_submit(struct req *r, long long event_id, const char *fn, int status, cJSON *body,
                       int vouched, long long at)
{
	static const char *const keys[] = {"volunteer_id", "code", NULL};
	struct err e;
	long long volunteer = 0;
	int has_volunteer = 0;
	const char *code = NULL;
	cJSON *args = cJSON_CreateObject();
	if (!args) {
		err_set(&e, APP_EUNAVAILABLE, NULL, "out of memory");
		fail(r, args, body, &e);
		return;
	}
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_int(body, "volunteer_id", 0, 1, MAX_ID, &volunteer, &has_volunteer, &e) < 0 ||
	    json_get_str(body, "code", 0, 64, &code, &e) < 0) {
		fail(r, args, body, &e);
		return;
	}
	if (event_id <= 0) {
		err_set(&e, APP_ENOTFOUND, NULL, "event not found");
		fail(r, args, body, &e);
		return;
	}
	cJSON_AddNumberToObject(args, "event_id", (double)event_id);
	if (has_volunteer)
		cJSON_AddNumberToObject(args, "volunteer_id", (double)volunteer);
	/* A check-out needs no code (sql/0033_self_checkout.sql): one sent along is not looked
	 * at, so it is neither passed on nor throttled (a stale code on the page must not refuse
	 * a check-out, nor count as a guess). */
	int with_code = code && strcmp(fn, "checkout") != 0; /* (code lives in body) */
	if (with_code) {
		cJSON_AddStringToObject(args, "code", code);
		cJSON_AddBoolToObject(args, "code_ok", vouched || code_genuine(r, event_id, code));
	}
	if (at > 0) {
		char when[32];
		format_rfc3339(at, 0, when);
		cJSON_AddStringToObject(args, "at", when);
	}
	cJSON_Delete(body);
	if (with_code)
		submit_with_code(r, fn, args, status);
	else
		api_call_batched(r, fn, args, status); /* group commit: batch.c */
}

void h_checkin(struct req *r)
{
	attendance_call(r, "checkin", 201);
}

void h_checkout(struct req *r)
{
	attendance_call(r, "checkout", 200);
}

/* The roster a page at a time; the SQL checks limit, cursor and state (422 naming each). */
void h_event_attendance(struct req *r)
{
	static const char *const ids[] = {"event_id", NULL};
	static const char *const keys[] = {"limit", "cursor", "state", NULL};
	api_call_path(r, "event_attendance", ids, keys, 200, NULL);
}

/* An optional RFC 3339 time (with its offset), checked here so the message names the field. */
static int get_time(const cJSON *body, const char *key, int required, const char **out,
                    struct err *e)
{
	long long t;
	if (json_get_str(body, key, required, 40, out, e) < 0)
		return -1;
	if (*out && parse_rfc3339(*out, &t) < 0)
		return err_set(e, APP_EINVALID, key,
		               "%s must be a time with an offset, e.g. "
		               "2026-05-01T09:00:00+08:00",
		               key);
	return 0;
}

void h_attendance_correct(struct req *r)
{
	static const char *const keys[] = {"check_in_at", "check_out_at", "reason", NULL};
	struct err e;
	const char *in, *out, *reason;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 || get_time(body, "check_in_at", 0, &in, &e) < 0 ||
	    get_time(body, "check_out_at", 0, &out, &e) < 0 ||
	    json_get_str(body, "reason", 1, 1000, &reason, &e) < 0) {
		fail(r, NULL, body, &e);
		return;
	}
	if (!in && !out) {
		err_set(&e, APP_EINVALID, "check_out_at", "give check_in_at, check_out_at or both");
		fail(r, NULL, body, &e);
		return;
	}
	if (api_path_id(r, body, 0, "attendance_id") < 0)
		return;
	api_call(r, "attendance_correct", body, 200);
}

void h_hours_report(struct req *r)
{
	static const char *const keys[] = {"volunteer_id", "event_id", "started_at",
	                                   "ended_at",     "reason",   NULL};
	struct err e;
	const char *started, *ended, *reason;
	long long id;
	long long a, b;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_int(body, "volunteer_id", 0, 1, MAX_ID, &id, NULL, &e) < 0 ||
	    json_get_int(body, "event_id", 1, 1, MAX_ID, &id, NULL, &e) < 0 ||
	    get_time(body, "started_at", 1, &started, &e) < 0 ||
	    get_time(body, "ended_at", 1, &ended, &e) < 0 ||
	    json_get_str(body, "reason", 1, 1000, &reason, &e) < 0) {
		fail(r, NULL, body, &e);
		return;
	}
	parse_rfc3339(started, &a);
	parse_rfc3339(ended, &b);
	if (b <= a) {
		err_set(&e, APP_EINVALID, "ended_at", "ended_at must be after started_at");
		fail(r, NULL, body, &e);
		return;
	}
	api_call(r, "hours_report", body, 201);
}

void h_hours_approve(struct req *r)
{
	struct err e;
	cJSON *body = body_or_empty(r);
	if (!body)
		return;
	static const char *const none[] = {NULL};
	if (json_check_keys(body, none, &e) < 0) {
		fail(r, NULL, body, &e);
		return;
	}
	if (api_path_id(r, body, 0, "entry_id") < 0)
		return;
	api_call(r, "hours_approve", body, 200);
}

void h_hours_reject(struct req *r)
{
	api_call_reason(r, "hours_reject", "entry_id", 1000, 200, NULL);
}

void h_hours_approve_bulk(struct req *r)
{
	static const char *const keys[] = {"ids", NULL};
	struct err e;
	const cJSON *ids;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_array(body, "ids", 1, 1000, &ids, &e) < 0) {
		fail(r, NULL, body, &e);
		return;
	}
	const cJSON *id;
	cJSON_ArrayForEach(id, ids)
	{
		if (!cJSON_IsNumber(id) || id->valuedouble < 1 ||
		    id->valuedouble > (double)MAX_ID ||
		    id->valuedouble != (double)(long long)id->valuedouble) {
			err_set(&e, APP_EINVALID, "ids",
			        "ids must be positive integer ids (at most 1000)");
			fail(r, NULL, body, &e);
			return;
		}
	}
	api_call(r, "hours_approve_bulk", body, 200);
}

void h_volunteer_hours(struct req *r)
{
	static const char *const keys[] = {"from", "to", NULL};
	/* A local day or an instant with its offset; nothing else (PostgreSQL would also take
	 * words such as 'yesterday', which the contract does not offer). */
	for (int i = 0; keys[i]; i++) {
		const char *v = req_query(r, keys[i]);
		int y, m, d;
		long long t;
		if (v && parse_date(v, &y, &m, &d) < 0 && parse_rfc3339(v, &t) < 0) {
			reply_problem(r, APP_EINVALID, keys[i],
			              "must be a date YYYY-MM-DD or a time with an offset");
			return;
		}
	}
	cJSON *args = cJSON_CreateObject();
	if (!args) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	if (api_path_id(r, args, 0, "volunteer_id") < 0)
		return;
	api_query_args(r, args, keys);
	api_call(r, "volunteer_hours", args, 200);
}
