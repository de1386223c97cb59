"""TLS requirements R2-R5 against the real server, with `openssl s_client` over real sockets.

R2: TLS 1.2 offers only AEAD suites with ECDHE (no CBC, SHA-1 MAC, static RSA, 3DES or NULL);
TLS 1.3 still negotiates its suites.  R3: the key exchange groups are X25519, P-256 and P-384
(X25519 first) and nothing else; the shared server's test certificate is ECDSA P-256.
R4: renegotiation is refused and compression is off.  R5: sessions are resumed in TLS 1.2
(session ids) and 1.3 (stateful tickets), and live no longer than a day.

s_client runs with an empty configuration (OPENSSL_CONF=/dev/null) and security level 0 where
it must offer weak suites, so that Debian's client defaults cannot refuse what the server must
refuse and make a refusal test pass on its own.  Static-RSA suites need an RSA certificate: a
server of this module's own has one.  The session cache is per worker, so resumption is tested
on a one-worker server (a reconnect to the two-worker server may reach the other worker).
"""
import os
import re
import subprocess

import pytest

import helpers

REQUEST = b"GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
ONE_DAY = 24 * 60 * 60


def s_client(port, *args, stdin=b""):
    """s_client against 127.0.0.1:port with args; its stdout and stderr together.  It exits at
    the end of stdin (or, with -ign_eof, when the server closes)."""
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                        *args], input=stdin, capture_output=True, timeout=10,
                       env=dict(os.environ, OPENSSL_CONF="/dev/null"))
    return (r.stdout + r.stderr).decode(errors="replace")


def negotiated(out):
    """(protocol, cipher) from s_client's summary line; ("(NONE)", "(NONE)") after a failed
    handshake."""
    m = re.search(r"^(?:New|Reused), (\S+), Cipher is (\S+)", out, re.M)
    assert m, "no handshake summary in s_client's output:\n" + out[-1500:]
    return m.group(1), m.group(2)


def client_offers(suite):
    """Whether this machine's OpenSSL can offer a TLS 1.2 suite at all (else a refusal proves
    nothing)."""
    r = subprocess.run(["openssl", "ciphers", "-tls1_2", f"{suite}:@SECLEVEL=0"], capture_output=True,
                       timeout=10, env=dict(os.environ, OPENSSL_CONF="/dev/null"))
    return r.returncode == 0


def refused_by_server(out):
    """The server ended the handshake with a handshake_failure alert (not the client giving up)."""
    return negotiated(out) == ("(NONE)", "(NONE)") and "alert handshake failure" in out


@pytest.fixture(scope="module")
def rsa_server(pg, workdir):
    """A server with an RSA-2048 certificate: static-RSA suites are possible only with one."""
    srv = helpers.Server(pg.url(), workdir, workers=1)
    cert, key = os.path.join(srv.dir, "rsa-cert.pem"), os.path.join(srv.dir, "rsa-key.pem")
    r = helpers.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                     cert, "-days", "2", "-subj", "/CN=localhost"])
    assert r.returncode == 0, "openssl: " + r.stderr
    os.chmod(key, 0o600)
    srv.env.update(VOLUNTEERD_TLS_CERT=cert, VOLUNTEERD_TLS_KEY=key)
    try:
        yield srv.start()
    finally:
        srv.cleanup()


@pytest.fixture(scope="module")
def one_worker(pg, workdir):
    """A server with one worker, so that every reconnect meets the same session cache."""
    srv = helpers.Server(pg.url(), workdir, workers=1)
    try:
        yield srv.start()
    finally:
        srv.cleanup()


# -- R2: cipher suites ---------------------------------------------------------------------

@pytest.mark.parametrize("suite", ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                   "ECDHE-ECDSA-CHACHA20-POLY1305"])
def test_tls12_aead_ecdhe_suite_accepted(server, suite):
    assert negotiated(s_client(server.https, "-tls1_2", "-cipher", suite)) == ("TLSv1.2", suite)


def test_tls12_aead_ecdhe_rsa_suite_accepted(rsa_server):
    suite = "ECDHE-RSA-AES128-GCM-SHA256"
    assert negotiated(s_client(rsa_server.https, "-tls1_2", "-cipher", suite)) == ("TLSv1.2", suite)


@pytest.mark.parametrize("key, suite", [
    ("ecdsa", "ECDHE-ECDSA-AES128-SHA"),       # CBC, SHA-1 MAC
    ("ecdsa", "ECDHE-ECDSA-AES128-SHA256"),    # CBC
    ("ecdsa", "ECDHE-ECDSA-NULL-SHA"),         # no encryption
    ("rsa", "AES128-GCM-SHA256"),              # static RSA: no forward secrecy
    ("rsa", "AES128-SHA256"),                  # static RSA, CBC
    ("rsa", "ECDHE-RSA-AES128-SHA"),           # CBC, SHA-1 MAC
    ("rsa", "DES-CBC3-SHA"),                   # 3DES
    ("rsa", "NULL-SHA256"),                    # no encryption
])
def test_tls12_weak_suite_refused(request, key, suite):
    if not client_offers(suite):
        pytest.skip(f"this OpenSSL cannot offer {suite}: nothing to test")
    srv = request.getfixturevalue("server" if key == "ecdsa" else "rsa_server")
    out = s_client(srv.https, "-tls1_2", "-cipher", f"{suite}:@SECLEVEL=0")
    assert refused_by_server(out), out[-1500:]


@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"])
def test_tls13_suite_negotiates(server, suite):
    assert negotiated(s_client(server.https, "-tls1_3", "-ciphersuites", suite)) == ("TLSv1.3", suite)


# -- R3: certificate and groups ------------------------------------------------------------

@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_ecdsa_p256_certificate_and_x25519_by_default(server, version):
    out = s_client(server.https, version)
    assert "Peer signature type: ECDSA" in out, out[-1500:]
    assert "Server public key is 256 bit" in out, out[-1500:]
    assert "Server Temp Key: X25519" in out, out[-1500:]


# In TLS 1.2 the client's groups also limit the curves of ECDSA certificates it accepts, so a
# client without P-256 fails against the P-256 certificate whatever the server's groups are:
# groups are tested there with the RSA certificate.
GROUP_SERVER = {"-tls1_2": "rsa_server", "-tls1_3": "server"}


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
@pytest.mark.parametrize("group, shown", [("P-256", "ECDH, prime256v1"), ("P-384", "ECDH, secp384r1")])
def test_listed_group_honoured(request, version, group, shown):
    srv = request.getfixturevalue(GROUP_SERVER[version])
    out = s_client(srv.https, version, "-groups", group)
    assert f"Server Temp Key: {shown}" in out, out[-1500:]


@pytest.mark.parametrize("version, group", [("-tls1_2", "P-521"), ("-tls1_3", "P-521"), ("-tls1_2", "X448"),
                                            ("-tls1_3", "X448"), ("-tls1_3", "ffdhe2048")])
def test_unlisted_group_refused(request, version, group):
    srv = request.getfixturevalue(GROUP_SERVER[version])
    out = s_client(srv.https, version, "-groups", group)
    assert refused_by_server(out), out[-1500:]


# -- R4: renegotiation and compression -----------------------------------------------------

def test_client_renegotiation_refused(server):
    # An "R" line makes s_client renegotiate.  Refused, the server answers with a
    # no_renegotiation alert and s_client ends with that error; allowed, a second handshake
    # would verify the certificate again and s_client would print DONE.
    out = s_client(server.https, "-tls1_2", stdin=b"R\n")
    assert "RENEGOTIATING" in out, out[-1500:]
    after = out.split("RENEGOTIATING", 1)[1]
    assert ":no renegotiation:" in after and "verify return" not in after, out[-1500:]


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_compression_off(server, version):
    # -comp offers compression where the client has it built in (this machine's OpenSSL may
    # not: then the test cannot fail).
    out = s_client(server.https, version, "-comp")
    assert negotiated(out)[0] != "(NONE)", out[-1500:]
    assert "Compression: NONE" in out, out[-1500:]


# -- R5: resumption, bounded ---------------------------------------------------------------

def resume(port, version, session):
    """A full handshake that saves its session, then one that offers it; the second's output.
    Each sends a request and reads the answer (-ign_eof: until the server closes), so that TLS
    1.3's tickets, sent after the handshake, arrive before s_client saves the session."""
    first = s_client(port, version, "-ign_eof", "-sess_out", session, stdin=REQUEST)
    assert "HTTP/1.1 200" in first and negotiated(first)[0] != "(NONE)", first[-1500:]
    return s_client(port, version, "-ign_eof", "-sess_in", session, stdin=REQUEST)


@pytest.mark.parametrize("version, protocol", [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_session_resumed(one_worker, tmp_path, version, protocol):
    out = resume(one_worker.https, version, str(tmp_path / "session.pem"))
    assert re.search(rf"^Reused, {protocol}, ", out, re.M), out[-1500:]
    assert "HTTP/1.1 200" in out, out[-1500:]


def test_tls13_ticket_lifetime_at_most_a_day(one_worker, tmp_path):
    session = str(tmp_path / "session.pem")
    out = s_client(one_worker.https, "-tls1_3", "-ign_eof", "-sess_out", session, stdin=REQUEST)
    assert "HTTP/1.1 200" in out, out[-1500:]
    text = helpers.run(["openssl", "sess_id", "-in", session, "-noout", "-text"], timeout=10).stdout
    m = re.search(r"lifetime hint: (\d+)", text)
    assert m, text
    assert 0 < int(m.group(1)) <= ONE_DAY, text
