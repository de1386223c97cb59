"""Foundation (issue 3): the real binary against a real PostgreSQL.

Ports and TLS, request limits, the error shape, readiness while PostgreSQL goes away and comes
back, graceful SIGTERM, worker restarts, /metrics through promtool, the migration runner, and
the command line and configuration errors.
"""
import concurrent.futures
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest
import requests

import conftest
import helpers
from helpers import raw_exchange, status_of, wait_until

PROBLEM = "application/problem+json"
HEALTH = "application/health+json"


def assert_problem(r, status):
    assert r.status_code == status, f"{r.request.method} {r.url}: {r.status_code} {r.text[:200]}"
    assert r.headers.get("Content-Type", "").startswith(PROBLEM), r.headers.get("Content-Type")
    body = r.json()
    for key in ("type", "title", "status"):
        assert key in body, f"problem body lacks {key!r}: {body}"
    assert body["status"] == status, body


def assert_charset(r):
    ctype = r.headers.get("Content-Type", "")
    assert ctype, f"{r.url}: no Content-Type"
    assert "charset=utf-8" in ctype.lower() or ctype.startswith((PROBLEM, HEALTH)), \
        f"{r.url}: Content-Type {ctype!r} names no charset"


# --- ports and TLS --------------------------------------------------------------------------

@pytest.mark.skipif("asan" in helpers.BIN, reason="the sanitizer build leaves the hardening out")
def test_the_binary_is_hardened():
    """Full RELRO (BIND_NOW), position independence, stack canaries and checked buffer
    functions (the Makefile's HARDEN), as Debian builds its packages."""
    dyn = subprocess.run(["readelf", "-d", helpers.BIN], capture_output=True, text=True, check=True).stdout
    assert "BIND_NOW" in dyn and "PIE" in dyn, dyn
    hdr = subprocess.run(["readelf", "-lW", helpers.BIN], capture_output=True, text=True, check=True).stdout
    assert "GNU_RELRO" in hdr
    syms = subprocess.run(["nm", "-D", helpers.BIN], capture_output=True, text=True, check=True).stdout
    assert "__stack_chk_fail" in syms and "__snprintf_chk" in syms


def test_http_and_https_ports_answer(server):
    for tls in (False, True):
        r = server.get("/livez", tls=tls)
        assert r.status_code == 200, f"/livez tls={tls}: {r.status_code}"
        assert_charset(r)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["1.2", "1.3"])
def test_modern_tls_accepted(server, version):
    got, err = helpers.tls_handshake(server.https, version)
    assert got == ("TLSv1.2" if version == ssl.TLSVersion.TLSv1_2 else "TLSv1.3"), err
    # A request over that version is answered too.
    ctx = helpers.tls_context(version)
    with socket.create_connection(("127.0.0.1", server.https), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.settimeout(5)
            s.sendall(b"GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            reply = b""
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and b"\r\n" not in reply:
                got_bytes = s.recv(4096)
                if not got_bytes:
                    break
                reply += got_bytes
    assert status_of(reply) == 200, reply[:80]


def _client_offers(version, cert, key):
    """Checks that this machine's OpenSSL can really offer `version`: a handshake with a local
    server that allows it must succeed, or the refusal test below would prove nothing."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    sctx.minimum_version = version
    sctx.maximum_version = version
    sctx.load_cert_chain(cert, key)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.settimeout(5)
    port = lsock.getsockname()[1]

    def serve():
        try:
            conn, _ = lsock.accept()
            conn.settimeout(5)
            with sctx.wrap_socket(conn, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        got, err = helpers.tls_handshake(port, version)
    finally:
        t.join(6)
        lsock.close()
    return got, err


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1], ids=["1.0", "1.1"])
def test_old_tls_refused(server, version):
    offered, why = _client_offers(version, server.cert, server.key)
    if not offered:
        pytest.skip(f"this OpenSSL cannot offer {version.name} at all ({why}): nothing to test")
    got, err = helpers.tls_handshake(server.https, version)
    assert got is None, f"the server accepted {got}"
    assert err and "no protocols available" not in err.lower(), err
    # The server still serves modern clients afterwards.
    assert server.get("/livez", tls=True).status_code == 200


def _content_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _records_per_answer(port, version, path, answers):
    """GETs `path` `answers` times on one keep-alive TLS connection and returns, for each
    answer, how many TLS application-data records carried it, counted in the raw bytes."""
    tls = helpers.tls_context(version).wrap_bio(
        incoming := ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname="localhost")
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    pending = b""  # raw bytes not yet cut into records

    def send_out():
        data = outgoing.read()
        if data:
            raw.sendall(data)

    def next_record():
        nonlocal pending
        while len(pending) < 5 or len(pending) < 5 + int.from_bytes(pending[3:5], "big"):
            data = raw.recv(65536)
            assert data, "the server closed the connection"
            pending += data
        size = 5 + int.from_bytes(pending[3:5], "big")
        record, pending = pending[:size], pending[size:]
        incoming.write(record)
        return record[0]

    counts = []
    try:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                send_out()
                next_record()
        send_out()
        for _ in range(answers):
            tls.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            send_out()
            reply, records = b"", 0
            while True:
                head, sep, body = reply.partition(b"\r\n\r\n")
                if sep and len(body) >= _content_length(head):
                    break
                if next_record() == 23:  # application data (and, in TLS 1.3, every record)
                    records += 1
                try:
                    while True:
                        reply += tls.read(65536)
                except ssl.SSLWantReadError:
                    pass
            assert status_of(reply) == 200, reply[:80]
            counts.append(records)
    finally:
        raw.close()
    return counts


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["1.2", "1.3"])
def test_small_https_answer_is_one_tls_record(server, version):
    """A small answer leaves as one TLS record (so one packet): evhttp queues the headers and
    the body apart, and OpenSSL's bufferevent made a record and a write() of each.  The first
    answer on a connection may share its records with TLS 1.3's session tickets: the later
    ones are counted."""
    counts = _records_per_answer(server.https, version, "/livez", 3)
    assert counts[1:] == [1, 1], f"records per answer: {counts}"


def test_plaintext_on_tls_port_gets_no_http(server):
    reply, err = raw_exchange(server.https, b"GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout=10)
    assert not reply.startswith(b"HTTP/"), f"plain HTTP on the TLS port was answered: {reply[:80]!r}"
    assert err != "timeout", "the server kept a plaintext connection on the TLS port open for 10 s"
    assert server.get("/livez", tls=True).status_code == 200


# --- request limits -------------------------------------------------------------------------

def test_body_over_limit_is_413(server):
    size = 2 * 1024 * 1024
    head = (f"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n").encode()
    body = b"x" * size
    chunks = [head] + [body[i:i + 65536] for i in range(0, size, 65536)]
    reply, err = raw_exchange(server.http, chunks, timeout=10, read_first=0.5)
    assert status_of(reply) == 413, f"expected 413, got {reply[:120]!r} ({err})"
    assert b"application/problem+json" in reply.split(b"\r\n\r\n", 1)[0], reply[:300]
    assert server.get("/livez").status_code == 200


def test_chunked_body_over_limit_is_rejected(server):
    chunk = b"x" * 65536
    piece = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    head = (b"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    chunks = [head] + [piece] * 32 + [b"0\r\n\r\n"]
    reply, err = raw_exchange(server.http, chunks, timeout=10)
    # refused at the chunk size that passes the limit, before its data is read
    assert status_of(reply) == 413, f"got {reply[:120]!r} ({err})"
    assert b"application/problem+json" in reply.split(b"\r\n\r\n", 1)[0], reply[:300]
    assert server.get("/livez").status_code == 200


@pytest.mark.parametrize("lengths", [["2", "40"], ["2", "2"], ["+2"]])
def test_ambiguous_content_length_is_refused_and_the_connection_closed(server, lengths):
    """Two Content-Length headers, or a signed one: libevent 2.1 would take the first, while a
    proxy in front may have framed the request by the other (request smuggling).  The rest of
    the bytes must not be read as a second request."""
    smuggled = b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: localhost\r\n\r\n"
    head = "POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    head += "".join(f"Content-Length: {n}\r\n" for n in lengths)
    reply, err = raw_exchange(server.http, head.encode() + b"\r\n{}" + smuggled, timeout=10)
    assert status_of(reply) == 400, f"got {reply[:200]!r} ({err})"
    assert b"problem+json" in reply and b"Content-Length" in reply.split(b"\r\n\r\n", 1)[1]
    assert reply.count(b"HTTP/1.1 ") == 1, reply[:400]  # nothing after: the connection closed
    assert server.get("/livez").status_code == 200


@pytest.mark.parametrize("shape", ["20KiB", "5000headers"])
def test_header_flood_rejected(server, shape):
    if shape == "20KiB":
        extra = "".join(f"X-Pad-{i}: {'a' * 1000}\r\n" for i in range(20))
    else:
        extra = "".join(f"X-H{i}: v\r\n" for i in range(5000))
    req = f"GET /livez HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n".encode()
    reply, err = raw_exchange(server.http, req, timeout=10)
    # 431 as the head passes 8 KiB or its 50th field (R7), before libevent's own 400
    assert status_of(reply) == 431, f"a header flood got {reply[:120]!r} ({err})"
    assert b"application/problem+json" in reply.split(b"\r\n\r\n", 1)[0], reply[:300]
    # Still serving.
    for _ in range(3):
        assert server.get("/livez").status_code == 200


# --- routing and the error shape ------------------------------------------------------------

def test_unknown_path_is_404_problem(server):
    assert_problem(server.get("/no/such/path"), 404)
    assert_problem(server.get("/api/v1/no-such-resource"), 404)


def test_wrong_method_is_405_with_allow(server):
    for path in ("/livez", "/metrics"):
        r = server.request("DELETE", path)
        assert_problem(r, 405)
        allow = r.headers.get("Allow", "")
        assert "GET" in allow, f"{path}: Allow {allow!r}"


DATA_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def assert_security_headers(path, headers, page=False):
    """R45: nosniff and DENY everywhere; a page, its redirect or its file has the pages' policy
    (Referer kept to this site, since the same-origin check of its forms needs an Origin that
    is not "null"); any other answer is data, and may load nothing and send no Referer."""
    assert headers.get("X-Content-Type-Options") == "nosniff", (path, headers)
    assert headers.get("X-Frame-Options") == "DENY", (path, headers)
    assert "Access-Control-Allow-Origin" not in headers, (path, headers)
    if page:
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], (path, headers)
        assert headers.get("Referrer-Policy") == "same-origin", (path, headers)
    else:
        assert headers.get("Content-Security-Policy") == DATA_CSP, (path, headers)
        assert headers.get("Referrer-Policy") == "no-referrer", (path, headers)


def test_every_response_names_its_charset_and_no_server(server):
    """R13 and R45, over a crawl: every GET route that openapi.json lists (path ids set to 1,
    no session: mostly 401s), the pages, a static file, an unknown path, a wrong method, a
    body refused and a request refused before parsing.  Each answer names its charset,
    carries no Server header (no software or version to look up) and has the security
    headers of its kind."""
    paths = [re.sub(r"\{[^}]+\}", "1", p) for p, ops in server.get("/api/v1/openapi.json").json()["paths"].items()
             if "get" in ops]
    assert len(paths) > 20, paths
    paths += ["/", "/register", "/me", "/console", "/admin", "/checkin/abc", "/static/app.js", "/nope"]
    answers = [(path, server.get(path, allow_redirects=False)) for path in paths]
    answers.append(("DELETE /livez", server.request("DELETE", "/livez")))
    answers.append(("bad JSON", server.request("POST", "/api/v1/session", data=b"{", headers={
        "Content-Type": "application/json"})))
    for path, r in answers:
        assert_charset(r)
        assert "Server" not in r.headers, (path, r.headers["Server"])
        page = (r.headers["Content-Type"].startswith("text/html") or r.status_code == 303
                or (path.startswith("/static/") and r.status_code == 200))
        assert_security_headers(path, r.headers, page=page)
    statuses = {r.status_code for _, r in answers}
    assert {200, 303, 400, 401, 404, 405} <= statuses, statuses
    # refused before parsing (conns.c writes the answer itself)
    reply, err = raw_exchange(server.http, b"GET /livez HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n")
    assert status_of(reply) == 431, (reply[:200], err)
    head = reply.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")[1:]
    assert_security_headers("refusal", dict(line.split(": ", 1) for line in head))


def test_readyz_and_openapi(server):
    r = server.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith(HEALTH)
    assert r.json()["status"] == "pass"
    r = server.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert "paths" in r.json()


# --- the database going away ----------------------------------------------------------------

def test_readyz_follows_postgres_down_and_up(own_pg, make_server):
    srv = make_server(own_pg.url(), tls=False)
    srv.migrate()
    srv.start()
    assert srv.get("/readyz").status_code == 200

    own_pg.stop("fast")

    def ready_status():
        try:
            return srv.get("/readyz", timeout=3).status_code
        except requests.RequestException:
            return None

    assert wait_until(lambda: ready_status() == 503, 15), "/readyz did not turn 503 within 15 s"
    r = srv.get("/readyz", timeout=3)
    assert r.headers.get("Content-Type", "").startswith(HEALTH), r.headers.get("Content-Type")
    assert r.json().get("status") == "fail", r.text

    # An API request that needs the database is answered 503 promptly, not left hanging: the
    # pool counts itself down (its connected gauge never below 0; until 2026-12-07 each failed
    # reconnection counted -1, so the pool never knew it was down and requests waited ~1 s).
    for _ in range(3):
        t0 = time.monotonic()
        r = srv.request("POST", "/api/v1/session", json={"login": "x", "password": "y"}, timeout=5)
        took = time.monotonic() - t0
        assert_problem(r, 503)
        assert r.headers.get("Retry-After"), "503 without Retry-After"
        assert took < 0.5, f"the 503 took {took:.2f} s"
        gauges = re.findall(r"^volunteerd_db_pool_connected\{[^}]*\} (\S+)$", srv.get("/metrics").text, re.M)
        assert gauges and all(float(g) == 0 for g in gauges), gauges
        time.sleep(0.5)
    assert "event=db_unavailable" in srv.log_text()

    own_pg.start()
    assert wait_until(lambda: ready_status() == 200, 20), "/readyz did not return to 200 within 20 s"
    r = srv.request("POST", "/api/v1/session", json={"login": "x", "password": "y"}, timeout=5)
    assert r.status_code != 503, f"still 503 after recovery: {r.text[:200]}"
    assert srv.proc.poll() is None, "the server died while the database was away"


def test_readyz_fails_while_the_schema_is_behind_the_binary(pg, fresh_db, make_server):
    """A rolling upgrade: a server whose binary expects a newer schema than the database has
    is not ready (503, "schema_outdated") until `migrate` has run."""
    name, url = fresh_db()
    srv = make_server(url, tls=False, workers=1)
    srv.migrate()
    srv.start()
    r = srv.get("/readyz")
    assert r.status_code == 200, r.text
    latest = r.json()["checks"]["schema_expected"]
    row = pg.sql(f"SELECT name, checksum FROM schema_migrations WHERE version = {latest}", db=name).strip()
    pg.sql(f"DELETE FROM schema_migrations WHERE version = {latest}", db=name)
    r = srv.get("/readyz")
    assert r.status_code == 503 and r.headers["Content-Type"].startswith(HEALTH), r.text
    checks = r.json()["checks"]
    assert checks["database"] == "schema_outdated" and checks["schema_version"] < latest, checks
    n, c = row.split("|")
    pg.sql(f"INSERT INTO schema_migrations (version, name, checksum) VALUES ({latest}, '{n}', '{c}')", db=name)
    assert srv.get("/readyz").status_code == 200


def test_a_busy_database_gets_503_each_way_and_the_server_recovers(pg, fresh_db, make_server):
    """The three ways a request meets a database too busy to answer (server/db.c, dbconn.c),
    each a prompt 503 problem with Retry-After: its statement runs past statement_timeout; it
    waits in the queue past VOLUNTEERD_DB_QUEUE_WAIT_MS; the queue is full.  One worker with
    one connection and a queue of one, and a lock held on org_units from here (with no
    lock_timeout, which test_attendance.py's held-lock test covers, so that the statement
    runs out its statement_timeout)."""
    name, url = fresh_db()
    srv = make_server(url, tls=False, workers=1, env={
        "VOLUNTEERD_DB_POOL": "1", "VOLUNTEERD_DB_QUEUE": "1", "VOLUNTEERD_DB_QUEUE_WAIT_MS": "400",
        "VOLUNTEERD_DB_STATEMENT_TIMEOUT_MS": "2000", "VOLUNTEERD_DB_LOCK_TIMEOUT_MS": "0"})
    srv.migrate()
    srv.create_admin("busy-admin", "Busy-admin-pass-1")
    srv.start()
    tok = srv.request("POST", "/api/v1/session", json={"login": "busy-admin", "password": "Busy-admin-pass-1"},
                      timeout=10).json()["token"]
    auth = {"Authorization": "Bearer " + tok}
    assert srv.request("GET", "/api/v1/org-units", headers=auth, timeout=10).status_code == 200
    conn = pg.connect(db=name)
    results = {}

    def ask(key):
        t0 = time.monotonic()
        r = srv.request("GET", "/api/v1/org-units", headers=auth, timeout=15)
        results[key] = (r, time.monotonic() - t0)

    try:
        conn.cursor().execute("LOCK TABLE org_units IN ACCESS EXCLUSIVE MODE")
        running = threading.Thread(target=ask, args=("statement",), daemon=True)
        running.start()
        time.sleep(0.3)  # it holds the one connection, waiting on the lock
        queued = threading.Thread(target=ask, args=("queued",), daemon=True)
        queued.start()
        time.sleep(0.1)  # it holds the one place in the queue
        ask("full")
        queued.join(10)
        running.join(10)
    finally:
        conn.rollback()
        conn.close()
    for key, most in (("full", 0.35), ("queued", 1.5), ("statement", 3.5)):
        r, took = results[key]
        assert_problem(r, 503)
        assert r.headers.get("Retry-After"), f"{key}: 503 without Retry-After"
        assert took < most, f"{key}: the 503 took {took:.2f} s"
    # the full queue answers at once, before the queued one has waited its 400 ms
    assert results["queued"][1] >= 0.35 and results["statement"][1] >= 1.5
    # the lock gone, the same connection serves again
    assert srv.request("GET", "/api/v1/org-units", headers=auth, timeout=10).status_code == 200
    assert srv.proc.poll() is None


@pytest.mark.parametrize("prepare", ["1", "0"])
def test_statement_prepared_before_a_schema_change_is_prepared_again(pg, fresh_db, make_server, prepare):
    """Statements are prepared once per connection (server/dbconn.c).  When the schema changes
    the type of a prepared statement's result, PostgreSQL refuses to run it ("cached plan must
    not change result type"): the server sends the statement again as a one-off and closes
    that connection afterwards, so no request sees the error, however many of the pool's
    connections had prepared it (until 2026-12-06 each such connection failed one request,
    two of them in a run under AddressSanitizer).  When every connection does so at once,
    the pool connects again at once and the requests queued meanwhile wait for it (until
    2026-12-07 it took the closes for the database gone and failed them with 503, as a
    helper's run under load found).  With VOLUNTEERD_DB_PREPARE=0 (for a pooler that cannot
    keep prepared statements) nothing is prepared in the first place."""
    name, url = fresh_db()
    srv = make_server(url, tls=False, workers=1, env={"VOLUNTEERD_DB_PREPARE": prepare})
    srv.migrate()
    srv.start()
    def held_back(n):
        """n requests at once, held back by a lock until every connection of the pool has one
        waiting and the rest are queued; their statuses."""
        lock = pg.connect(db=name)
        try:
            lock.cursor().execute("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE")
            with concurrent.futures.ThreadPoolExecutor(n) as pool:
                held = [pool.submit(lambda: srv.get("/readyz", timeout=10).status_code) for _ in range(n)]
                time.sleep(0.5)
                lock.rollback()
                return [f.result() for f in held]
        finally:
            lock.close()

    # /readyz's statement prepared on every connection of the pool (VOLUNTEERD_DB_POOL, 4)
    assert held_back(8) == [200] * 8
    # max(version) of an integer column is an integer; of a bigint, a bigint
    pg.sql("ALTER TABLE schema_migrations ALTER COLUMN version TYPE bigint", db=name)
    # Every connection meets its stale statement at once, with more requests queued behind:
    # the connections close together, and the queued requests wait for new ones instead of
    # being failed as if the database were gone.
    codes = held_back(16)
    codes += [srv.get("/readyz").status_code for _ in range(8)]
    assert codes == [200] * 24, codes
    assert srv.get("/readyz").json()["status"] == "pass"


# --- signals and workers --------------------------------------------------------------------

def test_sigterm_drains_in_flight_request(pg, make_server):
    """A /readyz waiting on a table lock is in flight when SIGTERM arrives: it must still be
    answered, and the server must then exit 0.  (No lock_timeout here, so that the request
    waits for as long as the lock is held.)"""
    srv = make_server(pg.url(), tls=False, env={"VOLUNTEERD_DB_LOCK_TIMEOUT_MS": "0"})
    srv.start()
    conn = pg.connect()
    try:
        cur = conn.cursor()
        cur.execute("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE")
        result = {}

        def ask():
            try:
                result["r"] = srv.get("/readyz", timeout=20)
            except requests.RequestException as e:
                result["e"] = e

        t = threading.Thread(target=ask, daemon=True)
        t.start()
        time.sleep(1.0)
        blocked = t.is_alive()
        if not blocked:
            pytest.skip("/readyz did not wait on schema_migrations; see the slow-body test")
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert srv.proc.poll() is None, "the server exited with a request in flight"
    finally:
        conn.rollback()  # releases the lock
        conn.close()
    t.join(15)
    assert not t.is_alive(), "the in-flight request was never answered"
    assert "r" in result, f"the in-flight request failed: {result.get('e')}"
    assert result["r"].status_code in (200, 503), result["r"].status_code
    rc = srv.wait_exit(15)
    assert rc == 0, f"serve exited with {rc} after SIGTERM:\n{srv.log_text()[-1500:]}"


def test_sigterm_drains_slow_body(pg, make_server):
    """A request whose body is still arriving when SIGTERM comes is finished, then exit 0."""
    srv = make_server(pg.url(), tls=False)
    srv.start()
    body = json.dumps({"login": "nobody", "password": "wrong-password"}).encode()
    head = (f"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", srv.http), timeout=10) as s:
        s.sendall(head + body[:5])
        time.sleep(0.5)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        s.sendall(body[5:])
        reply = b""
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                got = s.recv(65536)
                if not got:
                    break
                reply += got
        except OSError:
            pass
    assert status_of(reply) is not None, f"no reply to the in-flight request: {reply[:80]!r}"
    rc = srv.wait_exit(15)
    assert rc == 0, f"serve exited with {rc} after SIGTERM:\n{srv.log_text()[-1500:]}"
    # New connections are refused once it has gone.
    with pytest.raises(requests.RequestException):
        srv.get("/livez", timeout=2)


def test_killed_worker_is_replaced(server):
    before = wait_until(lambda: len(server.workers()) >= 2 and server.workers(), 10)
    assert before and len(before) == 2, f"expected 2 workers, found {before}"
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    after = wait_until(lambda: (lambda w: len(w) == 2 and victim not in w and w)(server.workers()), 10)
    assert after, f"worker {victim} was not replaced: workers now {server.workers()}"
    new = [p for p in after if p not in before]
    assert new, after
    assert server.proc.poll() is None, "the parent died"
    for _ in range(10):
        assert server.get("/livez").status_code == 200
    assert wait_until(lambda: f"pid={new[0]}" in server.log_text(), 5), "no log line for the new worker"
    log = server.log_text()
    assert "worker_exit" in log, "the worker's death was not logged"
    assert "worker_start" in log


def _peer_cert(port):
    ctx = helpers.tls_context(ssl.TLSVersion.TLSv1_3)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True)


def test_sighup_reloads_certificate(pg, make_server):
    srv = make_server(pg.url(), tls=True)
    srv.start()
    first = _peer_cert(srv.https)
    workers = srv.workers()
    # A renewed certificate in the same files (written aside, then renamed over).
    fresh = os.path.join(srv.dir, "renew")
    os.mkdir(fresh)
    cert, key = helpers.make_cert(fresh)
    os.replace(key, srv.key)
    os.replace(cert, srv.cert)
    srv.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: _peer_cert(srv.https) != first, 5), "still the old certificate 5 s after SIGHUP"
    assert srv.proc.poll() is None, "SIGHUP stopped the server"
    assert srv.workers() == workers, "SIGHUP restarted the workers"
    assert srv.get("/livez", tls=True).status_code == 200


# --- systemd (Type=notify) -------------------------------------------------------------------

class NotifySocket:
    """The datagram socket systemd gives a Type=notify service in NOTIFY_SOCKET."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)

    def received(self, seconds):
        """Yields each message as it comes, for `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                yield self.sock.recv(4096).decode()
            except socket.timeout:
                pass

    def during(self, seconds):
        """Every message received in the next `seconds`."""
        return list(self.received(seconds))

    def until(self, needle, seconds):
        """The messages received until one holds `needle` (within `seconds`), that one last."""
        got = []
        for message in self.received(seconds):
            got.append(message)
            if needle in message:
                return got
        raise AssertionError(f"no {needle!r} within {seconds} s; received {got}")

    def close(self):
        self.sock.close()


def test_systemd_hears_ready_once_serving_and_stopping_at_sigterm(pg, make_server):
    srv = make_server(pg.url(), tls=False)
    notify = NotifySocket(srv.dir)
    try:
        srv.env["NOTIFY_SOCKET"] = notify.path
        srv.spawn()
        ready = notify.until("READY=1", 20)[-1]
        assert "STATUS=serving: 2 workers" in ready, ready
        # `systemctl start` returns at READY=1: by then every worker listens.
        assert len(srv.workers()) == 2
        for _ in range(8):
            assert srv.get("/livez").status_code == 200
        assert not any("READY=1" in m for m in notify.during(1.0)), "READY=1 said twice"
        srv.proc.send_signal(signal.SIGTERM)
        assert "STATUS=draining" in notify.until("STOPPING=1", 5)[-1]
        assert srv.wait_exit(15) == 0
    finally:
        notify.close()


def test_systemd_watchdog_is_fed_only_while_every_worker_turns(pg, make_server):
    # WatchdogSec=1s: systemd sets WATCHDOG_USEC; the parent pings at half of it while every
    # worker's event loop turns, and stops when one has not turned for 3 s (stopped here with
    # SIGSTOP, as a loop stuck in one turn would be), so that systemd restarts the service.
    srv = make_server(pg.url(), tls=False, env={"WATCHDOG_USEC": "1000000"})
    notify = NotifySocket(srv.dir)
    stuck = None
    try:
        srv.env["NOTIFY_SOCKET"] = notify.path
        srv.start()
        notify.until("READY=1", 10)
        fed = [m for m in notify.during(3.0) if "WATCHDOG=1" in m]
        assert len(fed) >= 3, f"the watchdog was pinged {len(fed)} times in 3 s (every 0.5 s due)"
        stuck = srv.workers()[0]
        os.kill(stuck, signal.SIGSTOP)
        notify.during(4.5)  # its last turn was up to 1 s before: 3 s more make it stalled
        assert not any("WATCHDOG=1" in m for m in notify.during(2.0)), \
            "the watchdog was fed while a worker's loop stood still"
        assert "worker_stalled" in srv.log_text()
        os.kill(stuck, signal.SIGCONT)
        stuck = None
        notify.until("WATCHDOG=1", 3)
        assert wait_until(lambda: "worker_turning_again" in srv.log_text(), 3)
        assert srv.get("/livez").status_code == 200
    finally:
        if stuck:
            os.kill(stuck, signal.SIGCONT)
        notify.close()


def _worker_index(srv, pid):
    # The process can be seen before its worker_start line is written: wait for the line.
    line = rf"worker_start\b.*\bworker=(\d+) pid={pid}\b"
    assert wait_until(lambda: re.search(line, srv.log_text()), 5), f"no worker_start line for pid {pid}"
    return int(re.search(line, srv.log_text()).group(1))


def _loop_ages(srv):
    """volunteerd_worker_loop_age_seconds by worker index, from whichever worker answers."""
    for _ in range(20):
        try:
            text = requests.get(srv.url("/metrics"), timeout=0.5).text
        except requests.RequestException:
            continue  # this connection went to a worker that does not answer
        return {int(w): float(v) for w, v in
                re.findall(r'^volunteerd_worker_loop_age_seconds\{worker="(\d+)"\} (\S+)$', text, re.M)}
    raise AssertionError("no worker answered /metrics")


def test_metrics_show_a_worker_whose_loop_stands_still(pg, make_server):
    # Half the connections of a server with a stuck worker hang: the other worker's /metrics
    # says which one, for a Prometheus alert.
    srv = make_server(pg.url(), tls=False)
    srv.start()
    assert wait_until(lambda: len(srv.workers()) == 2, 10)
    ages = _loop_ages(srv)
    assert sorted(ages) == [0, 1] and all(a < 2 for a in ages.values()), ages
    stuck = srv.workers()[0]
    index = _worker_index(srv, stuck)
    os.kill(stuck, signal.SIGSTOP)
    try:
        time.sleep(3)
        ages = _loop_ages(srv)
        assert ages[index] >= 2.5, ages
        assert ages[1 - index] < 2, ages
    finally:
        os.kill(stuck, signal.SIGCONT)
    assert wait_until(lambda: _loop_ages(srv)[index] < 2, 5), _loop_ages(srv)


# --- metrics --------------------------------------------------------------------------------

def test_metrics_pass_promtool(server):
    server.get("/livez")
    server.get("/nope")
    r = server.get("/metrics")
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers.get("Content-Type")
    assert "# TYPE" in r.text
    p = subprocess.run(["promtool", "check", "metrics"], input=r.text, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, f"promtool: {p.stdout}{p.stderr}"


# --- migrations -----------------------------------------------------------------------------

def test_migrate_is_idempotent(pg, fresh_db, make_server):
    name, url = fresh_db()
    srv = make_server(url, tls=False)
    srv.migrate()
    rows = pg.sql("SELECT version, checksum FROM schema_migrations ORDER BY version", db=name)
    assert rows.strip(), "schema_migrations is empty after migrate"
    srv.migrate()
    assert pg.sql("SELECT version, checksum FROM schema_migrations ORDER BY version", db=name) == rows


def test_migrate_refuses_changed_checksum(pg, fresh_db, make_server):
    name, url = fresh_db()
    srv = make_server(url, tls=False)
    srv.migrate()
    pg.sql("UPDATE schema_migrations SET checksum = 'x' WHERE version = (SELECT min(version) FROM schema_migrations)",
           db=name)
    r = srv.cmd(["migrate"])
    assert r.returncode != 0, "migrate accepted a changed checksum"
    assert "checksum" in (r.stderr + r.stdout).lower(), r.stderr + r.stdout


def test_serve_refuses_outdated_schema(pg, fresh_db, make_server):
    # A database never migrated, and one whose newest migration is missing.
    name, url = fresh_db()
    srv = make_server(url, tls=False)
    srv.spawn()
    rc = srv.wait_exit(15)
    assert rc not in (None, 0), f"serve ran on an empty database (rc={rc})"

    srv2 = make_server(url, tls=False)
    srv2.migrate()
    pg.sql("DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)", db=name)
    srv2.spawn()
    rc = srv2.wait_exit(15)
    assert rc not in (None, 0), f"serve ran on an outdated schema (rc={rc})"
    log = srv2.log_text().lower()
    assert "schema" in log or "migrat" in log, f"no clear message: {log[-500:]}"


def test_create_admin_if_missing_is_quiet_the_second_time(server):
    r = server.cmd(["create-admin", "--login", "admin", "--if-missing"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"printed {r.stdout!r} for an existing admin"


# --- the command line and configuration -----------------------------------------------------

@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_exit_0(binary, flag):
    r = helpers.run([binary, flag], timeout=10)
    assert r.returncode == 0, r.stderr
    assert (r.stdout + r.stderr).strip()


@pytest.mark.parametrize("args", [["--no-such-option"], ["no-such-command"], ["serve", "--bogus"]])
def test_unknown_option_exits_2(binary, args):
    r = helpers.run([binary, *args], timeout=10, env={k: v for k, v in os.environ.items()
                                                      if not k.startswith("VOLUNTEERD_")})
    assert r.returncode == 2, f"{args}: exit {r.returncode}"
    assert "usage" in r.stderr.lower(), r.stderr


@pytest.mark.parametrize("value", ["abc", "70000", "-1"])
def test_bad_port_stops_startup_naming_the_variable(pg, make_server, value):
    srv = make_server(pg.url(), tls=False, env={"VOLUNTEERD_HTTP_PORT": value})
    srv.spawn()
    rc = srv.wait_exit(10)
    assert rc in (1, 2), f"VOLUNTEERD_HTTP_PORT={value}: exit {rc}"
    assert "VOLUNTEERD_HTTP_PORT" in srv.log_text(), srv.log_text()[-500:]


def test_bad_config_line_reports_file_and_line(pg, make_server, workdir):
    path = os.path.join(workdir, "bad.conf")
    with open(path, "w") as f:
        f.write("# a comment\n\nthis line has no equals sign\n")
    srv = make_server(pg.url(), tls=False)
    srv.spawn(["--config", path])
    rc = srv.wait_exit(10)
    assert rc in (1, 2), f"exit {rc}"
    assert f"{path}:3" in srv.log_text(), srv.log_text()[-500:]


# --- scripts/run.sh (what `make run` runs after building) -----------------------------------

def _run_sh_once(srv, timeout=30, while_up=None):
    """Starts scripts/run.sh with srv's environment, waits for /livez, calls while_up(output so
    far) if given, sends SIGINT to the script (as Ctrl-C would, through its trap) and returns
    (exit status, output)."""
    out_path = os.path.join(srv.dir, f"run-{time.monotonic_ns()}.out")
    with open(out_path, "wb") as out:
        p = subprocess.Popen(["bash", os.path.join(helpers.ROOT, "scripts", "run.sh")], env=srv.env,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        def live():
            if p.poll() is not None:
                return True
            try:
                return srv.get("/livez", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        assert wait_until(live, timeout), "run.sh: the server did not come up"
        assert p.poll() is None, "run.sh exited early:\n" + open(out_path, errors="replace").read()[-1500:]
        if while_up:
            with open(out_path, errors="replace") as f:
                while_up(f.read())
        p.send_signal(signal.SIGINT)
        rc = p.wait(20)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)
    with open(out_path, errors="replace") as f:
        return rc, f.read()


def test_run_script_makes_one_admin_and_stops_cleanly(fresh_db, make_server):
    _, url = fresh_db()
    srv = make_server(url, tls=True)
    rc, out = _run_sh_once(srv)
    assert rc == 0, f"run.sh exited {rc} after SIGINT:\n{out[-1500:]}"
    assert "password:" in out, f"no one-time password shown:\n{out[-1500:]}"
    assert "no private PostgreSQL" in out, "run.sh should use DATABASE_URL and start no cluster"
    rc, out = _run_sh_once(srv)
    assert rc == 0, f"second run.sh exited {rc}:\n{out[-1500:]}"
    assert "password:" not in out, f"a second admin password was printed:\n{out[-1500:]}"


def test_make_run_with_its_private_cluster_then_again(make_server, workdir):
    """DESIGN §7 as a user meets it: no DATABASE_URL, so run.sh makes a private PostgreSQL
    (as root, run by the postgres user), a secret and a certificate under var/ (here a
    directory of the test's own, VOLUNTEERD_VAR), loads the demo district, creates the admin
    and prints the password once, serves HTTP and HTTPS, and stops the cluster on Ctrl-C.  A
    second run reuses all of it: the same data, the same admin, no second password."""
    import tempfile
    var = tempfile.mkdtemp(prefix="vd-test-var-", dir=workdir)
    srv = make_server("", tls=True)
    for k in ("DATABASE_URL", "VOLUNTEERD_SECRET_FILE", "VOLUNTEERD_TLS_CERT", "VOLUNTEERD_TLS_KEY"):
        srv.env.pop(k, None)
    srv.env.update(VOLUNTEERD_VAR=var, VOLUNTEERD_PG_PORT=str(helpers.free_port()))
    seen = {}

    def first(out):
        password = re.search(r"password: *(\S+)", out)
        assert password, f"no one-time password shown:\n{out[-1500:]}"
        seen["password"] = password.group(1)
        s = requests.post(srv.url("/api/v1/session", tls=True), verify=False, timeout=10,
                          json={"login": "admin", "password": seen["password"]})
        assert s.status_code == 201, s.text
        seen["units"] = requests.get(srv.url("/api/v1/org-units"), timeout=10,
                                     headers={"Authorization": "Bearer " + s.json()["token"]}).json()["items"]
        assert seen["units"], "no demo district loaded"

    def again(out):
        s = srv.request("POST", "/api/v1/session", json={"login": "admin", "password": seen["password"]},
                        timeout=10)
        assert s.status_code == 201, s.text
        units = srv.get("/api/v1/org-units", timeout=10,
                        headers={"Authorization": "Bearer " + s.json()["token"]}).json()["items"]
        assert units == seen["units"]

    def stop_cluster():  # if run.sh was killed before its trap could
        subprocess.run(["bash", os.path.join(helpers.ROOT, "scripts", "dev-db.sh"), "stop"], env=srv.env,
                       capture_output=True, timeout=60)

    conftest._track(stop_cluster)
    rc, out = _run_sh_once(srv, timeout=180, while_up=first)
    assert rc == 0, f"run.sh exited {rc} after SIGINT:\n{out[-1500:]}"
    assert "private PostgreSQL" in out and "dev-db: stopped" in out, out[-1500:]
    for made in ("pg/data/PG_VERSION", "secret", "tls/cert.pem", "tls/key.pem"):
        assert os.path.exists(os.path.join(var, made)), made
    assert oct(os.stat(os.path.join(var, "secret")).st_mode & 0o777) == "0o600"
    status = subprocess.run(["bash", os.path.join(helpers.ROOT, "scripts", "dev-db.sh"), "status"],
                            env=srv.env, capture_output=True, text=True)
    assert status.returncode == 3, status.stdout  # the cluster stopped with the server

    rc, out = _run_sh_once(srv, timeout=60, while_up=again)
    assert rc == 0, f"second run.sh exited {rc}:\n{out[-1500:]}"
    assert "password:" not in out and "demo district" not in out, out[-1500:]
