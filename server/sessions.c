/*
 * sessions.c: the session cache and batched session look-ups of one worker.
 *
 * Owns: a 4-way set-associative cache (token hash -> struct session_info, valid-until), the
 * look-up being gathered, the count of look-ups in flight, and the LISTEN connection whose
 * notifications evict entries.  Rules (why the cache is never wrong for longer than a
 * notification takes to arrive):
 *   - entries are added only from a look-up (ours, or a check-in batch's: sessions_learn) that
 *     was sent while listening and during which nothing was evicted (the epoch did not move),
 *     so a log-out that committed after the look-up's snapshot is either seen by the look-up
 *     or evicts the entry after it;
 *   - every notification and every change of the LISTEN connection's state moves the epoch;
 *     losing the connection empties the cache and stops using it until LISTEN is back;
 *   - an entry lives at most SESSIONS_TTL_MS, and never past the session's own absolute or
 *     idle limit as the database reported it (a miss after that touches last_seen_at).
 * Gathering: a miss joins the look-up being built; it is sent at the end of the current
 * loop turn while fewer than SESS_INFLIGHT look-ups are out, else when one comes back, or
 * at once when it holds SESS_BATCH_MAX tokens.  So an idle server adds no delay, and a busy
 * one asks for many tokens in one statement.
 */
#include "sessions.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "dblisten.h"
#include "log.h"
#include "metrics.h"
#include "monotime.h"
#include "queries.h"
#include "secret.h"

#define SESS_WAYS      4
#define SESS_SETS      8192 /* 32768 entries, about 2 MB */
#define SESS_BATCH_MAX 256
#define SESS_INFLIGHT  2

struct entry {
	uint8_t hash[32];
	struct session_info si; /* si.account 0: empty */
	uint64_t until_ms;
};

struct item {
	uint8_t hash[32];
	sessions_done_fn done;
	void *arg;
};

struct lookup {
	struct db_job job;
	struct sessions *owner;
	struct sessions_mark mark; /* when sent */
	int n;
	struct item items[SESS_BATCH_MAX];
};

static const struct session_info no_session;

struct sessions {
	const struct config *cfg;
	struct db_pool *db;
	struct metrics *metrics;
	struct dblisten *listen;
	struct entry *cache; /* SESS_SETS * SESS_WAYS */
	struct lookup *building;
	struct event *flush_ev;
	int inflight;
	int stopped;
	uint64_t epoch;
	uint64_t revocations; /* the server-wide log-out counter this cache is up to date with */
	struct sessions_stats stats;
};

static struct entry *set_of(struct sessions *s, const uint8_t hash[32])
{
	uint32_t h;
	memcpy(&h, hash, sizeof h); /* a SHA-256: already uniform */
	return &s->cache[(h & (SESS_SETS - 1)) * SESS_WAYS];
}

static void flush_all(struct sessions *s)
{
	memset(s->cache, 0, sizeof *s->cache * SESS_SETS * SESS_WAYS);
	s->epoch++;
}

static void evict(struct sessions *s, const uint8_t hash[32])
{
	struct entry *set = set_of(s, hash);
	for (int i = 0; i < SESS_WAYS; i++)
		if (set[i].si.account && !memcmp(set[i].hash, hash, 32)) {
			set[i].si.account = 0;
			s->stats.evictions++;
		}
	s->epoch++;
}

static void evict_account(struct sessions *s, long long account)
{
	for (int i = 0; i < SESS_SETS * SESS_WAYS; i++)
		if (s->cache[i].si.account == account) {
			s->cache[i].si.account = 0;
			s->stats.evictions++;
		}
	s->epoch++;
}

static void insert(struct sessions *s, const uint8_t hash[32], const struct session_info *si,
                   uint64_t until)
{
	struct entry *set = set_of(s, hash), *victim = &set[0];
	for (int i = 0; i < SESS_WAYS; i++) {
		if (set[i].si.account && !memcmp(set[i].hash, hash, 32)) {
			victim = &set[i];
			break;
		}
		if (!set[i].si.account || set[i].until_ms < victim->until_ms)
			victim = &set[i]; /* empty, else the one that ends first */
	}
	memcpy(victim->hash, hash, 32);
	victim->si = *si;
	victim->until_ms = until;
}

static int hex_byte(const char *p)
{
	int v = 0;
	for (int i = 0; i < 2; i++) {
		char c = p[i];
		v = v * 16 + (c >= '0' && c <= '9'   ? c - '0'
		              : c >= 'a' && c <= 'f' ? c - 'a' + 10
		                                     : -256);
	}
	return v;
}

static void on_notify(const char *channel, const char *payload, void *arg)
{
	struct sessions *s = arg;
	(void)channel;
	if (!strncmp(payload, "s:", 2) && strlen(payload) == 66) {
		uint8_t hash[32];
		for (int i = 0; i < 32; i++) {
			int b = hex_byte(payload + 2 + 2 * i);
			if (b < 0) {
				flush_all(s);
				return;
			}
			hash[i] = (uint8_t)b;
		}
		evict(s, hash);
	} else if (!strncmp(payload, "a:", 2) && atoll(payload + 2) > 0) {
		evict_account(s, atoll(payload + 2));
	} else {
		flush_all(s); /* '*' or anything we do not understand */
	}
}

static void on_listen_state(int listening, void *arg)
{
	struct sessions *s = arg;
	s->stats.listening = listening;
	flush_all(s);
	log_msg(listening ? LOG_INFO : LOG_WARN, "session_cache",
	        listening ? "state=on" : "state=off reason=\"listen connection lost\"");
}

static void send_lookup(struct sessions *s);

static void lookup_done(struct db_job *job, const struct db_result *res, const struct err *e)
{
	struct lookup *lk = job->arg;
	struct sessions *s = lk->owner;
	struct session_info si[SESS_BATCH_MAX];

	s->inflight--;
	memset(si, 0, sizeof si);
	for (int row = 0; e->code == APP_OK && row < db_result_rows(res); row++) {
		long long i = db_result_int(res, row, 0, 0) - 1;
		if (i < 0 || i >= lk->n)
			continue;
		si[i].account = db_result_int(res, row, 1, 0);
		si[i].volunteer = db_result_int(res, row, 2, 0);
		si[i].known = 1;
		si[i].mfa = db_result_bool(res, row, 4);
		si[i].auth_at_ms = db_result_int(res, row, 5, 0);
		si[i].admin = db_result_bool(res, row, 6);
		sessions_learn(s, &lk->mark, lk->items[i].hash, &si[i],
		               db_result_int(res, row, 3, 0));
	}
	for (int i = 0; i < lk->n; i++)
		lk->items[i].done(lk->items[i].arg, &si[i], e);
	free(lk);
	if (s->building && !s->stopped && s->inflight < SESS_INFLIGHT)
		send_lookup(s);
}

static void send_lookup(struct sessions *s)
{
	struct lookup *lk = s->building;
	s->building = NULL;
	if (!lk || lk->n == 0) {
		free(lk);
		return;
	}
	char *text = malloc((size_t)lk->n * 65 + 3);
	if (!text) {
		struct err e;
		err_set(&e, APP_EUNAVAILABLE, NULL, "out of memory");
		for (int i = 0; i < lk->n; i++)
			lk->items[i].done(lk->items[i].arg, &no_session, &e);
		free(lk);
		return;
	}
	char *p = text;
	*p++ = '{';
	for (int i = 0; i < lk->n; i++) {
		if (i)
			*p++ = ',';
		secret_hex(lk->items[i].hash, 32, p);
		p += 64;
	}
	*p++ = '}';
	*p = '\0';
	db_job_init(&lk->job, Q_SESSION_RESOLVE_MANY, lookup_done, lk);
	db_job_param_take(&lk->job, 0, text);
	db_job_param_int(&lk->job, 1, s->cfg->session_idle_min);
	sessions_mark(s, &lk->mark);
	s->inflight++;
	s->stats.lookups++;
	db_submit(s->db, &lk->job);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct sessions *s = arg;
	(void)fd;
	(void)what;
	if (s->building && !s->stopped && s->inflight < SESS_INFLIGHT)
		send_lookup(s);
}

int sessions_cached(struct sessions *s, const uint8_t hash[32], struct session_info *si)
{
	uint64_t revocations = metrics_session_revocations(s->metrics);
	if (revocations != s->revocations) { /* a log-out somewhere in this server */
		flush_all(s);
		s->revocations = revocations;
	}
	if (dblisten_listening(s->listen)) {
		struct entry *set = set_of(s, hash);
		uint64_t now = mono_ms();
		for (int i = 0; i < SESS_WAYS; i++)
			if (set[i].si.account && set[i].until_ms > now &&
			    !memcmp(set[i].hash, hash, 32)) {
				s->stats.hits++;
				*si = set[i].si;
				return 1;
			}
	}
	s->stats.misses++;
	return 0;
}

void sessions_mark(const struct sessions *s, struct sessions_mark *m)
{
	m->epoch = s->epoch;
	m->revocations = metrics_session_revocations(s->metrics);
	m->listening = dblisten_listening(s->listen);
}

void sessions_learn(struct sessions *s, const struct sessions_mark *m, const uint8_t hash[32],
                    const struct session_info *si, long long valid_ms)
{
	struct sessions_mark now;
	sessions_mark(s, &now);
	if (!m->listening || !now.listening || m->epoch != now.epoch ||
	    m->revocations != now.revocations || si->account <= 0 || valid_ms <= 0)
		return;
	insert(s, hash, si,
	       mono_ms() + (uint64_t)(valid_ms < SESSIONS_TTL_MS ? valid_ms : SESSIONS_TTL_MS));
}

void sessions_resolve(struct sessions *s, const uint8_t hash[32], sessions_done_fn done, void *arg)
{
	struct session_info si;
	if (sessions_cached(s, hash, &si) && si.known) {
		struct err ok;
		err_clear(&ok);
		done(arg, &si, &ok);
		return;
	}
	sessions_look_up(s, hash, done, arg);
}

void sessions_look_up(struct sessions *s, const uint8_t hash[32], sessions_done_fn done, void *arg)
{
	if (!s->building && !(s->building = calloc(1, sizeof *s->building))) {
		struct err e;
		err_set(&e, APP_EUNAVAILABLE, NULL, "out of memory");
		done(arg, &no_session, &e);
		return;
	}
	struct lookup *lk = s->building;
	lk->owner = s;
	struct item *it = &lk->items[lk->n++];
	memcpy(it->hash, hash, 32);
	it->done = done;
	it->arg = arg;
	if (lk->n == SESS_BATCH_MAX)
		send_lookup(s); /* db_submit never calls back on this stack */
	else if (s->inflight < SESS_INFLIGHT)
		event_active(s->flush_ev, EV_TIMEOUT, 0);
}

void sessions_revoked(struct sessions *s, const uint8_t hash[32])
{
	evict(s, hash);
	metrics_session_revoked(s->metrics);
}

void sessions_account_revoked(struct sessions *s, long long account)
{
	evict_account(s, account);
	metrics_session_revoked(s->metrics);
}

struct sessions *sessions_new(struct event_base *base, const struct config *cfg, struct db_pool *db,
                              struct metrics *metrics)
{
	struct sessions *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->cfg = cfg;
	s->db = db;
	s->metrics = metrics;
	s->revocations = metrics_session_revocations(metrics);
	s->cache = calloc((size_t)SESS_SETS * SESS_WAYS, sizeof *s->cache);
	s->flush_ev = event_new(base, -1, 0, on_flush, s);
	if (s->cache && s->flush_ev)
		s->listen =
		        dblisten_new(base, cfg, Q_SESSIONS_LISTEN, on_notify, on_listen_state, s);
	if (!s->listen) {
		sessions_free(s);
		return NULL;
	}
	return s;
}

void sessions_stop(struct sessions *s)
{
	if (!s || s->stopped)
		return;
	s->stopped = 1;
	struct lookup *lk = s->building;
	s->building = NULL;
	if (lk) {
		struct err e;
		err_set(&e, APP_EUNAVAILABLE, NULL, "shutting down");
		for (int i = 0; i < lk->n; i++)
			lk->items[i].done(lk->items[i].arg, &no_session, &e);
		free(lk);
	}
}

void sessions_free(struct sessions *s)
{
	if (!s)
		return;
	sessions_stop(s);
	dblisten_free(s->listen);
	if (s->flush_ev)
		event_free(s->flush_ev);
	free(s->cache);
	free(s);
}

void sessions_get_stats(const struct sessions *s, struct sessions_stats *out)
{
	*out = s->stats;
}
