-- 0034_events_held.sql: a monthly report's `events` counts the events held, not those still to
-- come (DESIGN §4: "events" (events held)).
--
-- Until now report_unit_counts (0012) gave every report the month's scheduled events, so the
-- current month counted next week's events too, and a month to come counted its whole plan.
--
-- What "held" means (README, "The monthly report's events"):
--   * an event is held once it has started, starts_at <= now() at the time of the report, and
--     its status is not cancelled;
--   * a coordinator may cancel an event until it ends (PATCH /events/{id}, 0005), also after
--     it started: a cancelled event is not held, whenever it was cancelled (the status is the
--     only record, and cancelling a started event says it did not take place as planned).
--     Restored before it ends, it counts again.  Once ended an event is never rewritten, so
--     its count is final then.  Minutes served before a cancellation stay in the minutes;
--   * the month is that of starts_at in the deployment's time zone (local_month, as 0012).
-- So a month that has ended counts all its scheduled events, a month to come counts none, and
-- the current month counts its scheduled events that have started by now.
--
-- How, and why this way: the count depends on the clock, which no trigger sees move.
-- report_unit_counts keeps what it kept (scheduled events per month, org unit and team, by the
-- triggers of 0012, unchanged): for an ended month that is the count.  For the current month
-- each of its rows with events (one per (org unit, team) that has any this month) is
-- recounted from events through events_org_unit_id_starts_at_idx, [month start, now()],
-- scheduled and of that team: a probe per row reading only that unit's events of the month so
-- far, so a report reads at most the subtree's events of the month, however large the ledger
-- or the events table.  A month to come reads no events.  Nothing is written at report time
-- and no job has to move a count from "to come" to "held"; a per-day rollup would read ~30
-- rows per key for every past month to spare this one month's probes.  Check-ins never write
-- events' rollups: signups_count updates only an event's counters, which do not fire 0012's
-- trigger.
--
-- report_counts_held(m, lo, hi) is report_unit_counts with that rule applied; report_counts
-- (0012, the area and team reports) and report_monthly_teams (0019, the team views) now read
-- it instead of the table.  It is plain SQL, inlined into its callers, so their unit paths and
-- teams still narrow the rows before any probe.  The current month is found once per query
-- (the uncorrelated sub-selects are init plans), not per row.  Month closes snapshot only
-- ended months (0007), so they are unchanged.

-- The rows of report_unit_counts for month m and the org units whose path is in [lo, hi), with
-- `events` the events held by now (see the header).
CREATE FUNCTION report_counts_held(m date, lo text, hi text)
RETURNS TABLE (org_unit_id bigint, path text, team_id bigint, events bigint, registrations bigint)
LANGUAGE sql STABLE AS $$
    SELECT c.org_unit_id, u.path, c.team_id,
           CASE WHEN c.events = 0 OR m > (SELECT local_month(now())) THEN 0
                WHEN m < (SELECT local_month(now())) THEN c.events
                ELSE (SELECT count(*)
                        FROM events e
                       WHERE e.org_unit_id = c.org_unit_id
                         AND e.starts_at >= (SELECT m::timestamp AT TIME ZONE app_time_zone())
                         AND e.starts_at <= now()
                         AND e.team_id = c.team_id AND e.status = 'scheduled') END,
           c.registrations
      FROM report_unit_counts c JOIN org_units u ON u.id = c.org_unit_id
     WHERE c.month = m AND u.path >= lo AND u.path < hi
$$;

-- Events held and registrations of month m under `under`, keyed by the direct child of `under`
-- whose subtree holds them (or `under` itself for its own), or by team.  (0012's, reading
-- report_counts_held instead of report_unit_counts.)
CREATE OR REPLACE FUNCTION report_counts(m date, under org_units, by_team boolean)
RETURNS TABLE (key bigint, events bigint, registrations bigint)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN by_team THEN c.team_id
                WHEN c.org_unit_id = under.id THEN under.id
                ELSE (string_to_array(btrim(c.path, '/'), '/'))[under.depth + 2]::bigint END,
           sum(c.events)::bigint, sum(c.registrations)::bigint
      FROM report_counts_held(m, under.path, left(under.path, -1) || '0') c
     GROUP BY 1
$$;

-- The monthly report of a set of teams: rows shaped as report_monthly_live's by team; with
-- `under` (not null) each row is that report's row under it, without it the team's figures
-- over the whole tree.  Totals are over the rows.  (0019's, with events held: ev reads
-- report_counts_held instead of report_unit_counts.)
CREATE OR REPLACE FUNCTION report_monthly_teams(m date, dim text, under org_units, ids bigint[]) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m_from timestamptz := m::timestamp AT TIME ZONE app_time_zone();
    m_to timestamptz := (m + interval '1 month')::timestamp AT TIME ZONE app_time_zone();
    lo text := coalesce(under.path, '/');
    hi text := CASE WHEN under.id IS NULL THEN '0' ELSE left(under.path, -1) || '0' END;
    roots bigint[];
    multi boolean;
    everyone bigint;
    result jsonb;
BEGIN
    IF under.id IS NULL THEN
        roots := ARRAY(SELECT id FROM org_units WHERE parent_id IS NULL);
    ELSE
        roots := ARRAY[under.id];
    END IF;
    multi := cardinality(roots) > 1;
    -- Distinct volunteers do not add up over teams (nor over roots): over several teams they
    -- are counted from the teams' monthly rows of monthly_volunteer_totals (the rows the
    -- rollups' counts come from; the path test only with `under`).
    IF cardinality(ids) > 1 THEN
        SELECT count(DISTINCT t.volunteer_id) INTO everyone
          FROM monthly_volunteer_totals t
         WHERE t.month = m AND t.team_id = ANY (ids) AND t.approved_minutes > 0
           AND (under.id IS NULL
                OR EXISTS (SELECT 1 FROM org_units u
                            WHERE u.id = CASE WHEN dim = 'service' THEN t.org_unit_id ELSE t.home_org_unit_id END
                              AND u.path >= lo AND u.path < hi));
    END IF;
    WITH figs AS (
        -- each root's key holds the team's figures in that root's tree
        SELECT f.team_id, sum(f.approved_minutes) AS approved_minutes,
               sum(f.pending_minutes) AS pending_minutes, sum(f.volunteers) AS volunteers
          FROM report_figures(m, dim, roots, true) f
         WHERE f.team_id = ANY (ids)
         GROUP BY 1
    ), vol AS (
        -- per team over several roots (a team that served in two trees): from the monthly
        -- rows, as above; with one root the key's own count is exact
        SELECT t.team_id, count(DISTINCT t.volunteer_id) AS n
          FROM monthly_volunteer_totals t
         WHERE multi AND t.month = m AND t.team_id = ANY (ids) AND t.approved_minutes > 0
         GROUP BY 1
    ), ev AS (
        -- the events held (0034)
        SELECT c.team_id AS key, sum(c.events) AS n
          FROM report_counts_held(m, lo, hi) c
         WHERE c.team_id = ANY (ids)
         GROUP BY 1
    ), nv AS (
        -- members who joined the team in the month (as report_monthly_live)
        SELECT tm.team_id AS key, count(*) AS n
          FROM team_members tm
         WHERE tm.joined_at >= m_from AND tm.joined_at < m_to AND tm.team_id = ANY (ids)
         GROUP BY 1
    ), adj_rows AS (
        SELECT r.team_id, r.corrects_month, sum(r.approved_minutes) AS a, sum(r.pending_minutes) AS p
          FROM report_adjustments r JOIN org_units u ON u.id = r.org_unit_id
         WHERE r.applied_month = m AND r.dimension = dim AND r.team_id = ANY (ids)
           AND u.path >= lo AND u.path < hi
         GROUP BY 1, 2
    ), adj AS (
        SELECT team_id AS key,
               jsonb_agg(jsonb_build_object('month', to_char(corrects_month, 'YYYY-MM'),
                                            'approved_minutes', a, 'pending_minutes', p)
                         ORDER BY corrects_month) AS adjustments
          FROM adj_rows WHERE a <> 0 OR p <> 0
         GROUP BY 1
    ), adj_tot AS (
        SELECT jsonb_agg(jsonb_build_object('month', to_char(corrects_month, 'YYYY-MM'),
                                            'approved_minutes', a, 'pending_minutes', p)
                         ORDER BY corrects_month) AS adjustments
          FROM (SELECT corrects_month, sum(a) AS a, sum(p) AS p FROM adj_rows GROUP BY 1) x
         WHERE a <> 0 OR p <> 0
    ), rows_ AS (
        SELECT t.id, t.name, t.kind,
               CASE WHEN multi THEN coalesce(vol.n, 0) ELSE coalesce(f.volunteers, 0) END AS volunteers,
               coalesce(f.approved_minutes, 0) AS approved_minutes,
               coalesce(f.pending_minutes, 0) AS pending_minutes,
               coalesce(ev.n, 0) AS events, coalesce(nv.n, 0) AS new_volunteers,
               a.adjustments
          FROM teams t
          LEFT JOIN figs f ON f.team_id = t.id
          LEFT JOIN vol ON vol.team_id = t.id
          LEFT JOIN ev ON ev.key = t.id
          LEFT JOIN nv ON nv.key = t.id
          LEFT JOIN adj a ON a.key = t.id
         WHERE t.id = ANY (ids)
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
        'totals', (SELECT jsonb_strip_nulls(jsonb_build_object(
                     'id', under.id, 'name', under.name, 'kind', under.kind, 'code', under.code,
                     'volunteers', coalesce(everyone, sum(r.volunteers), 0),
                     'approved_minutes', coalesce(sum(r.approved_minutes), 0),
                     'pending_minutes', coalesce(sum(r.pending_minutes), 0),
                     'approved_hours', report_hours(coalesce(sum(r.approved_minutes), 0)),
                     'pending_hours', report_hours(coalesce(sum(r.pending_minutes), 0)),
                     'events', coalesce(sum(r.events), 0),
                     'new_volunteers', coalesce(sum(r.new_volunteers), 0),
                     'adjustments', (SELECT adjustments FROM adj_tot)))
                     FROM rows_ r))
      INTO result;
    RETURN jsonb_build_object('month', to_char(m, 'YYYY-MM'), 'by', 'team', 'dimension', dim,
                              'under', under.id, 'under_name', under.name,
                              'closed', false, 'sha256', NULL,
                              'scope', 'teams', 'teams', to_jsonb(ids)) || result;
END $$;
-- CREATE OR REPLACE drops 0019's setting; the same reason holds (partition and path pruning).
ALTER FUNCTION report_monthly_teams(date, text, org_units, bigint[]) SET plan_cache_mode = force_custom_plan;
