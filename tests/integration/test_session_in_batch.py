"""Check-ins and check-outs from sessions the worker has not cached (issue 8, sql/0014).

POST /api/v1/events/{id}/check-ins and .../check-outs are group-committed (server/batch.c).
A session that the worker has not cached used to be looked up first, in a transaction of its
own (server/sessions.c, session_resolve_many); it may instead be resolved inside the check-in's
own transaction (checkin_batch), and the worker then caches what that transaction said.  The
answers must not change with that, so these tests pin them, almost always with tokens that
were never used before (so that no worker has them cached):

  * a dead session (unknown, expired, idle too long, logged out, deleted, account disabled)
    gets 401 problem+json "... session is missing or expired" and writes nothing;
  * authentication answers before validation (401, not 400/404/422), and a cookie from another
    site gets 403 only when the session is live (and writes nothing);
  * in one batch, live and dead tokens of many volunteers each get their own answer, as their
    own account (attendance, audit row, /me afterwards);
  * the session learnt from a check-in keeps working, and a log-out (or a session ended while
    its check-in is in flight) is refused at once on every worker;
  * Idempotency-Key replays hold for a fresh token; last_seen_at is touched by a check-in only
    when older than 30 s.

Like test_batch.py, volunteers, accounts and sessions are inserted with SQL (tokens chosen
here, stored as their SHA-256, as the server does) so that no test pays for Argon2; requests
go on fresh connections, so that SO_REUSEPORT spreads them over both workers.
"""
import concurrent.futures as cf
import secrets
import threading
import time

import pytest
import requests

import helpers

TIMEOUT = 10
CODE = "246813"
DEAD = "session is missing or expired"


def q(s):
    return "'" + s.replace("'", "''") + "'"


def hashed(token):
    return f"sha256(convert_to({q(token)}, 'UTF8'))"


def new_token():
    return "sb" + secrets.token_hex(21)[:41]  # 43 characters, the shape auth.c accepts


class World:
    pass


def make_world(pg, n):
    """An org unit; an event open now with static code CODE, no walk-ins, every volunteer
    signed up; n volunteers with an account and one fresh session each; a coordinator of the
    unit with two fresh sessions.  Nothing here has been seen by the server yet."""
    w = World()
    tag = secrets.token_hex(4)
    w.tokens = [new_token() for _ in range(n)]
    w.coordinator_tokens = [new_token(), new_token()]
    w.unit, team = helpers.unit_with_team(pg, f"SB-{tag}", f"Sess {tag}", "Sess team")
    w.event = helpers.open_event(pg, team, f"sess {tag}", "Sess post", CODE)
    w.ids, w.accounts = helpers.volunteers_with_sessions(pg, w.unit, w.tokens, f"sb-{tag}", phone="157",
                                                         signup_event=w.event)
    w.coordinator = helpers.coordinator_with_sessions(pg, w.unit, f"sb-{tag}-co", w.coordinator_tokens)
    return w


def end_session(pg, server, token, how):
    """Makes token's session dead in one of the ways the server must refuse."""
    h = hashed(token)
    if how == "expired":
        pg.sql(f"UPDATE sessions SET created_at = now() - interval '2 hours', "
               f"expires_at = now() - interval '1 second' WHERE token_hash = {h}")
    elif how == "idle":  # the shared server has the default idle limit, 30 minutes
        pg.sql(f"UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE token_hash = {h}")
    elif how == "disabled":
        pg.sql(f"UPDATE accounts SET disabled = true WHERE id = (SELECT account_id FROM sessions WHERE token_hash = {h})")
    elif how == "deleted":
        pg.sql(f"DELETE FROM sessions WHERE token_hash = {h}")
    elif how == "logged_out":
        r = requests.delete(server.url("/api/v1/session"), headers={"Authorization": "Bearer " + token},
                            timeout=TIMEOUT)
        assert r.status_code == 204, r.text
    else:
        raise AssertionError(how)


def post(server, path, token=None, body=None, key=None, headers=None, data=None, cookie=None, tls=False):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if key is not None:
        h["Idempotency-Key"] = key
    cookies = None
    if cookie:
        cookies = {("__Host-vd_session" if tls else "vd_session"): cookie}
    # A fresh connection each time, so SO_REUSEPORT spreads requests over the workers.
    with requests.Session() as s:
        if data is not None:
            h.setdefault("Content-Type", "application/json")
            return s.post(server.url(path, tls), data=data, headers=h, cookies=cookies,
                          timeout=TIMEOUT, verify=False)
        return s.post(server.url(path, tls), json={"code": CODE} if body is None else body, headers=h,
                      cookies=cookies, timeout=TIMEOUT, verify=False)


def checkin(server, w, token, **kw):
    return post(server, f"/api/v1/events/{w.event}/check-ins", token, **kw)


def checkout(server, w, token, **kw):
    return post(server, f"/api/v1/events/{w.event}/check-outs", token, **kw)


def me(server, token):
    with requests.Session() as s:
        return s.get(server.url("/api/v1/me"), headers={"Authorization": "Bearer " + token}, timeout=TIMEOUT)


def assert_dead(r):
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers["Content-Type"]
    assert DEAD in r.json()["detail"], r.text


def attendances(pg, w, volunteer=None):
    """(volunteer_id, created_by, open) of the event's attendances, optionally of one volunteer."""
    where = f" AND volunteer_id = {volunteer}" if volunteer else ""
    out = pg.sql(f"""SELECT volunteer_id, coalesce(created_by, 0), check_out_at IS NULL FROM attendances
                     WHERE event_id = {w.event}{where} ORDER BY id""").split()
    return [(int(a), int(b), c == "t") for a, b, c in (row.split("|") for row in out)]


def hold_checkins(pg):
    """A connection holding a lock that check-in batches wait on (their audit rows cannot be
    inserted), as test_batch.held does.  Release with .rollback(), close with .close()."""
    conn = pg.connect()
    conn.cursor().execute("LOCK TABLE audit_log IN SHARE MODE")
    return conn


def waiting_on_audit(pg):
    return int(pg.sql("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'audit_log'::regclass").strip())


# -- dead sessions ---------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["unknown", "expired", "idle", "logged_out", "deleted", "disabled"])
def test_dead_session_is_refused_and_writes_nothing(server, pg, how):
    w = make_world(pg, 2)
    tok, vid = w.tokens[0], w.ids[0]
    if how == "unknown":
        tok = new_token()  # never stored at all
    else:
        end_session(pg, server, tok, how)
    assert_dead(checkin(server, w, tok))
    assert_dead(checkout(server, w, tok))
    # Again, on fresh connections (both workers), and naming the volunteer explicitly.
    for _ in range(3):
        assert_dead(checkin(server, w, tok, body={"code": CODE, "volunteer_id": vid}))
    assert attendances(pg, w) == []
    # The other volunteer of the same unit is not affected.
    r = checkin(server, w, w.tokens[1])
    assert r.status_code == 201, r.text
    assert attendances(pg, w) == [(w.ids[1], w.accounts[1], True)]


def test_authentication_answers_before_validation(server, pg):
    w = make_world(pg, 8)
    dead = new_token()
    long_key = "k" * 201
    bad = [  # (path, keyword arguments of post, status for a live session)
        (f"/api/v1/events/{w.event}/check-ins", dict(body={"code": CODE, "colour": "red"}), 422),
        (f"/api/v1/events/{w.event}/check-ins", dict(data=b"{not json"), 400),
        (f"/api/v1/events/{w.event}/check-ins", dict(body={"code": 135}), 422),
        (f"/api/v1/events/{w.event}/check-ins", dict(key=long_key), 422),
        (f"/api/v1/events/{w.event}/check-outs", dict(body={"code": CODE, "colour": "red"}), 422),
        ("/api/v1/events/0/check-ins", dict(), 404),
        (f"/api/v1/events/{w.event + 1000000}/check-ins", dict(), 404),
        (f"/api/v1/events/{w.event}/check-ins", dict(body={"code": "000000"}), 403),
    ]
    for path, kw, _ in bad:
        r = post(server, path, dead, **kw)
        assert r.status_code == 401, (path, kw, r.status_code, r.text)
        assert_dead(r)
    # The same requests from live, never-used sessions get the validation's own answer.
    for (path, kw, want), tok in zip(bad, w.tokens):
        r = post(server, path, tok, **kw)
        assert r.status_code == want, (path, kw, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("application/problem+json")
    assert attendances(pg, w) == []


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_cookie_checkin_needs_our_origin(server, pg, tls):
    w = make_world(pg, 5)
    path = f"/api/v1/events/{w.event}/check-ins"
    ours = f"https://127.0.0.1:{server.https}" if tls else f"http://127.0.0.1:{server.http}"
    # A live session from another site, or with no Origin/Referer at all: 403, nothing written.
    r = post(server, path, cookie=w.tokens[0], headers={"Origin": "https://evil.example"}, tls=tls)
    assert r.status_code == 403 and "problem+json" in r.headers["Content-Type"], r.text
    r = post(server, path, cookie=w.tokens[1], tls=tls)
    assert r.status_code == 403, r.text
    r = post(server, path, cookie=w.tokens[1], headers={"Referer": "https://evil.example/x"}, tls=tls)
    assert r.status_code == 403, r.text
    assert attendances(pg, w) == []
    # A dead session from another site: 401 (authentication first).
    assert_dead(post(server, path, cookie=new_token(), headers={"Origin": "https://evil.example"}, tls=tls))
    # Our own origin: works, as the cookie's own volunteer; so does the check-out.
    r = post(server, path, cookie=w.tokens[2], headers={"Origin": ours}, tls=tls)
    assert r.status_code == 201, r.text
    assert r.json()["volunteer_id"] == w.ids[2]
    r = post(server, f"/api/v1/events/{w.event}/check-outs", cookie=w.tokens[3], headers={"Origin": ours}, tls=tls)
    assert r.status_code == 409 and "not checked in" in r.json()["detail"], r.text  # a live session: the rules answer
    r = post(server, f"/api/v1/events/{w.event}/check-outs", cookie=w.tokens[2],
             headers={"Origin": "https://evil.example"}, tls=tls)
    assert r.status_code == 403, r.text
    r = post(server, f"/api/v1/events/{w.event}/check-outs", cookie=w.tokens[2], headers={"Origin": ours}, tls=tls)
    assert r.status_code == 200, r.text
    assert attendances(pg, w) == [(w.ids[2], w.accounts[2], False)]


# -- many at once -----------------------------------------------------------------------------

def test_one_burst_of_live_and_dead_sessions_answers_each_alone(server, pg):
    w = make_world(pg, 26)
    live = list(range(16))                       # check in themselves
    dead = {16: "expired", 17: "idle", 18: "disabled", 19: "deleted"}
    roster, asker, asked, twice = 20, 21, 22, 23  # coordinator checks in 20; 21 tries 22; 23 twice
    out_by_own = [24, 25]                        # checked in by the coordinator before, out by themselves
    for i, how in dead.items():
        end_session(pg, server, w.tokens[i], how)
    extra = new_token()  # a second session of volunteer 23
    pg.sql(f"INSERT INTO sessions (token_hash, account_id, expires_at) "
           f"VALUES ({hashed(extra)}, {w.accounts[twice]}, now() + interval '1 hour')")
    for i in out_by_own:  # with the coordinator's first session: its second stays unused
        r = checkin(server, w, w.coordinator_tokens[0], body={"volunteer_id": w.ids[i]})
        assert r.status_code == 201, r.text
    unknown = [new_token() for _ in range(4)]

    jobs = {}  # name -> callable; the refused ones first, the others after
    for i in dead:
        jobs[f"dead{i}"] = lambda i=i: checkin(server, w, w.tokens[i])
    for k, t in enumerate(unknown):
        jobs[f"unknown{k}"] = lambda t=t, k=k: checkin(server, w, t, body={"code": CODE, "volunteer_id": w.ids[asked]}
                                                       if k == 0 else None)
    jobs["unknown-out"] = lambda: checkout(server, w, new_token())
    jobs["dead-out"] = lambda: checkout(server, w, w.tokens[16])
    for i in live:
        jobs[f"live{i}"] = lambda i=i: checkin(server, w, w.tokens[i])
    jobs["roster"] = lambda: checkin(server, w, w.coordinator_tokens[1], body={"volunteer_id": w.ids[roster]})
    jobs["asker"] = lambda: checkin(server, w, w.tokens[asker], body={"code": CODE, "volunteer_id": w.ids[asked]})
    jobs["twice-a"] = lambda: checkin(server, w, w.tokens[twice])
    jobs["twice-b"] = lambda: checkin(server, w, extra)
    for i in out_by_own:
        jobs[f"out{i}"] = lambda i=i: checkout(server, w, w.tokens[i])

    conn = hold_checkins(pg)  # the first batches wait, the rest pile up behind them
    try:
        with cf.ThreadPoolExecutor(len(jobs)) as ex:
            # Interleaved (a refused one, then two others, ...) so that in every batch live
            # items follow dead ones: an answer given to the wrong item would show.
            names = list(jobs)
            cut = len(dead) + len(unknown) + 2
            refused, others = names[:cut], names[cut:]
            order = [n for k in range(len(names)) for n in ([refused[k]] if k < len(refused) else [])
                     + others[2 * k:2 * k + 2]]
            assert sorted(order) == sorted(names)
            futures = {}
            for name in order:
                futures[name] = ex.submit(jobs[name])
                time.sleep(0.005)  # arrival in this order, more or less
            time.sleep(1.0)  # every request has arrived and waits in a batch or behind one
            conn.rollback()
            got = {name: f.result(timeout=30) for name, f in futures.items()}
    finally:
        conn.close()

    for i in live:
        r = got[f"live{i}"]
        assert r.status_code == 201, (i, r.text)
        assert r.json()["volunteer_id"] == w.ids[i] and r.json()["event_id"] == w.event, (i, r.text)
        assert r.json()["method"] == "self"
    for name in [f"dead{i}" for i in dead] + [f"unknown{k}" for k in range(4)] + ["unknown-out", "dead-out"]:
        assert_dead(got[name])
    assert got["roster"].status_code == 201, got["roster"].text
    assert got["roster"].json()["volunteer_id"] == w.ids[roster] and got["roster"].json()["method"] == "roster"
    assert got["asker"].status_code == 403, got["asker"].text  # a volunteer may not check in another
    assert sorted([got["twice-a"].status_code, got["twice-b"].status_code]) == [201, 409], \
        (got["twice-a"].text, got["twice-b"].text)
    for i in out_by_own:
        r = got[f"out{i}"]
        assert r.status_code == 200, (i, r.text)
        assert r.json()["volunteer_id"] == w.ids[i] and r.json()["check_out_at"] is not None

    # The database agrees: who was checked in, by which account, and nothing for the others.
    want = sorted([(w.ids[i], w.accounts[i], True) for i in live + [twice]]
                  + [(w.ids[roster], w.coordinator, True)]
                  + [(w.ids[i], w.coordinator, False) for i in out_by_own])
    assert sorted(attendances(pg, w)) == want
    audit = pg.sql(f"""SELECT a.volunteer_id, coalesce(l.account_id, 0) FROM audit_log l
                       JOIN attendances a ON a.id = l.entity_id
                      WHERE l.entity = 'attendance' AND l.action = 'check_in' AND a.event_id = {w.event}""").split()
    assert sorted(tuple(int(x) for x in row.split("|")) for row in audit) == sorted((v, acc) for v, acc, _ in want)
    # Requests that waited shared a transaction (and so now()): the burst really was batched.
    n = int(pg.sql(f"SELECT count(DISTINCT check_in_at) FROM attendances WHERE event_id = {w.event} "
                   f"AND volunteer_id <> ALL (ARRAY[{w.ids[24]}, {w.ids[25]}])").strip())
    assert n < len(live) + 2, "no two check-ins shared a transaction"

    # What the workers learnt is each token's own account; the dead stay dead.
    for i, tok in [(i, w.tokens[i]) for i in live + [asker, twice]] + [(twice, extra)]:
        for _ in range(4):  # both workers, most likely
            r = me(server, tok)
            assert r.status_code == 200 and r.json()["volunteer"]["id"] == w.ids[i], (i, r.text)
    for i in dead:
        assert me(server, w.tokens[i]).status_code == 401
    with cf.ThreadPoolExecutor(len(live)) as ex:
        outs = list(ex.map(lambda i: checkout(server, w, w.tokens[i]), live))
    for i, r in zip(live, outs):
        assert r.status_code == 200 and r.json()["volunteer_id"] == w.ids[i], (i, r.text)


# -- a session learnt from a check-in ---------------------------------------------------------

def test_fresh_session_keeps_working_after_its_checkin(server, pg):
    w = make_world(pg, 1)
    tok = w.tokens[0]
    r = checkin(server, w, tok)
    assert r.status_code == 201, r.text
    for _ in range(6):  # both workers
        r = me(server, tok)
        assert r.status_code == 200 and r.json()["volunteer"]["id"] == w.ids[0], r.text
    r = checkout(server, w, tok)
    assert r.status_code == 200, r.text
    assert r.json()["volunteer_id"] == w.ids[0] and r.json()["check_out_at"] is not None
    assert attendances(pg, w) == [(w.ids[0], w.accounts[0], False)]


def test_logout_after_a_fresh_checkin_is_refused_at_once(server, pg):
    w = make_world(pg, 1)
    tok = w.tokens[0]
    for _ in range(4):  # the first check-in, then answers of a volunteer already on post
        r = checkin(server, w, tok)
        assert r.status_code in (201, 409), r.text
    r = requests.delete(server.url("/api/v1/session"), headers={"Authorization": "Bearer " + tok},
                        timeout=TIMEOUT)
    assert r.status_code == 204
    # Right after the log-out's answer, on fresh connections (both workers): refused.
    for _ in range(6):
        assert_dead(checkout(server, w, tok))
        assert_dead(checkin(server, w, tok))
        assert me(server, tok).status_code == 401
    assert attendances(pg, w) == [(w.ids[0], w.accounts[0], True)]  # still open


@pytest.mark.parametrize("how", ["logged_out", "deleted", "disabled"])
def test_session_ended_while_its_checkin_is_in_flight(server, pg, how):
    """The check-in's session is live when its transaction starts and ends before it commits:
    the check-in may succeed (that is a true serial order), but the token must be refused
    afterwards on every worker: the worker must not cache what the check-in's transaction
    saw once it has heard that the session ended."""
    w = make_world(pg, 1)
    tok = w.tokens[0]
    conn = hold_checkins(pg)
    try:
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("r", checkin(server, w, tok)))
        t.start()
        assert helpers.wait_until(lambda: waiting_on_audit(pg) >= 1, 5), "the check-in never reached the database"
        end_session(pg, server, tok, how)
        time.sleep(0.3)  # NOTIFY is asynchronous to a third party such as psql
        conn.rollback()
        t.join(15)
        assert not t.is_alive()
    finally:
        conn.close()
    assert result["r"].status_code == 201, result["r"].text
    for _ in range(8):
        assert_dead(checkout(server, w, tok))
        assert me(server, tok).status_code == 401
    assert attendances(pg, w) == [(w.ids[0], w.accounts[0], True)]  # still open


# -- Idempotency-Key and last_seen_at ---------------------------------------------------------

def test_idempotency_key_replays_for_a_fresh_session(server, pg):
    w = make_world(pg, 4)
    path = f"/api/v1/events/{w.event}/check-ins"
    # One after the other: the first from a session no worker has seen.
    first = post(server, path, w.tokens[0], key="idem-1")
    assert first.status_code == 201, first.text
    for _ in range(4):  # both workers, cached or not
        again = post(server, path, w.tokens[0], key="idem-1")
        assert again.status_code == 201 and again.json() == first.json(), again.text
    other = post(server, path, w.tokens[0], body={"code": CODE, "volunteer_id": w.ids[0]}, key="idem-1")
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key", other.text
    # The same key of another account is another request.
    r = post(server, path, w.tokens[1], key="idem-1")
    assert r.status_code == 201 and r.json()["volunteer_id"] == w.ids[1], r.text

    # Several at once from one fresh session, in one batch: one attendance, one answer.
    conn = hold_checkins(pg)
    try:
        with cf.ThreadPoolExecutor(4) as ex:
            futures = [ex.submit(post, server, path, w.tokens[2], None, "idem-2") for _ in range(4)]
            time.sleep(1.0)
            conn.rollback()
            same = [f.result(timeout=30) for f in futures]
    finally:
        conn.close()
    assert [r.status_code for r in same] == [201] * 4, [r.text for r in same]
    assert len({r.text for r in same}) == 1, "a replay must return the stored answer"
    assert sorted(v for v, _, _ in attendances(pg, w)) == sorted(w.ids[:3])

    # A stored answer is no way around authentication.
    end_session(pg, server, w.tokens[0], "logged_out")
    assert_dead(post(server, path, w.tokens[0], key="idem-1"))


def last_seen_age(pg, token):
    """Seconds since the session's last_seen_at, and its last_seen_at as text."""
    out = pg.sql(f"SELECT extract(epoch FROM now() - last_seen_at), last_seen_at FROM sessions "
                 f"WHERE token_hash = {hashed(token)}").strip()
    age, at = out.split("|")
    return float(age), at


def test_checkin_touches_a_stale_last_seen_at(server, pg):
    w = make_world(pg, 3)
    stale, refused, recent = w.tokens
    # Setting last_seen_at back also evicts any cached copy (a NOTIFY trigger): never cached here.
    pg.sql(f"UPDATE sessions SET last_seen_at = now() - interval '29 minutes' WHERE token_hash = {hashed(stale)}")
    pg.sql(f"UPDATE sessions SET last_seen_at = now() - interval '5 minutes' WHERE token_hash = {hashed(refused)}")
    pg.sql(f"UPDATE sessions SET last_seen_at = now() - interval '10 seconds' WHERE token_hash = {hashed(recent)}")
    _, recent_before = last_seen_age(pg, recent)

    # 29 minutes idle is still within the 30-minute limit: the check-in works and touches it.
    r = checkin(server, w, stale)
    assert r.status_code == 201, r.text
    age, _ = last_seen_age(pg, stale)
    assert age < 5, f"last_seen_at not touched: {age} s old"
    gap = float(pg.sql(f"""SELECT extract(epoch FROM a.check_in_at - s.last_seen_at)
                             FROM attendances a, sessions s
                            WHERE a.id = {r.json()['id']} AND s.token_hash = {hashed(stale)}""").strip())
    assert 0 <= gap < 5, f"touch and check-in {gap} s apart"

    # A refused check-in (wrong code) still used the session: touched too.
    r = checkin(server, w, refused, body={"code": "000000"})
    assert r.status_code == 403, r.text
    age, _ = last_seen_age(pg, refused)
    assert age < 5, f"last_seen_at not touched by a refused check-in: {age} s old"

    # Seen less than 30 s ago: left alone.
    r = checkin(server, w, recent)
    assert r.status_code == 201, r.text
    _, recent_after = last_seen_age(pg, recent)
    assert recent_after == recent_before
