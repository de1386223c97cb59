"""Helpers for the integration tests: a throwaway PostgreSQL cluster, the real
`build/volunteerd` binary started on free ports, and small HTTP/TLS clients.

Rules kept here so that tests need not repeat them: every subprocess and client call has a
timeout, every wait loop is bounded, and every process started is stopped (the fixtures in
conftest.py call the cleanup methods in finalizers, also when a test fails).
"""
import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import requests
import urllib3

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("VOLUNTEERD_BIN", os.path.join(ROOT, "build", "volunteerd"))
PGBIN = "/usr/lib/postgresql/15/bin"
IS_ROOT = os.geteuid() == 0

# `scripts/test.sh valgrind` sets VOLUNTEERD_VALGRIND=1: every `serve` then runs under memcheck,
# one log per process (the workers are forks), and a server's cleanup fails the session on an
# error or a definite leak in any of them (R46).  memcheck is 20-50x slower: SLOW stretches the
# waits for the server, and only those.
VALGRIND = os.environ.get("VOLUNTEERD_VALGRIND") == "1"
SLOW = 15 if VALGRIND else 1
VALGRIND_CMD = ["valgrind", "--tool=memcheck", "--error-exitcode=1", "--leak-check=full",
                "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                "--trace-children=yes", "--num-callers=30",
                "--suppressions=" + os.path.join(ROOT, "tests", "valgrind.supp")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, timeout=60, **kw):
    """Runs a command to completion (bounded) and returns the CompletedProcess (text mode)."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def wait_until(pred, timeout, interval=0.1):
    """Polls pred() until it returns a true value or timeout seconds pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def metric_sum(text, name, **labels):
    """The sum of the series of NAME in a /metrics text (over the workers) whose labels include
    LABELS (key=value)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{"):
            series, value = line.rsplit(" ", 1)
            if all(f'{k}="{v}"' in series for k, v in labels.items()):
                total += float(value)
    return total


def metric(srv, name, timeout=10, **labels):
    """The sum of /metrics' series of NAME whose labels include LABELS (key=value)."""
    return metric_sum(srv.get("/metrics", timeout=timeout).text, name, **labels)


def children(pid):
    """The pids whose parent is pid (from /proc, so that no procps is needed)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: split after the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[0] != "Z" and int(fields[1]) == pid:
            out.append(int(name))
    return sorted(out)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


class Postgres:
    """A throwaway cluster in a temporary directory, on a Unix socket and a free local port.

    PostgreSQL refuses to run as root, so under root every PostgreSQL program runs as the
    `postgres` user and the directory belongs to it.
    """

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vd-test-pg-")
        if IS_ROOT:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        self.started = False

    def as_pg(self, args, timeout=120, **kw):
        prefix = ["runuser", "-u", "postgres", "--"] if IS_ROOT else []
        return run(prefix + args, timeout=timeout, **kw)

    def init(self):
        r = self.as_pg([f"{PGBIN}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                        "-E", "UTF8", "--locale=C.UTF-8"])
        assert r.returncode == 0, "initdb: " + r.stderr
        self.start()
        self.create_db("vd")

    def start(self):
        r = self.as_pg([f"{PGBIN}/pg_ctl", "-D", self.data, "-w", "-t", "60", "-l", self.log,
                        "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", "start"])
        assert r.returncode == 0, "pg_ctl start: " + r.stderr + r.stdout
        self.started = True

    def stop(self, mode="fast"):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.as_pg([f"{PGBIN}/pg_ctl", "-D", self.data, "-w", "-t", "60", "-m", mode, "stop"])
        self.started = False

    def cleanup(self):
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, db="vd", user="postgres"):
        return f"postgresql://{user}@/{db}?host={self.dir}&port={self.port}"

    def create_db(self, name):
        self.sql(f"CREATE DATABASE {name}", db="postgres")
        return self.url(name)

    def sql(self, q, db="vd", check=True):
        """Runs SQL through psql; returns stdout (unaligned, tuples only)."""
        r = self.as_pg([f"{PGBIN}/psql", "-h", self.dir, "-p", str(self.port), "-U", "postgres",
                        "-d", db, "-At", "-v", "ON_ERROR_STOP=1", "-c", q], timeout=60)
        if check:
            assert r.returncode == 0, f"psql {q!r}: {r.stderr}"
        return r.stdout

    def connect(self, db="vd", user="postgres"):
        """A psycopg2 connection (autocommit off) for tests that must hold a lock."""
        import psycopg2
        return psycopg2.connect(host=self.dir, port=self.port, user=user, dbname=db,
                                connect_timeout=10)


def make_cert(directory):
    """A self-signed ECDSA P-256 certificate for localhost; returns (cert, key)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
    assert r.returncode == 0, "openssl: " + r.stderr
    os.chmod(key, 0o600)
    return cert, key


# Reports of AddressSanitizer / UBSan found in any server's log (`make test-asan`): a worker
# that aborts is replaced by the parent, so a test could pass over it; the session fails instead.
SANITIZER_REPORTS = []


def note_sanitizer_reports(log):
    for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
        at = log.find(marker)
        if at >= 0:
            SANITIZER_REPORTS.append(log[max(0, at - 200):at + 3000])
            return


def note_valgrind_reports(directory):
    """Adds to SANITIZER_REPORTS every valgrind log in directory that reports an error (leaks
    of the kinds counted as errors included) or lacks its summary (the process was killed),
    and a line when there is no log at all (valgrind did not run)."""
    logs = sorted(n for n in os.listdir(directory) if n.startswith("valgrind.") and n.endswith(".log"))
    reports = [] if logs else [f"{directory}: no valgrind log"]
    for name in logs:
        with open(os.path.join(directory, name), errors="replace") as f:
            text = f.read()
        if "ERROR SUMMARY: 0 errors" not in text:
            reports.append(f"{os.path.join(directory, name)}:\n{text[-6000:]}")
    SANITIZER_REPORTS.extend(r for r in reports if r not in SANITIZER_REPORTS)


class Server:
    """`volunteerd serve` on free ports with its stdout and stderr in a log file."""

    def __init__(self, database_url, workdir, tls=True, workers=2, env=None):
        self.dir = tempfile.mkdtemp(prefix="vd-test-srv-", dir=workdir)
        self.http = free_port()
        self.https = free_port() if tls else 0
        self.env = dict(os.environ)
        for k in list(self.env):
            if (k.startswith("VOLUNTEERD_") and k != "VOLUNTEERD_BIN") or k.startswith("PG"):
                del self.env[k]
        secret = os.path.join(self.dir, "secret")
        with open(secret, "wb") as f:
            f.write(os.urandom(64))
        os.chmod(secret, 0o600)
        self.env.update(DATABASE_URL=database_url, VOLUNTEERD_BIND="127.0.0.1",
                        VOLUNTEERD_HTTP_PORT=str(self.http), VOLUNTEERD_HTTPS_PORT=str(self.https),
                        VOLUNTEERD_WORKERS=str(workers), VOLUNTEERD_TZ="Asia/Shanghai",
                        VOLUNTEERD_SECRET_FILE=secret)
        if tls:
            self.cert, self.key = make_cert(self.dir)
            self.env.update(VOLUNTEERD_TLS_CERT=self.cert, VOLUNTEERD_TLS_KEY=self.key)
        self.env.update(env or {})
        self.log = os.path.join(self.dir, "server.log")
        self.proc = None

    # -- the binary's other subcommands, with the same environment ---------------------------

    def cmd(self, args, input=None, timeout=120, env=None):
        e = dict(self.env, **(env or {}))
        return run([BIN] + args, input=input, timeout=timeout, env=e)

    def migrate(self):
        r = self.cmd(["migrate"])
        assert r.returncode == 0, f"migrate exited {r.returncode}: {r.stderr}{r.stdout}"
        return r

    def create_admin(self, login, password):
        r = self.cmd(["create-admin", "--login", login, "--password-stdin"], input=password + "\n")
        assert r.returncode == 0, f"create-admin exited {r.returncode}: {r.stderr}{r.stdout}"
        return r

    # -- serve ------------------------------------------------------------------------------

    def spawn(self, args=()):
        """Starts `serve` without waiting (for tests that expect it to refuse)."""
        logf = open(self.log, "ab")
        try:
            prefix = VALGRIND_CMD + ["--log-file=" + os.path.join(self.dir, "valgrind.%p.log")] if VALGRIND else []
            self.proc = subprocess.Popen(prefix + [BIN, "serve", *args], env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            logf.close()
        return self.proc

    def start(self, args=(), timeout=20):
        """Starts `serve` and waits (bounded) until every worker listens (the parent logs
        serve_ready: a test that counts per worker must not meet one still starting) and /livez
        answers 200 on the HTTP port."""
        readies = self.log_text().count("event=serve_ready")
        self.spawn(args)
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"volunteerd serve exited with {self.proc.returncode} at start:\n"
                                     + self.log_text()[-2000:])
            try:
                if (self.log_text().count("event=serve_ready") > readies
                        and requests.get(self.url("/livez"), timeout=SLOW).status_code == 200):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"volunteerd serve did not answer /livez within {timeout} s:\n"
                             + self.log_text()[-2000:])

    def wait_exit(self, timeout):
        """The exit status once serve exits within timeout seconds, else None."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Sends sig and waits; after timeout kills the whole process group. Returns the exit
        status, or None when it had to be killed."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)
        rc = self.wait_exit(timeout * SLOW)
        if rc is None:
            self.kill()
        return rc

    def kill(self):
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)

    def cleanup(self):
        self.stop(timeout=10)
        self.kill()  # the group: workers that outlived the parent, if any
        note_sanitizer_reports(self.log_text())
        if VALGRIND and self.proc:
            note_valgrind_reports(self.dir)

    def workers(self):
        return children(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- clients ----------------------------------------------------------------------------

    def url(self, path="/", tls=False):
        if tls:
            return f"https://127.0.0.1:{self.https}{path}"
        return f"http://127.0.0.1:{self.http}{path}"

    def get(self, path, tls=False, timeout=5, **kw):
        return requests.get(self.url(path, tls), timeout=timeout * SLOW, verify=False, **kw)

    def request(self, method, path, tls=False, timeout=5, **kw):
        return requests.request(method, self.url(path, tls), timeout=timeout * SLOW, verify=False, **kw)


def raw_exchange(port, data, timeout=10, chunk_pause=0.0, read_first=0.0):
    """Sends bytes on a fresh TCP connection and reads until the peer closes or timeout.

    Returns (reply bytes, error name or None).  Errors while sending (the server may close
    early) are tolerated; whatever the server sent before is still returned.  With read_first,
    it first waits that long for an early reply (e.g. a 413 after the headers) before sending
    the rest.
    """
    reply = b""
    err = None
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        parts = data if isinstance(data, list) else [data]
        try:
            for i, part in enumerate(parts):
                s.sendall(part)
                if i == 0 and read_first:
                    s.settimeout(read_first)
                    try:
                        got = s.recv(65536)
                        reply += got
                        if not got:
                            return reply, "closed"
                        if reply.startswith(b"HTTP/"):
                            break  # an early answer: no need to send the rest
                    except socket.timeout:
                        pass
                    s.settimeout(timeout)
                if chunk_pause:
                    time.sleep(chunk_pause)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err = type(e).__name__
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                got = s.recv(65536)
                if not got:
                    break
                reply += got
        except socket.timeout:
            err = err or "timeout"
        except OSError as e:
            err = err or type(e).__name__
    return reply, err


def send_and_read_to_close(s, parts):
    """Sends parts in turn on s (the server may close early: what it answered is still read),
    then reads until the server closes.  Returns (reply, closed, seconds from the last part
    sent to the reply's first byte, or None); closed is False when the connection was still
    open after s's timeout without a byte."""
    reply, first = b"", None
    t0 = time.monotonic()
    try:
        for p in parts:
            s.sendall(p)
            t0 = time.monotonic()
    except OSError:
        pass
    try:
        while True:
            got = s.recv(65536)
            if not got:
                return reply, True, first
            if first is None:
                first = time.monotonic() - t0
            reply += got
    except socket.timeout:
        return reply, False, first
    except (ConnectionResetError, ssl.SSLError):
        return reply, True, first


def dial(port, source="127.0.0.1", tls=False, timeout=10):
    """A connection to 127.0.0.1:port from source (a loopback address), over TLS (the test
    certificate not checked) when tls."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    if not tls:
        return s
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(s, server_hostname="localhost")


def status_of(reply):
    """The status code of the first HTTP response in reply, or None."""
    if not reply.startswith(b"HTTP/"):
        return None
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def tls_context(version):
    """A client context that offers exactly one TLS version (even the old ones: security level
    0 lets this OpenSSL build offer TLS 1.0/1.1 and their SHA-1 ciphers)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = version
    ctx.maximum_version = version
    return ctx


def tls_handshake(port, version, timeout=5):
    """Handshakes offering only `version`; returns (negotiated version or None, error text)."""
    ctx = tls_context(version)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                return s.version(), None
    except (ssl.SSLError, OSError) as e:
        return None, f"{type(e).__name__}: {e}"


# -- test data inserted with SQL -------------------------------------------------------------
# Volunteers, accounts and sessions are inserted directly (tokens chosen by the test, stored as
# their SHA-256, as the server does), so that no test pays for Argon2.

def sql_str(s):
    """s as an SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def unit_with_team(pg, code, name, team):
    """A district org unit (code, name) with one team named `team`; returns (unit id, team id)."""
    unit, team_id = pg.sql(f"""
        WITH ou AS (INSERT INTO org_units (kind, code, name) VALUES ('district', {sql_str(code)}, {sql_str(name)}) RETURNING id)
        INSERT INTO teams (name, org_unit_id) SELECT {sql_str(team)}, id FROM ou RETURNING org_unit_id, id""").split()[0].split("|")
    return int(unit), int(team_id)


def open_event(pg, team, policy, title, code, walk_ins=False, capacity=None, started="5 minutes"):
    """An event that started `started` ago and ends in 3 hours, with the static check-in code
    `code`, of a new activity `title` of `team` (capacity None: unlimited) under a new hour
    policy named `policy` (unique) with static codes and walk-ins allowed or not.  Returns the
    event id."""
    return int(pg.sql(f"""
        WITH po AS (INSERT INTO hour_policies (name, static_code, walk_ins_allowed)
                    VALUES ({sql_str(policy)}, true, {'true' if walk_ins else 'false'}) RETURNING id),
        ac AS (INSERT INTO activities (team_id, org_unit_id, title, policy_id, capacity)
               SELECT tm.id, tm.org_unit_id, {sql_str(title)}, po.id, {'NULL' if capacity is None else int(capacity)}
                 FROM teams tm, po WHERE tm.id = {team} RETURNING id)
        INSERT INTO events (activity_id, starts_at, ends_at, checkin_code)
        SELECT id, now() - interval {sql_str(started)}, now() + interval '3 hours', {sql_str(code)} FROM ac
        RETURNING id""").split()[0])  # the row, then psql's "INSERT 0 1"


def volunteers_with_sessions(pg, unit, tokens, tag, phone, name="S", signup_event=None):
    """One volunteer of org unit `unit` per token: named name+i, phone `phone` + 8 random
    digits + i (give each test file its own prefix), with an account `{tag}-{name}{i}` (no
    usable password) holding one session of an hour for tokens[i], and a confirmed sign-up to
    `signup_event` if given.  Returns (volunteer ids, account ids), both in token order."""
    values = ",".join(f"({i}, {sql_str(t)})" for i, t in enumerate(tokens))
    signups = "" if signup_event is None else f""",
        su AS (INSERT INTO signups (event_id, volunteer_id, status) SELECT {int(signup_event)}, id, 'confirmed' FROM v)"""
    rows = pg.sql(f"""
        WITH t (i, token) AS (VALUES {values}),
        v AS (INSERT INTO volunteers (name, phone, org_unit_id)
              SELECT {sql_str(name)} || i, {sql_str(phone)} || lpad((floor(random() * 1e8))::bigint::text, 8, '0') || i, {unit}
                FROM t RETURNING id, name),
        a AS (INSERT INTO accounts (login, password_hash, volunteer_id)
              SELECT {sql_str(tag + '-')} || v.name, 'x', v.id FROM v RETURNING id, volunteer_id),
        s AS (INSERT INTO sessions (token_hash, account_id, expires_at)
              SELECT sha256(convert_to(t.token, 'UTF8')), a.id, now() + interval '1 hour'
                FROM t JOIN v ON v.name = {sql_str(name)} || t.i JOIN a ON a.volunteer_id = v.id){signups}
        SELECT v.id, a.id FROM t JOIN v ON v.name = {sql_str(name)} || t.i JOIN a ON a.volunteer_id = v.id
         ORDER BY t.i""").split()
    return [int(r.split("|")[0]) for r in rows], [int(r.split("|")[1]) for r in rows]


def coordinator_with_sessions(pg, unit, login, tokens):
    """An account `login` (no volunteer, no usable password) granted the coordinator role over
    org unit `unit`, with one session of an hour per token.  Returns the account id."""
    tokens_sql = ", ".join(sql_str(t) for t in tokens)
    return int(pg.sql(f"""
        WITH c AS (INSERT INTO accounts (login, password_hash) VALUES ({sql_str(login)}, 'x') RETURNING id),
        g AS (INSERT INTO role_grants (account_id, role, org_unit_id) SELECT id, 'coordinator', {unit} FROM c),
        s AS (INSERT INTO sessions (token_hash, account_id, expires_at)
              SELECT sha256(convert_to(x, 'UTF8')), c.id, now() + interval '1 hour'
                FROM c, unnest(ARRAY[{tokens_sql}]::text[]) AS x)
        SELECT id FROM c"""))
