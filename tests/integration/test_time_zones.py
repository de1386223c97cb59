"""R47: hours are computed in the database from the server's clock, in the deployment's zone.

Each test runs a server of its own on a fresh database of the session cluster.  Attendances in
the past are made as test_attendance.py makes them: a roster check-in and check-out now, then
a coordinator's correction (PATCH /attendance) to the past times, so that the ledger is always
written by the server.  Only the event row is moved with SQL (the API makes no event that has
already ended), never the ledger.

The expectations are written here from DESIGN §3, not read from the server: rule 2 credits the
real time between check-in and check-out (instants, so a DST night counts what the clock
really ran), rule 8 splits it at local midnight and counts months as local calendar months.
"""
import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from apiclient import Api

PW = "Tz-test-pass-123"
SHANGHAI, BERLIN = ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin")
HOUR = dt.timedelta(hours=1)


def iso(t):
    return t.isoformat()


def instant(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


class World:
    pass


def world(make_server, fresh_db, pg, env, db_time_zone=None):
    """A started server (env added to its environment) on a fresh database (its `timezone`
    set to db_time_zone first, if given), with an admin, a district D with communities A and B,
    a team of each and two volunteers of each community (inserted with SQL)."""
    w = World()
    w.pg = pg
    w.db, url = fresh_db()
    if db_time_zone:
        pg.sql(f"ALTER DATABASE {w.db} SET timezone = '{db_time_zone}'", db="postgres")
    w.srv = make_server(url, tls=False, workers=1, env=env)
    if "VOLUNTEERD_TZ" not in env:
        del w.srv.env["VOLUNTEERD_TZ"]  # the binary's own default, not the helper's
    w.srv.migrate()
    w.srv.create_admin("admin", PW)
    w.srv.start()
    w.admin = Api(w.srv, "admin", PW)

    def unit(parent, kind, code, name):
        return w.admin.ok("POST", "/org-units", {"parent_id": parent, "kind": kind, "code": code, "name": name},
                          want=201)["id"]

    w.d = unit(None, "district", "tz-d", "时区区")
    w.a, w.b = unit(w.d, "community", "tz-a", "甲社区"), unit(w.d, "community", "tz-b", "乙社区")
    w.team = {u: w.admin.ok("POST", "/teams", {"name": f"队{u}", "org_unit_id": u}, want=201)["id"]
              for u in (w.a, w.b)}
    w.vols = {u: [int(pg.sql(f"INSERT INTO volunteers (name, phone, org_unit_id) VALUES "
                             f"('时区志愿者{u}-{i}', '1360000{u:02d}{i:02d}', {u}) RETURNING id",
                             db=w.db).split()[0]) for i in range(2)]
              for u in (w.a, w.b)}
    return w


def live_event(w, unit, vid):
    """An event of its own in unit, from 10 minutes ago to an hour from now, with vid signed up."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    act = w.admin.ok("POST", "/activities", {"team_id": w.team[unit], "org_unit_id": unit, "title": "夜间值守",
                                             "starts_at": iso(now - dt.timedelta(minutes=10)),
                                             "ends_at": iso(now + HOUR)}, want=201)
    ev = w.admin.ok("GET", f"/activities/{act['id']}/events")["items"][0]
    w.admin.ok("POST", f"/events/{ev['id']}/signups", {"volunteer_id": vid}, want=(200, 201))
    return ev["id"]


def past_attendance(w, unit, vid, start, end):
    """vid's attendance from start to end at an event of its own in unit (see the module
    comment), the correcting entry approved; returns the entry."""
    ev = live_event(w, unit, vid)
    a = w.admin.ok("POST", f"/events/{ev}/check-ins", {"volunteer_id": vid}, want=201)
    w.admin.ok("POST", f"/events/{ev}/check-outs", {"volunteer_id": vid}, want=200)
    w.pg.sql(f"UPDATE events SET starts_at = '{iso(start - HOUR)}', ends_at = '{iso(end + HOUR)}' "
             f"WHERE id = {ev}", db=w.db)
    c = w.admin.ok("PATCH", f"/attendance/{a['id']}", {"check_in_at": iso(start), "check_out_at": iso(end),
                                                       "reason": "补签"})
    e = w.admin.ok("POST", f"/hours/{c['entry']['id']}/approve", {})
    assert (e["status"], instant(e["started_at"]), instant(e["ended_at"])) == ("approved", start, end), e
    return e


def approved(w, vid, frm, to):
    """vid's approved minutes in the local days [frm, to]."""
    return w.admin.ok("GET", f"/volunteers/{vid}/hours?from={frm}&to={to}")["totals"]["approved_minutes"]


def monthly(w, month, by, fmt="json"):
    r = w.admin.req("GET", f"/reports/monthly?month={month}&by={by}&under={w.d}&format={fmt}")
    assert r.status_code == 200, r.text[:300]
    return r.json() if fmt == "json" else r.content


def minutes_by_row(rep):
    return {row["name"]: (row["approved_minutes"], row["volunteers"]) for row in rep["rows"]}


# --- 1. the server process's TZ and PostgreSQL's own timezone do not matter --------------------

# Volunteer a0 serves from 23:30 on 31 October to 01:30 on 1 November, Shanghai time: rule 8
# gives 30 minutes to 31 October and 90 to 1 November (so 30 to October, 90 to November).
# Volunteer b0 serves from 07:00 to 09:00 on 1 November, Shanghai time (23:00 to 01:00 UTC): all
# 120 minutes on 1 November.  A server or database that split in UTC or New York time would
# put all of a0's 120 minutes in October (15:30-17:30 UTC, 11:30-13:30 EDT), and b0's half
# (UTC) or all (19:00-21:00 EDT) in October too.
A0_IN, A0_OUT = dt.datetime(2026, 10, 31, 23, 30, tzinfo=SHANGHAI), dt.datetime(2026, 11, 1, 1, 30, tzinfo=SHANGHAI)
B0_IN, B0_OUT = dt.datetime(2026, 11, 1, 7, 0, tzinfo=SHANGHAI), dt.datetime(2026, 11, 1, 9, 0, tzinfo=SHANGHAI)


def answers_under_process_tz(make_server, fresh_db, pg, process_tz):
    """The fixture above on a server started with TZ=process_tz, VOLUNTEERD_TZ unset, against a
    database whose own timezone is UTC; what the server answers about it."""
    w = world(make_server, fresh_db, pg, {"TZ": process_tz}, db_time_zone="UTC")
    # the premises: PostgreSQL's own zone, and the process's
    assert pg.sql("SHOW timezone", db=w.db).strip() == "UTC"
    with open(f"/proc/{w.srv.proc.pid}/environ", "rb") as f:
        assert f"TZ={process_tz}".encode() in f.read().split(b"\0")
    a0, b0 = w.vols[w.a][0], w.vols[w.b][0]
    entries = [past_attendance(w, w.a, a0, A0_IN, A0_OUT), past_attendance(w, w.b, b0, B0_IN, B0_OUT)]
    out = {"entries": [(e["started_at"], e["ended_at"], e["minutes"]) for e in entries],
           "hours": {(v, frm, to): approved(w, v, frm, to) for v in (a0, b0)
                     for frm, to in (("2026-10-31", "2026-10-31"), ("2026-11-01", "2026-11-01"),
                                     ("2026-10-01", "2026-10-31"), ("2026-11-01", "2026-11-30"))},
           "vols": (a0, b0)}
    for month in ("2026-10", "2026-11"):
        for by in ("org_unit", "team"):
            rep = monthly(w, month, by)
            out[month, by] = (minutes_by_row(rep), rep["totals"]["approved_minutes"])
        out[month, "csv"] = monthly(w, month, "org_unit", "csv")
    w.srv.stop()
    return out


def test_process_tz_and_database_timezone_do_not_change_hours_or_reports(make_server, fresh_db, pg):
    ny = answers_under_process_tz(make_server, fresh_db, pg, "America/New_York")
    utc = answers_under_process_tz(make_server, fresh_db, pg, "UTC")
    assert ny == utc
    a0, b0 = ny["vols"]
    assert [m for _, _, m in ny["entries"]] == [120, 120]
    h = ny["hours"]
    assert (h[a0, "2026-10-31", "2026-10-31"], h[a0, "2026-11-01", "2026-11-01"]) == (30, 90), h
    assert (h[a0, "2026-10-01", "2026-10-31"], h[a0, "2026-11-01", "2026-11-30"]) == (30, 90), h
    assert (h[b0, "2026-10-31", "2026-10-31"], h[b0, "2026-11-01", "2026-11-01"]) == (0, 120), h
    assert (h[b0, "2026-10-01", "2026-10-31"], h[b0, "2026-11-01", "2026-11-30"]) == (0, 120), h
    # per area (the communities under D) and per team: (approved minutes, volunteers)
    assert ny["2026-10", "org_unit"] == ({"甲社区": (30, 1), "乙社区": (0, 0)}, 30), ny["2026-10", "org_unit"]
    assert ny["2026-11", "org_unit"] == ({"甲社区": (90, 1), "乙社区": (120, 1)}, 210), ny["2026-11", "org_unit"]
    teams = {m: {name: f for name, f in ny[m, "team"][0].items() if f != (0, 0)} for m in ("2026-10", "2026-11")}
    assert list(teams["2026-10"].values()) == [(30, 1)] and ny["2026-10", "team"][1] == 30, ny["2026-10", "team"]
    assert sorted(teams["2026-11"].values()) == [(90, 1), (120, 1)] and ny["2026-11", "team"][1] == 210
    # the CSV (compared byte for byte above): name -> approved minutes
    rows = {r[2]: r[5] for r in csv.reader(io.StringIO(ny["2026-11", "csv"].decode("utf-8-sig")))}
    assert (rows["甲社区"], rows["乙社区"], rows["合计"]) == ("90", "120", "210"), rows


# --- 2. a zone with DST: Europe/Berlin -----------------------------------------------------------

def wall(*t):
    """An instant given on Berlin's wall clock (none of those below is ambiguous)."""
    return dt.datetime(*t, tzinfo=BERLIN)


# (community 0 or 1, check-in, check-out, credited minutes, minutes per local day)
BERLIN_ATTENDANCES = [
    # 29 March 2026, 02:00 CET -> 03:00 CEST: 01:30 to 03:30 on the wall clock is one real hour
    (0, wall(2026, 3, 29, 1, 30), wall(2026, 3, 29, 3, 30), 60, {"2026-03-28": 0, "2026-03-29": 60, "2026-03-30": 0}),
    # 25 October 2026, 03:00 CEST -> 02:00 CET: 02:00-03:00 happens twice, so three real hours
    (0, wall(2026, 10, 25, 1, 30), wall(2026, 10, 25, 3, 30), 180, {"2026-10-24": 0, "2026-10-25": 180}),
    # split at local midnight, which is also a month end (in Shanghai time all 60 minutes would
    # fall on 1 March, in UTC all on 28 February)
    (1, wall(2026, 2, 28, 23, 30), wall(2026, 3, 1, 0, 30), 60, {"2026-02-28": 30, "2026-03-01": 30}),
    # over midnight into the spring change: 29 March is a day of 23 hours
    (1, wall(2026, 3, 28, 23, 0), wall(2026, 3, 29, 4, 0), 240, {"2026-03-28": 60, "2026-03-29": 180}),
]


def test_berlin_dst_nights_credit_real_time_and_split_at_local_midnight(make_server, fresh_db, pg):
    w = world(make_server, fresh_db, pg, {"VOLUNTEERD_TZ": "Europe/Berlin"})
    assert pg.sql("SELECT app_time_zone()", db=w.db).strip() == "Europe/Berlin"
    free = {u: list(vols) for u, vols in w.vols.items()}
    for community, start, end, minutes, days in BERLIN_ATTENDANCES:
        unit = (w.a, w.b)[community]
        v = free[unit].pop()
        e = past_attendance(w, unit, v, start, end)
        assert e["minutes"] == minutes, (start, e)
        assert {day: approved(w, v, day, day) for day in days} == days, start
    # months are Berlin's calendar months: (approved minutes, volunteers) per community
    want = {"2026-02": {"甲社区": (0, 0), "乙社区": (30, 1)},
            "2026-03": {"甲社区": (60, 1), "乙社区": (30 + 240, 2)},
            "2026-10": {"甲社区": (180, 1), "乙社区": (0, 0)}}
    for month, rows in want.items():
        rep = monthly(w, month, "org_unit")
        assert minutes_by_row(rep) == rows, (month, rep)
        assert rep["totals"]["approved_minutes"] == sum(m for m, _ in rows.values()), rep["totals"]
    w.srv.stop()


# --- 3. a check-in or check-out carries no client time ------------------------------------------

TIME_FIELDS = ("checked_in_at", "check_in_at", "at", "checked_out_at", "check_out_at")


def refused(r, field):
    """r is a 4xx problem that names field."""
    assert 400 <= r.status_code < 500, (field, r.status_code, r.text[:300])
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers
    p = r.json()
    assert field in [e.get("field") for e in p.get("errors", [])] or p.get("field") == field, p


def written(w, vid):
    """What the database holds: vid's attendances/closed ones, all hour entries, audit records."""
    return w.pg.sql(f"SELECT (SELECT count(*) || '/' || count(check_out_at) FROM attendances WHERE volunteer_id = {vid})"
                    f" || ' ' || (SELECT count(*) FROM hour_entries) || ' ' || (SELECT count(*) FROM audit_log)",
                    db=w.db).split()[0:3]


def refuse_times(w, ev, vid, path):
    """Each time field sent with a check-in or check-out (path) is refused and writes nothing;
    what the database holds."""
    earlier = iso(dt.datetime.now(SHANGHAI).replace(microsecond=0) - 3 * HOUR)
    before = written(w, vid)
    for field in TIME_FIELDS:
        refused(w.admin.req("POST", f"/events/{ev}/{path}", {"volunteer_id": vid, field: earlier}), field)
    assert written(w, vid) == before, (path, before)
    return before


def server_now(t):
    """t (RFC 3339) is the server's clock of a moment ago."""
    assert abs(instant(t) - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(seconds=30), t


def test_a_time_sent_with_a_check_in_or_out_is_refused_and_writes_nothing(make_server, fresh_db, pg):
    w = world(make_server, fresh_db, pg, {})
    v = w.vols[w.a][0]
    ev = live_event(w, w.a, v)
    assert refuse_times(w, ev, v, "check-ins")[:2] == ["0/0", "0"]
    server_now(w.admin.ok("POST", f"/events/{ev}/check-ins", {"volunteer_id": v}, want=201)["check_in_at"])
    assert refuse_times(w, ev, v, "check-outs")[:2] == ["1/0", "0"]
    out = w.admin.ok("POST", f"/events/{ev}/check-outs", {"volunteer_id": v}, want=200)
    server_now(out["check_out_at"])
    assert out["credited_minutes"] < 5, out
    w.srv.stop()


def test_serve_refuses_a_zone_other_than_the_one_migrate_stored(make_server, fresh_db, pg):
    """The database splits days in the zone `volunteerd migrate` stored; a server started with
    another VOLUNTEERD_TZ would show times in one zone and count days in the other.  It exits 1
    naming VOLUNTEERD_TZ, until migrate stores the new zone; then it starts, and the database
    counts in that zone."""
    name, url = fresh_db()
    srv = make_server(url, tls=False, workers=1, env={"VOLUNTEERD_TZ": "Asia/Shanghai"})
    srv.migrate()
    srv.env["VOLUNTEERD_TZ"] = "Europe/Berlin"
    srv.spawn()
    assert srv.wait_exit(20) == 1, srv.log_text()
    assert "VOLUNTEERD_TZ: Europe/Berlin, but the database counts days and months in Asia/Shanghai" in srv.log_text()
    srv.migrate()
    srv.start()
    assert srv.get("/readyz").status_code == 200
    assert pg.sql("SELECT app_time_zone()", db=name).strip() == "Europe/Berlin"
    srv.stop()
