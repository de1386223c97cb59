/*
 * h_health.c: liveness, readiness, metrics and the OpenAPI document.
 *
 * /livez proves only that this worker's loop turns.  /readyz asks the database for the
 * schema version through the normal pool, so "ready" means a request would really work:
 * database reachable, schema current, worker not draining.
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "handlers.h"
#include "http.h"
#include "metrics.h"
#include "migrate.h"
#include "queries.h"
#include "reply.h"
#include "req.h"
#include "worker.h"

extern const char openapi_json[];

#define HEALTH_JSON "application/health+json; charset=utf-8"

void h_livez(struct req *r)
{
	static const char body[] = "{\"status\":\"pass\"}";
	reply_raw(r, 200, HEALTH_JSON, body, sizeof body - 1);
}

static void ready_reply(struct req *r, int ok, const char *why, long long version)
{
	char body[256];
	int n = snprintf(
	        body, sizeof body,
	        "{\"status\":\"%s\",\"checks\":{\"database\":\"%s\",\"schema_version\":%lld,"
	        "\"schema_expected\":%d,\"draining\":%s}}",
	        ok ? "pass" : "fail", why, version, migrate_latest(),
	        r->w->draining ? "true" : "false");
	reply_raw(r, ok ? 200 : 503, HEALTH_JSON, body, (size_t)n);
}

static void readyz_done(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct req *r = job->arg;
	if (e->code != APP_OK) {
		ready_reply(r, 0, "unavailable", -1);
		return;
	}
	long long v = db_result_int(res, 0, 0, -1);
	if (v < migrate_latest())
		ready_reply(r, 0, "schema_outdated", v);
	else
		ready_reply(r, !r->w->draining, "pass", v);
}

void h_readyz(struct req *r)
{
	if (r->w->draining) {
		ready_reply(r, 0, "not_checked", -1);
		return;
	}
	db_job_init(&r->job, Q_SCHEMA_VERSION, readyz_done, r);
	req_db_submit(r);
}

void h_metrics(struct req *r)
{
	struct evbuffer *out = evbuffer_new();
	if (!out) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	struct db_stats s;
	db_pool_stats(r->w->db, &s);
	metrics_worker_db(r->w->metrics, r->w->index, &s);
	metrics_worker_connections(r->w->metrics, r->w->index, http_open_connections(r->w));
	metrics_render(r->w->metrics, out);
	reply_buffer(r, 200, "text/plain; version=0.0.4; charset=utf-8", out);
	evbuffer_free(out);
}

void h_openapi(struct req *r)
{
	reply_header(r, "Cache-Control", "public, max-age=300");
	reply_json(r, 200, openapi_json, strlen(openapi_json));
}
