-- 0007_reports.sql: exact monthly reports from rollups kept in the same transaction as the
-- ledger, month closes with a checksum, and the per-volunteer and party-member reports
-- (DESIGN §4, issue 6).
--
-- Where the figures come from
--
--   hour_entry_days (0001) is the ledger split per local day, with the as-at team, service unit
--   and home unit of each entry copied in, and the entry's status kept in step by trigger.
--   Every INSERT/UPDATE/DELETE statement on it runs report_rollup_apply() once (statement-level
--   triggers with transition tables): the statement's rows are folded into per-key deltas
--   (approved and pending minutes apart; rejected and void count nothing, so a void or a
--   correction subtracts exactly what the old status had added) and applied to
--
--   monthly_volunteer_totals (0001)  minutes per (month, volunteer, service unit, team, home
--                 unit): upserted in key order.  Rows belong to one volunteer, so concurrent
--                 check-outs of different volunteers never wait on each other here.
--   volunteer_totals (0001)          all-time minutes per volunteer (star levels).
--   report_unit_deltas               an APPEND-ONLY journal of changes to the report figures:
--                 (month, dimension, unit, team, +approved, +pending, +volunteers), where unit
--                 is every ancestor of the entry's unit (itself included, from org_units.path)
--                 and team is the entry's team and 0 ("all teams").  So a row for unit X holds
--                 X's whole subtree, and a report reads one key per output row instead of
--                 summing a subtree.  Only inserts: no hot row (the district's key would
--                 otherwise be updated by every check-out in the district).
--   report_unit_totals               the same keys, folded: rollups_compact() moves the
--                 journal into it (DELETE ... RETURNING + upsert in one statement, one runner
--                 at a time by advisory lock; the server calls it every job tick).  A report
--                 reads totals + the journal's tail for its keys, so it is exact at any moment.
--
--   Distinct volunteers do not add up, so the journal's `volunteers` column is a count of
--   transitions: for the volunteers a statement touches, the set of keys (month, dimension,
--   ancestor, team|0) where they have approved minutes is computed before and after the
--   upsert of monthly_volunteer_totals; keys entered count +1, keys left -1.  The figure for a
--   key is then exactly count(DISTINCT volunteer with approved minutes) under it.
--
--   rollups_rebuild_month(m) recomputes a month from its hour_entry_days partition: the
--   reference the triggers must agree with, the repair tool, and what a bulk loader calls
--   after loading with the triggers disabled (ALTER TABLE hour_entry_days DISABLE TRIGGER
--   USER ... ; load; rollups_rebuild_all()).  This migration backfills every month that has
--   entries.  0001's monthly_unit_totals, which nothing maintained, is dropped: the per-unit
--   sums are report_unit_totals.
--
--   A report's cost: by=org_unit reads (children + 1) keys, by=team (teams + 1) keys, plus the
--   journal's tail for them, plus the month's events (index on starts_at) and registrations
--   (index on created_at).  Nothing grows with the ledger's size.
--
--   Org unit moves: the ancestors of a moved subtree change, so the keys of the old and new
--   ancestors (below their common ancestor) are recounted from monthly_volunteer_totals in the
--   mover's transaction (report_recount_units).  Known weakness: a check-out whose trigger ran
--   with the old paths but commits after the move is attributed by the old paths; repair with
--   rollups_rebuild_month.
--
-- Month close and adjustments
--
--   POST /reports/monthly/{month}/close?under=X stores in month_closes (0001) the month's four
--   reports under X (by org_unit and by team, each by service and by residence) as one JSON
--   text, and the database computes its SHA-256.  From then on GET /reports/monthly for that
--   month and under=X is the stored snapshot with "closed": true and "sha256".
--   The ledger stays the truth: a later change to a closed month's entries (a correction, a
--   void, a late approval) still lands in that month's rollups, but the trigger also writes it
--   to report_adjustments: applied_month = the current (open) month, corrects_month = the
--   closed month, with the unit and team as at service and the minutes' change.  The open
--   month's report shows them in "adjustments" per row and in totals; its own minutes are
--   only its own service.  Units not under any close are not adjusted.
--
-- Scope: admin and coordinator over `under` (a grant on a unit covers its subtree); a unit
-- outside scope is 404; an account without any staff grant is 403.  Month close: admin.

DROP TABLE monthly_unit_totals;

CREATE TABLE report_unit_totals (
    month            date NOT NULL,
    dimension        text NOT NULL CONSTRAINT report_unit_totals_dimension_check
                         CHECK (dimension IN ('service', 'residence')),
    unit_id          bigint NOT NULL,
    team_id          bigint NOT NULL,  -- 0: all teams
    approved_minutes bigint NOT NULL DEFAULT 0,
    pending_minutes  bigint NOT NULL DEFAULT 0,
    volunteers       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (month, dimension, unit_id, team_id)
);

CREATE TABLE report_unit_deltas (
    month            date NOT NULL,
    dimension        text NOT NULL,
    unit_id          bigint NOT NULL,
    team_id          bigint NOT NULL,
    approved_minutes bigint NOT NULL,
    pending_minutes  bigint NOT NULL,
    volunteers       bigint NOT NULL
);
CREATE INDEX report_unit_deltas_key_idx ON report_unit_deltas (month, dimension, unit_id, team_id);

CREATE TABLE report_adjustments (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    applied_month    date NOT NULL,
    corrects_month   date NOT NULL,
    dimension        text NOT NULL,
    org_unit_id      bigint NOT NULL,
    team_id          bigint NOT NULL,
    approved_minutes bigint NOT NULL,
    pending_minutes  bigint NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_adjustments_applied_idx ON report_adjustments (applied_month, dimension);

CREATE INDEX volunteer_totals_approved_idx ON volunteer_totals (approved_minutes);

-- The report keys an entry's minutes count under: every ancestor (itself included) of the
-- service unit and of the home unit, each for the team and for "all teams" (0).
CREATE FUNCTION report_keys(org bigint, home bigint, team bigint)
RETURNS TABLE (dimension text, unit_id bigint, team_id bigint)
LANGUAGE sql STABLE AS $$
    SELECT x.dim, a::bigint, t.tm
      FROM (VALUES ('service', org), ('residence', home)) AS x (dim, unit)
      JOIN org_units u ON u.id = x.unit
     CROSS JOIN LATERAL unnest(string_to_array(btrim(u.path, '/'), '/')) AS a
     CROSS JOIN (VALUES (0::bigint), (team)) AS t (tm)
$$;

CREATE TYPE report_delta AS (
    month date, volunteer_id bigint, org_unit_id bigint, team_id bigint, home_org_unit_id bigint,
    approved bigint, pending bigint
);

-- Apply one statement's deltas (grouped per key, nonzero) to every rollup; see the header.
CREATE FUNCTION report_rollup_add(d report_delta[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    cur_month date := date_trunc('month', now() AT TIME ZONE app_time_zone())::date;
BEGIN
    IF coalesce(cardinality(d), 0) = 0 THEN
        RETURN;
    END IF;
    WITH delta AS (
        SELECT * FROM unnest(d)
    ), vols AS (
        SELECT DISTINCT month, volunteer_id FROM delta
    ), pre AS (
        SELECT t.month, t.volunteer_id, t.org_unit_id, t.team_id, t.home_org_unit_id
          FROM monthly_volunteer_totals t JOIN vols v USING (month, volunteer_id)
         WHERE t.approved_minutes > 0
    ), up AS (
        INSERT INTO monthly_volunteer_totals AS t (month, volunteer_id, org_unit_id, team_id,
                                                   home_org_unit_id, approved_minutes, pending_minutes)
        SELECT month, volunteer_id, org_unit_id, team_id, home_org_unit_id, approved, pending
          FROM delta
         ORDER BY month, volunteer_id, org_unit_id, team_id, home_org_unit_id
        ON CONFLICT (month, volunteer_id, org_unit_id, team_id, home_org_unit_id) DO UPDATE
           SET approved_minutes = t.approved_minutes + excluded.approved_minutes,
               pending_minutes = t.pending_minutes + excluded.pending_minutes,
               updated_at = now()
        RETURNING t.month, t.volunteer_id, t.org_unit_id, t.team_id, t.home_org_unit_id, t.approved_minutes
    ), post AS (
        SELECT p.* FROM pre p
         WHERE NOT EXISTS (SELECT 1 FROM up u
                            WHERE u.month = p.month AND u.volunteer_id = p.volunteer_id
                              AND u.org_unit_id = p.org_unit_id AND u.team_id = p.team_id
                              AND u.home_org_unit_id = p.home_org_unit_id)
        UNION ALL
        SELECT u.month, u.volunteer_id, u.org_unit_id, u.team_id, u.home_org_unit_id
          FROM up u WHERE u.approved_minutes > 0
    ), pre_keys AS (
        SELECT DISTINCT p.month, p.volunteer_id, k.dimension, k.unit_id, k.team_id
          FROM pre p, report_keys(p.org_unit_id, p.home_org_unit_id, p.team_id) k
    ), post_keys AS (
        SELECT DISTINCT p.month, p.volunteer_id, k.dimension, k.unit_id, k.team_id
          FROM post p, report_keys(p.org_unit_id, p.home_org_unit_id, p.team_id) k
    ), vol_delta AS (
        SELECT month, dimension, unit_id, team_id, count(*) AS n
          FROM (SELECT * FROM post_keys EXCEPT SELECT * FROM pre_keys) x GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT month, dimension, unit_id, team_id, -count(*)
          FROM (SELECT * FROM pre_keys EXCEPT SELECT * FROM post_keys) x GROUP BY 1, 2, 3, 4
    ), min_delta AS (
        SELECT e.month, k.dimension, k.unit_id, k.team_id, sum(e.approved) AS a, sum(e.pending) AS p
          FROM delta e, report_keys(e.org_unit_id, e.home_org_unit_id, e.team_id) k
         GROUP BY 1, 2, 3, 4
    ), journal AS (
        INSERT INTO report_unit_deltas (month, dimension, unit_id, team_id, approved_minutes,
                                        pending_minutes, volunteers)
        SELECT month, dimension, unit_id, team_id, sum(a), sum(p), sum(v)
          FROM (SELECT month, dimension, unit_id, team_id, a, p, 0 AS v FROM min_delta
                UNION ALL
                SELECT month, dimension, unit_id, team_id, 0, 0, n FROM vol_delta) x
         GROUP BY 1, 2, 3, 4
        HAVING sum(a) <> 0 OR sum(p) <> 0 OR sum(v) <> 0
    ), all_time AS (
        INSERT INTO volunteer_totals AS t (volunteer_id, approved_minutes, pending_minutes)
        SELECT volunteer_id, sum(approved), sum(pending) FROM delta
         GROUP BY volunteer_id ORDER BY volunteer_id
        ON CONFLICT (volunteer_id) DO UPDATE
           SET approved_minutes = t.approved_minutes + excluded.approved_minutes,
               pending_minutes = t.pending_minutes + excluded.pending_minutes,
               updated_at = now()
    )
    INSERT INTO report_adjustments (applied_month, corrects_month, dimension, org_unit_id, team_id,
                                    approved_minutes, pending_minutes)
    SELECT cur_month, x.month, x.dim, x.unit, x.team_id, sum(x.a), sum(x.p)
      FROM (SELECT e.month, 'service' AS dim, e.org_unit_id AS unit, e.team_id, e.approved AS a, e.pending AS p
              FROM delta e
            UNION ALL
            SELECT e.month, 'residence', e.home_org_unit_id, e.team_id, e.approved, e.pending
              FROM delta e) x
      JOIN org_units u ON u.id = x.unit
     WHERE x.month < cur_month
       AND EXISTS (SELECT 1 FROM month_closes c JOIN org_units cu ON cu.id = c.org_unit_id
                    WHERE c.month = x.month AND u.path >= cu.path AND u.path < left(cu.path, -1) || '0')
     GROUP BY 1, 2, 3, 4, 5
    HAVING sum(x.a) <> 0 OR sum(x.p) <> 0;
END $$;

-- The statement-level trigger on hour_entry_days: one call per statement, whatever its size.
-- (plpgsql plans a branch only when it runs, so each trigger names only its own transition
-- tables.)
CREATE FUNCTION report_rollup_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM report_rollup_add(ARRAY(
            SELECT ROW(month, volunteer_id, org_unit_id, team_id, home_org_unit_id, a, p)::report_delta
              FROM (SELECT date_trunc('month', n.day)::date AS month, n.volunteer_id, n.org_unit_id,
                           n.team_id, n.home_org_unit_id,
                           coalesce(sum(n.minutes) FILTER (WHERE n.status = 'approved'), 0) AS a,
                           coalesce(sum(n.minutes) FILTER (WHERE n.status = 'pending'), 0) AS p
                      FROM new_rows n
                     WHERE n.status IN ('approved', 'pending')
                     GROUP BY 1, 2, 3, 4, 5) x));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM report_rollup_add(ARRAY(
            SELECT ROW(month, volunteer_id, org_unit_id, team_id, home_org_unit_id, a, p)::report_delta
              FROM (SELECT month, volunteer_id, org_unit_id, team_id, home_org_unit_id,
                           sum(a) AS a, sum(p) AS p
                      FROM (SELECT date_trunc('month', n.day)::date AS month, n.volunteer_id, n.org_unit_id,
                                   n.team_id, n.home_org_unit_id,
                                   CASE WHEN n.status = 'approved' THEN n.minutes ELSE 0 END::bigint AS a,
                                   CASE WHEN n.status = 'pending' THEN n.minutes ELSE 0 END::bigint AS p
                              FROM new_rows n
                            UNION ALL
                            SELECT date_trunc('month', o.day)::date, o.volunteer_id, o.org_unit_id,
                                   o.team_id, o.home_org_unit_id,
                                   -CASE WHEN o.status = 'approved' THEN o.minutes ELSE 0 END::bigint,
                                   -CASE WHEN o.status = 'pending' THEN o.minutes ELSE 0 END::bigint
                              FROM old_rows o) u
                     GROUP BY 1, 2, 3, 4, 5
                    HAVING sum(a) <> 0 OR sum(p) <> 0) x));
    ELSE
        PERFORM report_rollup_add(ARRAY(
            SELECT ROW(month, volunteer_id, org_unit_id, team_id, home_org_unit_id, -a, -p)::report_delta
              FROM (SELECT date_trunc('month', o.day)::date AS month, o.volunteer_id, o.org_unit_id,
                           o.team_id, o.home_org_unit_id,
                           coalesce(sum(o.minutes) FILTER (WHERE o.status = 'approved'), 0) AS a,
                           coalesce(sum(o.minutes) FILTER (WHERE o.status = 'pending'), 0) AS p
                      FROM old_rows o
                     WHERE o.status IN ('approved', 'pending')
                     GROUP BY 1, 2, 3, 4, 5) x));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER report_rollup_insert AFTER INSERT ON hour_entry_days
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION report_rollup_apply();
CREATE TRIGGER report_rollup_update AFTER UPDATE ON hour_entry_days
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_rollup_apply();
CREATE TRIGGER report_rollup_delete AFTER DELETE ON hour_entry_days
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION report_rollup_apply();

-- Fold the journal into report_unit_totals; one runner at a time.  Returns the keys touched.
CREATE FUNCTION rollups_compact() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7301007) THEN
        RETURN 0;
    END IF;
    WITH gone AS (
        DELETE FROM report_unit_deltas RETURNING *
    )
    INSERT INTO report_unit_totals AS t (month, dimension, unit_id, team_id, approved_minutes,
                                         pending_minutes, volunteers)
    SELECT month, dimension, unit_id, team_id, sum(approved_minutes), sum(pending_minutes), sum(volunteers)
      FROM gone GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (month, dimension, unit_id, team_id) DO UPDATE
       SET approved_minutes = t.approved_minutes + excluded.approved_minutes,
           pending_minutes = t.pending_minutes + excluded.pending_minutes,
           volunteers = t.volunteers + excluded.volunteers;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Recompute one month from its hour_entry_days partition (replaces 0001's).  Writers wait
-- for it (the locks), so it is exact also while check-outs continue.  Returns rows written.
CREATE OR REPLACE FUNCTION rollups_rebuild_month(month date) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    m    date := date_trunc('month', month)::date;
    n    date := (date_trunc('month', month) + interval '1 month')::date;
    rows bigint;
    more bigint;
BEGIN
    LOCK TABLE monthly_volunteer_totals, report_unit_totals, report_unit_deltas, volunteer_totals
        IN SHARE ROW EXCLUSIVE MODE;
    -- the all-time totals lose this month's old figures and gain the new ones
    UPDATE volunteer_totals v SET approved_minutes = v.approved_minutes - s.a,
                                  pending_minutes = v.pending_minutes - s.p
      FROM (SELECT volunteer_id, sum(approved_minutes) AS a, sum(pending_minutes) AS p
              FROM monthly_volunteer_totals t WHERE t.month = m GROUP BY volunteer_id) s
     WHERE v.volunteer_id = s.volunteer_id;
    DELETE FROM monthly_volunteer_totals t WHERE t.month = m;
    DELETE FROM report_unit_totals t WHERE t.month = m;
    DELETE FROM report_unit_deltas t WHERE t.month = m;
    INSERT INTO monthly_volunteer_totals (month, volunteer_id, org_unit_id, team_id, home_org_unit_id,
                                          approved_minutes, pending_minutes)
    SELECT m, volunteer_id, org_unit_id, team_id, home_org_unit_id,
           coalesce(sum(minutes) FILTER (WHERE status = 'approved'), 0),
           coalesce(sum(minutes) FILTER (WHERE status = 'pending'), 0)
      FROM hour_entry_days
     WHERE day >= m AND day < n AND status IN ('approved', 'pending')
     GROUP BY volunteer_id, org_unit_id, team_id, home_org_unit_id;
    GET DIAGNOSTICS rows = ROW_COUNT;
    INSERT INTO report_unit_totals (month, dimension, unit_id, team_id, approved_minutes,
                                    pending_minutes, volunteers)
    SELECT m, k.dimension, k.unit_id, k.team_id, sum(t.approved_minutes), sum(t.pending_minutes),
           count(DISTINCT t.volunteer_id) FILTER (WHERE t.approved_minutes > 0)
      FROM monthly_volunteer_totals t, report_keys(t.org_unit_id, t.home_org_unit_id, t.team_id) k
     WHERE t.month = m
     GROUP BY 2, 3, 4;
    GET DIAGNOSTICS more = ROW_COUNT;
    INSERT INTO volunteer_totals AS v (volunteer_id, approved_minutes, pending_minutes)
    SELECT volunteer_id, sum(approved_minutes), sum(pending_minutes)
      FROM monthly_volunteer_totals t WHERE t.month = m GROUP BY volunteer_id
    ON CONFLICT (volunteer_id) DO UPDATE
       SET approved_minutes = v.approved_minutes + excluded.approved_minutes,
           pending_minutes = v.pending_minutes + excluded.pending_minutes,
           updated_at = now();
    RETURN rows + more;
END $$;

-- Every month that has ledger days (a full scan of hour_entry_days: for migrations, bulk
-- loads and repair, never for a request).  Returns rows written.
CREATE FUNCTION rollups_rebuild_all() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    m date;
    total bigint := 0;
BEGIN
    FOR m IN SELECT DISTINCT date_trunc('month', day)::date FROM hour_entry_days ORDER BY 1 LOOP
        total := total + rollups_rebuild_month(m);
    END LOOP;
    RETURN total;
END $$;

-- Recount every key of the given units (all months, both dimensions, all teams) from
-- monthly_volunteer_totals with the current paths.
CREATE FUNCTION report_recount_units(units bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(cardinality(units), 0) = 0 THEN
        RETURN;
    END IF;
    LOCK TABLE monthly_volunteer_totals, report_unit_totals, report_unit_deltas IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM report_unit_totals WHERE unit_id = ANY (units);
    DELETE FROM report_unit_deltas WHERE unit_id = ANY (units);
    INSERT INTO report_unit_totals (month, dimension, unit_id, team_id, approved_minutes,
                                    pending_minutes, volunteers)
    SELECT t.month, k.dimension, k.unit_id, k.team_id, sum(t.approved_minutes), sum(t.pending_minutes),
           count(DISTINCT t.volunteer_id) FILTER (WHERE t.approved_minutes > 0)
      FROM org_units x
      JOIN org_units d ON d.path >= x.path AND d.path < left(x.path, -1) || '0'
      JOIN monthly_volunteer_totals t ON t.org_unit_id = d.id OR t.home_org_unit_id = d.id
     CROSS JOIN LATERAL report_keys(t.org_unit_id, t.home_org_unit_id, t.team_id) k
     WHERE x.id = ANY (units) AND k.unit_id = x.id
     GROUP BY 1, 2, 3, 4;
END $$;

CREATE FUNCTION report_units_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM report_recount_units(ARRAY(
        SELECT DISTINCT a::bigint
          FROM old_rows o JOIN new_rows n ON n.id = o.id
         CROSS JOIN LATERAL unnest(string_to_array(btrim(o.path, '/'), '/')
                                   || string_to_array(btrim(n.path, '/'), '/')) AS a
         WHERE o.parent_id IS DISTINCT FROM n.parent_id
           AND a::bigint <> n.id
           AND NOT (a = ANY (string_to_array(btrim(o.path, '/'), '/'))
                    AND a = ANY (string_to_array(btrim(n.path, '/'), '/')))));
    RETURN NULL;
END $$;
CREATE TRIGGER report_units_moved AFTER UPDATE ON org_units
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_units_moved();

-- Backfill: whatever the ledger already holds.
DO $$ BEGIN
    PERFORM rollups_rebuild_all();
    PERFORM rollups_compact();
END $$;

--------------------------------------------------------------------------------------------
-- Reading the figures
--------------------------------------------------------------------------------------------

-- (approved, pending, volunteers) of the given keys: folded totals plus the journal's tail.
CREATE FUNCTION report_figures(m date, dim text, units bigint[], teams_all boolean)
RETURNS TABLE (unit_id bigint, team_id bigint, approved_minutes bigint, pending_minutes bigint,
               volunteers bigint)
LANGUAGE sql STABLE AS $$
    SELECT x.unit_id, x.team_id, sum(x.approved_minutes)::bigint, sum(x.pending_minutes)::bigint,
           sum(x.volunteers)::bigint
      FROM (SELECT t.unit_id, t.team_id, t.approved_minutes, t.pending_minutes, t.volunteers
              FROM report_unit_totals t
             WHERE t.month = m AND t.dimension = dim AND t.unit_id = ANY (units)
               AND (teams_all OR t.team_id = 0)
            UNION ALL
            SELECT d.unit_id, d.team_id, d.approved_minutes, d.pending_minutes, d.volunteers
              FROM report_unit_deltas d
             WHERE d.month = m AND d.dimension = dim AND d.unit_id = ANY (units)
               AND (teams_all OR d.team_id = 0)) x
     GROUP BY 1, 2
$$;

CREATE FUNCTION report_hours(minutes numeric) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT to_char(coalesce(minutes, 0) / 60.0, 'FM999999999990.00') $$;

-- 'YYYY-MM' -> its first day, or 422 naming the field.
CREATE FUNCTION report_arg_month(args jsonb, key text) RETURNS date
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF args ->> key IS NULL THEN
        PERFORM problem(422, key, key || ' is required, as YYYY-MM');
    ELSIF args ->> key !~ '^[0-9]{4}-(0[1-9]|1[0-2])$' THEN
        PERFORM problem(422, key, key || ' must be YYYY-MM');
    END IF;
    RETURN (args ->> key || '-01')::date;
END $$;

-- The unit a report is about, checked against the actor's scope: a volunteer-only account is
-- 403, a unit outside scope (existing or not) 404.  Without `under`, the actor's own single
-- scope (or the single root for a system administrator).
CREATE FUNCTION report_under(actor bigint, args jsonb, need text) RETURNS org_units
LANGUAGE plpgsql STABLE AS $$
DECLARE
    unit bigint := arg_opt_id(args, 'under');
    u org_units;
    paths text[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.account_id = actor AND g.role <> 'volunteer'
                      AND role_level(g.role) >= role_level(need)) THEN
        PERFORM problem(403, NULL, CASE need WHEN 'admin' THEN 'closing a month is for administrators'
                                   ELSE 'reports are for coordinators and administrators' END);
    END IF;
    IF unit IS NULL THEN
        paths := ARRAY(SELECT DISTINCT p FROM authz_unit_paths(actor, need) p);
        IF cardinality(paths) = 1 AND paths[1] <> '/' THEN
            SELECT * INTO u FROM org_units WHERE path = paths[1];
        ELSIF cardinality(paths) = 1 AND (SELECT count(*) FROM org_units WHERE parent_id IS NULL) = 1 THEN
            SELECT * INTO u FROM org_units WHERE parent_id IS NULL;
        END IF;
        IF u.id IS NULL THEN
            PERFORM problem(422, 'under', 'under (an org unit id) is required');
        END IF;
        RETURN u;
    END IF;
    PERFORM authz_require(authz_level(actor, unit, NULL), need, 'org unit');
    SELECT * INTO u FROM org_units WHERE id = unit;
    RETURN u;
END $$;

-- The adjustments that landed in month m for the subtree of `under`, per child (or team) key:
-- [{"month": corrected month, "approved_minutes", "pending_minutes"}].
CREATE FUNCTION report_adjustments_json(m date, dim text, under org_units, by_team boolean)
RETURNS TABLE (key bigint, adjustments jsonb)
LANGUAGE sql STABLE AS $$
    SELECT key, jsonb_agg(jsonb_build_object('month', to_char(corrects_month, 'YYYY-MM'),
                                             'approved_minutes', a, 'pending_minutes', p)
                          ORDER BY corrects_month)
      FROM (SELECT CASE WHEN by_team THEN r.team_id
                        WHEN u.id = under.id THEN under.id
                        ELSE (string_to_array(btrim(u.path, '/'), '/'))[under.depth + 2]::bigint END AS key,
                   r.corrects_month, sum(r.approved_minutes) AS a, sum(r.pending_minutes) AS p
              FROM report_adjustments r JOIN org_units u ON u.id = r.org_unit_id
             WHERE r.applied_month = m AND r.dimension = dim
               AND u.path >= under.path AND u.path < left(under.path, -1) || '0'
             GROUP BY 1, 2
            UNION ALL
            SELECT -1, r.corrects_month, sum(r.approved_minutes), sum(r.pending_minutes)
              FROM report_adjustments r JOIN org_units u ON u.id = r.org_unit_id
             WHERE r.applied_month = m AND r.dimension = dim
               AND u.path >= under.path AND u.path < left(under.path, -1) || '0'
             GROUP BY 1, 2) x
     WHERE a <> 0 OR p <> 0
     GROUP BY key
$$;

-- The live monthly report (DESIGN §4): rows per direct child of `under` (each its whole
-- subtree) or per team; totals = under's whole subtree.  Key -1 in the helpers is "totals".
CREATE FUNCTION report_monthly_live(m date, by_ text, dim text, under org_units) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m_from timestamptz := m::timestamp AT TIME ZONE app_time_zone();
    m_to timestamptz := (m + interval '1 month')::timestamp AT TIME ZONE app_time_zone();
    lo text := under.path;
    hi text := left(under.path, -1) || '0';
    result jsonb;
BEGIN
    IF by_ = 'org_unit' THEN
        WITH kids AS (
            SELECT id, name, kind, code FROM org_units WHERE parent_id = under.id
        ), figs AS (
            SELECT * FROM report_figures(m, dim, ARRAY(SELECT id FROM kids) || under.id, false)
        ), ev AS (
            -- events held in the month, by the child (or under itself) they happened in
            SELECT CASE WHEN u.id = under.id THEN under.id
                        ELSE (string_to_array(btrim(u.path, '/'), '/'))[under.depth + 2]::bigint END AS key,
                   count(*) AS n
              FROM events e JOIN org_units u ON u.id = e.org_unit_id
             WHERE e.starts_at >= m_from AND e.starts_at < m_to AND e.status = 'scheduled'
               AND u.path >= lo AND u.path < hi
             GROUP BY 1
        ), nv AS (
            -- registrations in the month, by the home unit they registered with
            SELECT CASE WHEN u.id = under.id THEN under.id
                        ELSE (string_to_array(btrim(u.path, '/'), '/'))[under.depth + 2]::bigint END AS key,
                   count(*) AS n
              FROM volunteers v
              JOIN volunteer_home_history h ON h.volunteer_id = v.id AND h.valid_from = '-infinity'
              JOIN org_units u ON u.id = h.org_unit_id
             WHERE v.created_at >= m_from AND v.created_at < m_to
               AND u.path >= lo AND u.path < hi
             GROUP BY 1
        ), adj AS (
            SELECT * FROM report_adjustments_json(m, dim, under, false)
        ), rows_ AS (
            SELECT k.id, k.name, k.kind, k.code,
                   coalesce(f.volunteers, 0) AS volunteers,
                   coalesce(f.approved_minutes, 0) AS approved_minutes,
                   coalesce(f.pending_minutes, 0) AS pending_minutes,
                   coalesce(ev.n, 0) AS events,
                   coalesce((SELECT sum(nv2.n) FROM nv nv2 WHERE nv2.key = k.id), 0) AS new_volunteers,
                   a.adjustments
              FROM kids k
              LEFT JOIN figs f ON f.unit_id = k.id
              LEFT JOIN ev ON ev.key = k.id
              LEFT JOIN adj a ON a.key = k.id
        ), tot AS (
            SELECT coalesce((SELECT volunteers FROM figs WHERE unit_id = under.id), 0) AS volunteers,
                   coalesce((SELECT approved_minutes FROM figs WHERE unit_id = under.id), 0) AS approved_minutes,
                   coalesce((SELECT pending_minutes FROM figs WHERE unit_id = under.id), 0) AS pending_minutes,
                   coalesce((SELECT sum(n) FROM ev), 0) AS events,
                   coalesce((SELECT sum(n) FROM nv), 0) AS new_volunteers
        )
        SELECT jsonb_build_object(
            'rows', coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                         'id', r.id, 'name', r.name, 'kind', r.kind, 'code', r.code,
                         'volunteers', r.volunteers, 'approved_minutes', r.approved_minutes,
                         'pending_minutes', r.pending_minutes, 'approved_hours', report_hours(r.approved_minutes),
                         'pending_hours', report_hours(r.pending_minutes),
                         'events', r.events, 'new_volunteers', r.new_volunteers,
                         'adjustments', r.adjustments)) ORDER BY r.code, r.id)
                       FROM rows_ r), '[]'::jsonb),
            'totals', (SELECT jsonb_strip_nulls(jsonb_build_object(
                         'id', under.id, 'name', under.name, 'kind', under.kind, 'code', under.code,
                         'volunteers', t.volunteers, 'approved_minutes', t.approved_minutes,
                         'pending_minutes', t.pending_minutes, 'approved_hours', report_hours(t.approved_minutes),
                         'pending_hours', report_hours(t.pending_minutes),
                         'events', t.events, 'new_volunteers', t.new_volunteers,
                         'adjustments', (SELECT adjustments FROM adj WHERE key = -1),
                         -- the unit's own entries, events and registrations (not in any row)
                         'own', jsonb_build_object(
                             'approved_minutes', t.approved_minutes - coalesce((SELECT sum(approved_minutes) FROM rows_), 0),
                             'pending_minutes', t.pending_minutes - coalesce((SELECT sum(pending_minutes) FROM rows_), 0),
                             'events', coalesce((SELECT n FROM ev WHERE key = under.id), 0),
                             'new_volunteers', coalesce((SELECT n FROM nv WHERE key = under.id), 0))))
                         FROM tot t))
          INTO result;
    ELSE
        WITH figs AS (
            SELECT * FROM report_figures(m, dim, ARRAY[under.id], true)
        ), ev AS (
            SELECT e.team_id AS key, count(*) AS n
              FROM events e JOIN org_units u ON u.id = e.org_unit_id
             WHERE e.starts_at >= m_from AND e.starts_at < m_to AND e.status = 'scheduled'
               AND u.path >= lo AND u.path < hi
             GROUP BY 1
        ), nv AS (
            -- members who joined the team in the month
            SELECT tm.team_id AS key, count(*) AS n
              FROM team_members tm
             WHERE tm.joined_at >= m_from AND tm.joined_at < m_to
               AND tm.team_id IN (SELECT f.team_id FROM figs f WHERE f.team_id <> 0
                                  UNION SELECT t.id FROM teams t JOIN org_units u ON u.id = t.org_unit_id
                                         WHERE u.path >= lo AND u.path < hi)
             GROUP BY 1
        ), adj AS (
            SELECT * FROM report_adjustments_json(m, dim, under, true)
        ), ids AS (
            -- the teams owned in the subtree, and any team with figures or events in it
            SELECT t.id FROM teams t JOIN org_units u ON u.id = t.org_unit_id
             WHERE u.path >= lo AND u.path < hi
            UNION SELECT team_id FROM figs WHERE team_id <> 0
            UNION SELECT key FROM ev
        ), rows_ AS (
            SELECT t.id, t.name, t.kind,
                   coalesce(f.volunteers, 0) AS volunteers,
                   coalesce(f.approved_minutes, 0) AS approved_minutes,
                   coalesce(f.pending_minutes, 0) AS pending_minutes,
                   coalesce(ev.n, 0) AS events, coalesce(nv.n, 0) AS new_volunteers,
                   a.adjustments
              FROM ids JOIN teams t ON t.id = ids.id
              LEFT JOIN figs f ON f.team_id = t.id
              LEFT JOIN ev ON ev.key = t.id
              LEFT JOIN nv ON nv.key = t.id
              LEFT JOIN adj a ON a.key = t.id
        )
        SELECT jsonb_build_object(
            'rows', coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                         'id', r.id, 'name', r.name, 'kind', r.kind,
                         'volunteers', r.volunteers, 'approved_minutes', r.approved_minutes,
                         'pending_minutes', r.pending_minutes, 'approved_hours', report_hours(r.approved_minutes),
                         'pending_hours', report_hours(r.pending_minutes),
                         'events', r.events, 'new_volunteers', r.new_volunteers,
                         'adjustments', r.adjustments)) ORDER BY r.name, r.id)
                       FROM rows_ r), '[]'::jsonb),
            'totals', jsonb_strip_nulls(jsonb_build_object(
                         'id', under.id, 'name', under.name, 'kind', under.kind, 'code', under.code,
                         'volunteers', coalesce((SELECT volunteers FROM figs WHERE team_id = 0), 0),
                         'approved_minutes', coalesce((SELECT approved_minutes FROM figs WHERE team_id = 0), 0),
                         'pending_minutes', coalesce((SELECT pending_minutes FROM figs WHERE team_id = 0), 0),
                         'approved_hours', report_hours((SELECT approved_minutes FROM figs WHERE team_id = 0)),
                         'pending_hours', report_hours((SELECT pending_minutes FROM figs WHERE team_id = 0)),
                         'events', coalesce((SELECT sum(n) FROM ev), 0),
                         'new_volunteers', coalesce((SELECT sum(n) FROM nv), 0),
                         'adjustments', (SELECT adjustments FROM adj WHERE key = -1))))
          INTO result;
    END IF;
    RETURN jsonb_build_object('month', to_char(m, 'YYYY-MM'), 'by', by_, 'dimension', dim,
                              'under', under.id, 'under_name', under.name,
                              'closed', false, 'sha256', NULL) || result;
END $$;

-- GET /reports/monthly?month=&by=&dimension=&under=
CREATE FUNCTION api.report_monthly(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m date := report_arg_month(args, 'month');
    by_ text := coalesce(arg_text(args, 'by'), 'org_unit');
    dim text := coalesce(arg_text(args, 'dimension'), 'service');
    under org_units;
    c month_closes;
BEGIN
    IF by_ NOT IN ('org_unit', 'team') THEN
        PERFORM problem(422, 'by', 'by must be org_unit or team');
    END IF;
    IF dim NOT IN ('service', 'residence') THEN
        PERFORM problem(422, 'dimension', 'dimension must be service or residence');
    END IF;
    under := report_under(actor, args, 'coordinator');
    SELECT * INTO c FROM month_closes WHERE month = m AND org_unit_id = under.id;
    IF FOUND THEN
        RETURN (c.snapshot::jsonb -> 'reports' -> (by_ || '/' || dim))
               || jsonb_build_object('closed', true, 'sha256', c.sha256, 'closed_at', c.closed_at,
                                     'close_id', c.id);
    END IF;
    RETURN report_monthly_live(m, by_, dim, under);
END $$;

-- POST /reports/monthly/{month}/close?under= (admin): the month's four reports under the
-- unit, stored as sent with their SHA-256.  Only a month that has ended can be closed.
CREATE FUNCTION api.report_close(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    m date := report_arg_month(args, 'month');
    under org_units := report_under(actor, args, 'admin');
    snap jsonb;
    c month_closes;
BEGIN
    IF m >= date_trunc('month', now() AT TIME ZONE app_time_zone())::date THEN
        PERFORM problem(409, 'month', 'only a month that has ended can be closed');
    END IF;
    IF EXISTS (SELECT 1 FROM month_closes WHERE month = m AND org_unit_id = under.id) THEN
        PERFORM problem(409, 'month', 'this month is already closed for this unit');
    END IF;
    PERFORM rollups_compact();
    snap := jsonb_build_object(
        'month', to_char(m, 'YYYY-MM'), 'under', under.id, 'under_name', under.name,
        'reports', jsonb_build_object(
            'org_unit/service', report_monthly_live(m, 'org_unit', 'service', under),
            'org_unit/residence', report_monthly_live(m, 'org_unit', 'residence', under),
            'team/service', report_monthly_live(m, 'team', 'service', under),
            'team/residence', report_monthly_live(m, 'team', 'residence', under)));
    INSERT INTO month_closes (month, org_unit_id, snapshot, sha256, closed_by)
    VALUES (m, under.id, snap::text, repeat('0', 64), actor)
    RETURNING * INTO c;
    PERFORM audit('close', 'month_close', c.id, NULL,
                  jsonb_build_object('month', to_char(m, 'YYYY-MM'), 'org_unit_id', under.id, 'sha256', c.sha256));
    RETURN jsonb_build_object('id', c.id, 'month', to_char(m, 'YYYY-MM'), 'under', under.id,
                              'closed', true, 'closed_at', c.closed_at, 'closed_by', actor,
                              'sha256', c.sha256, 'snapshot', c.snapshot::jsonb);
END $$;

--------------------------------------------------------------------------------------------
-- Star levels
--------------------------------------------------------------------------------------------

-- {"<scheme code>": level, ...} for approved minutes.
CREATE FUNCTION star_levels_json(minutes bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_object_agg(s.code, star_level(s.thresholds, coalesce(minutes, 0)) ORDER BY s.id),
                    '{}'::jsonb)
      FROM star_schemes s
$$;

-- The public shape of a volunteer: 0004's, field for field, plus "stars" (the current level
-- per star scheme, from all-time approved minutes).
CREATE OR REPLACE FUNCTION volunteer_json(v volunteers) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', v.id, 'volunteer_no', v.volunteer_no, 'name', v.name, 'phone', v.phone,
        'id_number', v.id_number_masked, 'gender', v.gender, 'birth_date', v.birth_date,
        'org_unit_id', v.org_unit_id, 'work_unit', v.work_unit, 'party_member', v.party_member,
        'skills', to_jsonb(v.skills), 'status', v.status,
        'teams', coalesce((SELECT jsonb_agg(jsonb_build_object('team_id', m.team_id, 'role', m.role)
                                            ORDER BY m.team_id)
                             FROM team_members m WHERE m.volunteer_id = v.id), '[]'::jsonb),
        'account_id', (SELECT a.id FROM accounts a WHERE a.volunteer_id = v.id),
        'created_at', v.created_at, 'updated_at', v.updated_at,
        'stars', star_levels_json((SELECT t.approved_minutes FROM volunteer_totals t WHERE t.volunteer_id = v.id)))
$$;

-- The audit trail keeps no derived fields (0004's, with stars also left out).
CREATE OR REPLACE FUNCTION volunteer_audit_json(v volunteers) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT volunteer_json(v) - 'teams' - 'account_id' - 'created_at' - 'updated_at' - 'stars'
$$;

--------------------------------------------------------------------------------------------
-- GET /reports/volunteers?month=&under=&team_id=
--------------------------------------------------------------------------------------------
--
-- One row per volunteer with minutes in the month served in the subtree of `under` (and for
-- the team, when given): minutes from monthly_volunteer_totals, events (distinct events with
-- live minutes) from the month's hour_entry_days partition, all-time minutes and star levels
-- from volunteer_totals.
CREATE FUNCTION api.report_volunteers(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m date := report_arg_month(args, 'month');
    team bigint := arg_opt_id(args, 'team_id');
    under org_units := report_under(actor, args, 'coordinator');
    lo text := under.path;
    hi text := left(under.path, -1) || '0';
    result jsonb;
BEGIN
    IF team IS NOT NULL AND NOT EXISTS (SELECT 1 FROM teams WHERE id = team) THEN
        PERFORM problem(422, 'team_id', 'no such team');
    END IF;
    WITH mins AS (
        SELECT t.volunteer_id, sum(t.approved_minutes) AS a, sum(t.pending_minutes) AS p
          FROM monthly_volunteer_totals t JOIN org_units u ON u.id = t.org_unit_id
         WHERE t.month = m AND u.path >= lo AND u.path < hi AND (team IS NULL OR t.team_id = team)
         GROUP BY 1
        HAVING sum(t.approved_minutes) <> 0 OR sum(t.pending_minutes) <> 0
    ), evs AS (
        SELECT d.volunteer_id, count(DISTINCT d.event_id) AS n
          FROM hour_entry_days d JOIN org_units u ON u.id = d.org_unit_id
         WHERE d.day >= m AND d.day < (m + interval '1 month')::date
           AND d.status IN ('approved', 'pending') AND d.minutes > 0
           AND u.path >= lo AND u.path < hi AND (team IS NULL OR d.team_id = team)
         GROUP BY 1
    ), rows_ AS (
        SELECT v.id, v.volunteer_no, v.name, v.phone, v.org_unit_id, hu.name AS org_unit_name,
               mins.a, mins.p, coalesce(evs.n, 0) AS events,
               coalesce(vt.approved_minutes, 0) AS total_a
          FROM mins JOIN volunteers v ON v.id = mins.volunteer_id
          JOIN org_units hu ON hu.id = v.org_unit_id
          LEFT JOIN evs ON evs.volunteer_id = v.id
          LEFT JOIN volunteer_totals vt ON vt.volunteer_id = v.id
    )
    SELECT jsonb_build_object(
        'month', to_char(m, 'YYYY-MM'), 'under', under.id, 'under_name', under.name, 'team_id', team,
        'schemes', (SELECT jsonb_agg(jsonb_build_object('code', s.code, 'name', s.name,
                                                        'thresholds', to_jsonb(s.thresholds)) ORDER BY s.id)
                      FROM star_schemes s),
        'rows', coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'id', r.id, 'volunteer_no', r.volunteer_no, 'name', r.name, 'phone', r.phone,
                    'org_unit_id', r.org_unit_id, 'org_unit_name', r.org_unit_name,
                    'approved_minutes', r.a, 'pending_minutes', r.p, 'approved_hours', report_hours(r.a),
                    'events', r.events, 'total_approved_minutes', r.total_a,
                    'total_approved_hours', report_hours(r.total_a),
                    'stars', star_levels_json(r.total_a)) ORDER BY r.volunteer_no)
                  FROM rows_ r), '[]'::jsonb),
        'totals', (SELECT jsonb_build_object('name', '合计', 'volunteers', count(*),
                       'approved_minutes', coalesce(sum(r.a), 0), 'pending_minutes', coalesce(sum(r.p), 0),
                       'approved_hours', report_hours(coalesce(sum(r.a), 0)::bigint),
                       'events', (SELECT count(DISTINCT d.event_id)
                                    FROM hour_entry_days d JOIN org_units u ON u.id = d.org_unit_id
                                   WHERE d.day >= m AND d.day < (m + interval '1 month')::date
                                     AND d.status IN ('approved', 'pending') AND d.minutes > 0
                                     AND u.path >= lo AND u.path < hi
                                     AND (team IS NULL OR d.team_id = team)))
                     FROM rows_ r))
      INTO result;
    RETURN result;
END $$;

--------------------------------------------------------------------------------------------
-- GET /reports/party-members?quarter=YYYY-Qn&under=
--------------------------------------------------------------------------------------------
--
-- 双报到: the party members whose home unit is now in the subtree of `under`, by work unit,
-- with the minutes they served in the quarter in their home community (the community that
-- contained their home unit as at service; a home unit outside any community counts itself).
CREATE FUNCTION api.report_party_members(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    q text := args ->> 'quarter';
    q_from date;
    under org_units;
    lo text;
    hi text;
    result jsonb;
BEGIN
    IF q IS NULL OR q !~ '^[0-9]{4}-Q[1-4]$' THEN
        PERFORM problem(422, 'quarter', 'quarter must be YYYY-Qn, n from 1 to 4');
    END IF;
    under := report_under(actor, args, 'coordinator');
    lo := under.path;
    hi := left(under.path, -1) || '0';
    q_from := make_date(left(q, 4)::int, (right(q, 1)::int - 1) * 3 + 1, 1);
    WITH members AS (
        SELECT v.id, coalesce(nullif(btrim(v.work_unit), ''), '未填写') AS work_unit
          FROM volunteers v JOIN org_units u ON u.id = v.org_unit_id
         WHERE v.party_member AND u.path >= lo AND u.path < hi
    ), served AS (
        SELECT t.volunteer_id, sum(t.approved_minutes) AS a, sum(t.pending_minutes) AS p
          FROM monthly_volunteer_totals t
          JOIN members mb ON mb.id = t.volunteer_id
          JOIN org_units h ON h.id = t.home_org_unit_id
          JOIN org_units s ON s.id = t.org_unit_id
          -- the home community: the nearest ancestor-or-self of kind community
          CROSS JOIN LATERAL (
              SELECT coalesce((SELECT c.path FROM org_units c
                                WHERE c.kind = 'community'
                                  AND h.path >= c.path AND h.path < left(c.path, -1) || '0'
                                ORDER BY c.depth DESC LIMIT 1), h.path) AS path) hc
         WHERE t.month >= q_from AND t.month < (q_from + interval '3 months')::date
           AND s.path >= hc.path AND s.path < left(hc.path, -1) || '0'
         GROUP BY 1
    ), rows_ AS (
        SELECT mb.work_unit, count(*) AS members,
               count(*) FILTER (WHERE coalesce(sv.a, 0) > 0) AS active_members,
               coalesce(sum(sv.a), 0) AS a, coalesce(sum(sv.p), 0) AS p
          FROM members mb LEFT JOIN served sv ON sv.volunteer_id = mb.id
         GROUP BY 1
    )
    SELECT jsonb_build_object(
        'quarter', q, 'under', under.id, 'under_name', under.name,
        'rows', coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'name', r.work_unit, 'work_unit', r.work_unit, 'members', r.members,
                    'active_members', r.active_members, 'approved_minutes', r.a, 'pending_minutes', r.p,
                    'approved_hours', report_hours(r.a)) ORDER BY r.a DESC, r.work_unit)
                  FROM rows_ r), '[]'::jsonb),
        'totals', (SELECT jsonb_build_object('name', '合计', 'members', coalesce(sum(r.members), 0),
                       'active_members', coalesce(sum(r.active_members), 0),
                       'approved_minutes', coalesce(sum(r.a), 0), 'pending_minutes', coalesce(sum(r.p), 0),
                       'approved_hours', report_hours(coalesce(sum(r.a), 0)::bigint))
                     FROM rows_ r))
      INTO result;
    RETURN result;
END $$;
