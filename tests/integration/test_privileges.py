"""The rights `serve` gives up (R6): no new privileges ever, and root given up for
VOLUNTEERD_USER before any port is bound or certificate read (server/privs.c)."""
import os
import pwd
import shutil
import signal
import tempfile

import pytest

import helpers

root_only = pytest.mark.skipif(not helpers.IS_ROOT, reason="dropping root needs root")


def status_fields(pid):
    """/proc/PID/status as {field: value}."""
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def processes(srv):
    return [srv.proc.pid] + srv.workers()


def tcp_url(pg, user="postgres"):
    """The cluster over TCP: its socket directory is the postgres user's alone."""
    return f"postgresql://{user}@127.0.0.1:{pg.port}/vd"


@pytest.fixture
def nobody_files(workdir):
    """A certificate and key readable by `nobody` only (and a directory it may enter)."""
    d = tempfile.mkdtemp(prefix="vd-privs-", dir=workdir)
    os.chmod(d, 0o755)
    cert, key = helpers.make_cert(d)
    nobody = pwd.getpwnam("nobody")
    for path in (cert, key):
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    os.chmod(key, 0o400)
    yield cert, key
    shutil.rmtree(d, ignore_errors=True)


def test_no_new_privileges_in_every_process(server):
    pids = processes(server)
    assert len(pids) == 3, pids
    for pid in pids:
        assert status_fields(pid)["NoNewPrivs"] == "1", pid


@root_only
def test_root_without_a_user_is_warned(server):
    assert "event=running_as_root" in server.log_text()


@root_only
def test_root_becomes_the_user_before_serving(pg, make_server, nobody_files):
    cert, key = nobody_files
    nobody = pwd.getpwnam("nobody")
    srv = make_server(tcp_url(pg), workers=2, env={
        "VOLUNTEERD_USER": "nobody", "VOLUNTEERD_TLS_CERT": cert, "VOLUNTEERD_TLS_KEY": key})
    os.chmod(srv.env["VOLUNTEERD_SECRET_FILE"], 0o400)  # root's alone: read before the drop
    srv.start()
    pids = processes(srv)
    assert len(pids) == 3, pids
    for pid in pids:
        st = status_fields(pid)
        assert st["Uid"].split() == [str(nobody.pw_uid)] * 4, (pid, st["Uid"])
        assert st["Gid"].split() == [str(nobody.pw_gid)] * 4, (pid, st["Gid"])
        assert "0" not in st["Groups"].split(), (pid, st["Groups"])
        assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, (pid, st["CapEff"])
        assert st["NoNewPrivs"] == "1", pid
    # It serves, over both ports, with the database.
    assert srv.get("/readyz").status_code == 200
    assert srv.get("/readyz", tls=True).status_code == 200
    assert "event=privileges_dropped" in srv.log_text() and "user=nobody" in srv.log_text()
    assert "running_as_root" not in srv.log_text()
    # The certificate reloads as that user; a worker that dies comes back as that user.
    os.kill(srv.proc.pid, signal.SIGHUP)
    assert helpers.wait_until(lambda: srv.log_text().count("event=tls_reloaded") == 2, 10), \
        srv.log_text()[-2000:]
    dead = srv.workers()[0]
    os.kill(dead, signal.SIGKILL)
    assert helpers.wait_until(lambda: len(srv.workers()) == 2 and dead not in srv.workers(), 15)
    for pid in srv.workers():
        assert status_fields(pid)["Uid"].split()[0] == str(nobody.pw_uid)
    assert helpers.wait_until(lambda: srv.get("/readyz").status_code == 200, 10)
    assert srv.stop() == 0


@root_only
def test_a_key_the_user_cannot_read_stops_the_start(pg, make_server, workdir):
    srv = make_server(tcp_url(pg), workers=1, env={"VOLUNTEERD_USER": "nobody"})
    # make_cert left the key root's, mode 0600, in a directory of root's.
    srv.spawn()
    assert srv.wait_exit(15) not in (None, 0), srv.log_text()
    assert "key" in srv.log_text().lower(), srv.log_text()


@root_only
def test_a_low_port_with_a_user_stops_the_start(pg, make_server, nobody_files):
    cert, key = nobody_files
    srv = make_server(tcp_url(pg), tls=False, workers=1, env={"VOLUNTEERD_USER": "nobody"})
    srv.env["VOLUNTEERD_HTTP_PORT"] = "1000"  # below ip_unprivileged_port_start (1024 here)
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        if int(f.read()) <= 1000:
            pytest.skip("this kernel lets anyone bind port 1000")
    srv.spawn()
    assert srv.wait_exit(15) not in (None, 0), srv.log_text()
    assert "1000" in srv.log_text() or "ermission" in srv.log_text(), srv.log_text()


def test_an_unknown_user_stops_the_start(pg, make_server):
    srv = make_server(tcp_url(pg), tls=False, workers=1, env={"VOLUNTEERD_USER": "no-such-user-here"})
    srv.spawn()
    assert srv.wait_exit(15) not in (None, 0), srv.log_text()
    assert "VOLUNTEERD_USER" in srv.log_text() and "no such user" in srv.log_text(), srv.log_text()


@root_only
def test_another_user_cannot_become_the_user(pg, make_server):
    srv = make_server(tcp_url(pg), tls=False, workers=1, env={"VOLUNTEERD_USER": "daemon"})
    nobody = pwd.getpwnam("nobody")
    os.chown(srv.dir, nobody.pw_uid, nobody.pw_gid)
    os.chown(srv.env["VOLUNTEERD_SECRET_FILE"], nobody.pw_uid, nobody.pw_gid)
    binary = os.path.join(srv.dir, "volunteerd")  # the checkout may be closed to nobody
    shutil.copy(helpers.BIN, binary)
    r = helpers.run(["runuser", "-u", "nobody", "--", binary, "serve"], env=srv.env, timeout=20)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "neither root nor daemon" in r.stdout + r.stderr, r.stdout + r.stderr
