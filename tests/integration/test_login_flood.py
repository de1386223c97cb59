"""R18, hashing cannot be used for a denial of service: 200 log-ins at once against a server of
one worker and one of two.  Each worker verifies Argon2id (m = 19 MiB, tens of ms each) on a
hashing pool of its own whose threads are the online cores shared among the workers (at least
one each: VOLUNTEERD_HASH_THREADS, common/config.c), with a queue of VOLUNTEERD_HASH_QUEUE,
256 by default (server/worker.c, server/offload.c; a full queue is 503 with Retry-After,
server/h_session.c).  Checked while
and after they run:

* every answer is 401 (hashed and wrong), 429 (throttled) or 503 (refused for load), the last
  two with Retry-After; no other status, no connection error, no hang;
* /livez, polled every 100 ms meanwhile, always answers 200 within PROBE_MAX_S: the event
  loop is not stalled behind the queued hashes (the bound is generous for a shared machine:
  it catches a stall of seconds, not one hash of tens of ms run on the loop);
* the hashing pools' threads, summed over the workers, are at most the machine's cores, and
  the most hashes each ran at once (its high-water mark in /metrics) at most its threads:
  the server never hashes more passwords at once than it has cores; no export ran;
* each worker's resident memory, now and at its peak (VmHWM), stays under its size before plus
  two Argon2 blocks per hashing thread and some slack: hashes do not pile up in memory;
* the workers are the same processes afterwards, /metrics counted the answers by status, and
  an untouched account still logs in (201).

The flood is 150 unknown logins (each hashed against the dummy hash, as a real one is) and 50
wrong passwords of one account, from ten loopback addresses with 20 log-ins each: under the
log-in throttle's 30 per address, so every unknown login reaches the pool (401, or 503 when its
queue is full), never 429.  The final log-in is another account's, from an address the flood
did not use (README "The log-in throttle": 30 failures from one address lock it).  With 200 <
256, the queue does not fill here, so 503s are allowed but not expected; a queue made small
fills in test_a_full_hashing_queue_sheds_log_ins_at_once_with_503.

Exports (CSV, Excel) run on a second pool of each worker, so that neither kind of work queues
behind the other: an Excel export asked for while a flood's hashes are queued is answered
while most of the flood still waits (test_an_export_is_not_queued_behind_a_login_flood).
"""
import collections
import concurrent.futures
import http.client
import json
import os
import signal
import threading
import time

import pytest
import requests

import helpers

ARGON2_MIB = 19  # common/password.c: m = 19456 KiB
SLACK_MIB = 64
FLOOD = 200
SOURCES = [f"127.0.0.{10 + i}" for i in range(10)]  # FLOOD / 10 = 20 each, under 30
TIMEOUT = 30  # every log-in's connect, send and each read
PROBE_EVERY = 0.1
PROBE_MAX_S = 2.0
PW = "Flood-test-pass-123"
WRONG = "wrong-password-1"


@pytest.fixture(params=[1, 2], ids=["one-worker", "two-workers"])
def srv(request, fresh_db, make_server):
    _, url = fresh_db()
    s = make_server(url, tls=False, workers=request.param)
    s.migrate()
    s.create_admin("target", PW)
    s.create_admin("keeper", PW)
    s.start()
    return s


def login(srv, source, who, password):
    """POST /api/v1/session from source (127.0.0.x): (status, Retry-After), or (error name,
    None) when the connection failed or timed out."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.http, timeout=TIMEOUT,
                                      source_address=(source, 0))
    try:
        conn.request("POST", "/api/v1/session", body=json.dumps({"login": who, "password": password}),
                     headers={"Content-Type": "application/json", "Connection": "close"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Retry-After")
    except (OSError, http.client.HTTPException) as e:
        return type(e).__name__, None
    finally:
        conn.close()


def memory_kib(pid):
    """(VmRSS, VmHWM) of pid in KiB: resident now, and at its peak."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


class Probe(threading.Thread):
    """GET /livez every PROBE_EVERY seconds until stopped: (status or error name, seconds)."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv, self.stop, self.samples = srv, threading.Event(), []

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                status = requests.get(self.srv.url("/livez"), timeout=5).status_code
            except requests.RequestException as e:
                status = type(e).__name__
            self.samples.append((status, time.monotonic() - t0))
            self.stop.wait(PROBE_EVERY)


def flood(srv, answered_at=None, n=FLOOD):
    """n log-ins released together (a barrier); their answers, in order.  The monotonic time
    of each answer is appended to answered_at when given."""
    start = threading.Barrier(n, timeout=TIMEOUT)

    def one(i):
        start.wait()
        who = "target" if i % 4 == 0 else f"ghost-{i}"
        answer = login(srv, SOURCES[i // 20], who, WRONG)
        if answered_at is not None:
            answered_at.append(time.monotonic())
        return answer

    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(one, i) for i in range(n)]
        _, late = concurrent.futures.wait(futures, timeout=4 * TIMEOUT)
        assert not late, f"{len(late)} log-ins still running after {4 * TIMEOUT} s"
        return [f.result() for f in futures]


def pool_figures(srv, name, pool):
    """{worker: value} of the offload pool figure NAME (server/metrics.c) for pool."""
    text = srv.get("/metrics").text
    return {w: helpers.metric_sum(text, name, worker=str(w), pool=pool) for w in range(len(srv.workers()))}


def test_a_login_flood_is_answered_and_the_worker_stays_responsive(srv):
    pids = srv.workers()
    rss_before = {pid: memory_kib(pid)[0] for pid in pids}

    probe = Probe(srv)
    probe.start()
    try:
        time.sleep(0.5)  # a few probes before, for the figures
        t0 = time.monotonic()
        answers = flood(srv)
        took = time.monotonic() - t0
        time.sleep(0.5)
    finally:
        probe.stop.set()
        probe.join(10)
    assert not probe.is_alive()

    counts = collections.Counter(status for status, _ in answers)
    assert set(counts) <= {401, 429, 503}, counts
    for status, retry_after in answers:
        if status in (429, 503):
            assert retry_after and retry_after.isdigit() and int(retry_after) > 0, (status, retry_after)
    # The unknown logins cannot be throttled here, so they reached the pool: hashed (401) or
    # refused for load (503).  A 429 would mean the throttle, not the pool, took the flood.
    ghosts = collections.Counter(status for i, (status, _) in enumerate(answers) if i % 4)
    assert set(ghosts) <= {401, 503} and counts[401] > 0, ghosts

    statuses = collections.Counter(status for status, _ in probe.samples)
    worst = max(latency for _, latency in probe.samples)
    assert len(probe.samples) >= 5 and set(statuses) == {200}, statuses
    assert worst < PROBE_MAX_S, f"/livez took {worst:.3f} s during the flood"

    # The workers publish their pools' figures every second: wait for the flood's hashes.
    assert helpers.wait_until(lambda: sum(pool_figures(srv, "volunteerd_offload_tasks_total", "hashing").values())
                              >= counts[401], 5), "the hashing pools' figures did not count the flood"
    threads = pool_figures(srv, "volunteerd_offload_threads", "hashing")
    peak = pool_figures(srv, "volunteerd_offload_running_peak", "hashing")
    cores = os.cpu_count()
    assert 1 <= sum(threads.values()) <= cores, (threads, cores)
    assert all(1 <= threads[w] and peak[w] <= threads[w] for w in threads), (threads, peak)
    assert 1 <= sum(peak.values()) <= cores, (peak, cores)
    assert sum(pool_figures(srv, "volunteerd_offload_tasks_total", "export").values()) == 0

    assert srv.workers() == pids, "a worker was replaced during the flood"
    memory = {}
    for w, pid in enumerate(pids):
        rss_after, hwm_after = memory_kib(pid)
        bound = rss_before[pid] + (2 * int(threads[w]) * ARGON2_MIB + SLACK_MIB) * 1024
        memory[w] = f"{rss_before[pid] // 1024} -> {rss_after // 1024} MiB, peak {hwm_after // 1024}, bound {bound // 1024}"
        if "asan" not in helpers.BIN:  # AddressSanitizer keeps freed blocks (256 MiB of quarantine)
            assert rss_after <= bound, (w, rss_before[pid], rss_after, bound)
            assert hwm_after <= bound, (w, rss_before[pid], hwm_after, bound)

    for status in (401, 429, 503):
        assert helpers.metric(srv, "volunteerd_http_requests_total", method="POST",
                              route="/api/v1/session", status=str(status)) == counts[status], status

    assert login(srv, "127.0.0.1", "keeper", PW)[0] == 201
    print(f"\nflood: {dict(counts)} in {took:.1f} s; /livez: {len(probe.samples)} probes, worst "
          f"{worst * 1000:.0f} ms; hashing threads {threads}, most at once {peak} ({cores} cores); "
          f"worker RSS {memory}")


# A small district (test_gen_data.py's arguments): its per-volunteer report of November 2024
# has a few hundred rows, an Excel file of tens of kB built in a few ms.
GEN_ARGS = ["--scale", "0.002", "--seed", "5", "--months", "2", "--end-month", "2024-12"]
EXPORT_MONTH = "2024-11"
BACKLOG = 100  # log-ins queued for a hash before the export is asked for
STILL_WAITING = 20  # of them, still unanswered when the export is


def test_an_export_is_not_queued_behind_a_login_flood(pg, fresh_db, make_server):
    """One worker with one hashing thread: the flood's 200 hashes take seconds one after the
    other.  Once /metrics shows BACKLOG of them queued, an Excel export is asked for; it must be
    answered while STILL_WAITING log-ins of the flood are unanswered.  On one pool shared by
    both (before R18), the export waited behind the queued hashes and came back with the last
    of the flood.  A log-in is likewise not queued behind exports: the two pools' task counts
    show that each kind of work ran on its own."""
    name, url = fresh_db()
    srv = make_server(url, tls=False, workers=1, env={"VOLUNTEERD_HASH_THREADS": "1"})
    srv.migrate()
    srv.create_admin("target", PW)
    srv.create_admin("exporter", PW)
    out = srv.cmd(["gen-data", *GEN_ARGS], timeout=120)
    assert out.returncode == 0, out.stderr + out.stdout
    district = pg.sql("SELECT id FROM org_units WHERE kind = 'district'", db=name).strip()
    srv.start()
    session = requests.post(srv.url("/api/v1/session"), json={"login": "exporter", "password": PW}, timeout=TIMEOUT)
    assert session.status_code == 201, session.text
    auth = {"Authorization": "Bearer " + session.json()["token"]}
    export_path = f"/api/v1/reports/volunteers?month={EXPORT_MONTH}&under={district}&format=xlsx"
    assert requests.get(srv.url(export_path), headers=auth, timeout=TIMEOUT).status_code == 200

    answered_at = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as runner:
        flooding = runner.submit(flood, srv, answered_at)
        queued = helpers.wait_until(
            lambda: flooding.done() or pool_figures(srv, "volunteerd_offload_queued", "hashing")[0] >= BACKLOG, 30)
        assert queued and not flooding.done(), "the flood's hashes never queued"
        t0 = time.monotonic()
        export = requests.get(srv.url(export_path), headers=auth, timeout=TIMEOUT)
        t1 = time.monotonic()
        waiting = FLOOD - sum(1 for t in list(answered_at) if t <= t1)
        answers = flooding.result(timeout=4 * TIMEOUT)

    assert export.status_code == 200 and export.content[:2] == b"PK", export.status_code
    assert waiting >= STILL_WAITING, f"the export came back with only {waiting} log-ins still waiting"
    counts = collections.Counter(status for status, _ in answers)
    assert set(counts) <= {401, 503}, counts

    # Each kind of work on its own pool: the exporter's log-in and the flood's 401s hashed, the
    # two exports built (published within a second).
    hashed = lambda: pool_figures(srv, "volunteerd_offload_tasks_total", "hashing")[0]  # noqa: E731
    assert helpers.wait_until(lambda: hashed() == 1 + counts[401], 5), (hashed(), counts)
    assert pool_figures(srv, "volunteerd_offload_tasks_total", "export")[0] == 2
    assert pool_figures(srv, "volunteerd_offload_running_peak", "hashing")[0] == 1
    print(f"\nexport answered in {(t1 - t0) * 1000:.0f} ms with {waiting} of {FLOOD} log-ins still "
          f"waiting; flood {dict(counts)}")


DRAIN_FLOOD = 40


def test_sigterm_answers_the_log_ins_queued_for_a_hash(fresh_db, make_server):
    """SIGTERM while DRAIN_FLOOD log-ins wait on a one-thread hashing pool: the worker drains
    (the shutdown grace is long enough), every one of them is answered 401, and serve exits 0
    with both pools stopped (under ASan, nothing leaks)."""
    _, url = fresh_db()
    srv = make_server(url, tls=False, workers=1,
                      env={"VOLUNTEERD_HASH_THREADS": "1", "VOLUNTEERD_SHUTDOWN_GRACE": "120"})
    srv.migrate()
    srv.create_admin("target", PW)
    srv.start()

    def in_the_pool():  # every log-in queued, hashing or hashed: all were accepted
        return sum(pool_figures(srv, name, "hashing")[0] for name in (
            "volunteerd_offload_queued", "volunteerd_offload_running", "volunteerd_offload_tasks_total"))

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as runner:
        flooding = runner.submit(flood, srv, None, DRAIN_FLOOD)
        assert helpers.wait_until(lambda: flooding.done() or in_the_pool() >= DRAIN_FLOOD, 30)
        queued = pool_figures(srv, "volunteerd_offload_queued", "hashing")[0]
        srv.proc.send_signal(signal.SIGTERM)
        answers = flooding.result(timeout=4 * TIMEOUT)
    rc = srv.wait_exit(4 * TIMEOUT)
    assert queued > 0, "the log-ins were hashed before SIGTERM: nothing to drain"
    assert collections.Counter(status for status, _ in answers) == {401: DRAIN_FLOOD}, answers
    assert rc == 0, srv.log_text()[-1500:]
    assert "event=worker_drain" in srv.log_text()


SHED_QUEUE = 4
SHED_FLOOD = 60


def test_a_full_hashing_queue_sheds_log_ins_at_once_with_503(fresh_db, make_server):
    """One worker, one hashing thread and a queue of SHED_QUEUE (VOLUNTEERD_HASH_QUEUE):
    SHED_FLOOD log-ins at once fill it at once, and those past it are refused without a hash,
    503 with Retry-After (event=login_shed), while the pool never holds more than its queue and
    its one running hash.  The refused are counted in /metrics, the accepted are hashed (401),
    /livez keeps answering, and an account logs in afterwards."""
    _, url = fresh_db()
    srv = make_server(url, tls=False, workers=1,
                      env={"VOLUNTEERD_HASH_THREADS": "1", "VOLUNTEERD_HASH_QUEUE": str(SHED_QUEUE)})
    srv.migrate()
    srv.create_admin("target", PW)
    srv.create_admin("keeper", PW)
    srv.start()

    probe = Probe(srv)
    probe.start()
    try:
        answers = flood(srv, None, SHED_FLOOD)
    finally:
        probe.stop.set()
        probe.join(10)

    counts = collections.Counter(status for status, _ in answers)
    assert set(counts) <= {401, 503} and counts[401] >= 1, counts
    # A hash takes tens of ms and the flood arrives within about as long: most of it finds the
    # queue full.
    assert counts[503] >= SHED_FLOOD // 2, counts
    for status, retry_after in answers:
        if status == 503:
            assert retry_after and retry_after.isdigit() and int(retry_after) > 0, retry_after
    assert {status for status, _ in probe.samples} == {200}, probe.samples

    hashing = lambda name: pool_figures(srv, name, "hashing")[0]  # noqa: E731
    assert helpers.wait_until(lambda: hashing("volunteerd_offload_refused_total") == counts[503], 5), \
        (hashing("volunteerd_offload_refused_total"), counts)
    assert hashing("volunteerd_offload_tasks_total") == counts[401]
    assert hashing("volunteerd_offload_running_peak") == 1
    assert srv.log_text().count("event=login_shed") == counts[503]
    assert login(srv, "127.0.0.1", "keeper", PW)[0] == 201
    print(f"\nqueue of {SHED_QUEUE}: {dict(counts)}")
