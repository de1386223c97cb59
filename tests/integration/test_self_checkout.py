"""A volunteer checks out of their own attendance without the event's code
(sql/0033_self_checkout.sql, server/h_attendance.c; DESIGN §4: check-ins are "self with the
event's code", check-outs "self, coordinator").

A self check-out (no volunteer_id, or one's own) needs no code, and a code sent along is not
looked at: a wrong or expired one is no refusal and is not counted by the wrong-code throttle,
which never refuses a check-out.  Unchanged: a self check-in needs the code; someone else's
check-out needs a coordinator of the event; the attendance keeps its check-in's method and
flags.  The single request and the group commit give the same answers, and the check-in page
checks out under a link whose rotating token has gone stale.  A check-out of an attendance
closed already says so (409, sql/0037), apart from one of a volunteer never checked in there.

The module runs its own server with ONE worker, so that concurrent requests meet in one group
commit (held on a lock as in test_checkin_set.py), and VOLUNTEERD_CODE_TRIES=3.  Two events are
open: `static` (a fixed code, CODE, compared in SQL) and `rotating` (the default policy: the
code and the poster's token rotate every 45 s and are checked by the server).
"""
import itertools
import re
import secrets

import pytest
import requests

import conftest
import helpers
from apiclient import Api
from test_attendance import checkin_key, code_of, safe_slot, token_of
from test_checkin_set import one_batch
from test_pages import Browser, check_page
from test_pages import token_of as form_token

TIMEOUT = 15
TRIES = 3
CODE = "246810"
WRONG = "135790"
VOLUNTEERS = 64


class World:
    pass


@pytest.fixture(scope="module")
def w(pg, workdir):
    # lock_timeout off: one_batch gathers a batch behind a table lock held longer than it
    srv = helpers.Server(pg.url(), workdir, tls=False, workers=1,
                         env={"VOLUNTEERD_CODE_TRIES": str(TRIES), "VOLUNTEERD_DB_LOCK_TIMEOUT_MS": "0"})
    conftest._track(srv.cleanup)
    try:
        srv.start()
        x = World()
        x.srv, x.pg, x.key = srv, pg, checkin_key(srv)
        tag = secrets.token_hex(4)
        x.unit, team = helpers.unit_with_team(pg, f"SO-{tag}", f"Self-out {tag}", "Self-out team")
        x.static = helpers.open_event(pg, team, f"self-out {tag}", "Fixed code post", CODE,
                                      started="30 minutes")
        x.rotating = int(pg.sql(f"""
            WITH ac AS (INSERT INTO activities (team_id, org_unit_id, title)
                        SELECT id, org_unit_id, 'Rotating code post' FROM teams WHERE id = {team}
                        RETURNING id)
            INSERT INTO events (activity_id, starts_at, ends_at)
            SELECT id, now() - interval '30 minutes', now() + interval '3 hours' FROM ac
            RETURNING id""").split()[0])
        tokens = ["so" + secrets.token_hex(21)[:41] for _ in range(VOLUNTEERS)]
        ids, _ = helpers.volunteers_with_sessions(pg, x.unit, tokens, f"so-{tag}", phone="158",
                                                  signup_event=x.static)
        pg.sql(f"""INSERT INTO signups (event_id, volunteer_id, status)
                   SELECT {x.rotating}, v, 'confirmed' FROM unnest(ARRAY{ids}::bigint[]) v""")
        x.people = iter(zip(tokens, ids))  # each test takes fresh volunteers
        x.coordinator = "so" + secrets.token_hex(21)[:41]
        helpers.coordinator_with_sessions(pg, x.unit, f"so-{tag}-co", [x.coordinator])
        other_unit, _ = helpers.unit_with_team(pg, f"SO-{tag}-b", f"Other {tag}", "Other team")
        x.outsider = "so" + secrets.token_hex(21)[:41]
        helpers.coordinator_with_sessions(pg, other_unit, f"so-{tag}-co-b", [x.outsider])
        yield x
    finally:
        srv.cleanup()


def people(w, n):
    """n fresh volunteers (token, volunteer id), signed up for both events."""
    return list(itertools.islice(w.people, n))


def post(w, path, token, body):
    with requests.Session() as s:
        return s.post(w.srv.url("/api/v1" + path), json=body,
                      headers={"Authorization": "Bearer " + token}, timeout=TIMEOUT)


def checkin(w, event, token, body):
    return lambda: post(w, f"/events/{event}/check-ins", token, body)


def checkout(w, event, token, body):
    return lambda: post(w, f"/events/{event}/check-outs", token, body)


def right_code(w, event):
    """The code that checks in now: the fixed one, or the current rotating code."""
    return CODE if event == w.static else code_of(w.key, event, safe_slot())


def on_post(w, event, token, ago="10 minutes 5 seconds"):
    """Checks in with the right code; the check-in is then moved `ago` into the past (None:
    left as it is, for a volunteer's later attendances, which may not overlap)."""
    r = checkin(w, event, token, {"code": right_code(w, event)})()
    assert r.status_code == 201, r.text
    if ago:
        w.pg.sql(f"UPDATE attendances SET check_in_at = now() - interval '{ago}' WHERE id = {r.json()['id']}")
    return r.json()


def problem(r, status, detail, field=None):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["detail"] == detail, body
    assert [e["field"] for e in body.get("errors", [])] == ([field] if field else []), body


def checked_out(r, volunteer, minutes=10):
    """A 200 check-out of `volunteer`, credited `minutes` (10: on_post's default): its recorded
    shape, to compare one check-out with another."""
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["volunteer_id"] == volunteer and a["check_out_at"] is not None, a
    assert a["credited_minutes"] == minutes and a["entry"]["minutes"] == minutes, a
    return (a["method"], a["flags"], a["entry"]["status"], a["entry"]["flags"])


NOT_IN = "not checked in at this event"
ALREADY_OUT = NOT_IN + ": already checked out at {}"  # the latest check-out there, HH:MI local
NOT_COORDINATOR = "only a coordinator of this event may do this"
CODE_REQUIRED = "the check-in code is required: scan the poster or ask the coordinator"
CODE_WRONG = "wrong or expired check-in code: scan the poster again"


def already_out(w, r, event, volunteer):
    """A 409 saying the volunteer's attendance at event was closed already, at the time of its
    latest check-out (local)."""
    at = w.pg.sql(f"""SELECT to_char(max(check_out_at) AT TIME ZONE 'Asia/Shanghai', 'HH24:MI')
                        FROM attendances WHERE event_id = {event} AND volunteer_id = {volunteer}""").strip()
    assert re.fullmatch(r"\d\d:\d\d", at), at
    problem(r, 409, ALREADY_OUT.format(at))


# --- the single request ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["static", "rotating"])
def test_self_checkout_needs_no_code_and_ignores_one_sent(w, kind):
    event = getattr(w, kind)
    other = w.static if event == w.rotating else w.rotating
    slot = safe_slot()
    bodies = {
        "no code": lambda vid: {},
        "own volunteer_id": lambda vid: {"volunteer_id": vid},
        "right code": lambda vid: {"code": right_code(w, event)},
        "wrong code": lambda vid: {"code": WRONG},
        "stale code": lambda vid: {"code": code_of(w.key, event, slot - 2)},
        "stale poster token": lambda vid: {"code": token_of(w.key, event, slot - 2)},
        "another event's token": lambda vid: {"code": token_of(w.key, other, slot)},
    }
    shapes = {}
    for (name, body), (token, vid) in zip(bodies.items(), people(w, len(bodies))):
        on_post(w, event, token)
        shapes[name] = checked_out(checkout(w, event, token, body(vid))(), vid)
        # and a second check-out is told that it was done
        already_out(w, checkout(w, event, token, body(vid))(), event, vid)
    # each recorded as a check-out with the right code is: the check-in's method and flags
    assert all(s == ("self", [], "approved", []) for s in shapes.values()), shapes


def test_a_check_out_with_nothing_open_says_why(w):
    """Never checked in at the event: "not checked in", as before.  Checked in and out already
    (a stale tab, a double tap): the same 409, which says so, with the time of the latest
    check-out there; to the volunteer, to a coordinator, and after a second round too."""
    [(token, vid)] = people(w, 1)
    problem(checkout(w, w.static, token, {})(), 409, NOT_IN)
    problem(checkout(w, w.static, w.coordinator, {"volunteer_id": vid})(), 409, NOT_IN)
    on_post(w, w.static, token)
    checked_out(checkout(w, w.static, token, {})(), vid)
    # the time named is the check-out's, not the refusal's
    w.pg.sql(f"""UPDATE attendances
                    SET check_in_at = check_in_at - interval '5 minutes',
                        check_out_at = check_out_at - interval '5 minutes',
                        credited = tstzrange(lower(credited) - interval '5 minutes',
                                             upper(credited) - interval '5 minutes')
                  WHERE event_id = {w.static} AND volunteer_id = {vid}""")
    already_out(w, checkout(w, w.static, token, {})(), w.static, vid)
    already_out(w, checkout(w, w.static, w.coordinator, {"volunteer_id": vid})(), w.static, vid)
    # at another event the volunteer never checked in at: still "not checked in"
    problem(checkout(w, w.rotating, token, {})(), 409, NOT_IN)
    # in and out again: the latest check-out is the one named
    on_post(w, w.static, token, ago=None)
    checked_out(checkout(w, w.static, token, {})(), vid, minutes=0)
    already_out(w, checkout(w, w.static, token, {})(), w.static, vid)


def test_attendance_actor_is_gone_and_nothing_calls_it(w):
    """0013 replaced attendance_actor with attendance_who; 0037 dropped it.  A plpgsql body
    naming it would fail only when run, so no function may name it."""
    assert w.pg.sql("SELECT to_regproc('attendance_actor') IS NULL").strip() == "t"
    assert w.pg.sql("""SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p
                        JOIN pg_namespace n ON n.oid = p.pronamespace
                       WHERE n.nspname IN ('public', 'api') AND strpos(p.prosrc, 'attendance_actor') > 0""").strip() == ""


def test_self_checkin_still_needs_the_code(w):
    [(token, vid)] = people(w, 1)
    for event in (w.static, w.rotating):
        problem(checkin(w, event, token, {})(), 403, CODE_REQUIRED, "code")
        problem(checkin(w, event, token, {"volunteer_id": vid})(), 403, CODE_REQUIRED, "code")
        problem(checkin(w, event, token, {"code": WRONG})(), 403, CODE_WRONG, "code")
    assert w.pg.sql(f"SELECT count(*) FROM attendances WHERE volunteer_id = {vid}").strip() == "0"


def test_wrong_codes_on_check_outs_are_not_counted_and_never_throttled(w):
    [(token, vid)] = people(w, 1)
    # More than TRIES check-outs with a wrong code, on both events (a static code would be
    # found wrong by the database, a rotating one by the server): every one goes through.
    for i in range(TRIES + 1):
        event = (w.static, w.rotating)[i % 2]
        on_post(w, event, token, ago=None)
        checked_out(checkout(w, event, token, {"code": WRONG})(), vid, minutes=0)
    # none was counted: the right code still checks in
    on_post(w, w.static, token, ago=None)
    # The throttle is live on this server: TRIES wrong check-in codes block the account's
    # check-ins with a code ...
    for _ in range(TRIES):
        problem(checkin(w, w.rotating, token, {"code": WRONG})(), 403, CODE_WRONG, "code")
    r = checkin(w, w.rotating, token, {"code": right_code(w, w.rotating)})()
    assert r.status_code == 429 and r.headers.get("Retry-After"), r.text
    # ... but not their check-outs, with a code or without
    checked_out(checkout(w, w.static, token, {"code": WRONG})(), vid, minutes=0)
    a = checkin(w, w.rotating, w.coordinator, {"volunteer_id": vid})()  # by roster, no code
    assert a.status_code == 201, a.text
    assert checked_out(checkout(w, w.rotating, token, {"code": CODE})(), vid, minutes=0)[0] == "roster"


def test_someone_elses_check_out_still_needs_a_coordinator(w):
    [(a, _), (b, vb)] = people(w, 2)
    on_post(w, w.static, a)
    on_post(w, w.static, b)
    problem(checkout(w, w.static, a, {"volunteer_id": vb})(), 403, NOT_COORDINATOR)
    problem(checkout(w, w.static, a, {"volunteer_id": vb, "code": CODE})(), 403, NOT_COORDINATOR)
    assert w.pg.sql(f"""SELECT count(*) FROM attendances WHERE volunteer_id = {vb}
                         AND check_out_at IS NULL""").strip() == "1"
    checked_out(checkout(w, w.static, b, {})(), vb)


def test_coordinator_check_outs_unchanged(w):
    [(t1, v1), (t2, v2), (t3, v3)] = people(w, 3)
    for t in (t1, t2, t3):
        on_post(w, w.rotating, t)
    assert checked_out(checkout(w, w.rotating, w.coordinator, {"volunteer_id": v1})(), v1) == \
        ("self", [], "approved", [])
    # a code beside a volunteer_id was never looked at
    checked_out(checkout(w, w.rotating, w.coordinator, {"volunteer_id": v2, "code": WRONG})(), v2)
    # a coordinator of another unit does not see the event; an account without a volunteer
    # record must name the volunteer
    problem(checkout(w, w.rotating, w.outsider, {"volunteer_id": v3})(), 404, "event not found")
    problem(checkout(w, w.rotating, w.coordinator, {})(), 422,
            "this account has no volunteer record: name the volunteer", "volunteer_id")


# --- the group commit ----------------------------------------------------------------------------

def cases(w, lead):
    """Requests, by name, each with what it needs done first (on post or not); `lead` gives
    each its own volunteers.  Returns {name: request}."""
    slot = safe_slot()
    (t1, _), (t2, v2), (t3, _), (t4, _), (t5, _), (t6, _), (t7, v7), (t8, v8), (t9, _), (t10, v10) = lead
    for t in (t1, t2, t3, t7, t8, t10):
        on_post(w, w.static, t)
    on_post(w, w.rotating, t4)
    checked_out(checkout(w, w.static, t10, {})(), v10)
    return {
        "self, no code": checkout(w, w.static, t1, {}),
        "self, own volunteer_id": checkout(w, w.static, t2, {"volunteer_id": v2}),
        "self, wrong code": checkout(w, w.static, t3, {"code": WRONG}),
        "self, stale token": checkout(w, w.rotating, t4, {"code": token_of(w.key, w.rotating, slot - 2)}),
        "self, not on post": checkout(w, w.static, t5, {}),
        "self, checked out already": checkout(w, w.static, t10, {}),
        "self check-in, no code": checkin(w, w.static, t6, {}),
        "another volunteer's": checkout(w, w.static, t9, {"volunteer_id": v7}),
        "coordinator": checkout(w, w.static, w.coordinator, {"volunteer_id": v8}),
    }


def outcome(r):
    """What a request's answer says, but for ids and times."""
    if r.status_code >= 400:
        body = r.json()
        detail = re.sub(r"\d\d:\d\d$", "HH:MI", body["detail"])
        return r.status_code, detail, [e["field"] for e in body.get("errors", [])]
    a = r.json()
    return r.status_code, a["method"], a["flags"], a["credited_minutes"], a["entry"]["status"], a["entry"]["flags"]


def test_the_group_commit_answers_as_the_single_request(w):
    alone = {name: outcome(f()) for name, f in cases(w, people(w, 10)).items()}
    assert alone["self, no code"] == (200, "self", [], 10, "approved", []), alone
    assert alone["self, not on post"] == (409, NOT_IN, []), alone
    assert alone["self, checked out already"] == (409, ALREADY_OUT.format("HH:MI"), []), alone
    assert alone["self check-in, no code"] == (403, CODE_REQUIRED, ["code"]), alone
    assert alone["another volunteer's"] == (403, NOT_COORDINATOR, []), alone

    batch = cases(w, people(w, 10))
    pilots = [checkin(w, w.static, t, {"code": CODE}) for t, _ in people(w, 2)]
    [answers] = one_batch(w.pg, pilots, [list(batch.values())])
    together = {name: outcome(r) for name, r in zip(batch, answers)}
    assert together == alone
    # the check-outs were one transaction: they share its now()
    ids = ",".join(str(r.json()["id"]) for r in answers if r.status_code == 200)
    assert w.pg.sql(f"SELECT count(*), count(DISTINCT check_out_at) FROM attendances WHERE id IN ({ids})"
                    ).strip() == "5|1"


# --- the check-in page ---------------------------------------------------------------------------

def page_volunteer(w):
    """A self-registered volunteer (its login is its phone), signed up for both events, and a
    Browser logged in as it through the check-in page's own form, checked in at `rotating`."""
    phone = "159" + "".join(secrets.choice("0123456789") for _ in range(8))
    password = "Self-out-pass-123"
    v = Api(w.srv).ok("POST", "/volunteers", {"name": "签退", "phone": phone, "org_unit_id": w.unit,
                                              "password": password}, want=201)
    w.pg.sql(f"""INSERT INTO signups (event_id, volunteer_id, status)
                 VALUES ({w.static}, {v['id']}, 'confirmed'), ({w.rotating}, {v['id']}, 'confirmed')""")
    b = Browser(w.srv)
    current = "/checkin/" + token_of(w.key, w.rotating, safe_slot())
    html = check_page(b.get(current))
    r = b.post(current, {"_t": form_token(html), "action": "checkin", "phone": phone, "password": password})
    assert r.status_code == 303, r.text[:300]
    return b, v["id"]


def test_the_check_in_page_checks_out_under_a_stale_rotating_link(w):
    b, vid = page_volunteer(w)
    stale = "/checkin/" + token_of(w.key, w.rotating, safe_slot() - 2)
    html = check_page(b.get(stale))
    # checked in, and the check-out form asks for no code
    assert "已签到" in html and 'name="action" value="checkout"' in html, html
    assert 'name="code"' not in html, html
    # a check-in posted with a wrong code meanwhile (another tab): its error is shown, though
    # this form has no code field to show it beside
    r = b.post(stale, {"_t": form_token(html), "action": "checkin", "code": WRONG})
    html = check_page(r, status=403)
    assert 'role="alert"' in html and "签到码错误或已过期" in html, html
    r = b.post(stale, {"_t": form_token(html), "action": "checkout"})
    assert r.status_code == 303 and r.headers["Location"] == stale + "?done=out", (r.status_code, r.text[:300])
    html = check_page(b.get(r.headers["Location"]))
    assert "签退成功" in html and "已签退" in html, html
    assert w.pg.sql(f"""SELECT method, check_out_at IS NOT NULL FROM attendances
                         WHERE volunteer_id = {vid} AND event_id = {w.rotating}""").split()[0] == "self|t"


def test_the_event_id_link_checks_out_without_the_code(w):
    """/checkin/{event id} (a fixed code's poster) asks for the code to check in, not to check
    out; a code posted anyway is not looked at."""
    b, vid = page_volunteer(w)
    html = check_page(b.get(f"/checkin/{w.static}"))
    assert 'name="action" value="checkin"' in html and 'name="code"' in html  # not on post here
    html = check_page(b.get(f"/checkin/{w.rotating}"))
    assert 'name="action" value="checkout"' in html and 'name="code"' not in html, html
    r = b.post(f"/checkin/{w.rotating}", {"_t": form_token(html), "action": "checkout", "code": WRONG})
    assert r.status_code == 303, r.text[:300]
    assert w.pg.sql(f"""SELECT count(*) FROM attendances WHERE volunteer_id = {vid}
                         AND check_out_at IS NOT NULL""").strip() == "1"
