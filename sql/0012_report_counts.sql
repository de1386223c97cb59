-- 0012_report_counts.sql: the monthly report's event and registration counts from a rollup.
--
-- `make bench-reports` at scale 1 (146,000 volunteers, 46,612 events) showed the report by org
-- unit spending most of its time outside the hour rollups: counting the month's events
-- (~3,900 rows joined to the area tree) and the month's registrations (~5,000 volunteers
-- joined to their first home unit, a scan of volunteer_home_history).  Both grow with the
-- district, so they move to report_unit_counts, kept exact by triggers in the writing
-- transaction, and a report reads at most one row per (unit, team) with counts in the month.
--
--   events:        scheduled events by the month of starts_at (local time, as the report's
--                  month), the event's org unit and team.
--   registrations: volunteers by the month of created_at and the home unit they registered
--                  with (their first volunteer_home_history row, which is the org_unit_id of
--                  the INSERT), team 0.
--
-- report_counts_rebuild() recomputes the table from events and volunteers: the reference the
-- triggers agree with (tests/integration/test_reports.py), what rollups_rebuild_all() now also
-- runs after a bulk load, and what a change of the deployment's time zone runs.

CREATE TABLE report_unit_counts (
    month         date NOT NULL,
    org_unit_id   bigint NOT NULL,
    team_id       bigint NOT NULL,  -- 0 for registrations
    events        bigint NOT NULL DEFAULT 0,
    registrations bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (month, org_unit_id, team_id)
);

CREATE FUNCTION local_month(at timestamptz) RETURNS date
LANGUAGE sql STABLE AS $$ SELECT date_trunc('month', at AT TIME ZONE app_time_zone())::date $$;

CREATE TYPE report_count AS (month date, org_unit_id bigint, team_id bigint, events bigint,
                              registrations bigint);

-- Add signed counts (as 0007's report_rollup_add takes report_delta[]); rows sorted so that
-- concurrent writers lock them in one order.
CREATE FUNCTION report_counts_add(d report_count[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO report_unit_counts AS c (month, org_unit_id, team_id, events, registrations)
    SELECT x.month, x.org_unit_id, x.team_id, sum(x.events), sum(x.registrations)
      FROM unnest(d) x
     GROUP BY 1, 2, 3
    HAVING sum(x.events) <> 0 OR sum(x.registrations) <> 0
     ORDER BY 1, 2, 3
    ON CONFLICT (month, org_unit_id, team_id) DO UPDATE
       SET events = c.events + excluded.events,
           registrations = c.registrations + excluded.registrations
$$;

-- Events: one statement's inserts or deletes at a time (a weekly recurrence inserts many),
-- and per row the updates that move an event in the count (the frequent updates of an event,
-- its sign-up counters, do not fire it).
CREATE FUNCTION report_counts_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM report_counts_add(ARRAY(
            SELECT ROW(local_month(n.starts_at), n.org_unit_id, n.team_id, 1, 0)::report_count
              FROM new_rows n WHERE n.status = 'scheduled'));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM report_counts_add(ARRAY(
            SELECT ROW(local_month(o.starts_at), o.org_unit_id, o.team_id, -1, 0)::report_count
              FROM old_rows o WHERE o.status = 'scheduled'));
    ELSE
        PERFORM report_counts_add(ARRAY[
            ROW(local_month(OLD.starts_at), OLD.org_unit_id, OLD.team_id,
                CASE WHEN OLD.status = 'scheduled' THEN -1 ELSE 0 END, 0)::report_count,
            ROW(local_month(NEW.starts_at), NEW.org_unit_id, NEW.team_id,
                CASE WHEN NEW.status = 'scheduled' THEN 1 ELSE 0 END, 0)::report_count]);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER report_counts_events_insert AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION report_counts_events();
CREATE TRIGGER report_counts_events_delete AFTER DELETE ON events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION report_counts_events();
CREATE TRIGGER report_counts_events_update AFTER UPDATE OF starts_at, status, org_unit_id, team_id ON events
    FOR EACH ROW WHEN (OLD.starts_at IS DISTINCT FROM NEW.starts_at OR OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.org_unit_id IS DISTINCT FROM NEW.org_unit_id
                       OR OLD.team_id IS DISTINCT FROM NEW.team_id)
    EXECUTE FUNCTION report_counts_events();

-- Registrations: inserts per statement; a deletion (no API deletes a volunteer; SQL by hand
-- might) per row BEFORE it, while the first home row that the cascade removes still exists.
CREATE FUNCTION report_counts_volunteers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM report_counts_add(ARRAY(
            SELECT ROW(local_month(n.created_at), n.org_unit_id, 0, 0, 1)::report_count FROM new_rows n));
        RETURN NULL;
    END IF;
    PERFORM report_counts_add(ARRAY(
        SELECT ROW(local_month(OLD.created_at), h.org_unit_id, 0, 0, -1)::report_count
          FROM volunteer_home_history h
         WHERE h.volunteer_id = OLD.id AND h.valid_from = '-infinity'));
    RETURN OLD;
END $$;
CREATE TRIGGER report_counts_volunteers_insert AFTER INSERT ON volunteers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION report_counts_volunteers();
CREATE TRIGGER report_counts_volunteers_delete BEFORE DELETE ON volunteers
    FOR EACH ROW EXECUTE FUNCTION report_counts_volunteers();

-- The reference: the counts from events and volunteers as they are.  Returns rows written.
CREATE FUNCTION report_counts_rebuild() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    LOCK TABLE report_unit_counts IN EXCLUSIVE MODE;  -- writers wait, readers go on
    DELETE FROM report_unit_counts;
    INSERT INTO report_unit_counts (month, org_unit_id, team_id, events, registrations)
    SELECT month, org_unit_id, team_id, sum(e), sum(r)
      FROM (SELECT local_month(e.starts_at) AS month, e.org_unit_id, e.team_id, 1 AS e, 0 AS r
              FROM events e WHERE e.status = 'scheduled'
            UNION ALL
            SELECT local_month(v.created_at), h.org_unit_id, 0, 0, 1
              FROM volunteers v
              JOIN volunteer_home_history h ON h.volunteer_id = v.id AND h.valid_from = '-infinity') x
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Months are local: a new time zone moves events and registrations between months.
CREATE FUNCTION report_counts_time_zone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM report_counts_rebuild();
    RETURN NULL;
END $$;
CREATE TRIGGER report_counts_time_zone_set AFTER INSERT ON app_settings
    FOR EACH ROW WHEN (NEW.key = 'time_zone') EXECUTE FUNCTION report_counts_time_zone();
CREATE TRIGGER report_counts_time_zone_changed AFTER UPDATE ON app_settings
    FOR EACH ROW WHEN (NEW.key = 'time_zone' AND OLD.value IS DISTINCT FROM NEW.value)
    EXECUTE FUNCTION report_counts_time_zone();

-- A bulk load with the triggers off ends with rollups_rebuild_all(); it now covers the counts.
CREATE OR REPLACE FUNCTION rollups_rebuild_all() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    m date;
    total bigint := 0;
BEGIN
    FOR m IN SELECT DISTINCT date_trunc('month', day)::date FROM hour_entry_days ORDER BY 1 LOOP
        total := total + rollups_rebuild_month(m);
    END LOOP;
    RETURN total + report_counts_rebuild();
END $$;

SELECT report_counts_rebuild();

-- Events and registrations of month m under `under`, keyed by the direct child of `under`
-- whose subtree holds them (or `under` itself for its own), or by team.
CREATE FUNCTION report_counts(m date, under org_units, by_team boolean)
RETURNS TABLE (key bigint, events bigint, registrations bigint)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN by_team THEN c.team_id
                WHEN u.id = under.id THEN under.id
                ELSE (string_to_array(btrim(u.path, '/'), '/'))[under.depth + 2]::bigint END,
           sum(c.events)::bigint, sum(c.registrations)::bigint
      FROM report_unit_counts c JOIN org_units u ON u.id = c.org_unit_id
     WHERE c.month = m AND u.path >= under.path AND u.path < left(under.path, -1) || '0'
     GROUP BY 1
$$;

-- 0007's live report with the counts read from report_unit_counts; everything else as it was.
CREATE OR REPLACE FUNCTION report_monthly_live(m date, by_ text, dim text, under org_units) RETURNS jsonb
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
        ), counts AS (
            SELECT * FROM report_counts(m, under, false)
        ), adj AS (
            SELECT * FROM report_adjustments_json(m, dim, under, false)
        ), rows_ AS (
            SELECT k.id, k.name, k.kind, k.code,
                   coalesce(f.volunteers, 0) AS volunteers,
                   coalesce(f.approved_minutes, 0) AS approved_minutes,
                   coalesce(f.pending_minutes, 0) AS pending_minutes,
                   coalesce(c.events, 0) AS events,
                   coalesce(c.registrations, 0) AS new_volunteers,
                   a.adjustments
              FROM kids k
              LEFT JOIN figs f ON f.unit_id = k.id
              LEFT JOIN counts c ON c.key = k.id
              LEFT JOIN adj a ON a.key = k.id
        ), tot AS (
            SELECT coalesce((SELECT volunteers FROM figs WHERE unit_id = under.id), 0) AS volunteers,
                   coalesce((SELECT approved_minutes FROM figs WHERE unit_id = under.id), 0) AS approved_minutes,
                   coalesce((SELECT pending_minutes FROM figs WHERE unit_id = under.id), 0) AS pending_minutes,
                   coalesce((SELECT sum(events) FROM counts), 0) AS events,
                   coalesce((SELECT sum(registrations) FROM counts), 0) AS new_volunteers
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
                             'events', coalesce((SELECT events FROM counts WHERE key = under.id), 0),
                             'new_volunteers', coalesce((SELECT registrations FROM counts WHERE key = under.id), 0))))
                         FROM tot t))
          INTO result;
    ELSE
        WITH figs AS (
            SELECT * FROM report_figures(m, dim, ARRAY[under.id], true)
        ), ev AS (
            SELECT key, events AS n FROM report_counts(m, under, true) WHERE key <> 0 AND events <> 0
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
-- CREATE OR REPLACE drops 0011's setting; the same reason holds (partition and path pruning).
ALTER FUNCTION report_monthly_live(date, text, text, org_units) SET plan_cache_mode = force_custom_plan;
