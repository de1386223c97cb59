/*
 * batch.c: group commit of API calls.
 *
 * Owns: the batch being gathered, the batches in flight (how many, and when the last one
 * left), a one-shot event that sends the batch at the end of the current loop turn, and a
 * timer for a batch in flight that has become slow.  A call joins the batch being gathered;
 * the batch is sent
 *   - at once when it holds BATCH_MAX calls;
 *   - at the end of the loop turn when no batch is in flight (so an idle server adds no
 *     waiting: a lone check-in goes out in the turn it arrived);
 *   - when the batch in flight comes back;
 *   - when the batch in flight has been out BATCH_SLOW_MS (waiting on a lock, say): a second
 *     one goes, so that a stuck batch holds the calls behind it back for that long at most.
 * So batches grow by themselves exactly when the database is the bottleneck (group commit
 * without a gathering timer), and shrink to one call when it is not.  One batch in flight
 * rather than two made bigger batches and less work per check-in: on this project's 2-core
 * machine, 5-13% more check-ins/s at 256 connections and 7-31% at 64, in alternating runs
 * (README, "Performance", item 13).
 * Invariants: a call is in one place (gathering, or in one batch in flight); its done runs
 * once, after the result of the statement that holds it, i.e. after COMMIT (the statement
 * runs in autocommit).
 */
#include "batch.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "monotime.h"
#include "queries.h"
#include "secret.h"
#include "sessions.h"

#define BATCH_INFLIGHT 2 /* at most, the second only beside a slow one (full batches aside) */
#define BATCH_SLOW_MS  50

struct call {
	batch_done_fn done;
	void *arg;
	const char *rid; /* the request's (job->rid), for the log */
	cJSON *item;     /* the api_call parameters, until the batch is sent */
	int has_session;
	uint8_t session_hash[32];
};

struct bjob {
	struct db_job job;
	struct batch *owner;
	struct sessions_mark mark; /* the session cache when sent */
	int n;
	struct call calls[BATCH_MAX];
};

struct batch {
	struct db_pool *db;
	struct sessions *sessions;
	int idle_minutes;
	struct bjob *building;
	struct event *flush_ev;
	struct event *slow_ev; /* fires when the batch in flight becomes slow */
	int inflight;
	uint64_t last_sent_ms; /* when the latest batch in flight left (monotonic) */
	int stopped;
	struct batch_stats stats;
};

static void fail_calls(struct bjob *bj, int from, const struct err *e)
{
	for (int i = from; i < bj->n; i++) {
		cJSON_Delete(bj->calls[i].item);
		bj->calls[i].item = NULL;
		bj->calls[i].done(bj->calls[i].arg, NULL, 0, 0, 0, e);
	}
}

static void send_batch(struct batch *b);

/* Whether the batch being gathered (not full) may leave now: when nothing is in flight, or
 * when the one batch in flight has been out BATCH_SLOW_MS.  (With one in flight, it left no
 * later than last_sent_ms.)  When it must wait for that, the slow timer is set to look again. */
static int may_send(struct batch *b)
{
	if (b->inflight == 0)
		return 1;
	if (b->inflight >= BATCH_INFLIGHT)
		return 0;
	uint64_t out = mono_ms() - b->last_sent_ms;
	if (out >= BATCH_SLOW_MS)
		return 1;
	if (!evtimer_pending(b->slow_ev, NULL)) {
		struct timeval tv = {0, (suseconds_t)((BATCH_SLOW_MS - out) * 1000)};
		evtimer_add(b->slow_ev, &tv);
	}
	return 0;
}

static void bjob_done(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct bjob *bj = job->arg;
	struct batch *b = bj->owner;
	unsigned char answered[BATCH_MAX];

	b->inflight--;
	memset(answered, 0, sizeof answered);
	if (e->code != APP_OK) {
		fail_calls(bj, 0, e);
		goto next;
	}
	for (int row = 0; row < db_result_rows(res); row++) {
		long long i = db_result_int(res, row, 0, 0) - 1;
		if (i < 0 || i >= bj->n || answered[i])
			continue;
		answered[i] = 1;
		const char *ok = db_result_value(res, row, 1);
		struct call *c = &bj->calls[i];
		long long account = 0, volunteer = 0;
		if (c->has_session) {
			account = db_result_int(res, row, 7, 0);
			volunteer = db_result_int(res, row, 8, 0);
			struct session_info si = {.account = account, .volunteer = volunteer};
			sessions_learn(b->sessions, &bj->mark, c->session_hash, &si,
			               db_result_int(res, row, 9, 0));
		}
		struct err ie;
		if (ok && ok[0] == 't') {
			err_clear(&ie);
			c->done(c->arg, db_result_value(res, row, 2),
			        (size_t)db_result_length(res, row, 2), account, volunteer, &ie);
		} else {
			db_error_from_fields(db_result_value(res, row, 3),
			                     db_result_value(res, row, 4),
			                     db_result_value(res, row, 5),
			                     db_result_value(res, row, 6), c->rid, &ie);
			c->done(c->arg, NULL, 0, account, volunteer, &ie);
		}
	}
	for (int i = 0; i < bj->n; i++)
		if (!answered[i]) { /* cannot happen: one row per item */
			struct err ie;
			err_set(&ie, APP_EINTERNAL, NULL, "no answer for this call in its batch");
			bj->calls[i].done(bj->calls[i].arg, NULL, 0, 0, 0, &ie);
		}
next:
	free(bj);
	if (b->building && !b->stopped && may_send(b))
		send_batch(b);
}

static void send_batch(struct batch *b)
{
	struct bjob *bj = b->building;
	b->building = NULL;
	if (!bj)
		return;
	cJSON *arr = cJSON_CreateArray();
	char *text = NULL;
	for (int i = 0; arr && i < bj->n; i++) {
		cJSON_AddItemToArray(arr, bj->calls[i].item); /* the array owns it now */
		bj->calls[i].item = NULL;
	}
	if (arr)
		text = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	if (!text) {
		struct err e;
		err_set(&e, APP_EUNAVAILABLE, NULL, "out of memory");
		fail_calls(bj, 0, &e);
		free(bj);
		return;
	}
	db_job_init(&bj->job, Q_API_CALL_BATCH, bjob_done, bj);
	db_job_param_take(&bj->job, 0, text);
	db_job_param_int(&bj->job, 1, b->idle_minutes);
	sessions_mark(b->sessions, &bj->mark);
	/* only a slow batch in flight lets one that is not full go beside it */
	if (b->inflight > 0 && bj->n < BATCH_MAX)
		b->stats.beside_slow++;
	b->inflight++;
	b->last_sent_ms = mono_ms();
	b->stats.batches++;
	b->stats.items += (uint64_t)bj->n;
	if (bj->n == BATCH_MAX)
		b->stats.full++;
	db_submit(b->db, &bj->job);
}

/* The end of a loop turn in which a call arrived, or the slow timer. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;
	(void)fd;
	(void)what;
	if (b->building && !b->stopped && may_send(b))
		send_batch(b);
}

static void add_param(cJSON *o, const char *key, const char *value)
{
	if (value)
		cJSON_AddStringToObject(o, key, value);
	else
		cJSON_AddNullToObject(o, key);
}

/* {"fn","actor","args","key","hash","ip","rid"} from Q_API_CALL's parameters, in order, and
 * "session" (hex) when the actor is to be found from it. */
static cJSON *item_of(const struct db_job *job, const uint8_t *session_hash)
{
	static const char *const names[] = {"fn", "actor", "args", "key", "hash", "ip", "rid"};
	cJSON *o = cJSON_CreateObject();
	if (!o || job->nparams != 7)
		goto fail;
	if (session_hash) {
		char hex[65];
		secret_hex(session_hash, 32, hex);
		if (!cJSON_AddStringToObject(o, "session", hex))
			goto fail;
	}
	for (int i = 0; i < 7; i++) {
		if (i == 2) {
			if (!cJSON_AddRawToObject(o, names[i],
			                          job->params[i] ? job->params[i] : "{}"))
				goto fail;
		} else {
			add_param(o, names[i], job->params[i]);
		}
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

void batch_submit(struct batch *b, struct db_job *job, const uint8_t *session_hash,
                  batch_done_fn done, void *arg)
{
	cJSON *item = item_of(job, session_hash);
	db_job_clear(job);
	if (!b->building && item)
		b->building = calloc(1, sizeof *b->building);
	if (!item || !b->building) {
		cJSON_Delete(item);
		struct err e;
		err_set(&e, APP_EUNAVAILABLE, NULL, "out of memory");
		done(arg, NULL, 0, 0, 0, &e); /* the one answer given on the caller's stack */
		return;
	}
	struct bjob *bj = b->building;
	bj->owner = b;
	struct call *c = &bj->calls[bj->n++];
	c->done = done;
	c->arg = arg;
	c->rid = job->rid;
	c->item = item;
	c->has_session = session_hash != NULL;
	if (session_hash)
		memcpy(c->session_hash, session_hash, 32);
	if (bj->n == BATCH_MAX)
		send_batch(b); /* db_submit never calls back on this stack */
	else if (may_send(b))
		event_active(b->flush_ev, EV_TIMEOUT, 0);
}

struct batch *batch_new(struct event_base *base, struct db_pool *db, struct sessions *sessions,
                        int idle_minutes)
{
	struct batch *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->db = db;
	b->sessions = sessions;
	b->idle_minutes = idle_minutes;
	b->flush_ev = event_new(base, -1, 0, on_flush, b);
	b->slow_ev = evtimer_new(base, on_flush, b);
	if (!b->flush_ev || !b->slow_ev) {
		if (b->flush_ev)
			event_free(b->flush_ev);
		if (b->slow_ev)
			event_free(b->slow_ev);
		free(b);
		return NULL;
	}
	return b;
}

void batch_stop(struct batch *b)
{
	if (!b || b->stopped)
		return;
	b->stopped = 1;
	struct bjob *bj = b->building;
	b->building = NULL;
	if (bj) {
		struct err e;
		err_set(&e, APP_EUNAVAILABLE, NULL, "shutting down");
		fail_calls(bj, 0, &e);
		free(bj);
	}
	log_msg(LOG_INFO, "batch_stats", "batches=%llu calls=%llu full=%llu",
	        (unsigned long long)b->stats.batches, (unsigned long long)b->stats.items,
	        (unsigned long long)b->stats.full);
}

void batch_free(struct batch *b)
{
	if (!b)
		return;
	batch_stop(b);
	event_free(b->flush_ev);
	event_free(b->slow_ev);
	free(b);
}

void batch_get_stats(const struct batch *b, struct batch_stats *out)
{
	*out = b->stats;
}
