"""The separate consent to keep an ID number (PIPL Art. 29; R44; sql/0027_consent.sql) and the
throttle of anonymous registrations per client address (server/h_volunteers.c).

* Self-registration with an ID number needs `consent_id_number: true` (422 naming it
  otherwise, API and /register alike); the consent is recorded (when, the notice's version,
  `self`).  Without an ID number nothing is asked or recorded.
* Staff who enter a number from a paper form are not asked: the record says `staff` and who.
* The volunteer sees the record on GET /me and /me, and withdraws it (PATCH with
  `id_number: null`, or the button on /me): the number goes, the record is closed, audited.
* Erasure closes it and leaves nothing personal in it; the default exports carry no ID number.
* Anonymous registrations from one address: VOLUNTEERD_REGISTER_TRIES per
  VOLUNTEERD_REGISTER_WINDOW, then 429 with Retry-After, counted across the workers; staff are
  not throttled.  (The shared server of conftest raises the limit; those tests have their own.)
"""
import datetime as dt
import json
import re
import secrets
import time
import types

import pytest
import requests

import conftest
from apiclient import Api, anonymous, make_staff, make_unit
from test_code_throttle import problem
from test_pages import Browser, check_page, token_of
from test_volunteers import random_id, random_phone

PW = "Consent-pass-" + secrets.token_hex(4)
SH = dt.timezone(dt.timedelta(hours=8))
NOTICE = "1"  # VOLUNTEERS_ID_CONSENT_NOTICE


@pytest.fixture(scope="module")
def w(server, pg):
    x = types.SimpleNamespace(server=server, pg=pg)
    sfx = secrets.token_hex(4)
    x.sa = sa = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    x.D = make_unit(sa, None, "district", f"cs-D-{sfx}", "同意区")
    x.A = make_unit(sa, x.D, "community", f"cs-A-{sfx}", "同意社区")
    x.admin = make_staff(sa, f"cs-admin-{sfx}", PW, {"role": "admin", "org_unit_id": x.D})
    x.coord = make_staff(sa, f"cs-coord-{sfx}", PW, {"role": "coordinator", "org_unit_id": x.A})
    return x


def body_of(w, **fields):
    b = {"name": "同意" + secrets.token_hex(2), "phone": random_phone(), "org_unit_id": w.A, "password": PW}
    b.update(fields)
    return b


def consents(w, vid):
    """The volunteer's consent records, oldest first, as the database holds them."""
    out = w.pg.sql(f"SELECT coalesce(json_agg(row_to_json(c) ORDER BY c.id), '[]') "
                   f"FROM id_number_consents c WHERE c.volunteer_id = {vid}")
    return json.loads(out)


def trail(w, vid):
    return [e["action"] for e in reversed(
        w.sa.ok("GET", f"/audit?entity=volunteer&entity_id={vid}&limit=100")["items"])]


def stored(w, vid):
    return w.pg.sql(f"SELECT num_nonnulls(id_number_enc, id_number_hmac, id_number_masked) "
                    f"FROM volunteers WHERE id = {vid}").strip()


# --- giving it ---------------------------------------------------------------------------------

def test_self_registration_with_an_id_number_needs_the_consent(w):
    anon = anonymous(w.server)
    for consent in (None, False):
        b = body_of(w, id_number=random_id())
        if consent is not None:
            b["consent_id_number"] = consent
        p = problem(anon.req("POST", "/volunteers", b), 422, "consent_id_number")
        assert "separate consent" in p["detail"] and b["id_number"] not in json.dumps(p)
        assert w.pg.sql(f"SELECT count(*) FROM volunteers WHERE phone = '{b['phone']}'").strip() == "0"
    problem(anon.req("POST", "/volunteers", body_of(w, id_number=random_id(), consent_id_number="yes")),
            422, "consent_id_number")

    before = dt.datetime.now(dt.timezone.utc)
    b = body_of(w, id_number=random_id(), consent_id_number=True)
    v = anon.ok("POST", "/volunteers", b, want=201)
    assert v["id_number"] == b["id_number"][:4] + "*" * 10 + b["id_number"][-4:]
    [c] = consents(w, v["id"])
    assert (c["method"], c["notice_version"], c["given_by"], c["withdrawn_at"]) == ("self", NOTICE, None, None)
    assert dt.datetime.fromisoformat(c["given_at"]) >= before - dt.timedelta(seconds=5)
    assert "id_consent_give" in trail(w, v["id"])
    me = Api(w.server, b["phone"], PW).ok("GET", "/me")
    assert me["id_number_consent"]["method"] == "self"
    assert me["id_number_consent"]["notice_version"] == NOTICE
    assert me["id_number_consent"]["withdrawn_at"] is None and me["id_number_consent"]["given_at"]
    data = Api(w.server, b["phone"], PW).ok("GET", "/me/data")
    assert [x["method"] for x in data["id_number_consents"]] == ["self"]


def test_no_id_number_no_consent_asked_or_recorded(w):
    anon = anonymous(w.server)
    for extra in ({}, {"consent_id_number": True}, {"consent_id_number": False}):
        b = body_of(w, **extra)
        v = anon.ok("POST", "/volunteers", b, want=201)
        assert v["id_number"] is None and consents(w, v["id"]) == []
        assert Api(w.server, b["phone"], PW).ok("GET", "/me")["id_number_consent"] is None


def test_staff_enter_a_number_from_a_paper_form(w):
    """As ../shared/contract/smoke.py does: an administrator posts id_number without any consent
    field; the record says staff attested it, and who."""
    v = w.admin.ok("POST", "/volunteers", body_of(w, id_number=random_id()), want=201)
    [c] = consents(w, v["id"])
    assert (c["method"], c["notice_version"], c["given_by"]) == ("staff", None, w.admin.account["id"])
    # a coordinator replaces the number: the old record is closed, the new one is theirs
    w.coord.ok("PATCH", f"/volunteers/{v['id']}", {"id_number": random_id()})
    old, new = consents(w, v["id"])
    assert old["withdrawn_how"] == "replaced" and old["withdrawn_by"] == w.coord.account["id"]
    assert (new["method"], new["given_by"], new["withdrawn_at"]) == ("staff", w.coord.account["id"], None)
    # and removes it: closed as withdrawn by staff
    w.coord.ok("PATCH", f"/volunteers/{v['id']}", {"id_number": None})
    assert consents(w, v["id"])[-1]["withdrawn_how"] == "staff" and stored(w, v["id"]) == "0"


# --- seeing and withdrawing it ------------------------------------------------------------------

def test_withdrawal_through_the_api_removes_the_number(w):
    b = body_of(w, id_number=random_id(), consent_id_number=True)
    v = anonymous(w.server).ok("POST", "/volunteers", b, want=201)
    me = Api(w.server, b["phone"], PW)
    # setting a number stays staff-only; removing one's own is allowed
    problem(me.req("PATCH", f"/volunteers/{v['id']}", {"id_number": random_id()}), 403, "id_number")
    problem(me.req("PATCH", f"/volunteers/{v['id']}", {"id_number": None, "phone": random_phone()}),
            403, "phone")
    assert stored(w, v["id"]) == "3"  # that refusal changed nothing
    got = me.ok("PATCH", f"/volunteers/{v['id']}", {"id_number": None})
    assert got["id_number"] is None and stored(w, v["id"]) == "0"
    [c] = consents(w, v["id"])
    assert (c["withdrawn_how"], c["withdrawn_by"]) == ("self", me.account["id"]) and c["withdrawn_at"]
    actions = trail(w, v["id"])
    assert actions[-2:] == ["update", "id_consent_withdraw"], actions
    entry = w.sa.ok("GET", f"/audit?entity=volunteer&entity_id={v['id']}&limit=1")["items"][0]
    assert entry["account_id"] == me.account["id"] and entry["new"]["withdrawn_how"] == "self"
    assert b["id_number"] not in json.dumps(w.sa.ok("GET", f"/audit?entity=volunteer&entity_id={v['id']}"))
    shown = me.ok("GET", "/me")["id_number_consent"]
    assert shown["withdrawn_at"] and shown["withdrawn_how"] == "self"
    # again: nothing left to remove, nothing written
    me.ok("PATCH", f"/volunteers/{v['id']}", {"id_number": None})
    assert trail(w, v["id"]) == actions
    # the number is free for a new registration
    anonymous(w.server).ok("POST", "/volunteers", body_of(w, id_number=b["id_number"], consent_id_number=True),
                           want=201)


def test_register_page_asks_separately_and_me_page_withdraws(w):
    b = Browser(w.server)
    html = check_page(b.get("/register"))
    box = re.search(r'<input id="f-consent_id_number"[^>]*>', html).group(0)
    assert 'type="checkbox"' in box and "checked" not in box and "required" not in box
    assert 'name="id_number"' in html and "全国志愿服务信息系统" in html and "选填" in html
    en = check_page(Browser(w.server).get("/register?lang=en"))  # (its cookie keeps English)
    assert "national volunteer registry" in en and "optional" in en
    idn, phone = random_id(), random_phone()
    form = {"name": "页面同意", "phone": phone, "password": PW, "org_unit_id": str(w.A), "id_number": idn}
    r = b.post("/register", dict(form, _t=token_of(html)))
    html = check_page(r, status=422)
    assert 'id="e-consent_id_number"' in html and 'aria-invalid="true"' in html
    assert w.pg.sql(f"SELECT count(*) FROM volunteers WHERE phone = '{phone}'").strip() == "0"
    r = b.post("/register", dict(form, _t=token_of(html), consent_id_number="1"))
    assert r.status_code == 303, r.text[:300]
    vid = int(w.pg.sql(f"SELECT id FROM volunteers WHERE phone = '{phone}'"))
    [c] = consents(w, vid)
    assert (c["method"], c["notice_version"]) == ("self", NOTICE)

    html = check_page(b.get("/me"))
    section = re.search(r'<section aria-labelledby="h-id" id="id-number">.*?</section>', html, re.S).group(0)
    assert idn[:4] + "*" * 10 + idn[-4:] in section and "您本人同意保存" in section
    assert 'value="withdraw_id"' in section and idn not in html
    r = b.post("/me", {"_t": token_of(section), "action": "withdraw_id", "x": "0"})
    assert r.status_code == 303 and r.headers["Location"] == "/me?done=id", r.text[:300]
    assert stored(w, vid) == "0" and consents(w, vid)[0]["withdrawn_how"] == "self"
    html = check_page(b.get("/me?done=id"))
    assert "已撤回同意，身份证号已删除。" in html
    section = re.search(r'id="id-number">.*?</section>', html, re.S).group(0)
    assert "您已撤回同意" in section and "withdraw_id" not in section and "*" not in section
    # a form token is needed
    assert b.post("/me", {"action": "withdraw_id", "x": "0"}).status_code == 403


# --- erasure and exports -------------------------------------------------------------------------

def served(w, vid):
    """Two approved hours for vid this month; the month."""
    start = dt.datetime.now(SH).replace(microsecond=0) - dt.timedelta(hours=3)
    team = w.sa.ok("POST", "/teams", {"name": "同意队" + secrets.token_hex(2), "org_unit_id": w.A}, want=201)["id"]
    act = w.coord.ok("POST", "/activities", {
        "team_id": team, "org_unit_id": w.A, "title": "文明劝导", "category": "文明",
        "location": "路口", "capacity": 10, "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(hours=6)).isoformat()}, want=201)
    ev = w.coord.ok("GET", f"/activities/{act['id']}/events")["items"][0]["id"]
    att = w.coord.ok("POST", f"/events/{ev}/check-ins", {"volunteer_id": vid}, want=201)
    w.pg.sql(f"UPDATE attendances SET check_in_at = now() - interval '2 hours' WHERE id = {att['id']}")
    out = w.coord.ok("POST", f"/events/{ev}/check-outs", {"volunteer_id": vid}, want=200)
    if out["entry"]["status"] == "pending":
        w.coord.ok("POST", f"/hours/{out['entry']['id']}/approve", {})
    return start.strftime("%Y-%m")


def test_default_exports_carry_no_id_number(w):
    b = body_of(w, id_number=random_id(), consent_id_number=True)
    v = anonymous(w.server).ok("POST", "/volunteers", b, want=201)
    month = served(w, v["id"])
    q = f"/reports/volunteers?month={month}&under={w.A}"
    rows = w.admin.ok("GET", q)["rows"]
    assert [r["volunteer_no"] for r in rows if r["id"] == v["id"]] == [v["volunteer_no"]]
    assert all("id_number" not in r for r in rows)
    csv = w.admin.req("GET", q + "&format=csv")
    assert csv.status_code == 200 and v["volunteer_no"] in csv.text
    header = csv.text.lstrip("\ufeff").splitlines()[0]
    assert "身份证" not in header and "证件" not in header, header
    for text in (csv.text, json.dumps(rows, ensure_ascii=False)):
        assert b["id_number"] not in text and v["id_number"] not in text


def test_erasure_keeps_the_times_and_nothing_personal(w):
    b = body_of(w, id_number=random_id(), consent_id_number=True)
    v = anonymous(w.server).ok("POST", "/volunteers", b, want=201)
    given = consents(w, v["id"])[0]["given_at"]
    w.admin.ok("DELETE", f"/volunteers/{v['id']}")
    [c] = consents(w, v["id"])
    assert c["given_at"] == given and c["withdrawn_at"] and c["withdrawn_how"] == "erased"
    assert c["withdrawn_by"] == w.admin.account["id"] and stored(w, v["id"]) == "0"
    # the record's columns are ids, times and words of the schema's own: none personal
    assert set(c) == {"id", "volunteer_id", "method", "notice_version", "given_at", "given_by",
                      "withdrawn_at", "withdrawn_how", "withdrawn_by"}
    text = json.dumps(c, ensure_ascii=False)
    for personal in (b["name"], b["phone"], b["id_number"], v["id_number"]):
        assert personal not in text
    # the trail's consent rows keep who and when, not where from
    assert w.pg.sql(f"SELECT count(*) FROM audit_log WHERE entity = 'volunteer' AND entity_id = {v['id']} "
                    f"AND action LIKE 'id_consent_%' AND ip IS NULL").strip() == "2"
    assert w.pg.sql(f"SELECT count(*) FROM audit_log WHERE entity = 'volunteer' AND entity_id = {v['id']} "
                    f"AND ip IS NOT NULL AND action <> 'erase'").strip() == "0"  # (the erasure: the admin's)


# --- the registration throttle ---------------------------------------------------------------------

TRIES = 4
WINDOW = 8


@pytest.fixture
def limited(make_server, fresh_db):
    """A server of its own (two workers) with a low registration limit, and a unit to join."""
    _, url = fresh_db()
    srv = make_server(url, tls=False, workers=2,
                      env={"VOLUNTEERD_REGISTER_TRIES": str(TRIES), "VOLUNTEERD_REGISTER_WINDOW": str(WINDOW)})
    srv.migrate()
    srv.create_admin("admin", PW)
    srv.start()
    admin = Api(srv, "admin", PW)
    unit = make_unit(admin, None, "district", "thr-d", "区")
    return srv, admin, unit


def register_once(srv, unit, **extra):
    """One anonymous registration on a connection of its own (any worker may take it); the answer
    and the worker that gave it (its index, from the generated request id)."""
    body = {"name": "限流", "phone": random_phone(), "org_unit_id": unit, "password": PW, **extra}
    r = requests.post(srv.url("/api/v1/volunteers"), json=body, timeout=10)
    return r, r.headers["X-Request-Id"].split("-")[1]


def test_throttle_429_after_the_limit_shared_by_the_workers(limited):
    srv, admin, unit = limited
    ok, refused = [], {}
    t0 = time.monotonic()
    for _ in range(60):  # until both workers have refused one
        r, worker = register_once(srv, unit)
        if r.status_code == 201:
            ok.append(worker)
            continue
        p = problem(r, 429)
        assert "too many registrations" in p["detail"], p
        refused[worker] = int(r.headers["Retry-After"])
        if len(refused) == 2:
            break
    assert len(ok) == TRIES, ok
    assert len(refused) == 2, f"one worker answered everything: {ok}, {refused}"
    # each worker refused though at least one of them had not registered TRIES itself
    assert min(ok.count(x) for x in refused) < TRIES
    assert all(1 <= s <= WINDOW for s in refused.values()), refused
    # the page says so in its language, with Retry-After
    b = Browser(srv)
    html = b.get("/register").text
    r = b.post("/register", {"_t": token_of(html), "name": "页面", "phone": random_phone(), "password": PW,
                             "org_unit_id": str(unit)})
    assert r.status_code == 429 and "此网络刚才注册的人数过多" in r.text, r.text[:300]
    assert 1 <= int(r.headers["Retry-After"]) <= WINDOW
    # staff registering people are not throttled
    for _ in range(2):
        admin.ok("POST", "/volunteers", {"name": "登记", "phone": random_phone(), "org_unit_id": unit,
                                         "password": PW, "id_number": random_id()}, want=201)
    # only the registrations let through were stored
    assert len(admin.ok("GET", f"/volunteers?org_unit_id={unit}&limit=500")["items"]) == TRIES + 2
    # after the window, registrations go through again
    time.sleep(max(0.0, WINDOW - (time.monotonic() - t0)) + 1.1)
    r, _ = register_once(srv, unit)
    assert r.status_code == 201, r.text[:300]


def test_invalid_bodies_are_not_counted(limited):
    """Refused before any hash or row (a 422), a registration does not use up the limit."""
    srv, _, unit = limited
    for _ in range(TRIES + 2):
        r, _ = register_once(srv, unit, id_number=random_id())  # no consent: 422
        problem(r, 422, "consent_id_number")
    for _ in range(TRIES):
        r, _ = register_once(srv, unit)
        assert r.status_code == 201, r.text[:300]
    r, _ = register_once(srv, unit)
    problem(r, 429)
