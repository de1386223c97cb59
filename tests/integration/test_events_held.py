"""The monthly reports' `events` is the events held (DESIGN §4, sql/0034_events_held.sql): those
started by now (starts_at <= now()) and not cancelled, in the month of their local start.  The
clock cannot move, so the events are placed relative to now: inside the current month before
and after now (yesterday and tomorrow when those are in this month, else halfway to the month's
start or end), in the month before and in the month after.  The expected counts are computed
here from that plan and compared with every output: the area and team reports, a team leader's
view, CSV, XLSX and /admin."""
import csv
import datetime as dt
import io
import re
import secrets

import pytest

import conftest
from apiclient import Api, make_staff, make_unit
from test_reports import TZ, iso, month_of, report
from test_staff_pages import Browser, check_page

MARGIN = dt.timedelta(minutes=10)  # room wanted in the month on each side of now


class World:
    pass


class Event:
    def __init__(self, h, unit, team, start, end, cancel=False):
        start, end = start.replace(microsecond=0), end.replace(microsecond=0)
        act = h.admin.ok("POST", "/activities", {
            "team_id": team, "org_unit_id": unit, "title": "场次", "category": "环境", "location": "路口",
            "capacity": 10, "starts_at": iso(start), "ends_at": iso(end)}, want=201)
        self.id = h.admin.ok("GET", f"/activities/{act['id']}/events")["items"][0]["id"]
        self.unit, self.team, self.start, self.cancelled = unit, team, start, False
        if cancel:
            self.cancel(h.admin)

    def cancel(self, api, status="cancelled"):
        api.ok("PATCH", f"/events/{self.id}", {"status": status})
        self.cancelled = status == "cancelled"


def month_bounds(now):
    """The first moments of this month and of the next, local time."""
    first = now.replace(day=1, hour=0, minute=0, second=0)
    return first, (first + dt.timedelta(days=32)).replace(day=1)


def before_and_after(now):
    """A start in this month before now (yesterday if that is in it) and one after (tomorrow if
    that is in it), or a skip when the month has no room on one side."""
    first, nxt = month_bounds(now)
    if now - first < MARGIN or nxt - now < MARGIN:
        pytest.skip("within 10 minutes of a month's start or end: no room in the month for an event "
                    "that has started and one still to come")
    past = now - dt.timedelta(days=1) if now - dt.timedelta(days=1) >= first else first + (now - first) / 2
    future = now + dt.timedelta(days=1) if now + dt.timedelta(days=1) < nxt else now + (nxt - now) / 2
    return past.replace(microsecond=0), future.replace(microsecond=0)


@pytest.fixture(scope="module")
def h(server, pg):
    """District D: S0 (C0, G0 below it) and S1; T0 owned in S0, T1 in S1.  This month: an event
    that started and ended, one under way, one of D's own (all held), one under way that was
    cancelled, one to come and one to come that was cancelled.  Last month two events and one
    cancelled; next month one."""
    x = World()
    x.pg = pg
    x.admin = a = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    x.tag = tag = secrets.token_hex(3)
    x.now = now = dt.datetime.now(TZ).replace(microsecond=0)
    past, future = before_and_after(now)
    first, nxt = month_bounds(now)
    prev = (first - dt.timedelta(days=1)).replace(day=1)
    x.this, x.last, x.next = month_of(now), month_of(prev), month_of(nxt)

    x.parent = {}

    def unit(parent, kind, code, name):
        u = make_unit(a, parent, kind, f"{code}-{tag}", name)
        x.parent[u] = parent
        return u

    x.D = unit(None, "district", "HD", "场次区")
    x.S0, x.S1 = unit(x.D, "subdistrict", "HS0", "甲街道"), unit(x.D, "subdistrict", "HS1", "乙街道")
    x.C0 = unit(x.S0, "community", "HC0", "一社区")
    x.G0 = unit(x.C0, "grid", "HG0", "一网格")
    x.T0 = a.ok("POST", "/teams", {"name": f"甲队{tag}", "org_unit_id": x.S0}, want=201)["id"]
    x.T1 = a.ok("POST", "/teams", {"name": f"乙队{tag}", "org_unit_id": x.S1}, want=201)["id"]

    hour = dt.timedelta(hours=1)
    x.events = [
        Event(x, x.G0, x.T0, past, past + min(2 * hour, (now - past) / 2)),  # started and ended
        Event(x, x.S1, x.T1, past, now + 2 * hour),                          # under way
        Event(x, x.D, x.T0, past, past + min(hour, (now - past) / 2)),      # D's own
        Event(x, x.G0, x.T1, past, now + 2 * hour, cancel=True),             # under way, cancelled
        Event(x, x.G0, x.T0, future, future + hour),                          # to come
        Event(x, x.S1, x.T1, future, future + hour, cancel=True),            # to come, cancelled
        Event(x, x.C0, x.T0, prev + 10 * hour, prev + 12 * hour),            # last month
        Event(x, x.S1, x.T1, prev + 10 * hour, prev + 12 * hour),
        Event(x, x.G0, x.T0, nxt + 10 * hour, nxt + 12 * hour),              # next month
    ]
    # Last month, cancelled before it took place.  PATCH refuses an event that has ended, so
    # that past is written in SQL, through the same trigger as the API's cancellation.
    gone = Event(x, x.S1, x.T0, prev + 14 * hour, prev + 16 * hour)
    pg.sql(f"UPDATE events SET status = 'cancelled' WHERE id = {gone.id}")
    gone.cancelled = True
    x.events.append(gone)
    x.lead0 = make_staff(a, f"hlead-{tag}", "Coord-pass-123", {"role": "coordinator", "team_id": x.T0})
    return x


def ancestors(h, u):
    while u is not None:
        yield u
        u = h.parent.get(u)


def expected(h, month, by, under):
    """From the plan: (events per row id, nonzero only; total; under's own).  Held: not
    cancelled and started by now.  under None: the whole tree (a team view)."""
    now = dt.datetime.now(TZ)
    kids = [u for u, p in h.parent.items() if p == under]
    rows, total, own = {}, 0, 0
    for e in h.events:
        anc = list(ancestors(h, e.unit))
        if e.cancelled or e.start > now or month_of(e.start) != month or (under and under not in anc):
            continue
        total += 1
        key = e.team if by == "team" else next((k for k in kids if k in anc), None)
        if key is None:
            own += 1
        else:
            rows[key] = rows.get(key, 0) + 1
    return rows, total, own


def check(h, month, by, under, dim="service"):
    rep = report(h.admin, month, by, dim, under)
    rows, total, own = expected(h, month, by, under)
    got = {r["id"]: r["events"] for r in rep["rows"]}
    assert {k: n for k, n in got.items() if n} == rows, (month, by, under, rep["rows"])
    assert rep["totals"]["events"] == total, (month, by, under, rep["totals"])
    if by == "org_unit":
        assert rep["totals"]["own"]["events"] == own
        assert sum(got.values()) + own == total
    else:
        assert sum(got.values()) == total
    return rep


def test_this_month_counts_the_events_started_and_not_cancelled(h):
    # yesterday's (ended), the one under way and D's own count; the cancelled and those to come do not
    assert check(h, h.this, "org_unit", h.D)["totals"]["events"] == 3
    assert {r["id"]: r["events"] for r in check(h, h.this, "team", h.D)["rows"]} == {h.T0: 2, h.T1: 1}
    for under in (h.S0, h.S1, h.C0, h.G0):
        for by in ("org_unit", "team"):
            check(h, h.this, by, under)
    check(h, h.this, "org_unit", h.D, dim="residence")  # events are where they happen, either way


def test_area_totals_add_up_as_team_totals(h):
    for month in (h.last, h.this, h.next):
        for under in (h.D, h.S0, h.S1):
            area, team = check(h, month, "org_unit", under), check(h, month, "team", under)
            assert area["totals"]["events"] == team["totals"]["events"]


def test_a_team_leaders_view_counts_the_same(h):
    """sql/0019's team view (report_monthly_teams) counts as the area reports do."""
    for month in (h.last, h.this, h.next):
        rep = report(h.lead0, month, "team")
        assert rep["scope"] == "teams" and [r["id"] for r in rep["rows"]] == [h.T0]
        rows, _, _ = expected(h, month, "team", None)
        assert rep["rows"][0]["events"] == rep["totals"]["events"] == rows.get(h.T0, 0)
        admin = {r["id"]: r for r in report(h.admin, month, "team", "service", h.D)["rows"]}
        assert rep["rows"][0]["events"] == admin.get(h.T0, {}).get("events", 0)


def test_last_month_counts_all_its_events_not_cancelled(h):
    rep = check(h, h.last, "org_unit", h.D)
    assert rep["totals"]["events"] == 2
    assert {r["id"]: r["events"] for r in check(h, h.last, "team", h.D)["rows"]} == {h.T0: 1, h.T1: 1}


def test_next_month_counts_none(h):
    for by in ("org_unit", "team"):
        assert check(h, h.next, by, h.D)["totals"]["events"] == 0
    # not for want of the event: 0012's rollup holds it, scheduled, for that month
    held = h.pg.sql(f"SELECT sum(events) FROM report_unit_counts WHERE month = '{h.next}-01'"
                    f" AND org_unit_id = {h.G0} AND team_id = {h.T0}")
    assert int(held) == 1


def test_exports_and_admin_page_agree_with_the_json(h, server):
    openpyxl = pytest.importorskip("openpyxl")
    b = Browser(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    for by in ("org_unit", "team"):
        rep = check(h, h.this, by, h.D)
        want = [r["events"] for r in rep["rows"]]
        q = f"/reports/monthly?month={h.this}&by={by}&under={h.D}"
        r = h.admin.req("GET", q + "&format=csv")
        assert r.status_code == 200
        lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
        col = lines[0].index("活动场次")
        assert [int(x[col]) for x in lines[1:-1]] == want and int(lines[-1][col]) == rep["totals"]["events"]
        r = h.admin.req("GET", q + "&format=xlsx")
        assert r.status_code == 200
        sheet = list(openpyxl.load_workbook(io.BytesIO(r.content), read_only=True).active.iter_rows(values_only=True))
        col = sheet[1].index("活动场次")
        assert [x[col] for x in sheet[2:-1]] == want and sheet[-1][col] == rep["totals"]["events"]
        html = check_page(b.get(f"/admin?month={h.this}&by={by}&under={h.D}"))
        table = html.split('<table id="units">', 1)[1].split("</table>", 1)[0]
        body, foot = table.split("<tfoot>")
        cells = lambda tr: re.findall(r'<td class="n">([^<]*)</td>', tr)  # volunteers, hours x2, events, new
        assert [int(cells(tr)[3]) for tr in re.findall(r"<tr data-label=.*?</tr>", body)] == want
        assert int(cells(foot)[3]) == rep["totals"]["events"] == 3


def test_a_started_event_cancelled_and_restored(server):
    """A coordinator may cancel an event until it ends, also once it has started: it is then
    not held, and restored before its end it counts again.  One that started last month and is
    cancelled now leaves last month's count."""
    a = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    x = World()
    x.admin, tag = a, secrets.token_hex(3)
    now = dt.datetime.now(TZ).replace(microsecond=0)
    past, _ = before_and_after(now)
    first, _ = month_bounds(now)
    d = make_unit(a, None, "district", f"RD-{tag}", "取消区")
    s = make_unit(a, d, "subdistrict", f"RS-{tag}", "取消街道")
    team = a.ok("POST", "/teams", {"name": f"取消队{tag}", "org_unit_id": s}, want=201)["id"]
    this, last = month_of(now), month_of(first - dt.timedelta(days=1))
    total = lambda month: report(a, month, "org_unit", "service", d)["totals"]["events"]

    ev = Event(x, s, team, past, now + dt.timedelta(hours=2))
    assert total(this) == 1
    ev.cancel(a)
    assert total(this) == 0 and report(a, this, "team", "service", d)["totals"]["events"] == 0
    ev.cancel(a, "scheduled")
    assert total(this) == 1

    start = first - dt.timedelta(hours=1)
    end = now + MARGIN
    if end - start > dt.timedelta(days=31):
        pytest.skip("an event from last month's last hour to now would last more than 31 days, "
                    "which an event may not")
    crossing = Event(x, s, team, start, end)
    assert total(last) == 1
    crossing.cancel(a)
    assert total(last) == 0 and total(this) == 1
