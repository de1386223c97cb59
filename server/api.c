/*
 * api.c: one call, one transaction (check-ins and check-outs: one call among many in one
 * transaction, batch.c).  Builds the parameters of Q_API_CALL (function name,
 * actor, arguments, idempotency key and request hash, peer address, request id) and turns
 * the single JSON value that comes back into the reply.
 */
#include "api.h"

#include <event2/http.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "batch.h"
#include "db.h"
#include "json.h"
#include "queries.h"
#include "reply.h"
#include "req.h"
#include "router.h"
#include "secret.h"
#include "worker.h"

/* A Content-Type that names JSON: application/json or any type/subtype+json, with or without
 * parameters. */
static int json_media_type(const char *ct)
{
	size_t n = strcspn(ct, "; \t");
	if (n == 16 && !strncasecmp(ct, "application/json", 16))
		return 1;
	const char *slash = memchr(ct, '/', n);
	return slash && slash > ct && n - (size_t)(slash - ct) > 6 &&
	       !strncasecmp(ct + n - 5, "+json", 5);
}

cJSON *api_body(struct req *r)
{
	struct err e;
	/* A body labelled as something else (text/plain, a form) is refused, not parsed: a
	 * browser sends those across sites without asking, JSON it does not (log-in CSRF).  No
	 * Content-Type at all is accepted, for simple clients. */
	const char *ct = req_header(r, "Content-Type");
	if (ct && !json_media_type(ct)) {
		reply_problem(r, APP_EMEDIATYPE, NULL, "the body must be application/json");
		return NULL;
	}
	cJSON *body = json_parse_object(r->body, r->body_len, &e);
	if (!body)
		reply_error(r, &e);
	return body;
}

/* The page path of api_finish: hand the parsed result (or the error) to r->api_then. */
static void api_done_then(struct req *r, const char *json, size_t len)
{
	api_then_fn then = r->api_then;
	struct err e;
	cJSON *obj = json ? cJSON_ParseWithLength(json, len) : NULL;
	if (!json)
		err_set(&e, APP_ENOTFOUND, NULL, "not found");
	else if (!obj)
		err_set(&e, APP_EUNAVAILABLE, NULL, "out of memory");
	else
		err_clear(&e);
	r->api_then = NULL;
	then(r, obj, &e);
}

void api_answer(struct req *r, int ok_status, const char *json, size_t len)
{
	if (r->api_then)
		api_done_then(r, json, len);
	else
		reply_json(r, ok_status, json, len);
}

/* The call's outcome, from a single call (api_done) or from its batch (batch.c): the
 * function's JSON (NULL: no result) or an error. */
static void api_finish(void *arg, const char *json, size_t len, const struct err *e)
{
	struct req *r = arg;
	if (e->code == APP_OK && r->api_then) {
		api_done_then(r, json, len);
		return;
	}
	if (e->code != APP_OK) {
		if (r->api_refused)
			r->api_refused(r, e);
		reply_error(r, e);
		return;
	}
	if (!json) {
		reply_problem(r, APP_ENOTFOUND, NULL, "not found");
		return;
	}
	if (!r->api_post) {
		reply_json(r, r->api_status, json, len);
		return;
	}
	cJSON *obj = cJSON_ParseWithLength(json, len);
	if (!obj) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	if (r->api_post(r, &obj) < 0) {
		cJSON_Delete(obj);
		return;
	}
	reply_cjson(r, r->api_status, obj);
}

/* The call's outcome from its batch: the session it came with is known now (batch.h). */
static void api_batch_finish(void *arg, const char *json, size_t len, long long account,
                             long long volunteer, const struct err *e)
{
	struct req *r = arg;
	if (r->session_pending) {
		r->session_pending = 0;
		r->account_id = account;
		r->volunteer_id = volunteer;
	}
	api_finish(r, json, len, e);
}

static void api_done(struct db_job *job, const struct db_result *res, const struct err *e)
{
	const char *json = e->code == APP_OK ? db_result_value(res, 0, 0) : NULL;
	api_finish(job->arg, json, json ? (size_t)db_result_length(res, 0, 0) : 0, e);
}

void api_call(struct req *r, const char *fn, cJSON *args, int ok_status)
{
	api_call_post(r, fn, args, ok_status, NULL);
}

/* api_call_post, run alone or (batched) in the worker's next group commit. */
static void api_call_submit(struct req *r, const char *fn, cJSON *args, int ok_status,
                            api_post_fn post, int batched)
{
	char *text = args ? json_print(args) : NULL;
	cJSON_Delete(args);
	if (!text) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	r->api_status = ok_status;
	r->api_post = post;

	/* A page's write carries its form's one-time token as the key (r->idem_key). */
	const char *key = r->route->method == M_GET || r->no_idempotency ? NULL
	                  : r->idem_key                                  ? r->idem_key
	                                : req_header(r, "Idempotency-Key");
	char hash_hex[65] = "";
	if (key) {
		if (strlen(key) == 0 || strlen(key) > 200) {
			free(text);
			reply_problem(r, APP_EINVALID, "Idempotency-Key",
			              "must be 1-200 characters");
			return;
		}
		/* The request is its method, URI and body as sent: the same key with another
		 * request is refused by the database with 422.  (Not the arguments: those may
		 * carry values the server made, such as a salted password hash.) */
		uint8_t h[32];
		const char *uri = evhttp_request_get_uri(r->ev);
		size_t ml = strlen(r->method), ul = strlen(uri);
		char *all = malloc(ml + ul + r->body_len + 3);
		if (!all) {
			free(text);
			reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
			return;
		}
		memcpy(all, r->method, ml);
		all[ml] = ' ';
		memcpy(all + ml + 1, uri, ul);
		all[ml + 1 + ul] = '\n';
		memcpy(all + ml + ul + 2, r->body, r->body_len);
		/* Keyed: a plain hash of a body holding an ID number could be brute-forced. */
		secret_hmac(r->w->secrets->request, all, ml + ul + 2 + r->body_len, h);
		free(all);
		secret_hex(h, sizeof h, hash_hex);
	}
	char ip[64];
	auth_peer_ip(r, ip, sizeof ip);

	db_job_init(&r->job, Q_API_CALL, api_done, r);
	db_job_param(&r->job, 0, fn);
	db_job_param_int(&r->job, 1, r->account_id);
	db_job_param_take(&r->job, 2, text);
	db_job_param_copy(&r->job, 3, key);
	db_job_param_copy(&r->job, 4, key ? hash_hex : NULL);
	db_job_param_copy(&r->job, 5, ip[0] ? ip : NULL);
	db_job_param(&r->job, 6, r->rid);
	r->job.rid = r->rid; /* for the log's db_error line, in a batch too */
	if (batched)
		batch_submit(r->w->batch, &r->job, r->session_pending ? r->session_hash : NULL,
		             api_batch_finish, r);
	else
		req_db_submit(r);
}

void api_call_post(struct req *r, const char *fn, cJSON *args, int ok_status, api_post_fn post)
{
	api_call_submit(r, fn, args, ok_status, post, 0);
}

void api_call_reason(struct req *r, const char *fn, const char *id_key, size_t max_chars,
                     int ok_status, api_post_fn post)
{
	static const char *const keys[] = {"reason", NULL};
	struct err e;
	const char *reason;
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (json_check_keys(body, keys, &e) < 0 ||
	    json_get_str(body, "reason", 1, max_chars, &reason, &e) < 0) {
		cJSON_Delete(body);
		reply_error(r, &e);
		return;
	}
	if (api_path_id(r, body, 0, id_key) < 0)
		return;
	api_call_post(r, fn, body, ok_status, post);
}

void api_call_batched(struct req *r, const char *fn, cJSON *args, int ok_status)
{
	api_call_submit(r, fn, args, ok_status, NULL, 1);
}

void api_call_then(struct req *r, const char *fn, cJSON *args, api_then_fn then)
{
	r->api_then = then;
	api_call_post(r, fn, args, 200, NULL);
}

int api_path_id(struct req *r, cJSON *args, int i, const char *key)
{
	long long id = req_param_id(r, i);
	if (id <= 0) {
		cJSON_Delete(args);
		reply_problem(r, APP_ENOTFOUND, NULL, "not found");
		return -1;
	}
	cJSON_AddNumberToObject(args, key, (double)id);
	return 0;
}

void api_query_args(struct req *r, cJSON *args, const char *const keys[])
{
	for (int i = 0; keys[i]; i++) {
		const char *v = req_query(r, keys[i]);
		if (v)
			cJSON_AddStringToObject(args, keys[i], v);
	}
}

void api_oom(struct req *r)
{
	reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
}

int api_no_content(struct req *r, cJSON **result)
{
	(void)result;
	reply_empty(r);
	return -1;
}

void api_call_path(struct req *r, const char *fn, const char *const ids[],
                   const char *const query[], int ok_status, api_post_fn post)
{
	cJSON *args = cJSON_CreateObject();
	if (!args) {
		api_oom(r);
		return;
	}
	for (int i = 0; ids && ids[i]; i++)
		if (api_path_id(r, args, i, ids[i]) < 0)
			return;
	if (query)
		api_query_args(r, args, query);
	api_call_post(r, fn, args, ok_status, post);
}
