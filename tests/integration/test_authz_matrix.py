"""The generated authorization matrix (issue 4): every endpoint of the domain API x six actors
x {a target in the actor's own scope, a target in a neighbouring scope}, with the exact status
of each cell taken from ONE table below (EXPECT), written from the rules (DESIGN §2 and §4,
the decisions at the top of sql/0002..0006), not recorded from the server.

The world, built once over HTTP as the system administrator (unique codes: the database is
shared with other test files):

    D (district)                                  D2 (another district: adminD's "other")
    ├── S1 (subdistrict)     admin: adminS1        └── E (community), team Z, volunteer vE
    │   └── A (community)    coordinator: coordA
    │       team X (owned by A)   coordinator: coordX (a grant on the team)
    │       volunteer vA (home A, member of X): the `vol` actor's own record and login
    └── S2 (subdistrict)
        └── B (community), team Y (owned by B), volunteer vB (home B, member of Y)
    adminD: admin of D.

Each side (A, B, E) has a future event (sign-ups, PATCH) and a current one (check-ins,
hours: it started 3 h ago and ends in 3 h).  "own" is side A for every actor; "other" is side
B (the neighbouring subdistrict, community and team), and side E for the district admin.

The rules the table follows, in short:
  * anonymous: 401, except POST /session, DELETE /session (logging out is idempotent) and
    self-registration (POST /volunteers).
  * out of scope: 404 (existence not revealed); in scope, weaker role: 403; success: 2xx.
  * a volunteer's scope: their own records (volunteer, hours, attendances, entries, sign-ups),
    the home unit and member teams (read only, 0003), and the events and activities, which are
    public notices for every logged-in account (0005): staff-only actions on those are 403.
  * actions that an account can never do with the role it has anywhere are refused before the
    target is looked at (403 for any target, so nothing leaks): an account without a staff
    grant creating volunteers or activities or searching volunteers (0004, 0005); anyone but an
    admin creating accounts or reading the audit trail (0002).  Grants, org units and teams
    are judged by staff scope alone (0002/0003: the volunteer's read-only view of their home
    unit does not make it a scope to create in), so there a volunteer gets 404.
  * a team-scoped coordinator has no org-unit scope: org units are 404 to them (0003).
  * lists never 404: they answer 200 with the caller's visible rows; the cell says whether the
    target is "seen" or "hidden".  Events are public: the cell says whether the staff-only
    check-in code is shown ("code") or not ("public").  Bulk approval answers 200 with a result
    per id: the cell gives that result.

Writes that succeed change state, so every write cell makes its own fresh target in setup
(a fresh volunteer, attendance, entry, grant...) or writes an idempotent value.  A write that
is refused changes nothing: the cell compares a fingerprint of the domain tables taken just
before and just after the request (FINGERPRINTED, which says what is left out and why).
"""
import datetime as dt
import itertools
import secrets

import pytest
import requests

import conftest
from apiclient import Api

PW = "Matrix-pass-" + secrets.token_hex(4)
SH = dt.timezone(dt.timedelta(hours=8))
ACTORS = ("anon", "vol", "coordX", "coordA", "adminS1", "adminD")
OTHER_SIDE = {"anon": "B", "vol": "B", "coordX": "B", "coordA": "B", "adminS1": "B", "adminD": "E"}

SEEN, HIDDEN = "200 seen", "200 hidden"
CODE, PUBLIC = "200 code", "200 public"
OK_ITEM = "200 item approved"


def item(status):
    return f"200 item {status}"


# --------------------------------------------------------------------------------------------
# THE table: endpoint (method, path, variant), scope -> status per actor, in ACTORS order:
#                                                     anon  vol     coordX  coordA  adminS1 adminD
# "any": the endpoint has no target object (one cell per actor).
# --------------------------------------------------------------------------------------------
EXPECT = {
    # sessions
    ("POST /session", "any"):                         (201, 201, 201, 201, 201, 201),
    ("DELETE /session", "any"):                       (204, 204, 204, 204, 204, 204),
    ("GET /me", "any"):                               (401, 200, 200, 200, 200, 200),
    # two-step verification (R19): anyone may start an enrollment of their own (201, left
    # unconfirmed); a code that is no code is 422; turning it off, with the right password,
    # is 409 while it is not on; re-authentication with the password is 200 (the default mode)
    ("POST /me/totp", "any"):                         (401, 201, 201, 201, 201, 201),
    ("POST /me/totp/confirm", "any"):                 (401, 422, 422, 422, 422, 422),
    ("DELETE /me/totp", "any"):                       (401, 409, 409, 409, 409, 409),
    ("POST /session/reauth", "any"):                  (401, 200, 200, 200, 200, 200),
    # one's own password and sessions (422: a new password too short, refused before the
    # current one is checked, so nothing changes and no failed log-in is counted)
    ("POST /me/password", "any"):                     (401, 422, 422, 422, 422, 422),
    ("GET /me/sessions", "any"):                      (401, 200, 200, 200, 200, 200),
    ("DELETE /me/sessions", "any"):                   (401, 200, 200, 200, 200, 200),
    ("GET /me/data", "any"):                          (401, 200, 200, 200, 200, 200),
    # erasing one's own data (422: no password given, refused before anything is looked up)
    ("POST /me/erase", "any"):                        (401, 422, 422, 422, 422, 422),
    # certificates of one's own record (422: a period that is no date, so nothing is issued)
    ("POST /me/certificates", "any"):                 (401, 422, 422, 422, 422, 422),
    ("GET /me/certificates", "any"):                  (401, 200, 200, 200, 200, 200),
    # the area tree (admin writes; reads by grant, plus a volunteer's home unit)
    ("POST /org-units", "own"):                       (401, 404, 404, 403, 201, 201),
    ("POST /org-units", "other"):                     (401, 404, 404, 404, 404, 404),
    ("GET /org-units", "own"):                        (401, SEEN, HIDDEN, SEEN, SEEN, SEEN),
    ("GET /org-units", "other"):                      (401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    ("GET /org-units/{id}", "own"):                   (401, 200, 404, 200, 200, 200),
    ("GET /org-units/{id}", "other"):                 (401, 404, 404, 404, 404, 404),
    ("PATCH /org-units/{id}", "own"):                 (401, 403, 404, 403, 200, 200),
    ("PATCH /org-units/{id}", "other"):               (401, 404, 404, 404, 404, 404),
    # teams and members
    ("POST /teams", "own"):                           (401, 404, 404, 201, 201, 201),
    ("POST /teams", "other"):                         (401, 404, 404, 404, 404, 404),
    ("GET /teams", "own"):                            (401, SEEN, SEEN, SEEN, SEEN, SEEN),
    ("GET /teams", "other"):                          (401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    ("GET /teams/{id}", "own"):                       (401, 200, 200, 200, 200, 200),
    ("GET /teams/{id}", "other"):                     (401, 404, 404, 404, 404, 404),
    ("PATCH /teams/{id}", "own"):                     (401, 403, 200, 200, 200, 200),
    ("PATCH /teams/{id}", "other"):                   (401, 404, 404, 404, 404, 404),
    ("POST /teams/{id}/members", "own"):              (401, 403, 201, 201, 201, 201),
    ("POST /teams/{id}/members", "other"):            (401, 404, 404, 404, 404, 404),
    ("DELETE /teams/{id}/members/{vid}", "own"):      (401, 403, 204, 204, 204, 204),
    ("DELETE /teams/{id}/members/{vid}", "other"):    (401, 404, 404, 404, 404, 404),
    # volunteers
    ("POST /volunteers", "own"):                      (201, 403, 404, 201, 201, 201),
    ("POST /volunteers", "other"):                    (201, 403, 404, 404, 404, 404),
    ("GET /volunteers", "own"):                       (401, 403, SEEN, SEEN, SEEN, SEEN),
    ("GET /volunteers", "other"):                     (401, 403, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    ("GET /volunteers/{id}", "own"):                  (401, 200, 200, 200, 200, 200),
    ("GET /volunteers/{id}", "other"):                (401, 404, 404, 404, 404, 404),
    ("PATCH /volunteers/{id}", "own"):                (401, 200, 200, 200, 200, 200),
    ("PATCH /volunteers/{id}", "other"):              (401, 404, 404, 404, 404, 404),
    ("PATCH /volunteers/{id} staff-field", "own"):    (401, 403, 200, 200, 200, 200),
    ("PATCH /volunteers/{id} staff-field", "other"):  (401, 404, 404, 404, 404, 404),
    # removing the ID number withdraws its consent (0027): the volunteer's own, as staff's
    ("PATCH /volunteers/{id} id_number null", "own"): (401, 200, 200, 200, 200, 200),
    ("PATCH /volunteers/{id} id_number null", "other"): (401, 404, 404, 404, 404, 404),
    # erasure of a volunteer's personal data: administrators only (a fresh member of the team)
    ("DELETE /volunteers/{id}", "own"):               (401, 404, 403, 403, 200, 200),
    ("DELETE /volunteers/{id}", "other"):             (401, 404, 404, 404, 404, 404),
    # a certificate for a volunteer, by staff over them (422 as above once allowed)
    ("POST /volunteers/{id}/certificates", "own"):    (401, 403, 422, 422, 422, 422),
    ("POST /volunteers/{id}/certificates", "other"):  (401, 404, 404, 404, 404, 404),
    # revoking one: administrators over the volunteer (a fresh volunteer, not in team X)
    ("POST /certificates/{id}/revoke", "own"):        (401, 404, 404, 403, 200, 200),
    ("POST /certificates/{id}/revoke", "other"):      (401, 404, 404, 404, 404, 404),
    ("GET /volunteers/{id}/hours", "own"):            (401, 200, 200, 200, 200, 200),
    ("GET /volunteers/{id}/hours", "other"):          (401, 404, 404, 404, 404, 404),
    # accounts, roles, audit
    ("POST /accounts staff", "any"):                  (401, 403, 403, 403, 201, 201),
    ("POST /accounts volunteer", "own"):              (401, 403, 403, 403, 201, 201),
    ("POST /accounts volunteer", "other"):            (401, 403, 403, 403, 404, 404),
    ("POST /accounts/{id}/roles unit", "own"):        (401, 404, 404, 403, 201, 201),
    ("POST /accounts/{id}/roles unit", "other"):      (401, 404, 404, 404, 404, 404),
    ("POST /accounts/{id}/roles team", "own"):        (401, 404, 403, 403, 201, 201),
    ("POST /accounts/{id}/roles team", "other"):      (401, 404, 404, 404, 404, 404),
    ("DELETE /accounts/{id}/roles/{gid}", "own"):     (401, 404, 404, 403, 204, 204),
    ("DELETE /accounts/{id}/roles/{gid}", "other"):   (401, 404, 404, 404, 404, 404),
    # clearing another's TOTP: system administrators only (none of the actors is one: 404)
    ("DELETE /accounts/{id}/totp", "own"):            (401, 404, 404, 404, 404, 404),
    ("DELETE /accounts/{id}/totp", "other"):          (401, 404, 404, 404, 404, 404),
    ("GET /audit", "any"):                            (401, 403, 403, 403, 200, 200),
    ("GET /audit entity_id", "own"):                  (401, 403, 403, 403, 200, 200),
    ("GET /audit entity_id", "other"):                (401, 403, 403, 403, 404, 404),
    ("GET /audit entity", "own"):                     (401, 403, 403, 403, SEEN, SEEN),
    ("GET /audit entity", "other"):                   (401, 403, 403, 403, HIDDEN, HIDDEN),
    # activities and events (public notices; staff in scope see the check-in code)
    ("POST /activities", "own"):                      (401, 403, 201, 201, 201, 201),
    ("POST /activities", "other"):                    (401, 403, 404, 404, 404, 404),
    ("GET /activities/{id}", "own"):                  (401, 200, 200, 200, 200, 200),
    ("GET /activities/{id}", "other"):                (401, 200, 200, 200, 200, 200),
    # editing an activity: as PATCH /events/{id} (an idempotent value: the location it has)
    ("PATCH /activities/{id}", "own"):                (401, 403, 200, 200, 200, 200),
    ("PATCH /activities/{id}", "other"):              (401, 403, 404, 404, 404, 404),
    ("GET /activities/{id}/events", "own"):           (401, PUBLIC, CODE, CODE, CODE, CODE),
    ("GET /activities/{id}/events", "other"):         (401, PUBLIC, PUBLIC, PUBLIC, PUBLIC, PUBLIC),
    ("GET /events", "own"):                           (401, PUBLIC, CODE, CODE, CODE, CODE),
    ("GET /events", "other"):                         (401, PUBLIC, PUBLIC, PUBLIC, PUBLIC, PUBLIC),
    ("GET /events/{id}", "own"):                      (401, PUBLIC, CODE, CODE, CODE, CODE),
    ("GET /events/{id}", "other"):                    (401, PUBLIC, PUBLIC, PUBLIC, PUBLIC, PUBLIC),
    ("PATCH /events/{id}", "own"):                    (401, 403, 200, 200, 200, 200),
    ("PATCH /events/{id}", "other"):                  (401, 403, 404, 404, 404, 404),
    # sign-ups: "self" names no volunteer (staff accounts have no volunteer record: 422)
    ("POST /events/{id}/signups self", "own"):        (401, 201, 422, 422, 422, 422),
    ("POST /events/{id}/signups self", "other"):      (401, 201, 422, 422, 422, 422),
    ("POST /events/{id}/signups someone", "own"):     (401, 403, 201, 201, 201, 201),
    ("POST /events/{id}/signups someone", "other"):   (401, 403, 404, 404, 404, 404),
    # "vA": the sign-up of the volunteer actor's own record (theirs to cancel anywhere)
    ("DELETE /events/{id}/signups/{vid} vA", "own"):      (401, 204, 204, 204, 204, 204),
    ("DELETE /events/{id}/signups/{vid} vA", "other"):    (401, 204, 404, 404, 404, 404),
    ("DELETE /events/{id}/signups/{vid} someone", "own"):   (401, 403, 204, 204, 204, 204),
    ("DELETE /events/{id}/signups/{vid} someone", "other"): (401, 403, 404, 404, 404, 404),
    # check-in/out: "self" with the event's code; "someone" by volunteer_id (roster)
    ("POST /events/{id}/check-ins self", "own"):      (401, 201, 422, 422, 422, 422),
    ("POST /events/{id}/check-ins self", "other"):    (401, 201, 422, 422, 422, 422),
    ("POST /events/{id}/check-ins someone", "own"):   (401, 403, 201, 201, 201, 201),
    ("POST /events/{id}/check-ins someone", "other"): (401, 403, 404, 404, 404, 404),
    ("POST /events/{id}/check-outs self", "own"):     (401, 200, 422, 422, 422, 422),
    ("POST /events/{id}/check-outs self", "other"):   (401, 200, 422, 422, 422, 422),
    ("POST /events/{id}/check-outs someone", "own"):  (401, 403, 200, 200, 200, 200),
    ("POST /events/{id}/check-outs someone", "other"): (401, 403, 404, 404, 404, 404),
    ("GET /events/{id}/attendance", "own"):           (401, 403, 200, 200, 200, 200),
    ("GET /events/{id}/attendance", "other"):         (401, 403, 404, 404, 404, 404),
    # corrections and approvals: the volunteer's own attendance/entry for `vol` (own: 403),
    # someone else's in the other scope (404); a fresh one for staff
    ("PATCH /attendance/{id}", "own"):                (401, 403, 200, 200, 200, 200),
    ("PATCH /attendance/{id}", "other"):              (401, 404, 404, 404, 404, 404),
    ("POST /hours self", "own"):                      (401, 201, 422, 422, 422, 422),
    ("POST /hours self", "other"):                    (401, 201, 422, 422, 422, 422),
    ("POST /hours backfill", "own"):                  (401, 403, 201, 201, 201, 201),
    ("POST /hours backfill", "other"):                (401, 403, 404, 404, 404, 404),
    ("POST /hours/{id}/approve", "own"):              (401, 403, 200, 200, 200, 200),
    ("POST /hours/{id}/approve", "other"):            (401, 404, 404, 404, 404, 404),
    ("POST /hours/{id}/reject", "own"):               (401, 403, 200, 200, 200, 200),
    ("POST /hours/{id}/reject", "other"):             (401, 404, 404, 404, 404, 404),
    ("POST /hours/approve", "own"):                   (401, item(403), OK_ITEM, OK_ITEM, OK_ITEM, OK_ITEM),
    ("POST /hours/approve", "other"):                 (401, item(404), item(404), item(404), item(404), item(404)),
    # correction requests (0009): only a volunteer, only about their own record
    ("POST /correction-requests", "own"):             (401, 201, 403, 403, 403, 403),
    ("POST /correction-requests", "other"):           (401, 404, 403, 403, 403, 403),
    # hour policies (0022): the target is owned by the side's community; staff see the policies
    # on their grants' branch of the tree, an admin over the owner changes them
    ("GET /hour-policies", "own"):                    (401, 403, SEEN, SEEN, SEEN, SEEN),
    ("GET /hour-policies", "other"):                  (401, 403, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    ("POST /hour-policies", "own"):                   (401, 403, 404, 403, 201, 201),
    ("POST /hour-policies", "other"):                 (401, 403, 404, 404, 404, 404),
    ("GET /hour-policies/{id}", "own"):               (401, 403, 200, 200, 200, 200),
    ("GET /hour-policies/{id}", "other"):             (401, 403, 404, 404, 404, 404),
    ("PATCH /hour-policies/{id}", "own"):             (401, 403, 403, 403, 200, 200),
    ("PATCH /hour-policies/{id}", "other"):           (401, 403, 404, 404, 404, 404),
    # reports under the side's unit (0007, 0019): by team, a team's coordinator gets the teams
    # of theirs owned under it; by area and party members hold other teams' figures, so they
    # are 403 to an account whose grants are all on teams, whatever the unit; the per-volunteer
    # report names the side's team; closing a month is for administrators
    ("GET /reports/monthly by=team", "own"):          (401, 403, 200, 200, 200, 200),
    ("GET /reports/monthly by=team", "other"):        (401, 403, 404, 404, 404, 404),
    ("GET /reports/monthly by=org_unit", "own"):      (401, 403, 403, 200, 200, 200),
    ("GET /reports/monthly by=org_unit", "other"):    (401, 403, 403, 404, 404, 404),
    ("GET /reports/volunteers", "own"):               (401, 403, 200, 200, 200, 200),
    ("GET /reports/volunteers", "other"):             (401, 403, 404, 404, 404, 404),
    ("GET /reports/party-members", "own"):            (401, 403, 403, 200, 200, 200),
    ("GET /reports/party-members", "other"):          (401, 403, 403, 404, 404, 404),
    ("POST /reports/monthly/{month}/close", "own"):   (401, 403, 403, 403, 201, 201),
    ("POST /reports/monthly/{month}/close", "other"): (401, 403, 403, 403, 404, 404),
    # their resolution (0020): staff over the request's event, as approving its hours; the
    # list shows a volunteer their own and staff the requests of their events
    ("GET /correction-requests", "own"):              (401, SEEN, SEEN, SEEN, SEEN, SEEN),
    ("GET /correction-requests", "other"):            (401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    ("POST /correction-requests/{id}/resolve", "own"): (401, 403, 200, 200, 200, 200),
    ("POST /correction-requests/{id}/resolve", "other"): (401, 404, 404, 404, 404, 404),
}


def cases():
    for (endpoint, scope), row in EXPECT.items():
        assert len(row) == len(ACTORS), endpoint
        for actor, want in zip(ACTORS, row):
            yield pytest.param(endpoint, actor, scope, want, id=f"{actor}-{scope}-{endpoint}")


# --------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------

def now():
    return dt.datetime.now(SH).replace(microsecond=0)


def iso(t):
    return t.isoformat()


def phone():
    return "13" + "".join(secrets.choice("0123456789") for _ in range(9))


class World:
    pass


@pytest.fixture(scope="module")
def w(server):
    x = World()
    x.sfx = secrets.token_hex(4)
    x.server = server
    sa = x.sa = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    x.slice = itertools.count(1)  # distinct minutes of the volunteer actor's self-reports

    def unit(parent, kind, name):
        return sa.ok("POST", "/org-units", {"parent_id": parent, "kind": kind,
                                            "code": f"mx-{name}-{x.sfx}", "name": name}, want=201)["id"]

    x.D = unit(None, "district", "D")
    x.S1 = unit(x.D, "subdistrict", "S1")
    x.S2 = unit(x.D, "subdistrict", "S2")
    x.D2 = unit(None, "district", "D2")
    x.side = {}
    for s, parent in (("A", x.S1), ("B", x.S2), ("E", x.D2)):
        d = x.side[s] = {"parent": parent}
        d["unit"] = unit(parent, "community", s)
        d["team"] = sa.ok("POST", "/teams", {"name": f"队{s}", "org_unit_id": d["unit"]}, want=201)["id"]
        body = {"name": f"志愿者{s}", "phone": phone(), "org_unit_id": d["unit"]}
        if s == "A":
            body["password"] = PW
        v = sa.ok("POST", "/volunteers", body, want=201)
        d["vol"], d["vol_no"], d["vol_phone"] = v["id"], v["volunteer_no"], v["phone"]
        sa.ok("POST", f"/teams/{d['team']}/members", {"volunteer_id": d["vol"]}, want=201)
        start = now() + dt.timedelta(days=2)
        d["fact"] = sa.ok("POST", "/activities", {
            "team_id": d["team"], "org_unit_id": d["unit"], "title": f"未来{s}", "category": "交通",
            "location": "路口", "capacity": 1000, "starts_at": iso(start),
            "ends_at": iso(start + dt.timedelta(hours=2))}, want=201)["id"]
        d["fev"] = sa.ok("GET", f"/activities/{d['fact']}/events")["items"][0]["id"]
        start = now() - dt.timedelta(hours=3)
        d["cstart"] = start
        cact = sa.ok("POST", "/activities", {
            "team_id": d["team"], "org_unit_id": d["unit"], "title": f"当前{s}", "category": "环境",
            "location": "社区", "capacity": 1000, "starts_at": iso(start),
            "ends_at": iso(start + dt.timedelta(hours=6))}, want=201)["id"]
        d["cev"] = sa.ok("GET", f"/activities/{cact}/events")["items"][0]["id"]
        d["policy"] = sa.ok("POST", "/hour-policies", {"name": f"mx-{s}-{x.sfx}", "org_unit_id": d["unit"]},
                            want=201)["id"]
    # X, Y, Z are the sides' teams; the volunteer actor is vA
    x.X = x.side["A"]["team"]
    x.vA = x.side["A"]["vol"]

    def staff(name, grant):
        login = f"mx-{name}-{x.sfx}"
        acc = sa.ok("POST", "/accounts", {"login": login, "password": PW}, want=201)
        sa.ok("POST", f"/accounts/{acc['id']}/roles", grant, want=201)
        return login

    x.logins = {
        "vol": x.side["A"]["vol_phone"],
        "coordX": staff("coordX", {"role": "coordinator", "team_id": x.X}),
        "coordA": staff("coordA", {"role": "coordinator", "org_unit_id": x.side["A"]["unit"]}),
        "adminS1": staff("adminS1", {"role": "admin", "org_unit_id": x.S1}),
        "adminD": staff("adminD", {"role": "admin", "org_unit_id": x.D}),
    }
    x.api = {"anon": Api(server)}
    for k, login in x.logins.items():
        x.api[k] = Api(server, login, PW)
    # a staff account without grants, to receive grants in the role cells
    x.grantee = sa.ok("POST", "/accounts", {"login": f"mx-grantee-{x.sfx}", "password": PW}, want=201)["id"]

    # fixed records of vA (the volunteer actor) and of vB: an attendance and a pending entry
    for s in ("A", "B"):
        d = x.side[s]
        sa.ok("POST", f"/events/{d['cev']}/check-ins", {"volunteer_id": d["vol"]}, want=201)
        d["att"] = sa.ok("POST", f"/events/{d['cev']}/check-outs", {"volunteer_id": d["vol"]}, want=200)["id"]
        d["pending"] = report_hours(x, s, d["vol"], sa)["id"]
    return x


def report_hours(w, side, volunteer, api=None, want=201):
    """A pending entry of `volunteer` at the side's current event, in minutes of its own."""
    d = w.side[side]
    k = next(w.slice)
    start = d["cstart"] + dt.timedelta(minutes=2 * k)
    body = {"event_id": d["cev"], "started_at": iso(start), "ended_at": iso(start + dt.timedelta(minutes=1)),
            "reason": "忘记签到"}
    if volunteer is not None:
        body["volunteer_id"] = volunteer
    return (api or w.sa).ok("POST", "/hours", body, want=want)


def fresh_volunteer(w, side):
    return w.sa.ok("POST", "/volunteers", {"name": "新志愿者", "phone": phone(),
                                           "org_unit_id": w.side[side]["unit"]}, want=201)["id"]


def fresh_attendance(w, side):
    d, v = w.side[side], fresh_volunteer(w, side)
    w.sa.ok("POST", f"/events/{d['cev']}/check-ins", {"volunteer_id": v}, want=201)
    return w.sa.ok("POST", f"/events/{d['cev']}/check-outs", {"volunteer_id": v}, want=200)


def fresh_entry(w, side):
    """A fresh volunteer's backfilled 30 minutes at the side's current event: (volunteer, entry)."""
    d, v = w.side[side], fresh_volunteer(w, side)
    start = d["cstart"] + dt.timedelta(minutes=5)
    return v, w.sa.ok("POST", "/hours", {"volunteer_id": v, "event_id": d["cev"], "started_at": iso(start),
                                         "ended_at": iso(start + dt.timedelta(minutes=30)),
                                         "reason": "补录"}, want=201)


def fresh_pending(w, side):
    return fresh_entry(w, side)[1]["id"]


def code_of(w, event):
    return w.sa.ok("GET", f"/events/{event}")["checkin_code"]


def ensure_vA_out(w):
    """Check the volunteer actor out wherever they are still checked in (409 when not)."""
    for s in ("A", "B", "E"):
        w.sa.req("POST", f"/events/{w.side[s]['cev']}/check-outs", {"volunteer_id": w.vA})


# --------------------------------------------------------------------------------------------
# Each endpoint: setup(w, actor, side) -> (method, path, body, probe or None, teardown or None)
# A probe turns a 200 answer into the cell's finer value (seen/hidden, code/public, item).
# --------------------------------------------------------------------------------------------

def seen_in(target, key="id"):
    def probe(body):
        return SEEN if any(i.get(key) == target for i in body["items"]) else HIDDEN
    return probe


def event_code_probe(target):
    def probe(body):
        items = body["items"] if "items" in body else [body]
        ev = [i for i in items if i["id"] == target]
        if not ev:
            return "200 missing"
        return CODE if "checkin_code" in ev[0] else PUBLIC
    return probe


def s_session_post(w, actor, side):
    # a log-in rotates the caller's session: logged-in actors use a throwaway one
    login = w.logins.get(actor, w.logins["vol"])
    body = {"login": login, "password": PW}
    if actor == "anon":
        return "POST", "/session", body, None, None
    return "POST", "/session", body, None, None, Api(w.server, login, PW)


def s_session_delete(w, actor, side):
    if actor == "anon":
        return "DELETE", "/session", None, None, None
    fresh = Api(w.server, w.logins[actor], PW)
    return "DELETE", "/session", None, None, None, fresh


def s_me(w, actor, side):
    return "GET", "/me", None, None, None


def s_totp_enroll(w, actor, side):
    return "POST", "/me/totp", None, None, None


def s_totp_confirm(w, actor, side):
    if actor != "anon":
        w.api[actor].ok("POST", "/me/totp", want=201)
    return "POST", "/me/totp/confirm", {"code": "wrong"}, None, None


def s_totp_disable(w, actor, side):
    return "DELETE", "/me/totp", {"current_password": PW, "code": "123456"}, None, None


def s_reauth(w, actor, side):
    return "POST", "/session/reauth", {"password": PW}, None, None


def s_totp_clear(w, actor, side):
    return "DELETE", f"/accounts/{w.grantee}/totp", None, None, None


def s_password(w, actor, side):
    return "POST", "/me/password", {"current_password": PW, "new_password": "short"}, None, None


def s_my_sessions(w, actor, side):
    return "GET", "/me/sessions", None, None, None


def s_my_data(w, actor, side):
    return "GET", "/me/data", None, None, None


def s_my_sessions_end(w, actor, side):
    # it ends the table's own session of the actor too, which then logs in again
    if actor == "anon":
        return "DELETE", "/me/sessions", None, None, None

    def teardown(resp):
        w.api[actor] = Api(w.server, w.logins[actor], PW)
    return "DELETE", "/me/sessions", None, None, teardown, Api(w.server, w.logins[actor], PW)


def s_my_erase(w, actor, side):
    return "POST", "/me/erase", {"current_password": ""}, None, None


def s_my_cert_create(w, actor, side):
    return "POST", "/me/certificates", {"from": "2026-02-30"}, None, None


def s_my_certs(w, actor, side):
    return "GET", "/me/certificates", None, None, None


def s_ou_create(w, actor, side):
    return "POST", "/org-units", {"parent_id": w.side[side]["unit"], "kind": "grid",
                                  "code": f"mx-g-{secrets.token_hex(5)}", "name": "网格"}, None, None


def s_ou_list(w, actor, side):
    d = w.side[side]
    return "GET", f"/org-units?parent_id={d['parent']}&limit=500", None, seen_in(d["unit"]), None


def s_ou_get(w, actor, side):
    return "GET", f"/org-units/{w.side[side]['unit']}", None, None, None


def s_ou_patch(w, actor, side):
    return "PATCH", f"/org-units/{w.side[side]['unit']}", {"name": f"社区{side}"}, None, None


def s_team_create(w, actor, side):
    return "POST", "/teams", {"name": "新队", "org_unit_id": w.side[side]["unit"]}, None, None


def s_team_list(w, actor, side):
    d = w.side[side]
    return "GET", f"/teams?org_unit_id={d['unit']}&limit=500", None, seen_in(d["team"]), None


def s_team_get(w, actor, side):
    return "GET", f"/teams/{w.side[side]['team']}", None, None, None


def s_team_patch(w, actor, side):
    return "PATCH", f"/teams/{w.side[side]['team']}", {"name": f"队{side}"}, None, None


def s_member_add(w, actor, side):
    v = fresh_volunteer(w, side)
    return "POST", f"/teams/{w.side[side]['team']}/members", {"volunteer_id": v, "role": "member"}, None, None


def s_member_remove(w, actor, side):
    d, v = w.side[side], fresh_volunteer(w, side)
    w.sa.ok("POST", f"/teams/{d['team']}/members", {"volunteer_id": v}, want=201)
    return "DELETE", f"/teams/{d['team']}/members/{v}", None, None, None


def s_vol_create(w, actor, side):
    return "POST", "/volunteers", {"name": "登记", "phone": phone(), "org_unit_id": w.side[side]["unit"]}, None, None


def s_vol_list(w, actor, side):
    d = w.side[side]
    return "GET", f"/volunteers?q={d['vol_no']}", None, seen_in(d["vol"]), None


def s_vol_get(w, actor, side):
    return "GET", f"/volunteers/{w.side[side]['vol']}", None, None, None


def s_vol_patch(w, actor, side):
    return "PATCH", f"/volunteers/{w.side[side]['vol']}", {"work_unit": "区文明办"}, None, None


def s_vol_patch_staff(w, actor, side):
    return "PATCH", f"/volunteers/{w.side[side]['vol']}", {"status": "active"}, None, None


def s_vol_id_withdraw(w, actor, side):
    return "PATCH", f"/volunteers/{w.side[side]['vol']}", {"id_number": None}, None, None


def s_vol_erase(w, actor, side):
    d, v = w.side[side], fresh_volunteer(w, side)
    w.sa.ok("POST", f"/teams/{d['team']}/members", {"volunteer_id": v}, want=201)
    return "DELETE", f"/volunteers/{v}", None, None, None


def s_vol_cert(w, actor, side):
    return "POST", f"/volunteers/{w.side[side]['vol']}/certificates", {"to": "yesterday"}, None, None


def s_cert_revoke(w, actor, side):
    # a certificate of a fresh volunteer's 30 approved minutes, issued by the system admin
    v, entry = fresh_entry(w, side)
    if entry["status"] == "pending":
        w.sa.ok("POST", f"/hours/{entry['id']}/approve", {})
    cert = w.sa.ok("POST", f"/volunteers/{v}/certificates", {}, want=201)
    return "POST", f"/certificates/{cert['id']}/revoke", {"reason": "记录有误"}, None, None


def s_vol_hours(w, actor, side):
    return "GET", f"/volunteers/{w.side[side]['vol']}/hours", None, None, None


def s_acc_staff(w, actor, side):
    return "POST", "/accounts", {"login": f"mx-s-{secrets.token_hex(5)}", "password": PW}, None, None


def s_acc_vol(w, actor, side):
    v = fresh_volunteer(w, side)
    return "POST", "/accounts", {"login": f"mx-v-{secrets.token_hex(5)}", "password": PW,
                                 "volunteer_id": v}, None, None


def _grant_teardown(w, resp):
    if resp.status_code == 201:
        w.sa.ok("DELETE", f"/accounts/{w.grantee}/roles/{resp.json()['id']}", want=204)


def s_role_unit(w, actor, side):
    return ("POST", f"/accounts/{w.grantee}/roles", {"role": "coordinator", "org_unit_id": w.side[side]["unit"]},
            None, lambda resp: _grant_teardown(w, resp))


def s_role_team(w, actor, side):
    return ("POST", f"/accounts/{w.grantee}/roles", {"role": "coordinator", "team_id": w.side[side]["team"]},
            None, lambda resp: _grant_teardown(w, resp))


def s_role_revoke(w, actor, side):
    g = w.sa.ok("POST", f"/accounts/{w.grantee}/roles",
                {"role": "coordinator", "org_unit_id": w.side[side]["unit"]}, want=201)["id"]

    def teardown(resp):
        if resp.status_code != 204:
            w.sa.ok("DELETE", f"/accounts/{w.grantee}/roles/{g}", want=204)
    return "DELETE", f"/accounts/{w.grantee}/roles/{g}", None, None, teardown


def s_audit(w, actor, side):
    return "GET", "/audit?limit=5", None, None, None


def s_audit_id(w, actor, side):
    return "GET", f"/audit?entity=org_unit&entity_id={w.side[side]['unit']}", None, None, None


def s_audit_entity(w, actor, side):
    # a fresh unit of the side: its create row is among the newest org-unit rows in scope
    u = w.sa.ok("POST", "/org-units", {"parent_id": w.side[side]["unit"], "kind": "grid",
                                       "code": f"mx-a-{secrets.token_hex(5)}", "name": "审计"}, want=201)["id"]
    return "GET", "/audit?entity=org_unit&limit=20", None, seen_in(u, "entity_id"), None


def s_act_create(w, actor, side):
    d, start = w.side[side], now() + dt.timedelta(days=3)
    return "POST", "/activities", {"team_id": d["team"], "org_unit_id": d["unit"], "title": "新活动",
                                   "category": "交通", "location": "路口", "capacity": 10,
                                   "starts_at": iso(start), "ends_at": iso(start + dt.timedelta(hours=1))}, None, None


def s_act_get(w, actor, side):
    return "GET", f"/activities/{w.side[side]['fact']}", None, None, None


def s_act_patch(w, actor, side):
    return "PATCH", f"/activities/{w.side[side]['fact']}", {"location": "路口"}, None, None


def s_act_events(w, actor, side):
    d = w.side[side]
    return "GET", f"/activities/{d['fact']}/events", None, event_code_probe(d["fev"]), None


def s_events_list(w, actor, side):
    d = w.side[side]
    return "GET", f"/events?team_id={d['team']}&limit=500", None, event_code_probe(d["fev"]), None


def s_event_get(w, actor, side):
    d = w.side[side]
    return "GET", f"/events/{d['fev']}", None, event_code_probe(d["fev"]), None


def s_event_patch(w, actor, side):
    return "PATCH", f"/events/{w.side[side]['fev']}", {"capacity": 1000}, None, None


def s_signup_self(w, actor, side):
    ev = w.side[side]["fev"]
    w.sa.req("DELETE", f"/events/{ev}/signups/{w.vA}")  # 204, or 404 when never signed up
    return "POST", f"/events/{ev}/signups", {}, None, None


def s_signup_someone(w, actor, side):
    return "POST", f"/events/{w.side[side]['fev']}/signups", {"volunteer_id": fresh_volunteer(w, side)}, None, None


def s_cancel_vA(w, actor, side):
    ev = w.side[side]["fev"]
    w.sa.ok("POST", f"/events/{ev}/signups", {"volunteer_id": w.vA}, want=(200, 201))
    return "DELETE", f"/events/{ev}/signups/{w.vA}", None, None, None


def s_cancel_someone(w, actor, side):
    ev, v = w.side[side]["fev"], fresh_volunteer(w, side)
    w.sa.ok("POST", f"/events/{ev}/signups", {"volunteer_id": v}, want=201)
    return "DELETE", f"/events/{ev}/signups/{v}", None, None, None


def s_checkin_self(w, actor, side):
    ensure_vA_out(w)
    ev = w.side[side]["cev"]
    return "POST", f"/events/{ev}/check-ins", {"code": code_of(w, ev)}, None, lambda resp: ensure_vA_out(w)


def s_checkin_someone(w, actor, side):
    ev = w.side[side]["cev"]
    return "POST", f"/events/{ev}/check-ins", {"volunteer_id": fresh_volunteer(w, side)}, None, None


def s_checkout_self(w, actor, side):
    ensure_vA_out(w)
    ev = w.side[side]["cev"]
    w.sa.ok("POST", f"/events/{ev}/check-ins", {"volunteer_id": w.vA}, want=201)
    return "POST", f"/events/{ev}/check-outs", {"code": code_of(w, ev)}, None, lambda resp: ensure_vA_out(w)


def s_checkout_someone(w, actor, side):
    ev, v = w.side[side]["cev"], fresh_volunteer(w, side)
    w.sa.ok("POST", f"/events/{ev}/check-ins", {"volunteer_id": v}, want=201)
    return "POST", f"/events/{ev}/check-outs", {"volunteer_id": v}, None, None


def s_roster(w, actor, side):
    return "GET", f"/events/{w.side[side]['cev']}/attendance", None, None, None


def s_correct(w, actor, side):
    if actor in ("anon", "vol"):  # the volunteer's own attendance (own), vB's (other)
        att = w.side[side]["att"]
        body = {"check_out_at": iso(now()), "reason": "改正"}
    else:
        a = fresh_attendance(w, side)
        att = a["id"]
        body = {"check_in_at": a["check_in_at"], "check_out_at": a["check_out_at"], "reason": "改正"}
    return "PATCH", f"/attendance/{att}", body, None, None


def s_hours_self(w, actor, side):
    d = w.side[side]
    k = next(w.slice)
    start = d["cstart"] + dt.timedelta(minutes=2 * k)
    return "POST", "/hours", {"event_id": d["cev"], "started_at": iso(start),
                              "ended_at": iso(start + dt.timedelta(minutes=1)), "reason": "自报"}, None, None


def s_hours_backfill(w, actor, side):
    d, v = w.side[side], fresh_volunteer(w, side)
    start = d["cstart"] + dt.timedelta(minutes=5)
    return "POST", "/hours", {"volunteer_id": v, "event_id": d["cev"], "started_at": iso(start),
                              "ended_at": iso(start + dt.timedelta(minutes=30)), "reason": "补录"}, None, None


def _entry(w, actor, side):
    # the volunteer actor's own pending entry (own) or vB's (other); a fresh one for staff
    if actor in ("anon", "vol"):
        return w.side[side]["pending"]
    return fresh_pending(w, side)


def s_approve(w, actor, side):
    return "POST", f"/hours/{_entry(w, actor, side)}/approve", None, None, None


def s_reject(w, actor, side):
    return "POST", f"/hours/{_entry(w, actor, side)}/reject", {"reason": "不符"}, None, None


def s_bulk(w, actor, side):
    e = _entry(w, actor, side)

    def probe(body):
        (res,) = body["results"]
        assert res["id"] == e
        if "error" in res:
            return item(res["error"]["status"])
        return item(res["status"])
    return "POST", "/hours/approve", {"ids": [e]}, probe, None


def s_correction_request(w, actor, side):
    # the volunteer actor's own entry (a fresh one: one open request per entry) or vB's;
    # staff hold no volunteer record, so any entry will do for them
    if actor == "vol" and side == "A":
        entry = report_hours(w, "A", w.side["A"]["vol"])["id"]
    else:
        entry = w.side["A" if side == "A" else "B"]["pending"]
    return "POST", "/correction-requests", {"entry_id": entry, "message": "时间不对"}, None, None


def s_policy_list(w, actor, side):
    return "GET", "/hour-policies?limit=500", None, seen_in(w.side[side]["policy"]), None


def s_policy_create(w, actor, side):
    return "POST", "/hour-policies", {"name": f"mx-p-{secrets.token_hex(5)}",
                                      "org_unit_id": w.side[side]["unit"]}, None, None


def s_policy_get(w, actor, side):
    return "GET", f"/hour-policies/{w.side[side]['policy']}", None, None, None


def s_policy_patch(w, actor, side):
    return "PATCH", f"/hour-policies/{w.side[side]['policy']}", {"min_credit_minutes": 0}, None, None


def _this_month():
    return now().strftime("%Y-%m")


def s_report_team(w, actor, side):
    return "GET", f"/reports/monthly?month={_this_month()}&by=team&under={w.side[side]['unit']}", None, None, None


def s_report_area(w, actor, side):
    return "GET", f"/reports/monthly?month={_this_month()}&by=org_unit&under={w.side[side]['unit']}", None, None, None


def s_report_volunteers(w, actor, side):
    d = w.side[side]
    return "GET", f"/reports/volunteers?month={_this_month()}&under={d['unit']}&team_id={d['team']}", None, None, None


def s_report_party(w, actor, side):
    return "GET", f"/reports/party-members?quarter=2026-Q1&under={w.side[side]['unit']}", None, None, None


def s_report_close(w, actor, side):
    # a month long past, one per actor, so that each administrator's close is a first
    month = {"adminS1": "2020-01", "adminD": "2020-02"}.get(actor, "2020-03")
    return "POST", f"/reports/monthly/{month}/close?under={w.side[side]['unit']}", None, None, None


def open_request(w, actor, side):
    """A fresh open correction request: the volunteer actor's own on side A (about a fresh
    self-report), else one of a fresh volunteer with a login on the side."""
    if actor in ("anon", "vol") and side == "A":
        entry = report_hours(w, "A", None, w.api["vol"])["id"]
        api = w.api["vol"]
    else:
        d = w.side[side]
        v = w.sa.ok("POST", "/volunteers", {"name": "报错者", "phone": phone(), "org_unit_id": d["unit"],
                                            "password": PW}, want=201)
        start = d["cstart"] + dt.timedelta(minutes=5)
        entry = w.sa.ok("POST", "/hours", {"volunteer_id": v["id"], "event_id": d["cev"],
                                           "started_at": iso(start), "ended_at": iso(start + dt.timedelta(minutes=30)),
                                           "reason": "补录"}, want=201)["id"]
        api = Api(w.server, v["phone"], PW)
    return api.ok("POST", "/correction-requests", {"entry_id": entry, "message": "时间不对"}, want=201)["id"]


def s_correction_list(w, actor, side):
    target = open_request(w, actor, side)
    return "GET", "/correction-requests?status=open&limit=500", None, seen_in(target), None


def s_correction_resolve(w, actor, side):
    target = open_request(w, actor, side)
    return "POST", f"/correction-requests/{target}/resolve", {"resolution": "declined", "note": "核实无误"}, \
        None, None


SETUP = {
    "POST /session": s_session_post,
    "POST /me/password": s_password,
    "GET /me/sessions": s_my_sessions,
    "DELETE /me/sessions": s_my_sessions_end,
    "GET /me/data": s_my_data,
    "POST /me/erase": s_my_erase,
    "POST /me/certificates": s_my_cert_create,
    "GET /me/certificates": s_my_certs,
    "DELETE /session": s_session_delete,
    "GET /me": s_me,
    "POST /me/totp": s_totp_enroll,
    "POST /me/totp/confirm": s_totp_confirm,
    "DELETE /me/totp": s_totp_disable,
    "POST /session/reauth": s_reauth,
    "DELETE /accounts/{id}/totp": s_totp_clear,
    "POST /org-units": s_ou_create,
    "GET /org-units": s_ou_list,
    "GET /org-units/{id}": s_ou_get,
    "PATCH /org-units/{id}": s_ou_patch,
    "POST /teams": s_team_create,
    "GET /teams": s_team_list,
    "GET /teams/{id}": s_team_get,
    "PATCH /teams/{id}": s_team_patch,
    "POST /teams/{id}/members": s_member_add,
    "DELETE /teams/{id}/members/{vid}": s_member_remove,
    "POST /volunteers": s_vol_create,
    "GET /volunteers": s_vol_list,
    "GET /volunteers/{id}": s_vol_get,
    "PATCH /volunteers/{id}": s_vol_patch,
    "PATCH /volunteers/{id} staff-field": s_vol_patch_staff,
    "PATCH /volunteers/{id} id_number null": s_vol_id_withdraw,
    "DELETE /volunteers/{id}": s_vol_erase,
    "POST /volunteers/{id}/certificates": s_vol_cert,
    "POST /certificates/{id}/revoke": s_cert_revoke,
    "GET /volunteers/{id}/hours": s_vol_hours,
    "POST /accounts staff": s_acc_staff,
    "POST /accounts volunteer": s_acc_vol,
    "POST /accounts/{id}/roles unit": s_role_unit,
    "POST /accounts/{id}/roles team": s_role_team,
    "DELETE /accounts/{id}/roles/{gid}": s_role_revoke,
    "GET /audit": s_audit,
    "GET /audit entity_id": s_audit_id,
    "GET /audit entity": s_audit_entity,
    "POST /activities": s_act_create,
    "GET /activities/{id}": s_act_get,
    "GET /activities/{id}/events": s_act_events,
    "GET /events": s_events_list,
    "GET /events/{id}": s_event_get,
    "PATCH /events/{id}": s_event_patch,
    "PATCH /activities/{id}": s_act_patch,
    "POST /events/{id}/signups self": s_signup_self,
    "POST /events/{id}/signups someone": s_signup_someone,
    "DELETE /events/{id}/signups/{vid} vA": s_cancel_vA,
    "DELETE /events/{id}/signups/{vid} someone": s_cancel_someone,
    "POST /events/{id}/check-ins self": s_checkin_self,
    "POST /events/{id}/check-ins someone": s_checkin_someone,
    "POST /events/{id}/check-outs self": s_checkout_self,
    "POST /events/{id}/check-outs someone": s_checkout_someone,
    "GET /events/{id}/attendance": s_roster,
    "PATCH /attendance/{id}": s_correct,
    "POST /hours self": s_hours_self,
    "POST /hours backfill": s_hours_backfill,
    "POST /hours/{id}/approve": s_approve,
    "POST /hours/{id}/reject": s_reject,
    "POST /hours/approve": s_bulk,
    "POST /correction-requests": s_correction_request,
    "GET /hour-policies": s_policy_list,
    "POST /hour-policies": s_policy_create,
    "GET /hour-policies/{id}": s_policy_get,
    "PATCH /hour-policies/{id}": s_policy_patch,
    "GET /reports/monthly by=team": s_report_team,
    "GET /reports/monthly by=org_unit": s_report_area,
    "GET /reports/volunteers": s_report_volunteers,
    "GET /reports/party-members": s_report_party,
    "POST /reports/monthly/{month}/close": s_report_close,
    "GET /correction-requests": s_correction_list,
    "POST /correction-requests/{id}/resolve": s_correction_resolve,
}


# --------------------------------------------------------------------------------------------
# A refused write changes nothing (R25): a fingerprint of the domain tables, taken just before
# and just after each write cell whose answer is a refusal, must be the same.
# --------------------------------------------------------------------------------------------

WRITES = ("POST", "PATCH", "PUT", "DELETE")

# The rows of the auto check-out's tables that it cannot touch during a cell: those of events
# ending after $1, the cutoff: ten minutes past the cell's start (every tick it closes the open
# attendances of events ended more than their policy's grace ago, which is never negative, and
# writes their entries, entry days and audit rows).  The world's events all end hours later.
LATER_EVENTS = "t.event_id IN (SELECT id FROM events WHERE ends_at > $1)"

# Each table's rows (as t) that a refused write must leave as they were.  Left out:
#   * sessions: every signed-in request moves its session's last_seen_at; the purge job deletes
#     dead ones;
#   * login_attempts, login_pair_attempts: the log-in throttle's counts (a failed log-in raises
#     them), purged by the job;
#   * report_unit_deltas, report_unit_totals, volunteer_totals, monthly_volunteer_totals,
#     report_adjustments: rollups that triggers derive from hour_entry_days (fingerprinted
#     below), which the auto check-out moves too and the compaction job folds every tick;
#   * schema_migrations: written by `migrate` alone.
# Refusals are not audited: audit rows are written in the transaction a refusal rolls back
# (failed log-ins are audited, but no cell fails a log-in), so audit_log is kept but for the
# auto check-out's rows.  The matrix sends no Idempotency-Key: no refused write may add one;
# the purge job deletes expired keys, so only those expiring after the cutoff are compared.
FINGERPRINTED = {
    "accounts": "accounts t",
    "account_totp": "account_totp t",
    "role_grants": "role_grants t",
    "org_units": "org_units t",
    "teams": "teams t",
    "team_members": "team_members t",
    "volunteers": "volunteers t",
    "volunteer_home_history": "volunteer_home_history t",
    "id_number_consents": "id_number_consents t",
    "hour_policies": "hour_policies t",
    "activities": "activities t",
    "events": "events t",
    "signups": "signups t",
    "attendances": "attendances t WHERE " + LATER_EVENTS,
    "hour_entries": "hour_entries t WHERE " + LATER_EVENTS,
    "hour_entry_days": "hour_entry_days t WHERE " + LATER_EVENTS,
    "correction_requests": "correction_requests t",
    "certificates": "certificates t",
    "month_closes": "month_closes t",
    "report_unit_counts": "report_unit_counts t",
    "audit_log": "audit_log t WHERE t.action <> 'auto_check_out'",
    "idempotency_keys": "idempotency_keys t WHERE t.expires_at > $1",
    "app_settings": "app_settings t",
    "star_schemes": "star_schemes t",
}

# One statement, so one snapshot of every table.  PostgreSQL never changes a row in place: an
# UPDATE of any column (even to the value it had) writes a new version, at a new ctid, whose
# xmin is the writing transaction's id, and an INSERT adds one; a DELETE lowers the count.  So
# each row's (xmin, ctid), in physical order, and the count witness every committed write;
# rows at rest keep both (freezing keeps the raw xmin; nothing here runs VACUUM FULL).  Cheaper
# than hashing the rows' text, which for audit_log's JSON was most of the cost.  Prepared once:
# planning the two dozen scans cost more than running them.
FINGERPRINT_SQL = "PREPARE fingerprint(timestamptz) AS " + " UNION ALL ".join(
    f"SELECT '{name}', count(*), md5(string_agg(t.xmin::text || t.ctid::text, ',' ORDER BY t.tableoid, t.ctid)) "
    f"FROM {rows}" for name, rows in FINGERPRINTED.items())


@pytest.fixture(scope="module")
def fingerprint(pg):
    """fingerprint(cutoff) -> {table: (rows, md5 of the rows' versions)}, on a connection of the
    test's own."""
    conn = pg.connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(FINGERPRINT_SQL)

    def take(cutoff):
        with conn.cursor() as cur:
            cur.execute("EXECUTE fingerprint(%s)", (cutoff,))
            return {name: (rows, digest) for name, rows, digest in cur.fetchall()}
    yield take
    conn.close()


def refused(want):
    """A refusal: a 4xx, or a bulk approval that refuses its one item."""
    if isinstance(want, int):
        return 400 <= want < 500
    return want.startswith("200 item 4")


def test_the_table_covers_every_route_of_the_domain_api(server):
    """Every /api/v1 route of the router (but the OpenAPI document) has rows in EXPECT for all
    actors, and every row has a setup."""
    assert set(SETUP) == {k for k, _ in EXPECT}
    spec = server.get("/api/v1/openapi.json").json()
    routes = {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops
              if m in ("get", "post", "patch", "put", "delete")}
    covered = set()
    for endpoint in SETUP:
        method, path = endpoint.split(" ")[:2]
        covered.add(f"{method} {path}")
    norm = {}
    for r in routes:
        m, p = r.split(" ", 1)
        if not p.startswith("/api/v1/") or p in ("/api/v1/openapi.json",):
            continue
        p = p[len("/api/v1"):]
        p = p.replace("{volunteer_id}", "{vid}").replace("{grant_id}", "{gid}")
        norm[f"{m} {p}"] = r
    missing = set(norm) - covered
    assert not missing, f"routes without matrix rows: {sorted(missing)}"


@pytest.mark.parametrize("endpoint,actor,scope,want", list(cases()))
def test_authz(w, fingerprint, endpoint, actor, scope, want):
    side = "A" if scope in ("own", "any") else OTHER_SIDE[actor]
    spec = SETUP[endpoint](w, actor, side)
    method, path, body, probe, teardown = spec[:5]
    api = spec[5] if len(spec) > 5 else w.api[actor]
    before = None
    if method in WRITES and refused(want):
        cutoff = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10)
        before = fingerprint(cutoff)
    try:
        resp = api.req(method, path, body)
    except requests.RequestException as e:  # pragma: no cover - reported as the cell's failure
        pytest.fail(f"{method} {path}: {e}")
    try:
        got = resp.status_code
        if got == 200 and probe is not None:
            got = probe(resp.json())
        assert got == want, (f"{actor} {scope}: {method} {path} {body or ''} -> {resp.status_code} "
                             f"{resp.text[:300]}")
        if isinstance(want, int) and want >= 400:
            assert resp.headers.get("Content-Type", "").startswith("application/problem+json")
        if before is not None:
            after = fingerprint(cutoff)
            changed = sorted(t for t in FINGERPRINTED if after[t] != before[t])
            assert not changed, f"{actor} {scope}: {method} {path} was refused but changed {changed}"
    finally:
        if teardown is not None:
            teardown(resp)
