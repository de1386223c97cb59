"""Ambiguous HTTP framing is refused (R11): a corpus of request-smuggling requests.

Each request of the corpus is sent raw, alone on a fresh connection (plain HTTP, and a
handful over TLS), and carries a smuggled inner `POST /api/v1/events/{id}/check-ins` of a real
volunteer of its own, with a real session and the event's code, placed where a server that
framed the outer request otherwise than the sender meant would read it as a request of its
own.  For each: the answer is a single 400 problem+json with Connection: close (conns.c
answers it before libevent reads it, so never libevent's own page and never a silent close),
the connection is closed, the volunteer has no attendance (the inner check-in never reached
the database), and a probe on a new connection right after gets 200.

The families: CL.TE and TE.CL; TE.TE obfuscations (a Transfer-Encoding that is not exactly
`chunked`, two of them, whitespace before the colon, a folded one); a Transfer-Encoding other
than `chunked` without a Content-Length (the body is then the next request); Content-Length
doubled, signed or not decimal; chunk sizes that strtoll reads but RFC 9112 does not (`0x10`,
`+10`, ` 10`, `-0`...) and a chunk extension; a bare LF as a line end; an obs-fold; `%00` in
the path and a raw NUL in a header; trailers after the last chunk.

The controls: a correct Content-Length check-in and a correct chunked one (also sent a byte at
a time) still answer 201, keep-alive and pipelining still work for correct requests.
"""
import json
import secrets
import socket

import pytest

from helpers import (dial, metric, open_event, send_and_read_to_close, unit_with_team,
                     volunteers_with_sessions)

TIMEOUT = 5
CODE = "246810"

# name -> build(inner, path, auth): the raw outer request with `inner` smuggled in it.
CASES = {}
TLS_CASES = ["cl_te", "te_gzip_chunked_no_cl", "bare_lf_headers", "chunk_0x", "trailer"]


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


def head(path, auth, *lines, eol=b"\r\n"):
    """A POST head to path with the volunteer's session and `lines`, ended by an empty line."""
    fixed = [f"POST {path} HTTP/1.1".encode(), b"Host: localhost", b"Authorization: Bearer " + auth,
             b"Content-Type: application/json"]
    return eol.join(fixed + [x if isinstance(x, bytes) else x.encode() for x in lines]) + eol + eol


def chunk_of(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


# -- CL.TE and TE.CL ---------------------------------------------------------------------------

@case("cl_te")
def _(inner, path, auth):
    body = b"0\r\n\r\n" + inner  # by Content-Length all one body; by chunked, inner is next
    return head(path, auth, f"Content-Length: {len(body)}", "Transfer-Encoding: chunked") + body


@case("te_cl")
def _(inner, path, auth):
    body = chunk_of(inner) + b"0\r\n\r\n"  # chunked: all one body; by Content-Length, inner is next
    return head(path, auth, "Transfer-Encoding: chunked", f"Content-Length: {len(body) - len(inner) - 7}") + body


def te_cl(te_lines):
    """TE.TE: a Transfer-Encoding the front end may take as chunked, and a Content-Length that
    covers the chunk-size line only: a server that falls back on it runs inner next."""
    def build(inner, path, auth):
        size = b"%x\r\n" % len(inner)
        return head(path, auth, *te_lines, f"Content-Length: {len(size)}") + size + inner + b"\r\n0\r\n\r\n"
    return build


for name, lines in {
    "te_gzip_chunked": ["Transfer-Encoding: gzip, chunked"],
    "te_chunked_identity": ["Transfer-Encoding: chunked, identity"],
    "te_identity": ["Transfer-Encoding: identity"],
    "te_x_chunked": ["Transfer-Encoding: x-chunked"],
    "te_chunked_junk": ["Transfer-Encoding: chunked x"],
    "te_tab_chunked": ["Transfer-Encoding:\tchunked"],
    "te_two_headers": ["Transfer-Encoding: chunked", "Transfer-Encoding: identity"],
    "te_space_before_colon": ["Transfer-Encoding : chunked"],
    "te_folded": ["Transfer-Encoding:", " chunked"],
    "te_upper": ["TRANSFER-ENCODING: CHUNKED"],
}.items():
    CASES[name] = te_cl(lines)


def te_alone(value):
    """A Transfer-Encoding that is not chunked and no Content-Length: libevent reads no body,
    so what the sender meant as the body is read as the next request."""
    def build(inner, path, auth):
        return head(path, auth, f"Transfer-Encoding: {value}") + inner
    return build


for name, value in {"te_gzip_chunked_no_cl": "gzip, chunked", "te_identity_no_cl": "identity",
                    "te_chunked_chunked_no_cl": "chunked, chunked"}.items():
    CASES[name] = te_alone(value)


# -- Content-Length ------------------------------------------------------------------------------

def cl(*values):
    """Content-Length values of which the first covers "{}" and the smuggled request is next."""
    def build(inner, path, auth):
        return head(path, auth, *[f"Content-Length: {v}" for v in values]) + b"{}" + inner
    return build


CASES["cl_double"] = cl("2", str(2 + 400))
CASES["cl_double_same"] = cl("2", "2")
CASES["cl_plus"] = cl("+2")
CASES["cl_list"] = cl("2, 2")


# -- chunk sizes -------------------------------------------------------------------------------

def chunked(size_line, data):
    """One chunk whose size line is `size_line` over `data`, the last chunk, then inner."""
    def build(inner, path, auth):
        body = size_line + b"\r\n" + data + b"\r\n0\r\n\r\n"
        return head(path, auth, "Transfer-Encoding: chunked") + body + inner
    return build


SIXTEEN = b'{"code":"xxxxx"}'
CASES["chunk_0x"] = chunked(b"0x10", SIXTEEN)
CASES["chunk_0X"] = chunked(b"0X10", SIXTEEN)
CASES["chunk_plus"] = chunked(b"+10", SIXTEEN)
CASES["chunk_leading_space"] = chunked(b" 10", SIXTEEN)
CASES["chunk_trailing_space"] = chunked(b"10 ", SIXTEEN)
CASES["chunk_extension"] = chunked(b"10;a=b", SIXTEEN)


@case("chunk_minus_zero")
def _(inner, path, auth):
    # strtoll reads "-0" as 0: the last chunk, so inner is the next request
    return head(path, auth, "Transfer-Encoding: chunked") + b"-0\r\n\r\n" + inner


# -- line ends, folds, NUL, trailers -------------------------------------------------------------

@case("bare_lf_headers")
def _(inner, path, auth):
    return head(path, auth, "Content-Length: 2", eol=b"\n") + b"{}" + inner


@case("bare_lf_request_line")
def _(inner, path, auth):
    h = head(path, auth, "Content-Length: 2")
    return h.replace(b"\r\n", b"\n", 1) + b"{}" + inner


@case("bare_lf_hides_te")
def _(inner, path, auth):
    # by CRLF one header "X-A: b\nTransfer-Encoding: chunked"; by LF, two
    size = b"%x\r\n" % len(inner)
    return head(path, auth, "X-A: b\nTransfer-Encoding: chunked", f"Content-Length: {len(size)}") + size + inner + b"\r\n0\r\n\r\n"


@case("obs_fold")
def _(inner, path, auth):
    return head(path, auth, "X-A: b", " c", "Content-Length: 2") + b"{}" + inner


@case("nul_path")
def _(inner, path, auth):
    return head(path + "%00", auth, "Content-Length: 2") + b"{}" + inner


@case("nul_header")
def _(inner, path, auth):
    return head(path, auth, b"X-A: b\0c", "Content-Length: 2") + b"{}" + inner


@case("trailer")
def _(inner, path, auth):
    return head(path, auth, "Transfer-Encoding: chunked") + chunk_of(b"{}") + b"0\r\nX-T: a\r\n\r\n" + inner


@case("trailer_content_length")
def _(inner, path, auth):
    return head(path, auth, "Transfer-Encoding: chunked") + chunk_of(b"{}") + b"0\r\nContent-Length: 9\r\n\r\n" + inner


# -- the world: an event open for check-in, a volunteer with a session per request ---------------

@pytest.fixture(scope="module")
def world(pg):
    sfx = secrets.token_hex(3)
    unit, team = unit_with_team(pg, f"FR-{sfx}", "Framing", "Framing team")
    event = open_event(pg, team, f"framing-{sfx}", "Framing", CODE)
    names = [f"{n}:{tls}" for n in CASES for tls in ("plain", "tls") if tls == "plain" or n in TLS_CASES]
    names += ["ok_length", "ok_chunked", "ok_trickled", "ok_pipelined", "ok_tls"]
    tokens = [secrets.token_urlsafe(32) for _ in names]
    vids, _ = volunteers_with_sessions(pg, unit, tokens, f"fr-{sfx}", "139", signup_event=event)
    return {"event": event, "path": f"/api/v1/events/{event}/check-ins",
            "who": {n: (v, t.encode()) for n, v, t in zip(names, vids, tokens)}}


def check_in_request(path, auth, framing="length"):
    body = json.dumps({"code": CODE}).encode()
    if framing == "length":
        return head(path, auth, f"Content-Length: {len(body)}") + body
    return head(path, auth, "Transfer-Encoding: chunked") + chunk_of(body[:5]) + chunk_of(body[5:]) + b"0\r\n\r\n"


def attendances(pg, volunteer):
    return int(pg.sql(f"SELECT count(*) FROM attendances WHERE volunteer_id = {int(volunteer)}"))


def connect(server, tls):
    return dial(server.https if tls else server.http, tls=tls, timeout=TIMEOUT)


def responses(reply):
    """[(status, head bytes)] of the HTTP responses in reply."""
    out = []
    for part in reply.split(b"HTTP/1.1 ")[1:]:
        out.append((int(part[:3]), part.split(b"\r\n\r\n", 1)[0].lower()))
    return out


@pytest.mark.parametrize("name,tls", [(n, False) for n in CASES] + [(n, True) for n in TLS_CASES])
def test_ambiguous_framing_is_refused_and_nothing_smuggled_runs(server, pg, world, name, tls):
    vid, auth = world["who"][f"{name}:{'tls' if tls else 'plain'}"]
    inner = check_in_request(world["path"], auth)
    with connect(server, tls) as s:
        reply, closed, _ = send_and_read_to_close(s, [CASES[name](inner, world["path"], auth)])
    got = responses(reply)
    assert closed, f"{name}: the connection stayed open; got {reply[:300]!r}"
    # one 400 of ours that closes the connection: never a handler's answer
    assert len(got) == 1, f"{name}: not one answer: {reply[:600]!r}"
    status, h = got[0]
    assert status == 400 and b"connection: close" in h, f"{name}: {reply[:400]!r}"
    assert b"content-type: application/problem+json; charset=utf-8" in h, f"{name}: {reply[:400]!r}"
    assert attendances(pg, vid) == 0, f"{name}: the smuggled check-in ran"
    assert server.get("/livez", timeout=TIMEOUT).status_code == 200


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_correct_framing_still_checks_in(server, pg, world, framing):
    vid, auth = world["who"]["ok_" + framing]
    with connect(server, False) as s:
        s.sendall(check_in_request(world["path"], auth, framing))
        reply = s.recv(65536)
        assert responses(reply)[0][0] == 201, reply[:400]
        s.sendall(b"GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n")  # kept alive
        assert responses(s.recv(65536))[0][0] == 200
    assert attendances(pg, vid) == 1


def test_chunked_check_in_sent_a_byte_at_a_time(server, pg, world):
    vid, auth = world["who"]["ok_trickled"]
    data = check_in_request(world["path"], auth, "chunked")
    with connect(server, False) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
        reply = s.recv(65536)
    assert responses(reply)[0][0] == 201, reply[:400]
    assert attendances(pg, vid) == 1


def test_pipelined_correct_requests_are_all_answered(server, pg, world):
    """A chunked check-in, a GET and a Content-Length POST in one write: three answers, in
    order, on a connection that stays open."""
    vid, auth = world["who"]["ok_pipelined"]
    livez = b"GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n"
    bad_login = head("/api/v1/session", b"x", "Content-Length: 2") + b"{}"
    with connect(server, False) as s:
        s.sendall(check_in_request(world["path"], auth, "chunked") + livez + bad_login)
        reply = b""
        for _ in range(20):  # bounded: until the three answers are in
            if len(responses(reply)) == 3 and reply.endswith(b"}"):
                break
            reply += s.recv(65536)
        assert [st for st, _ in responses(reply)] == [201, 200, 422], reply[:800]
        s.sendall(livez)
        assert responses(s.recv(65536))[0][0] == 200  # still open
    assert attendances(pg, vid) == 1


def test_correct_chunked_check_in_over_tls(server, pg, world):
    vid, auth = world["who"]["ok_tls"]
    with connect(server, True) as s:
        s.sendall(check_in_request(world["path"], auth, "chunked"))
        assert responses(s.recv(65536))[0][0] == 201
    assert attendances(pg, vid) == 1


def test_refusals_are_counted_in_metrics(server, world):
    """A bare LF refused in the pre-parser counts once in /metrics (summed over the workers:
    the request is refused on one of them)."""
    def count():
        return metric(server, "volunteerd_http_framing_refusals_total", timeout=TIMEOUT)
    before = count()
    with connect(server, False) as s:
        reply, closed, _ = send_and_read_to_close(s, [b"GET /livez HTTP/1.1\nHost: localhost\r\n\r\n"])
    assert closed and responses(reply)[0][0] == 400, reply[:300]
    assert b'"field":"line-end"' in reply.replace(b" ", b""), reply
    assert count() == before + 1
