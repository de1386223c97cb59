"""Connection deadlines and caps (R9, R10), against the real binary over loopback sockets.

Each test starts a server of its own with short limits.  Deadlines: a request's headers
trickled a byte at a time are cut at VOLUNTEERD_HEADER_TIMEOUT from their first byte (plain
and TLS), a body at VOLUNTEERD_BODY_TIMEOUT from the headers' end, each with a 408 answer
before the close; a TLS handshake trickled a byte at a time is closed, without an answer, at
VOLUNTEERD_HTTP_TIMEOUT from the accept; a slow but honest client and a
keep-alive connection idle for longer than the header deadline are still served; a
connection answers VOLUNTEERD_MAX_REQUESTS_PER_CONN requests, the last with Connection:
close.  Caps: 100 connections from 127.0.0.2 against a cap of 16 per address keep 16 per
worker, and the total cap stops accepting (without spinning) until connections close.  In
every case a probe from 127.0.0.1 still gets 200 from /livez, the counters in /metrics say
what happened, and the worker's descriptors stay bounded.  A worker out of descriptors pauses
accepting and lives on.

Times are asserted as ranges around the deadline (the machine is shared), never as speed.
"""
import http.client
import os
import resource
import socket
import time

import pytest

from helpers import dial, metric_sum as total, wait_until

TIMEOUT = 10
TRICKLED_HEAD = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 2000
BODY_HEAD = (b"POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             b"Content-Type: application/json\r\nContent-Length: 2000\r\n\r\n")
LIVEZ = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def serve(make_server, pg, workers=1, tls=False, **settings):
    env = {f"VOLUNTEERD_{k}": str(v) for k, v in settings.items()}
    return make_server(pg.url(), tls=tls, workers=workers, env=env).start()


def probe(srv):
    """/livez from 127.0.0.1 on a fresh connection."""
    assert srv.get("/livez", timeout=TIMEOUT).status_code == 200


def metrics(srv):
    return srv.get("/metrics", timeout=TIMEOUT).text


def worker_fds(srv):
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in srv.workers())


def worker_cpu_s(srv):
    ticks = 0
    for pid in srv.workers():
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def peer_closed(s):
    """Whether the server closed s, waiting up to s's timeout (what it sent is dropped)."""
    try:
        return not s.recv(65536)
    except socket.timeout:
        return False
    except OSError:
        return True


def trickle(s, data, gap, limit):
    """Sends data a byte every `gap` seconds until the server answers or closes the connection
    or `limit` seconds pass.  Returns (the seconds from the first byte to the answer or the
    close, or None; the answer, read to the close)."""
    t0 = time.monotonic()
    s.settimeout(gap)
    for i in range(len(data)):
        if time.monotonic() - t0 > limit:
            return None, b""
        try:
            s.sendall(data[i:i + 1])
            got = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - t0, b""
        took, reply = time.monotonic() - t0, got
        s.settimeout(TIMEOUT)
        while got:
            got = s.recv(65536)
            reply += got
        return took, reply
    return None, b""


def status_408(reply):
    """Whether reply is one 408 problem that closes the connection."""
    head = reply.split(b"\r\n\r\n", 1)[0].lower()
    return (reply.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head
            and b"application/problem+json" in head)


def closed_within(s, limit):
    """Seconds until the server closes s, or None when it is still open after `limit`."""
    t0 = time.monotonic()
    s.settimeout(min(limit, 0.2))
    while time.monotonic() - t0 < limit:
        if peer_closed(s):
            return time.monotonic() - t0
    return None


def read_answer(s):
    """One HTTP answer from s: (status, headers with lower-case names, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        got = s.recv(65536)
        assert got, f"closed before an answer: {buf[:200]!r}"
        buf += got
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        got = s.recv(65536)
        assert got, "closed inside an answer's body"
        rest += got
    assert len(rest) == length, "more than one answer arrived"
    return int(lines[0].split(" ")[1]), headers, rest


# --- deadlines ------------------------------------------------------------------------------

@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_trickled_headers_are_cut_at_the_header_deadline(pg, make_server, tls):
    srv = serve(make_server, pg, tls=tls, HEADER_TIMEOUT=2, BODY_TIMEOUT=30, HTTP_TIMEOUT=30)
    with dial(srv.https if tls else srv.http, tls=tls) as s:
        took, reply = trickle(s, TRICKLED_HEAD, gap=0.25, limit=12)
    assert took is not None, "a client trickling its headers was held 12 s"
    assert 1.5 <= took <= 5, f"answered {took:.2f} s after the first byte (deadline 2 s)"
    assert status_408(reply), reply[:300]
    probe(srv)
    assert total(metrics(srv), "volunteerd_http_deadline_closes_total", deadline="header") == 1


def test_trickled_body_is_cut_at_the_body_deadline(pg, make_server):
    srv = serve(make_server, pg, HEADER_TIMEOUT=2, BODY_TIMEOUT=4, HTTP_TIMEOUT=30)
    with dial(srv.http) as s:
        s.sendall(BODY_HEAD)
        took, reply = trickle(s, b"x" * 2000, gap=0.25, limit=12)
    assert took is not None, "a client trickling its body was held 12 s"
    # After the header deadline (2 s), at the body's (4 s from the headers' end).
    assert 3 <= took <= 7, f"answered {took:.2f} s after the headers (deadline 4 s)"
    assert status_408(reply), reply[:300]
    probe(srv)
    m = metrics(srv)
    assert total(m, "volunteerd_http_deadline_closes_total", deadline="body") == 1
    assert total(m, "volunteerd_http_deadline_closes_total", deadline="header") == 0


def test_trickled_tls_handshake_is_cut_at_the_wait_deadline(pg, make_server):
    """Handshake bytes never reach evhttp, and evhttp's own timeout restarts with each byte:
    the wait for a request, counted from the accept, bounds the handshake too."""
    srv = serve(make_server, pg, tls=True, HEADER_TIMEOUT=2, HTTP_TIMEOUT=3)
    with dial(srv.https) as s:
        # A TLS record header announcing a 512-byte handshake message, then its bytes, slowly.
        took, reply = trickle(s, b"\x16\x03\x01\x02\x00" + b"\x01" * 512, gap=0.25, limit=12)
    assert took is not None, "a client trickling its TLS handshake was held 12 s"
    assert reply == b"", reply[:300]  # no request yet: closed without an answer
    assert 2.5 <= took <= 6, f"closed {took:.2f} s after the accept (deadline 3 s)"
    probe(srv)
    assert total(metrics(srv), "volunteerd_http_deadline_closes_total", deadline="idle") >= 1


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_slow_honest_client_and_long_keep_alive_are_served(pg, make_server, tls):
    """A request sent in pieces within the header deadline is answered; then the connection
    idles longer than the header deadline (but within VOLUNTEERD_HTTP_TIMEOUT) and is still
    served: the header deadline counts from a request's first byte, not from the answer."""
    srv = serve(make_server, pg, tls=tls, HEADER_TIMEOUT=2, HTTP_TIMEOUT=6)
    with dial(srv.https if tls else srv.http, tls=tls) as s:
        for piece in (b"GET /livez HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"\r\n"):
            s.sendall(piece)
            time.sleep(0.5)
        assert read_answer(s)[0] == 200
        time.sleep(3)
        s.sendall(LIVEZ)
        status, headers, _ = read_answer(s)
        assert status == 200 and headers.get("connection") != "close"
    assert total(metrics(srv), "volunteerd_http_deadline_closes_total") == 0


def test_a_connection_serves_its_cap_of_requests_then_closes(pg, make_server):
    srv = serve(make_server, pg, MAX_REQUESTS_PER_CONN=3)
    with dial(srv.http) as s:
        for i in range(3):
            s.sendall(LIVEZ)
            status, headers, _ = read_answer(s)
            assert status == 200
            assert (headers.get("connection") == "close") == (i == 2), (i, headers)
        assert closed_within(s, 5) is not None, "open after its last answer"
    # Pipelined: three answers, then the connection closes; the other two are not read.
    with dial(srv.http) as s:
        s.sendall(LIVEZ * 5)
        got = b""
        s.settimeout(5)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    assert got.count(b"HTTP/1.1 200") == 3, got[:600]
    probe(srv)
    assert total(metrics(srv), "volunteerd_http_request_cap_closes_total") == 2


# --- caps -----------------------------------------------------------------------------------

@pytest.mark.parametrize("workers", [1, 2])
def test_per_address_cap_keeps_its_share_and_serves_others(pg, make_server, workers):
    srv = serve(make_server, pg, workers=workers, MAX_CONNECTIONS_PER_IP=16, HTTP_TIMEOUT=60)
    probe(srv)
    fds_before = worker_fds(srv)
    flood = [dial(srv.http, source="127.0.0.2") for _ in range(100)]
    try:
        kept = 16 * workers
        refused = wait_until(lambda: total(metrics(srv), "volunteerd_http_connections_refused_total")
                             >= 100 - kept, TIMEOUT)
        # Each worker keeps 16: with two, one address gets 16 from each (the kernel spreads
        # its connections over the workers by their ports).
        assert refused, f"refused only {total(metrics(srv), 'volunteerd_http_connections_refused_total')}"
        open_now = [s for s in flood if closed_within(s, 0.05) is None]
        assert len(open_now) == kept, f"{len(open_now)} of 100 kept open (cap 16 per worker)"
        assert worker_fds(srv) <= fds_before + kept + 4, (fds_before, worker_fds(srv))
        # The address's kept connections work; other addresses are not affected.
        open_now[0].sendall(LIVEZ)
        assert read_answer(open_now[0])[0] == 200
        with dial(srv.http, source="127.0.0.3") as other:
            other.sendall(LIVEZ)
            assert read_answer(other)[0] == 200
        probe(srv)
    finally:
        for s in flood:
            s.close()
    # Closed, the address's count is released: it gets its share again.
    wait_until(lambda: worker_fds(srv) <= fds_before + 2, TIMEOUT)
    again = [dial(srv.http, source="127.0.0.2") for _ in range(16)]
    try:
        time.sleep(0.5)
        assert all(closed_within(s, 0.05) is None for s in again), "refused after the others closed"
    finally:
        for s in again:
            s.close()


def test_total_cap_pauses_accepting_until_connections_close(pg, make_server):
    cap = 40
    srv = serve(make_server, pg, MAX_CONNECTIONS=cap, MAX_CONNECTIONS_PER_IP=0, HTTP_TIMEOUT=60)
    kept = http.client.HTTPConnection("127.0.0.1", srv.http, timeout=TIMEOUT)

    def ask(path):
        kept.request("GET", path)
        r = kept.getresponse()
        return r.status, r.read().decode()

    assert ask("/livez")[0] == 200
    fds_before = worker_fds(srv)
    # 100 connections from 20 addresses: TCP connects succeed (the kernel's backlog), the
    # worker accepts up to its cap (the probe's connection included), then stops accepting.
    flood = [dial(srv.http, source=f"127.0.0.{10 + i % 20}") for i in range(100)]
    try:
        full = wait_until(lambda: total(ask("/metrics")[1], "volunteerd_http_connections") >= cap,
                          TIMEOUT)
        assert full, "the worker never reached its cap"
        time.sleep(0.5)
        m = ask("/metrics")[1]
        assert total(m, "volunteerd_http_connections") == cap
        assert total(m, "volunteerd_http_accept_pauses_total") >= 1
        assert total(m, "volunteerd_http_connections_refused_total") == 0
        assert worker_fds(srv) <= fds_before + cap, (fds_before, worker_fds(srv))
        # Paused, not spinning: the worker is all but idle while the backlog waits.
        cpu0 = worker_cpu_s(srv)
        time.sleep(2)
        assert worker_cpu_s(srv) - cpu0 < 1.0, "the worker is busy while it does not accept"
        assert ask("/livez")[0] == 200  # on the connection it had before the flood
    finally:
        for s in flood:
            s.close()
    # Connections closed: it accepts again, the backlog (closed too) first, then a new probe.
    probe(srv)
    assert ask("/livez")[0] == 200
    kept.close()


def test_a_worker_out_of_descriptors_pauses_accepting_and_lives_on(pg, make_server):
    """accept() failing (EMFILE, here from a lower descriptor limit than the cap needs) pauses
    the listeners for a moment; the worker used to crash on that path."""
    srv = serve(make_server, pg, MAX_CONNECTIONS_PER_IP=0, HTTP_TIMEOUT=60)
    [pid] = srv.workers()
    limit = worker_fds(srv) + 8
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))
    flood = [dial(srv.http, source=f"127.0.0.{10 + i % 20}") for i in range(50)]
    try:
        assert wait_until(lambda: "event=accept_error" in srv.log_text(), TIMEOUT), \
            "no accept error logged"
        assert worker_fds(srv) <= limit
        time.sleep(0.5)
        assert srv.workers() == [pid], "the worker died"
    finally:
        for s in flood:
            s.close()
    probe(srv)
    assert srv.workers() == [pid], "the worker died"
