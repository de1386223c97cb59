"""Requests refused before they are read (R7, R8, R11, R9's deadlines): every refusal is ours.

libevent 2.1 answers some requests itself, with a text/html page, before any callback of ours
sees them; conns.c's pre-parser now refuses each of them first, and answers it itself:
a problem+json body naming the element at fault, Connection: close, the headers every answer
of ours carries, and then the connection closes.  Sent raw, plain and over TLS, each alone on
a fresh connection:

- a request line that is not `method SP target SP HTTP/1.x` (400), a version other than 1.0
  and 1.1 (400, not 505), a method not served (400, not 501: DESIGN §4 allows no 5xx but
  503), a target over 2,000 bytes (414), a target of no known form (400);
- more than 50 header fields or a head over VOLUNTEERD_MAX_HEADERS (431), a header line
  without a colon (400), an Expect other than 100-continue (417), a Transfer-Encoding in
  HTTP/1.0 (400), `Content-Length: 2, 2` (400);
- a Content-Length over the route's limit (413 before a byte of the body is sent: within a
  second), or over the global one, and a chunked body whose chunks pass it (413);
- an HTTP/1.1 request without Host, and any with two (400, RFC 9112 §3.2), more than four
  empty lines before a request line (400).

Then: a control request on a new connection is served; a correct request pipelined before a
refused one gets its own answer (with Connection: close) and the refused one none; a refused
request that arrives while the one before is in its handler is answered after it; a head or a
body that misses its deadline gets 408 (the wait for a request stays a silent close); a client
that never reads its refusal, or keeps sending, does not hold the connection past the bound
(2 s); the refusals are counted in /metrics, also with the requests answered, by status.
Up to four empty lines (CRLF) before a request line are ignored (RFC 9112 §2.2), at the start
of a connection and between two requests, and do not start a request's deadline.  No answer
anywhere contains libevent's page.
"""
import json
import time

import pytest

from helpers import dial, metric, send_and_read_to_close

TIMEOUT = 5
PROBLEM = "application/problem+json; charset=utf-8"
LINGER_S = 2  # conns.c's REFUSAL_LINGER_S

SESSION_70000 = (b"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 70000\r\n\r\n")
LIVEZ = b"GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n"


def chunked_past_a_mebibyte():
    head = (b"POST /api/v1/volunteers HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
    return [head] + [chunk] * 17 + [b"0\r\n\r\n"]


# name -> (the request: bytes, or a list of parts sent in turn; status; the field it names)
CASES = {
    "request_line_garbage": (b"GARBAGE\r\n\r\n", 400, "request-line"),
    "request_line_two_spaces": (b"GET  /livez HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, "request-line"),
    "version_9_9": (b"GET /livez HTTP/9.9\r\nHost: localhost\r\n\r\n", 400, "HTTP-version"),
    "version_2_0": (b"GET /livez HTTP/2.0\r\nHost: localhost\r\n\r\n", 400, "HTTP-version"),
    "method_brew": (b"BREW /livez HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, "method"),
    "method_trace": (b"TRACE /livez HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, "method"),
    "method_connect": (b"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, "method"),
    "target_3000": (b"GET /" + b"a" * 2999 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414, "request-target"),
    "target_double_slash": (b"GET //livez HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, "request-target"),
    "target_userinfo": (b"GET http://u@localhost/livez HTTP/1.1\r\nHost: localhost\r\n\r\n", 400,
                        "request-target"),
    "header_9KiB": (b"GET /livez HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * 9216 + b"\r\n\r\n", 431,
                    "headers"),
    "fields_60": (b"GET /livez HTTP/1.1\r\nHost: localhost\r\n" + b"".join(b"X-F%d: v\r\n" % i for i in range(60)) + b"\r\n",
                  431, "headers"),
    "header_without_colon": (b"GET /livez HTTP/1.1\r\nHost localhost\r\n\r\n", 400, "header-name"),
    "expect_other": (b"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nExpect: 200-ok\r\n"
                     b"Content-Length: 2\r\n\r\n{}", 417, "Expect"),
    "transfer_encoding_http10": (b"POST /api/v1/session HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"2\r\n{}\r\n0\r\n\r\n", 400, "Transfer-Encoding"),
    "content_length_list": (b"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2, 2\r\n\r\n{}",
                            400, "Content-Length"),
    "content_length_huge": (b"POST /api/v1/volunteers HTTP/1.1\r\nHost: localhost\r\n"
                            b"Content-Length: 99999999999999\r\n\r\n", 413, "Content-Length"),
    "content_length_over_route": (SESSION_70000, 413, "Content-Length"),
    "chunked_over_1MiB": (chunked_past_a_mebibyte(), 413, "body"),
    "bare_lf": (b"GET /livez HTTP/1.1\nHost: localhost\r\n\r\n", 400, "line-end"),
    "host_missing": (b"GET /livez HTTP/1.1\r\n\r\n", 400, "Host"),
    "host_twice": (b"GET /livez HTTP/1.1\r\nHost: localhost\r\nhost: localhost\r\n\r\n", 400, "Host"),
    "host_twice_http10": (b"GET /livez HTTP/1.0\r\nHost: localhost\r\nHost: localhost\r\n\r\n", 400, "Host"),
    "host_invalid": (b"GET /livez HTTP/1.1\r\nHost: evil.example/<script>\r\n\r\n", 400, "Host"),
    "host_missing_after_a_body": (b"POST /api/v1/session HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400, "Host"),
    "empty_lines_5": (b"\r\n" * 5 + LIVEZ, 400, "request-line"),
}
TLS_CASES = ["request_line_garbage", "version_9_9", "method_brew", "header_9KiB", "fields_60",
             "content_length_over_route", "chunked_over_1MiB", "target_3000", "host_missing", "host_twice",
             "empty_lines_5"]


def no_libevent_page(reply):
    assert b"<html" not in reply.lower(), f"libevent's own page: {reply[:300]!r}"


def exchange(port, tls, request, timeout=TIMEOUT):
    """Sends the request (its parts in turn) on a new connection and reads until the server
    closes: (reply, closed, seconds from the last part sent to the reply's first byte)."""
    with dial(port, tls=tls, timeout=timeout) as s:
        reply, closed, first = send_and_read_to_close(s, request if isinstance(request, list) else [request])
    no_libevent_page(reply)
    return reply, closed, first


def parse(reply):
    """The first answer in reply: (status, headers with lower-case names, body, rest)."""
    head, _, rest = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    return int(lines[0].split(" ")[1]), headers, rest[:n], rest[n:]


def assert_refusal(reply, status, field, tls):
    """reply is one refusal: status, problem+json naming field, Connection: close, the headers
    of every answer of ours; nothing after it."""
    assert reply.startswith(b"HTTP/1.1 "), reply[:200]
    got, headers, body, rest = parse(reply)
    assert got == status, reply[:400]
    assert headers.get("content-type") == PROBLEM, headers
    assert headers.get("connection") == "close", headers
    assert headers.get("x-content-type-options") == "nosniff", headers
    assert headers.get("cache-control") == "no-store", headers
    assert headers.get("x-request-id") and headers.get("date"), headers
    assert ("strict-transport-security" in headers) == tls, headers
    problem = json.loads(body)
    assert problem["status"] == status and problem["type"].startswith("urn:volunteerd:problem:"), problem
    assert problem["title"] and problem["detail"], problem
    assert [e["field"] for e in problem["errors"]] == [field], problem
    assert rest == b"", f"more after the refusal: {rest[:200]!r}"


@pytest.mark.parametrize("name,tls", [(n, False) for n in CASES] + [(n, True) for n in TLS_CASES])
def test_refused_with_a_problem_then_closed(server, name, tls):
    request, status, field = CASES[name]
    reply, closed, _ = exchange(server.https if tls else server.http, tls, request)
    assert closed, f"{name}: the connection stayed open after {reply[:200]!r}"
    assert_refusal(reply, status, field, tls)
    assert server.get("/livez", timeout=TIMEOUT).status_code == 200  # a new connection is served


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_body_over_the_route_limit_is_refused_before_it_is_sent(server, tls):
    """POST /api/v1/session takes 4096 bytes: a Content-Length of 70000 gets its 413 at the end
    of the head, with no body sent, not at the body deadline."""
    reply, closed, first = exchange(server.https if tls else server.http, tls, SESSION_70000)
    assert closed and first is not None and first < 1.0, (first, reply[:200])
    assert_refusal(reply, 413, "Content-Length", tls)


def test_a_request_pipelined_before_a_refused_one_is_answered(server):
    """The correct request gets its own answer, with Connection: close; the refused one behind
    it is never read, so it gets none."""
    reply, closed, _ = exchange(server.http, False, LIVEZ + b"BREW /livez HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert closed
    status, headers, body, rest = parse(reply)
    assert status == 200 and headers.get("connection") == "close", reply[:300]
    assert json.loads(body)["status"] == "pass"
    assert rest == b"", f"the refused request was answered too: {rest[:200]!r}"


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_refused_request_arriving_during_a_handler_is_answered_after_it(server, tls):
    """A log-in takes a password hash's time: a bad request sent meanwhile is refused once the
    log-in's answer is out, on the connection that the answer kept open."""
    body = json.dumps({"login": "nobody-here", "password": "not-the-password"}).encode()
    login = (b"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
             b"Content-Length: %d\r\n\r\n" % len(body) + body)
    with dial(server.https if tls else server.http, tls=tls, timeout=TIMEOUT) as s:
        s.sendall(login)
        time.sleep(0.01)
        s.sendall(b"GET /livez HTTP/1.1\nHost: localhost\r\n\r\n")
        reply = b""
        while True:
            got = s.recv(65536)
            if not got:
                break
            reply += got
    no_libevent_page(reply)
    status, headers, _, rest = parse(reply)
    assert status == 401 and headers.get("connection") != "close", reply[:300]
    assert_refusal(rest, 400, "line-end", tls)


def test_refusals_are_counted(server):
    before = (metric(server, "volunteerd_http_limit_refusals_total", limit="body"),
              metric(server, "volunteerd_http_limit_refusals_total", limit="request-target"),
              metric(server, "volunteerd_http_framing_refusals_total"))
    for name in ("content_length_over_route", "target_3000", "method_brew"):
        reply, _, _ = exchange(server.http, False, CASES[name][0])
        assert reply.startswith(b"HTTP/1.1 4") or reply.startswith(b"HTTP/1.1 5"), reply[:100]
    after = (metric(server, "volunteerd_http_limit_refusals_total", limit="body"),
             metric(server, "volunteerd_http_limit_refusals_total", limit="request-target"),
             metric(server, "volunteerd_http_framing_refusals_total"))
    assert after == (before[0] + 1, before[1] + 1, before[2] + 1), (before, after)


def test_refusals_are_counted_with_the_requests_answered(server):
    """A dashboard of answers by status sees the refusals: on the unmatched route, as their
    route is never looked up."""
    sent = {"method_brew": "400", "content_length_over_route": "413", "target_3000": "414",
            "expect_other": "417", "fields_60": "431", "host_missing": "400"}
    statuses = sorted(set(sent.values()))

    def counts():
        return [metric(server, "volunteerd_http_requests_total", route="unmatched", status=st)
                for st in statuses]
    before = counts()
    for name in sent:
        reply, _, _ = exchange(server.http, False, CASES[name][0])
        assert parse(reply)[0] == int(sent[name]), reply[:200]
    after = counts()
    want = [b + list(sent.values()).count(st) for b, st in zip(before, statuses)]
    assert after == want, dict(zip(statuses, zip(before, after)))


# --- Host (RFC 9112 §3.2) and empty lines before a request (§2.2) ----------------------------

LIVEZ_CLOSE = b"GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
# A POST with a body that the handler answers at once (422: no login), keeping the connection.
POST_BODY = (b"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
             b"Content-Length: 2\r\n\r\n{}")


def read_answers(s, count):
    """count whole answers from a connection kept open: [(status, headers, body)]."""
    buf, answers = b"", []
    while len(answers) < count:
        while b"\r\n\r\n" in buf:
            status, headers, body, rest = parse(buf)
            if len(body) < int(headers.get("content-length", "0")):
                break
            answers.append((status, headers, body))
            buf = rest
            if len(answers) == count:
                break
        if len(answers) == count:
            break
        got = s.recv(65536)
        assert got, f"closed after {len(answers)} answers: {buf[:300]!r}"
        buf += got
    assert buf == b"", f"more than {count} answers: {buf[:300]!r}"
    no_libevent_page(b"".join(body for _, _, body in answers))
    return answers


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_an_http11_request_needs_one_host(server, tls):
    port = server.https if tls else server.http
    for request, detail in ((b"GET /livez HTTP/1.1\r\n\r\n", "Host header missing"),
                            (b"GET /livez HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "more than one Host header"),
                            (b"GET /livez HTTP/1.1\r\nHost: a b\r\n\r\n", "a Host header that is no host[:port]"),
                            (b"GET /livez HTTP/1.1\r\nHost: me@vd.example\r\n\r\n",
                             "a Host header that is no host[:port]")):
        reply, closed, _ = exchange(port, tls, request)
        assert closed
        assert_refusal(reply, 400, "Host", tls)
        assert json.loads(parse(reply)[2])["detail"] == detail
    # a name with its port, an IP literal: served
    for host in (b"vd.example-district.cn:8443", b"[::1]:8080"):
        reply, closed, _ = exchange(port, tls, b"GET /livez HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        assert closed and parse(reply)[0] == 200, reply[:300]
    # HTTP/1.0 may go without: served, then closed (no keep-alive asked)
    reply, closed, _ = exchange(port, tls, b"GET /livez HTTP/1.0\r\n\r\n")
    assert closed and parse(reply)[0] == 200, reply[:300]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_empty_lines_before_the_first_request_are_ignored(server, tls):
    port = server.https if tls else server.http
    for n in (1, 4):
        reply, closed, _ = exchange(port, tls, b"\r\n" * n + LIVEZ_CLOSE)
        assert closed and parse(reply)[0] == 200, (n, reply[:300])
    # cut anywhere: the CR and its LF apart
    reply, closed, _ = exchange(port, tls, [b"\r", b"\n\r", b"\n" + LIVEZ_CLOSE])
    assert closed and parse(reply)[0] == 200, reply[:300]
    reply, closed, _ = exchange(port, tls, b"\r\n" * 5 + LIVEZ_CLOSE)
    assert closed
    assert_refusal(reply, 400, "request-line", tls)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_empty_lines_between_two_requests_are_ignored(server, tls):
    """After a POST's body, as some clients send: with the body, after its answer, cut, or
    pipelined with the next request; the connection stays open throughout."""
    with dial(server.https if tls else server.http, tls=tls, timeout=TIMEOUT) as s:
        def exchange_kept(parts, count):
            for part in parts:
                s.sendall(part)
                time.sleep(0.05)
            answers = read_answers(s, count)
            for _, headers, _ in answers:
                assert headers.get("connection") != "close", answers
            return [status for status, _, _ in answers]

        assert exchange_kept([POST_BODY + b"\r\n"], 1) == [422]
        assert exchange_kept([LIVEZ], 1) == [200]
        assert exchange_kept([POST_BODY], 1) == [422]
        assert exchange_kept([b"\r\n\r\n" + LIVEZ], 1) == [200]
        assert exchange_kept([POST_BODY + b"\r\n", b"\r", b"\n" + LIVEZ], 2) == [422, 200]
        assert exchange_kept([POST_BODY + b"\r\n\r\n\r\n\r\n" + LIVEZ], 2) == [422, 200]
        assert exchange_kept([POST_BODY], 1) == [422]
        reply, closed, _ = send_and_read_to_close(s, [b"\r\n" * 5 + LIVEZ])  # a fifth: refused
    assert closed
    assert_refusal(reply, 400, "request-line", tls)


# --- deadlines and the bound, on servers of their own ----------------------------------------

def serve(make_server, pg, tls=False, **settings):
    env = {f"VOLUNTEERD_{k}": str(v) for k, v in settings.items()}
    return make_server(pg.url(), tls=tls, workers=1, env=env).start()


def open_connections(srv):
    """Connections open on the (one) worker, not counting the one that asks."""
    return metric(srv, "volunteerd_http_connections") - 1


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_head_that_misses_its_deadline_gets_408(pg, make_server, tls):
    srv = serve(make_server, pg, tls=tls, HEADER_TIMEOUT=1, BODY_TIMEOUT=2, HTTP_TIMEOUT=30)
    reply, closed, first = exchange(srv.https if tls else srv.http, tls,
                                    b"GET /livez HTTP/1.1\r\nHost: localhost\r\nX-Slow: a")
    assert closed and first is not None and 0.8 <= first <= 3, (first, reply[:200])
    status, headers, body, rest = parse(reply)
    assert status == 408 and headers.get("content-type") == PROBLEM and headers.get("connection") == "close"
    assert json.loads(body)["status"] == 408 and rest == b""
    assert metric(srv, "volunteerd_http_deadline_closes_total", deadline="header") == 1
    assert metric(srv, "volunteerd_http_requests_total", route="unmatched", status="408") == 1


def test_a_body_that_misses_its_deadline_gets_408(pg, make_server):
    srv = serve(make_server, pg, HEADER_TIMEOUT=1, BODY_TIMEOUT=2, HTTP_TIMEOUT=30)
    head = (b"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{")
    reply, closed, first = exchange(srv.http, False, head)
    assert closed and first is not None and 1.5 <= first <= 4, (first, reply[:200])
    assert parse(reply)[0] == 408, reply[:200]
    assert metric(srv, "volunteerd_http_deadline_closes_total", deadline="body") == 1


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_an_empty_line_after_a_body_starts_no_deadline(pg, make_server, tls):
    """The CRLF some clients send after a body is no request's first byte: the connection
    waits past the head deadline for the next request as for any other."""
    srv = serve(make_server, pg, tls=tls, HEADER_TIMEOUT=1, HTTP_TIMEOUT=30)
    with dial(srv.https if tls else srv.http, tls=tls, timeout=TIMEOUT) as s:
        s.sendall(POST_BODY + b"\r\n")
        assert read_answers(s, 1)[0][0] == 422
        time.sleep(1.8)
        s.sendall(LIVEZ)
        assert read_answers(s, 1)[0][0] == 200
    assert metric(srv, "volunteerd_http_deadline_closes_total", deadline="header") == 0


def test_the_wait_for_a_request_ends_without_an_answer(pg, make_server):
    srv = serve(make_server, pg, HTTP_TIMEOUT=1)
    reply, closed, _ = exchange(srv.http, False, [])
    assert closed and reply == b"", reply[:200]


@pytest.mark.parametrize("keeps_sending", [False, True], ids=["silent", "sending"])
def test_a_client_that_never_reads_its_refusal_is_closed_at_the_bound(pg, make_server, keeps_sending):
    """The refusal's answer goes out and the write side closes at once; the connection itself
    waits for the client's close, at most LINGER_S, even while the client sends on."""
    srv = serve(make_server, pg, HTTP_TIMEOUT=60)
    assert open_connections(srv) == 0
    with dial(srv.http, timeout=TIMEOUT) as s:
        s.sendall(b"BREW /livez HTTP/1.1\r\nHost: localhost\r\n\r\n")
        t0 = time.monotonic()
        refused_at = None
        while time.monotonic() - t0 < LINGER_S + 3:
            if keeps_sending:
                try:
                    s.sendall(b"x" * 4096)
                except OSError:
                    refused_at = time.monotonic() - t0  # reset: the server has closed
                    break
            elif open_connections(srv) == 0:
                refused_at = time.monotonic() - t0
                break
            time.sleep(0.05)
        assert refused_at is not None, f"the connection was held more than {LINGER_S + 3} s"
        assert refused_at <= LINGER_S + 1.5, refused_at
    assert open_connections(srv) == 0


def test_a_client_that_never_reads_its_408_is_closed_at_the_bound(pg, make_server):
    srv = serve(make_server, pg, HEADER_TIMEOUT=1, HTTP_TIMEOUT=60)
    with dial(srv.http, timeout=TIMEOUT) as s:
        s.sendall(b"GET /livez HTTP/1.1\r\n")
        t0 = time.monotonic()
        while open_connections(srv) and time.monotonic() - t0 < 1 + LINGER_S + 3:
            time.sleep(0.05)
        held = time.monotonic() - t0
        assert open_connections(srv) == 0, "still open"
        assert 1 + LINGER_S - 0.5 <= held <= 1 + LINGER_S + 1.5, held
        assert parse(s.recv(65536))[0] == 408  # the answer was there all along
