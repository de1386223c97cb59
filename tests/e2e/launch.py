#!/usr/bin/env python3
"""Starts what the browser tests need and prints it as one JSON line on stdout: a throwaway
PostgreSQL cluster and the real build/volunteerd (the same helpers as tests/integration), a
small district with a team, a coordinator, an event under way now and a volunteer signed up
for it.  Then it waits until its standard input closes (the Node test runner closes it in
its after() hook, or dies) and stops everything it started, also on SIGTERM or SIGINT.

Usage: /usr/bin/python3 tests/e2e/launch.py   (prints {"base": "http://127.0.0.1:PORT", ...})
"""
import datetime as dt
import json
import os
import secrets
import signal
import sys
import tempfile
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import helpers  # noqa: E402
from apiclient import Api  # noqa: E402

TZ = dt.timezone(dt.timedelta(hours=8))


def main():
    workdir = tempfile.mkdtemp(prefix="vd-e2e-")
    os.chmod(workdir, 0o755)
    pg = helpers.Postgres()
    server = None
    stopped = []

    def cleanup(*_):
        if stopped:
            return
        stopped.append(1)
        if server:
            server.cleanup()
        pg.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)

    def on_signal(signum, frame):
        cleanup()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        pg.init()
        admin_login, admin_password = "admin", "Adm1n-" + secrets.token_urlsafe(12)
        setup = helpers.Server(pg.url(), workdir, tls=False)
        setup.migrate()
        setup.create_admin(admin_login, admin_password)
        server = helpers.Server(pg.url(), workdir, tls=False, workers=2)
        server.start()

        tag = secrets.token_hex(3)
        admin = Api(server, admin_login, admin_password)

        def unit(parent, kind, code, name):
            return admin.ok("POST", "/org-units", {"parent_id": parent, "kind": kind,
                                                   "code": f"{code}-{tag}", "name": name}, want=201)

        district = unit(None, "district", "D", "示范区")
        sub = unit(district["id"], "subdistrict", "S", "新华街道")
        community = unit(sub["id"], "community", "C", "幸福社区")
        unit(sub["id"], "community", "C2", "和平社区")
        team = admin.ok("POST", "/teams", {"name": "幸福社区志愿服务队", "org_unit_id": community["id"]}, want=201)
        coord = admin.ok("POST", "/accounts", {"login": f"coord-{tag}", "password": "Coord-pass-123"}, want=201)
        admin.ok("POST", f"/accounts/{coord['id']}/roles",
                 {"role": "coordinator", "org_unit_id": community["id"]}, want=201)
        co = Api(server, f"coord-{tag}", "Coord-pass-123")

        now = dt.datetime.now(TZ).replace(microsecond=0)

        def event(title, start, end, capacity=20):
            a = co.ok("POST", "/activities", {
                "team_id": team["id"], "org_unit_id": community["id"], "title": title, "category": "环境",
                "location": "幸福社区东门", "capacity": capacity,
                "starts_at": start.isoformat(), "ends_at": end.isoformat()}, want=201)
            return co.ok("GET", f"/activities/{a['id']}/events")["items"][0]["id"]

        # Several events under way now, so that each browser test has its own (one open
        # attendance per volunteer, and one volunteer per test keeps the tests independent).
        events = [event(f"交通文明岗 {i}", now - dt.timedelta(minutes=20), now + dt.timedelta(hours=2))
                  for i in range(6)]
        upcoming = event("周五清洁", now + dt.timedelta(days=2), now + dt.timedelta(days=2, hours=2))
        out = {
            "base": server.url(""),
            "admin": {"login": admin_login, "password": admin_password},
            "coordinator": {"login": f"coord-{tag}", "password": "Coord-pass-123"},
            "community": community["id"], "community_name": community["name"],
            "events": events, "upcoming": upcoming, "tag": tag,
            "phone_prefix": f"13{int(tag, 16) % 1000:03d}",
        }
        print(json.dumps(out, ensure_ascii=False), flush=True)
        sys.stdin.read()  # until the test runner closes it
    except Exception as e:  # report, then clean up
        print(json.dumps({"error": repr(e)}), flush=True)
        raise
    finally:
        cleanup()


if __name__ == "__main__":
    main()
