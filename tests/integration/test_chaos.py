"""Chaos under load: no acknowledged check-in is ever lost (R34, R39, R40).

Sixteen clients check volunteers in, each volunteer once, half of them with an
Idempotency-Key, while PostgreSQL is crashed and started again (`pg_ctl stop -m immediate`,
as a power cut is to the database), or while the whole server is killed with SIGKILL and
started again.  Then a checker, as in a Jepsen set test:

  * every check-in answered 201 has exactly one attendance row;
  * every other answer is a 503 with Retry-After (or, while the server is dead, no answer):
    never a 500, never a 2xx for what was not committed;
  * an unanswered or 503 check-in is indeterminate (0 or 1 row); retried, it converges to
    exactly one row: with its key, the stored answer of the commit that landed (the same
    attendance) or a fresh 201; without a key, a 201, or a 409 when the first one had landed;
  * no key is left "in flight", no row exists that no client asked for.

The group commit (server/batch.c) is what is tested: a batch's 2xx answers are sent only from
its result, after its COMMIT.  Both of its ways run: a batch of check-ins without keys goes
straight to checkin_many, one with a key through api_call_batch.  Each test has its own
cluster and server, bounded in time (about 20 s of load).
"""
import concurrent.futures as cf
import itertools
import secrets
import threading
import time

import requests

import helpers
from helpers import wait_until

CLIENTS = 16
VOLUNTEERS = 3000
CODE = "246810"
TIMEOUT = 15


class World:
    pass


def make_world(own_pg):
    url = own_pg.url()
    w = World()
    tag = secrets.token_hex(4)
    w.tokens = [("ch" + secrets.token_urlsafe(33))[:43] for _ in range(VOLUNTEERS)]  # as the server makes them
    unit, team = helpers.unit_with_team(own_pg, f"C-{tag}", f"Chaos {tag}", "Chaos team")
    w.event = helpers.open_event(own_pg, team, f"chaos {tag}", "Chaos post", CODE)
    w.ids = []
    for at in range(0, VOLUNTEERS, 500):  # psql's command line has a limit
        ids, _ = helpers.volunteers_with_sessions(own_pg, unit, w.tokens[at:at + 500], f"chaos-{tag}-{at}",
                                                  phone=f"157{at // 500}", name=f"C{at // 500}-",
                                                  signup_event=w.event)
        w.ids += ids
    w.keys = [f"chaos-{tag}-{i}" if i % 2 == 0 else None for i in range(VOLUNTEERS)]
    w.url = url
    return w


def check_in(base, session, w, i):
    """(status or None for no answer, body or None, Retry-After or None)."""
    h = {"Authorization": "Bearer " + w.tokens[i]}
    if w.keys[i]:
        h["Idempotency-Key"] = w.keys[i]
    try:
        r = session.post(f"{base()}/api/v1/events/{w.event}/check-ins", json={"code": CODE},
                         headers=h, timeout=TIMEOUT)
    except requests.RequestException:
        return None, None, None
    body = r.json() if "json" in r.headers.get("Content-Type", "") else None
    return r.status_code, body, r.headers.get("Retry-After")


def load(base, w, stop_after):
    """The clients: each takes the next volunteer until all are taken or stop_after() says
    the chaos is over.  Returns {volunteer index: (status, body, retry_after)}."""
    results, lock, order = {}, threading.Lock(), itertools.count()

    def client():
        s = requests.Session()
        while not stop_after():
            i = next(order)
            if i >= VOLUNTEERS:
                return
            got = check_in(base, s, w, i)
            with lock:
                results[i] = got
            if got[0] is None:
                s = requests.Session()  # the connection died with the server
                time.sleep(0.1)
            elif got[0] == 503:
                time.sleep(0.1)  # a polite client backs off
            else:
                time.sleep(0.01)

    with cf.ThreadPoolExecutor(CLIENTS) as ex:
        for f in [ex.submit(client) for _ in range(CLIENTS)]:
            f.result()
    return results


def base_of(srv):
    return lambda: f"http://127.0.0.1:{srv.http}"


def under_chaos(base, w, fault, cycles):
    """The load, while fault() runs cycles times in a thread; the clients stop a second after
    the last cycle (or when every volunteer has been tried)."""
    ended = []

    def chaos():
        try:
            for _ in range(cycles):
                fault()
        finally:
            ended.append(time.monotonic())

    t = threading.Thread(target=chaos)
    t.start()
    try:
        return load(base, w, lambda: bool(ended) and time.monotonic() > ended[0] + 1.0)
    finally:
        t.join()


def rows(own_pg, w):
    out = own_pg.sql(f"SELECT volunteer_id, id FROM attendances WHERE event_id = {w.event} AND voided_at IS NULL")
    by_volunteer = {}
    for line in out.split():
        v, a = map(int, line.split("|"))
        by_volunteer.setdefault(v, []).append(a)
    return by_volunteer


def check_and_converge(own_pg, server_base, w, results, dead_allowed):
    statuses = [r[0] for r in results.values()]
    assert statuses.count(201) > 0, "no check-in succeeded under the load"
    unexpected = {s for s in statuses if s not in (201, 503) and not (s is None and dead_allowed)}
    assert not unexpected, f"answers other than 201 and 503 under the load: {unexpected}"
    assert all(ra for s, _, ra in results.values() if s == 503), "a 503 without Retry-After"

    before = rows(own_pg, w)
    assert set(before) <= set(w.ids), "rows for volunteers no client asked for"
    assert all(len(a) == 1 for a in before.values()), "a volunteer with two open attendances"
    lost = [i for i, (s, body, _) in results.items() if s == 201 and w.ids[i] not in before]
    assert not lost, f"{len(lost)} check-ins answered 201 and missing from the database"
    for i, (s, body, _) in results.items():
        if s == 201:
            assert body["id"] == before[w.ids[i]][0], "a 201 naming another attendance"

    # Indeterminate outcomes, and volunteers no client reached: retry until a definite answer.
    pending = [i for i in range(VOLUNTEERS) if results.get(i, (None,))[0] != 201]
    landed_unanswered = [i for i in pending if w.ids[i] in before]

    def settle(i):
        s = requests.Session()
        for _ in range(40):
            status, body, _ = check_in(server_base, s, w, i)
            if status == 201:
                return i, status, body
            if status == 409 and not w.keys[i]:
                return i, status, body
            assert status in (503, None), f"retry of volunteer {i}: {status} {body}"
            time.sleep(0.25)
        raise AssertionError(f"volunteer {i} did not converge")

    with cf.ThreadPoolExecutor(CLIENTS) as ex:
        settled = list(ex.map(settle, pending))
    after = rows(own_pg, w)
    assert sorted(after) == sorted(w.ids), "after the retries, not every volunteer has a row"
    assert all(len(a) == 1 for a in after.values()), "a retry made a second row"
    for i, status, body in settled:
        if w.ids[i] in before:  # it had landed without an answer
            if w.keys[i]:
                assert status == 201 and body["id"] == before[w.ids[i]][0], "the key's replay differs"
            else:
                assert status == 409, f"a landed check-in retried without a key: {status}"
        else:
            assert status == 201, f"a check-in that had not landed, retried: {status}"
    keys = [k for k in w.keys if k]
    stuck = own_pg.sql("SELECT count(*) FROM idempotency_keys WHERE status IS NULL AND key IN ("
                       + ",".join(helpers.sql_str(k) for k in keys) + ")").strip()
    assert stuck == "0", f"{stuck} keys left in flight"
    assert own_pg.sql("SELECT count(*) FROM idempotency_keys WHERE key IN ("
                      + ",".join(helpers.sql_str(k) for k in keys) + ")").strip() == str(len(keys))
    print(f"chaos: {statuses.count(201)} answered 201, {statuses.count(503)} 503, "
          f"{statuses.count(None)} unanswered, {VOLUNTEERS - len(results)} not tried; "
          f"{len(landed_unanswered)} had landed without a 201; {len(pending)} retried")
    return len(landed_unanswered)


def test_postgres_crashes_under_load_and_no_acknowledged_check_in_is_lost(own_pg, make_server):
    """R39: PostgreSQL killed (immediate stop) three times under the load, and started again."""
    srv = make_server(own_pg.url(), tls=False, workers=2)
    srv.migrate()
    w = make_world(own_pg)
    srv.start()
    workers = srv.workers()

    def crash_postgres():
        time.sleep(1.5)
        own_pg.stop("immediate")
        time.sleep(1.5)
        own_pg.start()

    results = under_chaos(base_of(srv), w, crash_postgres, cycles=3)
    assert 503 in {r[0] for r in results.values()}, "the crashes did not meet the load"
    assert None not in {r[0] for r in results.values()}, "the server left a request unanswered"
    assert wait_until(lambda: srv.get("/readyz").status_code == 200, 20), "no recovery"
    check_and_converge(own_pg, base_of(srv), w, results, dead_allowed=False)
    assert srv.proc.poll() is None and srv.workers() == workers, "a server process died"


def test_the_server_is_killed_under_load_and_no_acknowledged_check_in_is_lost(own_pg, make_server):
    """R40: the whole server (the master and its workers) killed with SIGKILL twice under the
    load and started again on the same ports, PostgreSQL untouched."""
    srv = make_server(own_pg.url(), tls=False, workers=2)
    srv.migrate()
    w = make_world(own_pg)
    srv.start()

    def kill_server():
        time.sleep(1.5)
        srv.kill()
        time.sleep(0.5)
        srv.start()

    results = under_chaos(base_of(srv), w, kill_server, cycles=2)
    assert None in {r[0] for r in results.values()}, "the kills did not meet the load"
    check_and_converge(own_pg, base_of(srv), w, results, dead_allowed=True)


def test_a_check_in_whose_connection_dies_in_flight_is_never_a_2xx(own_pg, make_server):
    """R34: the backend running a check-in's batch is terminated while the batch waits (on a
    lock held here); the client gets 503, nothing is written, and the same key then succeeds."""
    srv = make_server(own_pg.url(), tls=False, workers=1)
    srv.migrate()
    w = make_world(own_pg)
    srv.start()
    conn = own_pg.connect()
    try:
        cur = conn.cursor()
        cur.execute("LOCK TABLE audit_log IN SHARE MODE")  # the batch's audit INSERT waits
        with cf.ThreadPoolExecutor(1) as ex:
            fut = ex.submit(check_in, base_of(srv), requests.Session(), w, 0)
            assert wait_until(lambda: own_pg.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'volunteerd'"
                " AND wait_event_type = 'Lock'").strip() == "1", 10), "the batch did not wait"
            own_pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                       " WHERE application_name = 'volunteerd' AND wait_event_type = 'Lock'")
            status, body, retry_after = fut.result(timeout=TIMEOUT)
        assert status == 503 and retry_after, (status, body)
    finally:
        conn.rollback()
        conn.close()
    assert rows(own_pg, w) == {}
    assert own_pg.sql(f"SELECT count(*) FROM idempotency_keys WHERE key = {helpers.sql_str(w.keys[0])}").strip() == "0"
    s, got = requests.Session(), []
    assert wait_until(lambda: got.append(check_in(base_of(srv), s, w, 0)) or got[-1][0] != 503, 10)
    assert got[-1][0] == 201, got[-1]
    assert list(rows(own_pg, w)) == [w.ids[0]]
