"""A worker's client connections, against the real binary over loopback sockets.

Each test starts a server of its own.  A worker out of descriptors pauses accepting and lives
on.
"""
import os
import resource
import socket
import time

from helpers import wait_until

TIMEOUT = 10


def serve(make_server, pg, workers=1, tls=False, **settings):
    env = {f"VOLUNTEERD_{k}": str(v) for k, v in settings.items()}
    return make_server(pg.url(), tls=tls, workers=workers, env=env).start()


def dial(port, source="127.0.0.1"):
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT, source_address=(source, 0))


def probe(srv):
    """/livez from 127.0.0.1 on a fresh connection."""
    assert srv.get("/livez", timeout=TIMEOUT).status_code == 200


def worker_fds(srv):
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in srv.workers())


def test_a_worker_out_of_descriptors_pauses_accepting_and_lives_on(pg, make_server):
    """accept() failing (EMFILE, here from a lower descriptor limit than the cap needs) pauses
    the listeners for a moment; the worker used to crash on that path."""
    srv = serve(make_server, pg, HTTP_TIMEOUT=60)
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
