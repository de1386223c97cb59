-- gen-data, phase setup: the gen schema (scratch tables and helpers, dropped by cleanup.sql),
-- the parameters gen.p and the shape's counts.  Runs in one transaction after params.sql, which
-- set gen.scale, gen.seed, gen.months and gen.end_month ('' = the current month) for it.
-- The binary checked before (check.sql) that the database holds no district yet and that the
-- connection is a superuser's.
DROP SCHEMA IF EXISTS gen CASCADE;
CREATE SCHEMA gen;

-- A uniform number in [0, 1) from (key, salt): 53 bits of PostgreSQL's hash-partitioning hash,
-- which is stable across platforms and releases.
CREATE FUNCTION gen.u(k bigint, salt bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ((hashint8extended(k, salt) >> 11) & 9007199254740991)::float8 / 9007199254740992.0 $$;
-- ... from two keys
CREATE FUNCTION gen.u2(a bigint, b bigint, salt bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ((hashint8extended(b, hashint8extended(a, salt)) >> 11) & 9007199254740991)::float8 / 9007199254740992.0 $$;

CREATE TABLE gen.p AS
SELECT a.scale, a.seed, a.months,
       m0 AS first_month, (m0 + make_interval(months => a.months))::date AS end_month,
       app_time_zone() AS tz,
       greatest(1, round(10 * a.scale))::int AS n_subd,
       greatest(2, round(110 * a.scale))::int AS n_comm,
       greatest(4, round(2644 * a.scale))::int AS n_grid,
       greatest(2, round(101 * a.scale))::int AS n_team,
       greatest(60, round(146000 * a.scale))::int AS n_vol,
       greatest(1, round(15 * a.scale))::int AS n_suo,
       greatest(1, round(85 * a.scale))::int AS n_zhan,
       greatest(1, round(5 * a.scale))::int AS n_dian,
       round(10000000 * a.scale * a.months / 12.0)::bigint AS target_att
  FROM (SELECT current_setting('gen.scale')::numeric AS scale, current_setting('gen.seed')::bigint AS seed,
               current_setting('gen.months')::int AS months, current_setting('gen.end_month') AS end_month) a
 CROSS JOIN LATERAL
       (SELECT (coalesce(nullif(a.end_month, '') || '-01',
                         date_trunc('month', now() AT TIME ZONE app_time_zone())::date::text)::date
                - make_interval(months => a.months))::date AS m0) t;
ALTER TABLE gen.p ADD COLUMN n_act int;
UPDATE gen.p SET n_act = least(7 * n_team, greatest(4 * n_team, round(409 * scale)::int));
-- salts: seed * 1000 + a number per purpose, the seed written into the function's body so that
-- it stays an inlinable constant expression
DO $$
BEGIN
    EXECUTE format('CREATE FUNCTION gen.s(what int) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
                   format('SELECT %s::bigint * 1000 + what', (SELECT seed FROM gen.p)));
END $$;

-- For the bulk loads of the three big tables (the fast path): defer_indexes drops the table's
-- secondary indexes and unique/exclusion constraints (keeping the primary key) before the
-- insert, in the loading transaction, and restore_indexes rebuilds them after it from their
-- own catalog definitions: one sorted build per index instead of ten million insertions. The
-- rebuild checks the constraints again, and a failure rolls the drop back with everything else.
CREATE TABLE gen.deferred (tbl regclass, n int, redo text, PRIMARY KEY (tbl, n));
CREATE FUNCTION gen.defer_indexes(t regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    undo text[];
    stmt text;
BEGIN
    WITH d AS (
        SELECT 1 AS k, c.conname::text AS name,
               format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)) AS redo,
               format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) AS undo
          FROM pg_constraint c WHERE c.conrelid = t AND c.contype IN ('u', 'x')
        UNION ALL
        SELECT 2, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), format('DROP INDEX %s', i.indexrelid::regclass)
          FROM pg_index i WHERE i.indrelid = t AND NOT i.indisprimary
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
    ), ins AS (
        INSERT INTO gen.deferred (tbl, n, redo)
        SELECT t, row_number() OVER (ORDER BY k, name), redo FROM d
    )
    SELECT array_agg(d.undo ORDER BY d.k, d.name) INTO undo FROM d;
    FOREACH stmt IN ARRAY coalesce(undo, '{}') LOOP
        EXECUTE stmt;
    END LOOP;
END $$;
CREATE FUNCTION gen.restore_indexes(t regclass) RETURNS void
LANGUAGE plpgsql SET maintenance_work_mem = '1GB' AS $$
DECLARE
    stmt text;
BEGIN
    FOR stmt IN SELECT redo FROM gen.deferred WHERE tbl = t ORDER BY n LOOP
        EXECUTE stmt;
    END LOOP;
    DELETE FROM gen.deferred WHERE tbl = t;
END $$;

-- the hour_entry_days partitions of the months generated
SELECT count(*) || ' partitions added' FROM gen.p, hour_entry_days_ensure(first_month, end_month - 1);
SELECT format('%s..%s: %s subdistricts, %s communities, %s grids, %s teams, %s activities, %s volunteers, ~%s attendances',
              first_month, end_month - 1, n_subd, n_comm, n_grid, n_team, n_act, n_vol, target_att) FROM gen.p;
