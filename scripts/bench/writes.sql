-- scripts/bench/writes.sql: pgbench script of `make bench`, the database's writes of :n self
-- check-ins in one durable transaction, as a group commit of the server makes them, and
-- nothing else: no rule, no look-up of the event, its policy or the sign-ups, no JSON
-- answer, no HTTP.  So its rate W is what PostgreSQL on this machine allows for these
-- writes, and check-ins/s / W how much of it the server keeps.  The writes: each
-- volunteer's session touched (found by its token's SHA-256, as the server finds it), the
-- attendance inserted under every constraint of attendances (the foreign keys, the
-- exclusion constraint, the one-open index, the CHECKs), and its audit row.
-- pgbench -D n=64 -D event=E; volunteers are taken from the sequence bench_writes_next (the
-- tokens are setup.sql's).  bench.sh runs it with plan_cache_mode = force_generic_plan, as
-- the server's check-in functions run their statements: pgbench passes :n as a parameter,
-- and PostgreSQL's custom plans were otherwise made anew for every transaction.
WITH v AS (
    SELECT nextval('bench_writes_next') AS k FROM generate_series(1, :n)
), touched AS (
    UPDATE sessions s SET last_seen_at = now()
      FROM v
     WHERE s.token_hash = sha256(convert_to('bench' || lpad(v.k::text, 38, '0'), 'UTF8'))
    RETURNING s.account_id
), inserted AS (
    INSERT INTO attendances (event_id, volunteer_id, check_in_at, method, created_by, ip)
    SELECT :event, a.volunteer_id, now(), 'self', a.id, '127.0.0.1'
      FROM touched t JOIN accounts a ON a.id = t.account_id
        ON CONFLICT (volunteer_id) WHERE check_out_at IS NULL AND voided_at IS NULL DO NOTHING
    RETURNING attendances AS x
), audited AS (
    INSERT INTO audit_log (account_id, ip, action, entity, entity_id, old, new, request_id)
    SELECT (i.x).created_by, '127.0.0.1', 'check_in', 'attendance', (i.x).id, NULL, to_jsonb(i.x),
           'bench-writes'
      FROM inserted i
)
SELECT count(*) FROM inserted;
