"""Reports (issue 6) over HTTP: a small district with entries at controlled past times, then the
monthly report compared with an independent computation from the ledger entries the API returns
(split at local midnight here, attributed here), for both dimensions and for teams; a volunteer
who moved; a month-crossing attendance; voided, rejected and pending entries; a month close and
a correction after it; CSV and XLSX read back; scope; the per-volunteer and party reports."""
import csv
import datetime as dt
import io
import json
import secrets

import pytest

import conftest
from apiclient import Api

TZ = dt.timezone(dt.timedelta(hours=8))


def iso(t):
    return t.isoformat()


def month_of(t):
    return t.astimezone(TZ).strftime("%Y-%m")


def parse(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(TZ)


def day_split(e):
    """(local date, minutes) per local day, as DESIGN §3 rule 8 says: the minutes credited by
    each local midnight are floor(elapsed minutes), capped at the entry's total; the last day
    gets the rest."""
    a, b, total = parse(e["started_at"]), parse(e["ended_at"]), e["minutes"]
    midnight = lambda d: dt.datetime.combine(d, dt.time(), TZ)
    done = lambda t: min(total, int((t - a).total_seconds() // 60))
    out, d = [], a.date()
    while True:
        lo, hi = max(a, midnight(d)), min(b, midnight(d + dt.timedelta(days=1)))
        last = midnight(d + dt.timedelta(days=1)) >= b
        if hi > lo or a == b:
            out.append((d, (total if last else done(hi)) - done(lo)))
        if last:
            return out
        d += dt.timedelta(days=1)


class World:
    pass


@pytest.fixture(scope="module")
def w(server, pg):
    x = World()
    x.pg = pg
    tag = secrets.token_hex(3)
    x.admin = a = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    x.parent = {}
    x.community = {}

    def unit(parent, kind, code, name):
        u = a.ok("POST", "/org-units", {"parent_id": parent, "kind": kind, "code": f"{code}-{tag}", "name": name}, want=201)
        x.parent[u["id"]] = parent
        return u["id"]

    x.D = unit(None, "district", "RD", "报表区")
    x.S0, x.S1 = unit(x.D, "subdistrict", "RS0", "甲街道"), unit(x.D, "subdistrict", "RS1", "乙街道")
    x.C0, x.C1 = unit(x.S0, "community", "RC0", "一社区"), unit(x.S0, "community", "RC1", "二社区")
    x.C2 = unit(x.S1, "community", "RC2", "三社区")
    x.G0, x.G1, x.G2 = unit(x.C0, "grid", "RG0", "一网格"), unit(x.C1, "grid", "RG1", "二网格"), unit(x.C2, "grid", "RG2", "三网格")
    for u in (x.C0, x.G0):
        x.community[u] = x.C0
    for u in (x.C1, x.G1):
        x.community[u] = x.C1
    for u in (x.C2, x.G2):
        x.community[u] = x.C2
    x.T0 = a.ok("POST", "/teams", {"name": f"一社区服务队{tag}", "org_unit_id": x.C0}, want=201)["id"]
    x.T1 = a.ok("POST", "/teams", {"name": f"三社区服务队{tag}", "org_unit_id": x.C2}, want=201)["id"]

    x.vols, x.api = [], []
    homes = [x.G0, x.C1, x.G2, x.G0]
    party = [("区财政局", True), (None, False), ("区财政局", True), ("区教育局", True)]
    for i, home in enumerate(homes):
        phone = "13" + "".join(secrets.choice("0123456789") for _ in range(9))
        body = {"name": f"报表志愿者{i}", "phone": phone, "org_unit_id": home, "password": f"Report-pass-{i}-{tag}",
                "party_member": party[i][1]}
        if party[i][0]:
            body["work_unit"] = party[i][0]
        v = a.ok("POST", "/volunteers", body, want=201)
        x.vols.append(v["id"])
        x.api.append((phone, body["password"]))

    x.now = dt.datetime.now(TZ).replace(microsecond=0)
    # A5: a long event (at most 31 days) that started last month and is still open, so that
    # roster check-ins happen now and corrections move them back into last month.
    x.S = x.now.replace(minute=0, second=0) - dt.timedelta(days=30, hours=20)
    x.CLM = month_of(x.S + dt.timedelta(hours=1))
    if x.CLM == month_of(x.now) or month_of(x.S + dt.timedelta(hours=3, minutes=108 * 60)) == month_of(x.now):
        pytest.skip("too close to the end of a month for this scenario")
    clm_first = dt.datetime.strptime(x.CLM + "-01", "%Y-%m-%d").replace(tzinfo=TZ)
    m1_first = (clm_first - dt.timedelta(days=1)).replace(day=1)
    x.M1 = month_of(m1_first)

    def activity(team, org, start, end, title):
        act = a.ok("POST", "/activities", {"team_id": team, "org_unit_id": org, "title": title, "category": "环境",
                                          "location": "路口", "capacity": 20, "starts_at": iso(start), "ends_at": iso(end)},
                   want=201)
        return a.ok("GET", f"/activities/{act['id']}/events")["items"][0]

    at = lambda first, day, h, m=0: first.replace(day=day, hour=h, minute=m)
    x.A1 = activity(x.T0, x.G0, at(m1_first, 10, 8), at(m1_first, 10, 12), "清洁")
    x.A2 = activity(x.T1, x.G2, at(m1_first, 12, 9), at(m1_first, 12, 12), "劝导")
    x.A4 = activity(x.T1, x.C2, clm_first - dt.timedelta(hours=2), clm_first + dt.timedelta(hours=2), "夜间巡逻")
    x.A5 = activity(x.T0, x.G0, x.S, x.now + dt.timedelta(hours=1), "长期值守")
    x.events = [(x.A1, x.G0, x.T0), (x.A2, x.G2, x.T1), (x.A4, x.C2, x.T1), (x.A5, x.G0, x.T0)]

    def backfill(v, ev, start, end, decide=None):
        e = a.ok("POST", "/hours", {"volunteer_id": x.vols[v], "event_id": ev["id"], "reason": "补录",
                                    "started_at": iso(start), "ended_at": iso(end)}, want=(200, 201))
        assert e["status"] == "pending"
        if decide == "approve":
            e = a.ok("POST", f"/hours/{e['id']}/approve", {})
        elif decide == "reject":
            e = a.ok("POST", f"/hours/{e['id']}/reject", {"reason": "不实"})
        return e

    d10, d12 = at(m1_first, 10, 9), at(m1_first, 12, 10)
    backfill(0, x.A1, d10, d10 + dt.timedelta(hours=2), "approve")                       # 120 approved
    backfill(1, x.A1, d10 + dt.timedelta(minutes=30), d10 + dt.timedelta(minutes=90))    # 60 pending
    backfill(3, x.A1, d10, d10 + dt.timedelta(hours=3), "approve")                       # 180, home G0
    backfill(2, x.A2, d12, d12 + dt.timedelta(minutes=90), "approve")                    # 90 approved
    backfill(0, x.A2, d12, d12 + dt.timedelta(minutes=45), "reject")                     # rejected
    x.crossing = backfill(2, x.A4, clm_first - dt.timedelta(hours=2), clm_first + dt.timedelta(hours=2), "approve")
    backfill(1, x.A5, x.S + dt.timedelta(hours=3), x.S + dt.timedelta(hours=3 + 108), "approve")  # 100+ h: stars
    backfill(3, x.A5, x.S + dt.timedelta(hours=1), x.S + dt.timedelta(hours=2))          # pending, home G0

    # v0: roster check-in now, check-out, corrected back into last month, approved
    a.ok("POST", f"/events/{x.A5['id']}/check-ins", {"volunteer_id": x.vols[0]}, want=201)
    x.att0 = a.ok("POST", f"/events/{x.A5['id']}/check-outs", {"volunteer_id": x.vols[0]})["id"]
    fixed = a.ok("PATCH", f"/attendance/{x.att0}", {"check_in_at": iso(x.S + dt.timedelta(hours=1)),
                                                     "check_out_at": iso(x.S + dt.timedelta(hours=2)), "reason": "补签"})
    a.ok("POST", f"/hours/{fixed['entry']['id']}/approve", {})

    # v3 moves from G0 to C2; afterwards serves this month (home C2 as at service), corrected twice
    a.ok("PATCH", f"/volunteers/{x.vols[3]}", {"org_unit_id": x.C2})
    a.ok("POST", f"/events/{x.A5['id']}/check-ins", {"volunteer_id": x.vols[3]}, want=201)
    x.att3 = a.ok("POST", f"/events/{x.A5['id']}/check-outs", {"volunteer_id": x.vols[3]})["id"]
    fixed = a.ok("PATCH", f"/attendance/{x.att3}", {"check_in_at": iso(x.now - dt.timedelta(minutes=50)),
                                                     "check_out_at": iso(x.now - dt.timedelta(minutes=5)), "reason": "补签"})
    a.ok("POST", f"/hours/{fixed['entry']['id']}/approve", {})
    a.ok("PATCH", f"/attendance/{x.att3}", {"check_in_at": iso(x.now - dt.timedelta(minutes=40)),
                                             "check_out_at": iso(x.now - dt.timedelta(minutes=5)), "reason": "再次更正"})

    coord = a.ok("POST", "/accounts", {"login": f"rcoord-{tag}", "password": "Coord-pass-123"}, want=201)
    a.ok("POST", f"/accounts/{coord['id']}/roles", {"role": "coordinator", "org_unit_id": x.C0}, want=201)
    x.coord = Api(server, f"rcoord-{tag}", "Coord-pass-123")
    x.vol = Api(server, *x.api[0])
    return x


def entries(w):
    out = []
    for v in w.vols:
        out += w.admin.ok("GET", f"/volunteers/{v}/hours")["entries"]
    return out


def ancestors(w, u):
    while u is not None:
        yield u
        u = w.parent[u]


def expected(w, month, by, dim, under):
    """The report computed here from the entries: (rows by id, totals)."""
    def blank():
        return {"approved_minutes": 0, "pending_minutes": 0, "vols": set(), "events": 0}
    keys = [k for k, p in w.parent.items() if p == under] if by == "org_unit" else [w.T0, w.T1]
    rows = {k: blank() for k in keys}
    tot = blank()
    for e in entries(w):
        if e["status"] not in ("approved", "pending"):
            continue
        unit = e["org_unit_id"] if dim == "service" else e["home_org_unit_id"]
        anc = list(ancestors(w, unit))
        if under not in anc:
            continue
        for day, mins in day_split(e):
            if day.strftime("%Y-%m") != month or mins == 0:
                continue
            key = e["team_id"] if by == "team" else next((k for k in keys if k in anc), None)
            for bucket in ([rows[key]] if key in rows else []) + [tot]:
                bucket[e["status"] + "_minutes"] += mins
                if e["status"] == "approved":
                    bucket["vols"].add(e["volunteer_id"])
    for ev, org, team in w.events:  # events held (0034): all of these have started, none is cancelled
        if month_of(parse(ev["starts_at"])) != month or under not in ancestors(w, org):
            continue
        assert parse(ev["starts_at"]) <= dt.datetime.now(TZ) and ev["status"] == "scheduled"
        key = team if by == "team" else next((k for k in keys if k in ancestors(w, org)), None)
        if key in rows:
            rows[key]["events"] += 1
        tot["events"] += 1
    return rows, tot


def check(w, rep, month, by, dim, under):
    rows, tot = expected(w, month, by, dim, under)
    got = {r["id"]: r for r in rep["rows"]}
    for k, e in rows.items():
        if k not in got:  # a team neither owned in the subtree nor active in it is not listed
            assert by == "team" and not (e["approved_minutes"] or e["pending_minutes"] or e["events"]), (k, e)
            continue
        r = got[k]
        assert (r["approved_minutes"], r["pending_minutes"], r["volunteers"], r["events"]) == \
               (e["approved_minutes"], e["pending_minutes"], len(e["vols"]), e["events"]), (month, by, dim, k, r, e)
        assert r["approved_hours"] == f"{e['approved_minutes'] / 60:.2f}"
    t = rep["totals"]
    assert (t["approved_minutes"], t["pending_minutes"], t["volunteers"], t["events"]) == \
           (tot["approved_minutes"], tot["pending_minutes"], len(tot["vols"]), tot["events"]), (month, by, dim, t, tot)
    if by == "org_unit":
        assert t["approved_minutes"] == sum(r["approved_minutes"] for r in rep["rows"]) + t["own"]["approved_minutes"]
        assert t["pending_minutes"] == sum(r["pending_minutes"] for r in rep["rows"]) + t["own"]["pending_minutes"]
    else:
        assert t["approved_minutes"] == sum(r["approved_minutes"] for r in rep["rows"])


def report(api, month, by="org_unit", dim="service", under=None, fmt=None):
    q = f"/reports/monthly?month={month}&by={by}&dimension={dim}"
    if under:
        q += f"&under={under}"
    if fmt:
        q += f"&format={fmt}"
    return api.ok("GET", q)


def months(w):
    return [w.M1, w.CLM, month_of(w.now)]


def test_shape_and_exact_totals_both_dimensions_and_teams(w):
    for m in months(w):
        for by in ("org_unit", "team"):
            for dim in ("service", "residence"):
                rep = report(w.admin, m, by, dim, w.D)
                assert (rep["month"], rep["by"], rep["dimension"], rep["under"]) == (m, by, dim, w.D)
                for r in rep["rows"]:
                    assert {"id", "name", "kind", "volunteers", "approved_minutes", "pending_minutes",
                            "approved_hours", "events", "new_volunteers"} <= set(r)
                check(w, rep, m, by, dim, w.D)
                check(w, report(w.admin, m, by, dim, w.S0), m, by, dim, w.S0)


def test_as_at_service_and_month_split(w):
    es = entries(w)
    mover = [e for e in es if e["volunteer_id"] == w.vols[3] and e["status"] in ("approved", "pending")]
    assert {e["home_org_unit_id"] for e in mover if month_of(parse(e["started_at"])) != month_of(w.now)} == {w.G0}
    assert {e["home_org_unit_id"] for e in mover if parse(e["started_at"]) > w.now - dt.timedelta(hours=2)} == {w.C2}
    # the mover's last-month service stays with S0 by residence; this month's goes to S1
    m1 = {r["id"]: r for r in report(w.admin, w.M1, "org_unit", "residence", w.D)["rows"]}
    assert m1[w.S0]["approved_minutes"] >= 180
    # the crossing entry: 120 minutes on each side of midnight
    assert [m for _, m in day_split(w.crossing)] == [120, 120]
    t1 = {r["id"]: r for r in report(w.admin, w.M1, "team", "service", w.D)["rows"]}[w.T1]
    assert t1["approved_minutes"] == 90 + 120
    # rejected and void minutes count nowhere
    assert any(e["status"] == "rejected" for e in es) and any(e["status"] == "void" for e in es)
    # new volunteers by the home unit they registered with (the mover stays in S0)
    now = {r["id"]: r for r in report(w.admin, month_of(w.now), "org_unit", "service", w.D)["rows"]}
    assert (now[w.S0]["new_volunteers"], now[w.S1]["new_volunteers"]) == (3, 1)


def test_incremental_rollups_equal_a_rebuild(w):
    units = ",".join(str(u) for u in w.parent)
    q = ("SELECT coalesce(json_agg(x ORDER BY month, dimension, unit_id, team_id), '[]') FROM ("
         " SELECT month, dimension, unit_id, team_id, sum(approved_minutes) a, sum(pending_minutes) p,"
         " sum(volunteers) v FROM (SELECT * FROM report_unit_totals UNION ALL"
         " SELECT * FROM report_unit_deltas) u WHERE unit_id IN (" + units + ")"
         " GROUP BY 1, 2, 3, 4 HAVING sum(approved_minutes) <> 0 OR sum(pending_minutes) <> 0"
         " OR sum(volunteers) <> 0) x")
    before = json.loads(w.pg.sql(q))
    for m in months(w):
        w.pg.sql(f"SELECT rollups_rebuild_month('{m}-01')")
    assert json.loads(w.pg.sql(q)) == before


def test_csv_read_back(w):
    m = w.CLM
    rep = report(w.admin, m, "org_unit", "service", w.D)
    r = w.admin.req("GET", f"/reports/monthly?month={m}&by=org_unit&under={w.D}&format=csv")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.headers["Content-Disposition"].startswith("attachment; filename=")
    assert r.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8")[1:], newline="")))
    assert lines[0][:4] == ["编号", "区划代码", "名称", "类型"]
    body, total = lines[1:-1], lines[-1]
    assert len(body) == len(rep["rows"])
    for line, row in zip(body, rep["rows"]):
        assert int(line[0]) == row["id"]
        assert line[1] == f'="{row["code"]}"'  # number-like text kept as text
        assert line[2] == row["name"]
        assert [int(c) for c in (line[4], line[5], line[6], line[8], line[9])] == \
               [row["volunteers"], row["approved_minutes"], row["pending_minutes"], row["events"], row["new_volunteers"]]
        assert line[7] == row["approved_hours"]
    assert total[2] == "合计" and int(total[5]) == rep["totals"]["approved_minutes"]
    # the per-volunteer CSV: phone as text, stars per scheme
    r = w.admin.req("GET", f"/reports/volunteers?month={m}&under={w.D}&format=csv")
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    assert lines[0][2] == "手机号" and lines[1][2].startswith('="13')
    assert any(h.startswith("星级") for h in lines[0])


def test_xlsx_read_back(w):
    openpyxl = pytest.importorskip("openpyxl")
    m = w.M1
    for by in ("org_unit", "team"):
        rep = report(w.admin, m, by, "service", w.D)
        r = w.admin.req("GET", f"/reports/monthly?month={m}&by={by}&under={w.D}&format=xlsx")
        assert r.status_code == 200, r.text[:200]
        assert r.headers["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
        wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
        rows = list(wb.active.iter_rows(values_only=True))
        head = rows[1]
        assert "名称" in head or "志愿服务队" in head
        data, total = rows[2:-1], rows[-1]
        assert len(data) == len(rep["rows"])
        col = {h: i for i, h in enumerate(head)}
        for line, row in zip(data, rep["rows"]):
            assert line[col["编号"]] == row["id"]
            assert line[col["已审核时长（分钟）"]] == row["approved_minutes"]
            assert line[col["待审核时长（分钟）"]] == row["pending_minutes"]
            assert line[col["志愿者人数"]] == row["volunteers"]
            assert abs(line[col["已审核时长（小时）"]] - float(row["approved_hours"])) < 1e-9
        assert "合计" in total and total[col["已审核时长（分钟）"]] == rep["totals"]["approved_minutes"]
        if by == "org_unit":
            assert data[0][col["区划代码"]] == rep["rows"][0]["code"]  # a string cell


def test_scope(w):
    m = w.CLM
    rep = report(w.coord, m, "org_unit", "service", w.C0)
    assert [r["id"] for r in rep["rows"]] == [w.G0]
    assert report(w.coord, m)["under"] == w.C0  # the coordinator's own scope by default
    for u in (w.D, w.C1, w.S0):
        assert w.coord.status("GET", f"/reports/monthly?month={m}&under={u}") == 404
    assert w.vol.status("GET", f"/reports/monthly?month={m}&under={w.G0}") == 403
    assert w.coord.status("POST", f"/reports/monthly/{w.M1}/close?under={w.C0}") == 403
    assert w.admin.status("GET", f"/reports/monthly?month=2025-13&under={w.D}") == 422
    assert w.admin.status("GET", f"/reports/monthly?month={m}&under={w.D}&by=grid") == 422
    assert w.admin.status("GET", f"/reports/monthly?month={m}&under={w.D}&format=pdf") == 422


def test_volunteers_report_and_stars(w):
    m = w.CLM
    rep = w.admin.ok("GET", f"/reports/volunteers?month={m}&under={w.D}")
    rows = {r["id"]: r for r in rep["rows"]}
    v1 = rows[w.vols[1]]
    assert v1["approved_minutes"] == 108 * 60 and v1["stars"] == {"national": 1, "local": 1}
    assert w.admin.ok("GET", f"/volunteers/{w.vols[1]}")["stars"] == {"national": 1, "local": 1}
    assert w.admin.ok("GET", f"/volunteers/{w.vols[2]}")["stars"] == {"national": 0, "local": 0}
    assert rep["totals"]["approved_minutes"] == sum(r["approved_minutes"] for r in rep["rows"])
    team = w.admin.ok("GET", f"/reports/volunteers?month={m}&under={w.D}&team_id={w.T1}")
    assert {r["id"] for r in team["rows"]} == {w.vols[2]}  # the crossing entry's second half
    assert team["rows"][0]["approved_minutes"] == 120 and team["rows"][0]["events"] == 1


def test_party_members(w):
    first = dt.datetime.strptime(w.M1 + "-01", "%Y-%m-%d")
    q = f"{first.year}-Q{(first.month - 1) // 3 + 1}"
    qmonths = {f"{first.year}-{m:02d}" for m in range((first.month - 1) // 3 * 3 + 1, (first.month - 1) // 3 * 3 + 4)}
    rep = w.admin.ok("GET", f"/reports/party-members?quarter={q}&under={w.D}")
    want = {}
    homes_now = {w.vols[0]: w.G0, w.vols[2]: w.G2, w.vols[3]: w.C2}
    units = {w.vols[0]: "区财政局", w.vols[2]: "区财政局", w.vols[3]: "区教育局"}
    for v in homes_now:
        want.setdefault(units[v], [0, 0])
    for e in entries(w):
        v = e["volunteer_id"]
        if v not in units or e["status"] != "approved":
            continue
        home_c = w.community.get(e["home_org_unit_id"])
        if home_c not in ancestors(w, e["org_unit_id"]):
            continue
        for day, mins in day_split(e):
            if day.strftime("%Y-%m") in qmonths:
                want[units[v]][0] += mins
    got = {r["work_unit"]: r for r in rep["rows"]}
    assert got["区财政局"]["members"] == 2 and got["区教育局"]["members"] == 1
    for wu, (mins, _) in want.items():
        assert got[wu]["approved_minutes"] == mins, (wu, got[wu], mins)
    assert w.admin.status("GET", f"/reports/party-members?quarter=2025-Q5&under={w.D}") == 422


def test_month_close_and_correction_after_it(w):
    m = w.CLM
    before = {dim: report(w.admin, m, "org_unit", dim, w.D) for dim in ("service", "residence")}
    r = w.admin.req("POST", f"/reports/monthly/{m}/close?under={w.D}")
    assert r.status_code == 201, r.text[:300]
    closed = r.json()
    assert closed["closed"] is True and len(closed["sha256"]) == 64
    assert w.pg.sql(f"SELECT sha256 = encode(sha256(convert_to(snapshot, 'UTF8')), 'hex') FROM month_closes"
                    f" WHERE id = {closed['id']}").strip() == "t"
    assert w.admin.status("POST", f"/reports/monthly/{m}/close?under={w.D}") == 409
    assert w.admin.status("POST", f"/reports/monthly/{month_of(w.now)}/close?under={w.D}") == 409

    # a correction after the close: 60 approved minutes of last month become 90 pending
    w.admin.ok("PATCH", f"/attendance/{w.att0}", {"check_in_at": iso(w.S + dt.timedelta(hours=1)),
                                                  "check_out_at": iso(w.S + dt.timedelta(hours=2, minutes=30)),
                                                  "reason": "结账后更正"})
    for dim in ("service", "residence"):
        snap = report(w.admin, m, "org_unit", dim, w.D)
        assert snap["closed"] is True and snap["sha256"] == closed["sha256"]
        assert snap["rows"] == before[dim]["rows"] and snap["totals"] == before[dim]["totals"]
    # below the closed unit the month is live and exact
    check(w, report(w.admin, m, "org_unit", "service", w.S0), m, "org_unit", "service", w.S0)
    # the change lands in the current month as an adjustment tagged with the month it corrects
    cur = report(w.admin, month_of(w.now), "org_unit", "service", w.D)
    adj = [{"month": m, "approved_minutes": -60, "pending_minutes": 90}]
    assert cur["totals"]["adjustments"] == adj
    assert {r["id"]: r.get("adjustments") for r in cur["rows"]}[w.S0] == adj
    check(w, cur, month_of(w.now), "org_unit", "service", w.D)  # its own minutes are its own
    team = report(w.admin, month_of(w.now), "team", "residence", w.D)
    assert {r["id"]: r.get("adjustments") for r in team["rows"]}[w.T0] == adj


def test_event_and_registration_counts_follow_every_change(server, pg):
    """report_unit_counts (0012) is kept by triggers: an event created, moved to another month,
    cancelled and restored, and volunteers registered, each shows at once in the table (the
    registrations in the report too), and the table equals a rebuild from events and volunteers
    afterwards.  The event is still to come, so no report counts it (events held, 0034)."""
    a = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    tag = secrets.token_hex(3)
    d = a.ok("POST", "/org-units", {"kind": "district", "code": f"CD-{tag}", "name": "计数区"}, want=201)["id"]
    s = a.ok("POST", "/org-units", {"parent_id": d, "kind": "subdistrict", "code": f"CS-{tag}", "name": "计数街道"},
             want=201)["id"]
    team = a.ok("POST", "/teams", {"name": f"计数队{tag}", "org_unit_id": s}, want=201)["id"]
    now = dt.datetime.now(TZ).replace(microsecond=0)
    start = now + dt.timedelta(days=2)
    if month_of(start) != month_of(now) or month_of(start + dt.timedelta(days=40)) == month_of(now):
        start = now + dt.timedelta(hours=2)
    if month_of(start) != month_of(now):
        pytest.skip("too close to the end of a month for this scenario")
    act = a.ok("POST", "/activities", {"team_id": team, "org_unit_id": s, "title": "计数", "category": "环境",
                                      "location": "路口", "capacity": 5, "starts_at": iso(start),
                                      "ends_at": iso(start + dt.timedelta(hours=2))}, want=201)
    ev = a.ok("GET", f"/activities/{act['id']}/events")["items"][0]
    registered = []
    for i in range(2):
        phone = "13" + "".join(secrets.choice("0123456789") for _ in range(9))
        registered.append(a.ok("POST", "/volunteers", {"name": f"计数志愿者{i}", "phone": phone, "org_unit_id": s},
                               want=201)["id"])

    def counts(month, by="org_unit"):
        rep = report(a, month, by, "service", d)
        row = {r["id"]: r for r in rep["rows"]}.get(s if by == "org_unit" else team, {})
        return (row.get("events", 0), row.get("new_volunteers", 0), rep["totals"]["events"])

    def scheduled(month):  # the table's count of the team's events at s in the month
        return int(pg.sql(f"SELECT coalesce(sum(events), 0) FROM report_unit_counts WHERE month = '{month}-01'"
                          f" AND org_unit_id = {s} AND team_id = {team}"))

    this, later = month_of(now), month_of(start + dt.timedelta(days=40))
    assert scheduled(this) == 1 and counts(this) == (0, 2, 0)
    assert counts(this, "team")[0] == 0
    moved = start + dt.timedelta(days=40)
    a.ok("PATCH", f"/events/{ev['id']}", {"starts_at": iso(moved), "ends_at": iso(moved + dt.timedelta(hours=2))})
    assert (scheduled(this), scheduled(later)) == (0, 1) and counts(later) == (0, 0, 0)
    a.ok("PATCH", f"/events/{ev['id']}", {"status": "cancelled"})
    assert scheduled(later) == 0
    a.ok("PATCH", f"/events/{ev['id']}", {"status": "scheduled"})
    assert scheduled(later) == 1
    # no API deletes a volunteer; SQL by hand may, and the count follows
    pg.sql(f"DELETE FROM volunteers WHERE id = {registered[1]}")
    assert counts(this) == (0, 1, 0)

    table = ("SELECT coalesce(json_agg(c ORDER BY month, org_unit_id, team_id), '[]') FROM report_unit_counts c"
             " WHERE events <> 0 OR registrations <> 0")  # a count back to zero keeps its row
    kept = json.loads(pg.sql(table))
    pg.sql("SELECT report_counts_rebuild()")
    assert json.loads(pg.sql(table)) == kept


# --------------------------------------------------------------------------------------------
# Coordinators whose grant is on a team (sql/0019_team_reports.sql).  The fixture is used only
# by the tests below, so it is built after the tests above and changes none of their figures.
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tw(w):
    """A sub-team of T0 owned in C1 (a grant on T0 covers it) with an approved and a pending
    entry this month; team leaders of T0 and of T1; a coordinator of C0 who also leads T1."""
    x = World()
    a, tag = w.admin, secrets.token_hex(3)
    before = w.now - dt.timedelta(hours=2)
    if month_of(before) != month_of(w.now):
        pytest.skip("too close to the start of a month for this scenario")
    x.T0c = a.ok("POST", "/teams", {"name": f"二社区分队{tag}", "org_unit_id": w.C1, "parent_team_id": w.T0},
                 want=201)["id"]
    act = a.ok("POST", "/activities", {"team_id": x.T0c, "org_unit_id": w.G1, "title": "分队值守", "category": "环境",
                                      "location": "路口", "capacity": 20, "starts_at": iso(before),
                                      "ends_at": iso(before + dt.timedelta(hours=1))}, want=201)
    ev = a.ok("GET", f"/activities/{act['id']}/events")["items"][0]
    phone = "13" + "".join(secrets.choice("0123456789") for _ in range(9))
    x.extra = a.ok("POST", "/volunteers", {"name": "分队志愿者", "phone": phone, "org_unit_id": w.C1}, want=201)["id"]
    e = a.ok("POST", "/hours", {"volunteer_id": w.vols[2], "event_id": ev["id"], "reason": "补录",
                                "started_at": iso(before), "ended_at": iso(before + dt.timedelta(minutes=45))},
             want=201)
    a.ok("POST", f"/hours/{e['id']}/approve", {})
    a.ok("POST", "/hours", {"volunteer_id": x.extra, "event_id": ev["id"], "reason": "补录",
                            "started_at": iso(before), "ended_at": iso(before + dt.timedelta(minutes=30))}, want=201)

    def staff(name, *grants):
        acc = a.ok("POST", "/accounts", {"login": f"{name}-{tag}", "password": "Coord-pass-123"}, want=201)
        for g in grants:
            a.ok("POST", f"/accounts/{acc['id']}/roles", {"role": "coordinator", **g}, want=201)
        return Api(w.admin.server, f"{name}-{tag}", "Coord-pass-123")

    x.lead0 = staff("rlead0", {"team_id": w.T0})
    x.lead1 = staff("rlead1", {"team_id": w.T1})
    x.mixed = staff("rmixed", {"org_unit_id": w.C0}, {"team_id": w.T1})
    x.vols = w.vols + [x.extra]
    return x


def team_expected(w, tw, month, dim, teams, under=None):
    """Per team (approved, pending, volunteers) and the distinct volunteers over all of them,
    computed here from the entries (as `expected` does for areas)."""
    rows = {t: {"approved_minutes": 0, "pending_minutes": 0, "vols": set()} for t in teams}
    everyone = set()
    for v in tw.vols:
        for e in w.admin.ok("GET", f"/volunteers/{v}/hours")["entries"]:
            if e["status"] not in ("approved", "pending") or e["team_id"] not in rows:
                continue
            unit = e["org_unit_id"] if dim == "service" else e["home_org_unit_id"]
            if under is not None and under not in ancestors(w, unit):
                continue
            for day, mins in day_split(e):
                if day.strftime("%Y-%m") != month or mins == 0:
                    continue
                rows[e["team_id"]][e["status"] + "_minutes"] += mins
                if e["status"] == "approved":
                    rows[e["team_id"]]["vols"].add(e["volunteer_id"])
                    everyone.add(e["volunteer_id"])
    return rows, everyone


def check_teams(w, tw, rep, month, dim, teams, under=None):
    rows, everyone = team_expected(w, tw, month, dim, teams, under)
    assert rep["by"] == "team" and rep["scope"] == "teams" and rep["under"] == under
    assert sorted(r["id"] for r in rep["rows"]) == sorted(teams) == sorted(rep["teams"])
    for r in rep["rows"]:
        e = rows[r["id"]]
        assert {"id", "name", "kind", "volunteers", "approved_minutes", "pending_minutes",
                "approved_hours", "events", "new_volunteers"} <= set(r)
        assert (r["approved_minutes"], r["pending_minutes"], r["volunteers"]) == \
               (e["approved_minutes"], e["pending_minutes"], len(e["vols"])), (month, dim, r, e)
    t = rep["totals"]
    for k in ("approved_minutes", "pending_minutes", "events", "new_volunteers"):
        assert t[k] == sum(r[k] for r in rep["rows"]), k
    assert t["volunteers"] == len(everyone)
    assert t["approved_hours"] == f"{t['approved_minutes'] / 60:.2f}"


def test_team_leader_sees_exactly_their_teams(w, tw):
    """No `under`: one row per team the grant covers (T0 and its sub-team T0c, owned in another
    community), each with all its figures, equal to the administrator's rows for those teams."""
    this = month_of(w.now)
    for m in months(w):
        for dim in ("service", "residence"):
            rep = report(tw.lead0, m, "team", dim)
            check_teams(w, tw, rep, m, dim, [w.T0, tw.T0c])
            # the administrator's rows: under D (whose report of CLM is the closed snapshot,
            # taken before a correction of T0's: live under S0 then, where T0 and T0c serve)
            under = w.S0 if m == w.CLM else w.D
            if m == w.CLM and dim == "residence":
                continue  # homes in S1: S0's residence rows hold only part of the teams
            admin = {r["id"]: r for r in report(w.admin, m, "team", dim, under)["rows"]}
            for r in rep["rows"]:
                assert r == admin[r["id"]], (m, dim)
    # this month holds the sub-team's entries: 45 approved, 30 pending, one event
    sub = {r["id"]: r for r in report(tw.lead0, this, "team", "service")["rows"]}[tw.T0c]
    assert (sub["approved_minutes"], sub["pending_minutes"], sub["volunteers"], sub["events"]) == (45, 30, 1, 1)
    # T1's leader sees T1 only
    rep = report(tw.lead1, w.M1, "team", "service")
    check_teams(w, tw, rep, w.M1, "service", [w.T1])
    assert rep["rows"][0]["approved_minutes"] == 90 + 120


def test_team_leader_under_a_unit_gets_their_teams_owned_there(w, tw):
    m = month_of(w.now)
    for under, teams in ((w.C0, [w.T0]), (w.C1, [tw.T0c]), (w.S0, [w.T0, tw.T0c]), (w.D, [w.T0, tw.T0c])):
        for dim in ("service", "residence"):
            rep = report(tw.lead0, m, "team", dim, under)
            check_teams(w, tw, rep, m, dim, teams, under)
            admin = {r["id"]: r for r in report(w.admin, m, "team", dim, under)["rows"]}
            assert [admin[t] for t in sorted(teams)] == sorted(rep["rows"], key=lambda r: r["id"])
            assert rep["totals"]["id"] == under
    # none of the leader's teams is owned there (or no such unit): 404, as out of scope
    for under in (w.C2, w.S1, w.G0, 999999999):
        r = tw.lead0.req("GET", f"/reports/monthly?month={m}&by=team&under={under}")
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/problem+json")


def test_team_leader_is_refused_area_totals_and_other_teams(w, tw):
    m = month_of(w.now)
    # by area: an area's totals hold other teams' figures; 403 with or without under
    for q in (f"month={m}", f"month={m}&by=org_unit", f"month={m}&by=org_unit&under={w.C0}",
              f"month={m}&by=org_unit&under={w.D}"):
        r = tw.lead0.req("GET", f"/reports/monthly?{q}")
        assert r.status_code == 403, (q, r.text)
        assert r.json()["errors"][0]["field"] == "by"
    for q in (f"quarter=2026-Q1", f"quarter=2026-Q1&under={w.C0}"):
        assert tw.lead0.status("GET", f"/reports/party-members?{q}") == 403
    # another team's figures: not listed, and 404 when named
    assert w.T1 not in [r["id"] for r in report(tw.lead0, m, "team")["rows"]]
    assert tw.lead0.status("GET", f"/reports/volunteers?month={m}&team_id={w.T1}") == 404
    assert tw.lead0.status("GET", f"/reports/volunteers?month={m}&team_id=999999999") == 404
    assert tw.lead1.status("GET", f"/reports/monthly?month={m}&by=team&under={w.C0}") == 404
    assert tw.lead0.status("POST", f"/reports/monthly/{w.M1}/close?under={w.C0}") == 403
    # the team view's exports follow it
    r = tw.lead0.req("GET", f"/reports/monthly?month={m}&by=team&format=csv")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    rep = report(tw.lead0, m, "team")
    assert lines[0][:2] == ["编号", "志愿服务队"]
    assert [int(x[0]) for x in lines[1:-1]] == [row["id"] for row in rep["rows"]]
    assert lines[-1][1] == "合计" and int(lines[-1][4]) == rep["totals"]["approved_minutes"]
    assert tw.lead0.status("GET", f"/reports/monthly?month={m}&by=org_unit&format=csv") == 403


def test_team_leader_xlsx_follows_the_json(w, tw):
    openpyxl = pytest.importorskip("openpyxl")
    m = month_of(w.now)
    rep = report(tw.lead0, m, "team")
    r = tw.lead0.req("GET", f"/reports/monthly?month={m}&by=team&format=xlsx")
    assert r.status_code == 200, r.text[:200]
    rows = list(openpyxl.load_workbook(io.BytesIO(r.content), read_only=True).active.iter_rows(values_only=True))
    col = {h: i for i, h in enumerate(rows[1])}
    assert [line[col["编号"]] for line in rows[2:-1]] == [row["id"] for row in rep["rows"]]
    assert rows[-1][col["已审核时长（分钟）"]] == rep["totals"]["approved_minutes"]


def test_team_leader_volunteers_report(w, tw):
    for m in months(w):
        mine = w.admin.ok("GET", f"/reports/volunteers?month={m}&under={w.D}&team_id={w.T0}")
        got = tw.lead0.ok("GET", f"/reports/volunteers?month={m}&team_id={w.T0}")
        assert got["scope"] == "teams" and got["team_id"] == w.T0 and got["under"] is None
        assert got["rows"] == mine["rows"] and got["totals"] == mine["totals"], m
        # under a unit where the team is owned: the same rows as the administrator's there
        got = tw.lead0.ok("GET", f"/reports/volunteers?month={m}&team_id={w.T0}&under={w.C0}")
        assert got["rows"] == w.admin.ok("GET", f"/reports/volunteers?month={m}&under={w.C0}&team_id={w.T0}")["rows"]
    m = month_of(w.now)
    # without team_id: every covered team's volunteers, the minutes summed over the teams
    both = tw.lead0.ok("GET", f"/reports/volunteers?month={m}")
    want = {}
    for t in (w.T0, tw.T0c):
        for r in w.admin.ok("GET", f"/reports/volunteers?month={m}&under={w.D}&team_id={t}")["rows"]:
            want[r["id"]] = want.get(r["id"], 0) + r["approved_minutes"]
    assert {r["id"]: r["approved_minutes"] for r in both["rows"]} == want
    assert tw.extra in want and w.vols[2] in want
    assert tw.lead0.status("GET", f"/reports/volunteers?month={m}&team_id={w.T0}&under={w.C2}") == 404
    r = tw.lead0.req("GET", f"/reports/volunteers?month={m}&team_id={tw.T0c}&format=csv")
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")


def test_coordinator_with_both_kinds_of_grants(w, tw):
    """Area C0 and team T1: by team without under, the teams of both grants (T0 is owned in
    C0; T1 by grant), each whole; the area reports stay those of C0; under a unit outside C0,
    the covered teams owned there."""
    m = w.M1
    rep = report(tw.mixed, m, "team")
    check_teams(w, tw, rep, m, "service", [w.T0, w.T1])
    area = report(tw.mixed, m)
    assert area["under"] == w.C0 and area["scope"] == "area"  # its own area by default, as before
    assert report(tw.mixed, m, "team", under=w.C0)["scope"] == "area"  # the area report in its area
    s1 = report(tw.mixed, m, "team", under=w.S1)
    assert s1["scope"] == "teams" and [r["id"] for r in s1["rows"]] == [w.T1]
    assert tw.mixed.status("GET", f"/reports/monthly?month={m}&by=org_unit&under={w.S1}") == 404
    assert tw.mixed.ok("GET", f"/reports/party-members?quarter=2026-Q1")["under"] == w.C0
    # area-only staff see what they saw before
    assert report(w.coord, m, "team")["scope"] == "area"
    assert w.coord.status("GET", f"/reports/monthly?month={m}&by=team&under={w.S1}") == 404


def test_a_team_that_served_in_two_trees(server):
    """A team owned in one tree that also served in another (the practice-centre tree, say):
    its leader's row holds both, and a volunteer who served in both counts once."""
    a = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    tag = secrets.token_hex(3)
    now = dt.datetime.now(TZ).replace(microsecond=0)
    start = now - dt.timedelta(hours=3)
    if month_of(start) != month_of(now):
        pytest.skip("too close to the start of a month for this scenario")
    r1 = a.ok("POST", "/org-units", {"kind": "district", "code": f"TR1-{tag}", "name": "一树"}, want=201)["id"]
    r2 = a.ok("POST", "/org-units", {"kind": "center", "code": f"TR2-{tag}", "name": "二树"}, want=201)["id"]
    team = a.ok("POST", "/teams", {"name": f"两树队{tag}", "org_unit_id": r1}, want=201)["id"]
    vols = []
    for i in range(2):
        phone = "13" + "".join(secrets.choice("0123456789") for _ in range(9))
        vols.append(a.ok("POST", "/volunteers", {"name": f"两树志愿者{i}", "phone": phone, "org_unit_id": r1},
                         want=201)["id"])

    def served(unit, v, begin, minutes):
        act = a.ok("POST", "/activities", {"team_id": team, "org_unit_id": unit, "title": "两树", "category": "环境",
                                          "location": "门口", "capacity": 5, "starts_at": iso(start),
                                          "ends_at": iso(start + dt.timedelta(hours=2))}, want=201)
        ev = a.ok("GET", f"/activities/{act['id']}/events")["items"][0]
        e = a.ok("POST", "/hours", {"volunteer_id": v, "event_id": ev["id"], "reason": "补录",
                                    "started_at": iso(begin), "ended_at": iso(begin + dt.timedelta(minutes=minutes))},
                 want=201)
        a.ok("POST", f"/hours/{e['id']}/approve", {})

    served(r1, vols[0], start, 30)
    served(r2, vols[0], start + dt.timedelta(minutes=40), 20)
    served(r2, vols[1], start, 50)
    acc = a.ok("POST", "/accounts", {"login": f"rtwo-{tag}", "password": "Coord-pass-123"}, want=201)
    a.ok("POST", f"/accounts/{acc['id']}/roles", {"role": "coordinator", "team_id": team}, want=201)
    lead = Api(server, f"rtwo-{tag}", "Coord-pass-123")
    m = month_of(now)
    (row,) = report(lead, m, "team")["rows"]
    assert (row["approved_minutes"], row["volunteers"], row["events"]) == (100, 2, 3)
    assert report(lead, m, "team")["totals"]["volunteers"] == 2
    # under the tree that owns it: that tree's part, the administrator's row there
    (mine,) = report(lead, m, "team", under=r1)["rows"]
    theirs = {r["id"]: r for r in report(a, m, "team", under=r1)["rows"]}[team]
    assert mine == theirs and (mine["approved_minutes"], mine["volunteers"]) == (30, 1)
    # the other tree owns none of the leader's teams: 404, though the team served there
    assert lead.status("GET", f"/reports/monthly?month={m}&by=team&under={r2}") == 404
    theirs = {r["id"]: r for r in report(a, m, "team", under=r2)["rows"]}[team]
    assert (theirs["approved_minutes"], theirs["volunteers"]) == (70, 2)
