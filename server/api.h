/*
 * api.h: the common path of an API handler: decode the body, call one SQL function of the
 * `api` schema with the caller and a JSON argument, reply its JSON.
 *
 * The SQL function does the authorization (one authz function), the change, and the audit
 * row in one transaction; api_call adds the Idempotency-Key record to the same transaction.
 */
#ifndef VD_API_H
#define VD_API_H

#include <cjson/cJSON.h>

struct req;
struct err;

/* The body as a JSON object, or NULL after replying 400. */
cJSON *api_body(struct req *r);
/* Run api.<fn>(actor, args) and reply its result with ok_status (NULL result: 404).
 * fn must be a static string; args is taken (deleted here). */
void api_call(struct req *r, const char *fn, cJSON *args, int ok_status);
/* As api_call, gathered with concurrent calls of this worker into one transaction (group
 * commit, batch.c): the reply is sent after that transaction commits.  Only for functions
 * that api_call_batch accepts (checkin, checkout). */
void api_call_batched(struct req *r, const char *fn, cJSON *args, int ok_status);
/* Called with the function's result before the reply, to add what only the server knows
 * (a check-in code, a generated password).  It may replace *result; return 0, or -1 after
 * replying itself. */
typedef int (*api_post_fn)(struct req *r, cJSON **result);
/* As api_call, with post run on the parsed result. */
void api_call_post(struct req *r, const char *fn, cJSON *args, int ok_status, api_post_fn post);
/* The common decision with a reason (a rejection, a revocation): a body of one required
 * string `reason` of at most max_chars (else 400/422 naming it), the path id 0 under id_key,
 * then api_call_post. */
void api_call_reason(struct req *r, const char *fn, const char *id_key, size_t max_chars,
                     int ok_status, api_post_fn post);
/* The common read or delete: args from the path ids named in ids (in path order; NULL for
 * none) and the query parameters named in query (NULL for none), then api_call_post. */
void api_call_path(struct req *r, const char *fn, const char *const ids[],
                   const char *const query[], int ok_status, api_post_fn post);
/* A post hook for deletes: replies 204 No Content. */
int api_no_content(struct req *r, cJSON **result);
/* Reply a result that a handler made without api_call (the JSON, len bytes) with ok_status,
 * or hand it to r->api_then for a page. */
void api_answer(struct req *r, int ok_status, const char *json, size_t len);
/* Reply 503 for a failed allocation. */
void api_oom(struct req *r);
/* A page's continuation: result is the function's JSON (taken: the callee deletes it), or
 * NULL with e saying why (any error of the call, including the checks before it, arrives
 * here through reply_error).  It must reply. */
typedef void (*api_then_fn)(struct req *r, cJSON *result, const struct err *e);
/* As api_call, with the outcome handed to then instead of a JSON reply.  A page may instead
 * set r->api_then itself and call an API handler's shared entry point (handlers.h), which
 * then reaches the same SQL function with the same checks.  r->idem_key, when set, is used
 * as the Idempotency-Key (a form's one-time token). */
void api_call_then(struct req *r, const char *fn, cJSON *args, api_then_fn then);
/* Add the path id i to args under key (replying 404 and returning -1 when it is not an id). */
int api_path_id(struct req *r, cJSON *args, int i, const char *key);
/* Copy the query parameters named in keys (NULL-terminated) into args as strings. */
void api_query_args(struct req *r, cJSON *args, const char *const keys[]);

#endif
