"""The measuring half of scripts/bench-reports.sh (which starts PostgreSQL, generates the data
and starts the server): python3 scripts/bench_reports.py BASE_URL OUT_FILE

Environment: ADMIN_PASSWORD, PSQL_URL, BENCH_REQUESTS, BENCH_CHECKINS_PER_S, BENCH_SCALE,
BENCH_GEN_SECONDS.  Every HTTP call has a timeout; the background writer stops when told to or
after a bounded time.
"""
import datetime
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import time

import requests

BASE, OUT = sys.argv[1], sys.argv[2]
PSQL_URL = os.environ["PSQL_URL"]
N = int(os.environ.get("BENCH_REQUESTS", "200"))
RATE = float(os.environ.get("BENCH_CHECKINS_PER_S", "20"))
TZ = "Asia/Shanghai"


def psql(sql, timeout=1800):
    r = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", PSQL_URL, "-f", "-"], input=sql,
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise SystemExit(f"psql failed: {r.stderr}\n{sql}")
    return r.stdout.strip()


def login():
    r = requests.post(BASE + "/api/v1/session",
                      json={"login": "admin", "password": os.environ["ADMIN_PASSWORD"]}, timeout=10)
    r.raise_for_status()
    return {"Authorization": "Bearer " + r.json()["token"]}


def pct(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def writer(headers, event_id, volunteers, rate, stop, stats, deadline):
    """Paced roster check-ins and check-outs through the API, one volunteer after another."""
    sess = requests.Session()  # no cookies: Bearer only
    lat, ok, bad = [], 0, 0
    errors = {}
    i = 0
    t_start = t_next = time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline:
        v = volunteers[i % len(volunteers)]
        i += 1
        for what in ("check-ins", "check-outs"):
            t0 = time.monotonic()
            try:
                r = sess.post(f"{BASE}/api/v1/events/{event_id}/{what}", json={"volunteer_id": v},
                              headers=headers, timeout=10)
                code = r.status_code
            except requests.RequestException as e:
                code = type(e).__name__
            lat.append((time.monotonic() - t0) * 1000)
            if code in (200, 201):
                ok += 1
            else:
                bad += 1
                errors[str(code)] = errors.get(str(code), 0) + 1
        t_next += 1.0 / rate
        pause = t_next - time.monotonic()
        if pause > 0:
            stop.wait(pause)
        else:
            t_next = time.monotonic()
    stats.put({"ok": ok, "bad": bad, "errors": errors, "pairs": i, "seconds": time.monotonic() - t_start,
               "p50": pct(lat, 50) if lat else 0, "p95": pct(lat, 95) if lat else 0})


def timed_get(sess, path, headers):
    t0 = time.perf_counter()
    r = sess.get(BASE + path, headers=headers, timeout=30)
    ms = (time.perf_counter() - t0) * 1000
    return ms, r


def psql_time(sql, runs=3):
    """Median wall time in ms of a query run in psql (after one warm-up run), and its output."""
    script = "\\timing on\n" + "\n".join([sql] * (runs + 1))
    out = psql(script)
    times = [float(x) for x in re.findall(r"^Time: ([0-9.]+) ms", out, re.M)]
    rows = [l for l in out.splitlines() if l and not l.startswith("Time:") and l != "Timing is on."]
    return statistics.median(times[1:]), rows


def main():
    headers = login()
    info = dict(x.split("=", 1) for x in psql(f"""
        SELECT 'month=' || to_char(date_trunc('month', now() AT TIME ZONE '{TZ}') - interval '1 month', 'YYYY-MM');
        SELECT 'current=' || to_char(now() AT TIME ZONE '{TZ}', 'YYYY-MM');
        SELECT 'attendances=' || count(*) FROM attendances;
        SELECT 'entries=' || count(*) FROM hour_entries;
        SELECT 'days=' || count(*) FROM hour_entry_days;
        SELECT 'volunteers=' || count(*) FROM volunteers;
        SELECT 'signups=' || count(*) FROM signups;
        SELECT 'events=' || count(*) FROM events;
        SELECT 'district=' || id FROM org_units WHERE parent_id IS NULL ORDER BY id LIMIT 1;
    """).splitlines())
    month, district = info["month"], info["district"]

    # An event happening now, with sign-ups for the background writer.
    nvol = min(int(info["volunteers"]), 20000)
    event_id = psql(f"""
        WITH a AS (
            INSERT INTO activities (team_id, org_unit_id, title, category, location)
            SELECT 1, (SELECT min(id) FROM org_units WHERE kind = 'grid'), 'bench：交通文明岗（进行中）', 'traffic', 'bench'
            RETURNING id)
        INSERT INTO events (activity_id, starts_at, ends_at)
        SELECT id, now() - interval '5 minutes', now() + interval '6 hours' FROM a RETURNING id;
    """).splitlines()[0]
    psql(f"""INSERT INTO signups (event_id, volunteer_id, status)
             SELECT {event_id}, id, 'confirmed' FROM volunteers ORDER BY id LIMIT {nvol};""")
    volunteers = [int(x) for x in psql(f"SELECT volunteer_id FROM signups WHERE event_id = {event_id} ORDER BY 1;").split()]

    reports = [
        ("monthly by org_unit", f"/api/v1/reports/monthly?month={month}&by=org_unit&under={district}"),
        ("monthly by team", f"/api/v1/reports/monthly?month={month}&by=team&under={district}"),
        ("by org_unit, current month", f"/api/v1/reports/monthly?month={info['current']}&by=org_unit&under={district}"),
    ]

    stop = multiprocessing.Event()
    stats = multiprocessing.Queue()
    proc = multiprocessing.Process(target=writer, args=(headers, event_id, volunteers, RATE, stop, stats,
                                                        time.monotonic() + 1800), daemon=True)
    proc.start()
    time.sleep(2)  # let the writer get going

    sess = requests.Session()
    results = []
    bodies = {}
    for name, path in reports:
        for _ in range(10):  # warm-up
            timed_get(sess, path, headers)
        lat, codes = [], {}
        for _ in range(N):
            ms, r = timed_get(sess, path, headers)
            lat.append(ms)
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            if r.status_code == 200:
                bodies[name] = r
        results.append((name, lat, codes))
    stop.set()
    proc.join(30)
    wstats = stats.get(timeout=10) if proc.exitcode is not None else {"ok": 0, "bad": 0, "errors": {}, "pairs": 0,
                                                                      "seconds": 1, "p50": 0, "p95": 0}
    if proc.is_alive():
        proc.terminate()

    # The same figures without rollups: a plain GROUP BY over the ledger (hour_entries, by the
    # month of started_at, joined to the org units' paths), and over the month's partition of
    # hour_entry_days (the per-day split the rollups are built from).
    m_from = f"TIMESTAMP '{month}-01' AT TIME ZONE '{TZ}'"
    m_to = f"(TIMESTAMP '{month}-01' + interval '1 month') AT TIME ZONE '{TZ}'"
    q_org_ledger = f"""SELECT c.id, sum(h.minutes) FILTER (WHERE h.status = 'approved'), sum(h.minutes) FILTER (WHERE h.status = 'pending'),
        count(DISTINCT h.volunteer_id) FILTER (WHERE h.status = 'approved' AND h.minutes > 0)
      FROM org_units c JOIN org_units u ON u.path >= c.path AND u.path < left(c.path, -1) || '0'
      JOIN hour_entries h ON h.org_unit_id = u.id
     WHERE c.parent_id = {district} AND h.started_at >= {m_from} AND h.started_at < {m_to}
       AND h.status IN ('approved', 'pending') GROUP BY c.id ORDER BY c.id;"""
    q_team_ledger = f"""SELECT h.team_id, sum(h.minutes) FILTER (WHERE h.status = 'approved'), sum(h.minutes) FILTER (WHERE h.status = 'pending'),
        count(DISTINCT h.volunteer_id) FILTER (WHERE h.status = 'approved' AND h.minutes > 0)
      FROM hour_entries h
     WHERE h.started_at >= {m_from} AND h.started_at < {m_to} AND h.status IN ('approved', 'pending')
     GROUP BY h.team_id ORDER BY 1;"""
    q_org_days = f"""SELECT c.id, sum(d.minutes) FILTER (WHERE d.status = 'approved'), sum(d.minutes) FILTER (WHERE d.status = 'pending'),
        count(DISTINCT d.volunteer_id) FILTER (WHERE d.status = 'approved')
      FROM org_units c JOIN org_units u ON u.path >= c.path AND u.path < left(c.path, -1) || '0'
      JOIN hour_entry_days d ON d.org_unit_id = u.id
     WHERE c.parent_id = {district} AND d.day >= DATE '{month}-01' AND d.day < DATE '{month}-01' + interval '1 month'
       AND d.status IN ('approved', 'pending') GROUP BY c.id ORDER BY c.id;"""
    q_team_days = f"""SELECT d.team_id, sum(d.minutes) FILTER (WHERE d.status = 'approved'), sum(d.minutes) FILTER (WHERE d.status = 'pending'),
        count(DISTINCT d.volunteer_id) FILTER (WHERE d.status = 'approved')
      FROM hour_entry_days d
     WHERE d.day >= DATE '{month}-01' AND d.day < DATE '{month}-01' + interval '1 month'
       AND d.status IN ('approved', 'pending') GROUP BY d.team_id ORDER BY 1;"""
    t_org_ledger, _ = psql_time(q_org_ledger)
    t_team_ledger, _ = psql_time(q_team_ledger)
    t_org_days, rows_org_days = psql_time(q_org_days)
    t_team_days, rows_team_days = psql_time(q_team_days)
    # exactness: the API's totals against the per-day ledger
    exact_lines = []
    tot = psql(f"""SELECT coalesce(sum(minutes) FILTER (WHERE status = 'approved'), 0) || ' ' ||
                          coalesce(sum(minutes) FILTER (WHERE status = 'pending'), 0) || ' ' ||
                          count(DISTINCT volunteer_id) FILTER (WHERE status = 'approved' AND minutes > 0)
                     FROM hour_entry_days WHERE day >= DATE '{month}-01' AND day < DATE '{month}-01' + interval '1 month'
                      AND status IN ('approved', 'pending');""").split()
    for name in ("monthly by org_unit", "monthly by team"):
        r = bodies.get(name)
        if r is None:
            exact_lines.append(f"{name}: no 200 answer to compare")
            continue
        t = r.json().get("totals", {})
        got = [str(t.get("approved_minutes")), str(t.get("pending_minutes")), str(t.get("volunteers"))]
        exact_lines.append(f"{name}: totals approved/pending/volunteers = {'/'.join(got)}; "
                           f"hour_entry_days GROUP BY = {'/'.join(tot)}: {'equal' if got == tot else 'DIFFERENT'}")
    # per row, by org unit
    r = bodies.get("monthly by org_unit")
    if r is not None:
        api_rows = {str(x.get("id")): (str(x.get("approved_minutes")), str(x.get("pending_minutes"))) for x in r.json().get("rows", [])}
        plain = {l.split("|")[0]: (l.split("|")[1] or "0", l.split("|")[2] or "0") for l in rows_org_days}
        diff = [k for k in plain if api_rows.get(k, ("0", "0")) != plain[k]]
        exact_lines.append(f"by org_unit rows: {len(api_rows)} from the API, {len(plain)} with minutes in the plain GROUP BY, "
                           f"{len(diff)} differing")

    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        f"volunteerd make bench-reports, {now}",
        f"data: scale {os.environ.get('BENCH_SCALE')}: {info['volunteers']} volunteers, {info['events']} events, "
        f"{info['signups']} sign-ups, {info['attendances']} attendances, {info['entries']} hour entries, "
        f"{info['days']} entry days; generated in {os.environ.get('BENCH_GEN_SECONDS')} s",
        f"server: 2 workers, HTTP on 127.0.0.1; PostgreSQL 15 private cluster (shared_buffers 2GB, work_mem 64MB, jit off, fsync on)",
        *([f"what-if: BENCH_EXTRA_SQL = {os.environ['BENCH_EXTRA_SQL']}"] if os.environ.get("BENCH_EXTRA_SQL") else []),
        f"reports: month {month} (and {info['current']}, the month taking the check-ins), under the district (id {district}), "
        f"{N} timed requests each after 10 warm-ups, one client, keep-alive",
        f"background: roster check-in + check-out through the API, one paced client asking {RATE:g} pairs/s, achieved "
        f"{wstats['pairs'] / max(wstats['seconds'], 0.001):.1f} pairs/s over {wstats['seconds']:.0f} s: {wstats['ok']} writes ok, "
        f"{wstats['bad']} failed {wstats['errors'] or ''}, write p50 {wstats['p50']:.1f} ms, p95 {wstats['p95']:.1f} ms",
        "",
        f"{'report':30} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  {'status':10} {'GROUP BY ledger ms':>19} {'ratio p50':>10} {'ratio p95':>10}",
    ]
    plain_ms = {"monthly by org_unit": t_org_ledger, "monthly by team": t_team_ledger}
    verdict = []
    for name, lat, codes in results:
        p50, p95, p99 = pct(lat, 50), pct(lat, 95), pct(lat, 99)
        g = plain_ms.get(name)
        lines.append(f"{name:30} {len(lat):4d} {p50:8.1f} {p95:8.1f} {p99:8.1f} {max(lat):8.1f}  "
                     f"{','.join(f'{k}x{v}' for k, v in codes.items()):10} "
                     + (f"{g:19.1f} {g / p50:9.0f}x {g / p95:9.0f}x" if g else f"{'':19} {'':>10} {'':>10}"))
        if name in plain_ms:
            verdict.append(f"{name}: p95 {p95:.1f} ms {'<' if p95 < 50 else '>='} 50 ms: {'MET' if p95 < 50 else 'NOT MET'}")
    lines += [
        "",
        f"plain GROUP BY over the month's partition of hour_entry_days instead (no rollups, partition-pruned): "
        f"by org_unit {t_org_days:.1f} ms, by team {t_team_days:.1f} ms",
        "plain GROUP BY times: psql, median of 3 runs after a warm-up, the same cluster, while idle",
        "",
        "target (issue 6): p95 < 50 ms for each report at scale 1, while check-ins continue:",
        *["  " + v for v in verdict],
        "",
        "exactness:",
        *["  " + x for x in exact_lines],
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(OUT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
