-- 0019_team_reports.sql: reports for coordinators whose grant is on a team (DESIGN §2 "role
-- grant": scoped to an org-unit subtree or to one team; §4 reports, "admin, coordinator").
--
-- Until now a report's scope came only from org-unit grants (0007's report_under), so a team
-- leader, the commonest coordinator, got 422 without `under` and 404 with any `under`.  The
-- rules here follow authz_level (0002): a grant on a team covers that team and its child
-- teams; a grant on an org unit covers the teams owned in its subtree.
--
--   "team grant"   a coordinator or admin grant with team_id (report_has_team_grant);
--   "area grant"   one with an org unit, or the system administrator's (authz_unit_paths);
--   covered teams  the teams of team grants with their sub-teams, and the teams owned in the
--                  areas of area grants (report_teams_covered; authz_level's rule).
--
-- Accounts without a team grant see exactly what they saw before.  For an account with one:
--
--   GET /reports/monthly?by=team, no under: the teams view: one row per covered team with
--       ALL its figures (wherever it served; the sum of its keys at every root of the tree),
--       totals over those rows (distinct volunteers over them).  `under` is null.
--   by=team&under=X: X in an area grant's scope: the area report, as before.  Otherwise the
--       covered teams OWNED in X's subtree, each row exactly the area report's row for that
--       team under X (its figures within X's subtree), totals over those rows; none: 404.
--   by=org_unit: with an area grant, as before (outside it 404).  With team grants only: 403,
--       whatever `under` is: an area's total holds other teams' figures, and a by-area sheet
--       of one team's part would be read as the area's figures.
--   GET /reports/volunteers: under=X in an area scope, or neither under nor team_id with an
--       area grant: as before.  Otherwise the team view: team_id (a covered team, else 404)
--       or every covered team, within X's subtree when under is given (teams owned there).
--   GET /reports/party-members: party members by home unit: an area report, 403 with team
--       grants only (as by=org_unit).
--
-- A team view answers "scope": "teams" and "teams": [ids]; an area report "scope": "area".
-- A team view is always live: a month close certifies an area's reports, not a team's.
--
-- Cost: the monthly team view reads the rollups' (root or X, team) keys (report_figures), the
-- teams' rows of monthly_volunteer_totals for the month (index on (month, team_id)) for the
-- distinct volunteers over several teams, report_unit_counts and the month's joins of the
-- teams; the volunteers team view finds the events of the teams' volunteers through their
-- own entries of the month (the exclusion index of hour_entries on (volunteer, credited
-- range)), never a scan of a month's partition or of the ledger.

-- Does the actor hold a coordinator (or admin) grant on a team?
CREATE FUNCTION report_has_team_grant(actor bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM role_grants g
                    WHERE g.account_id = actor AND g.team_id IS NOT NULL
                      AND role_level(g.role) >= role_level('coordinator'))
$$;

-- Does the actor hold a coordinator (or admin) grant on an area (or the whole tree)?
CREATE FUNCTION report_has_area_grant(actor bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM authz_unit_paths(actor, 'coordinator'))
$$;

-- The teams the actor coordinates (see the header).
CREATE FUNCTION report_teams_covered(actor bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
    SELECT authz_team_ids(actor, 'coordinator')
    UNION
    SELECT t.id
      FROM authz_unit_paths(actor, 'coordinator') p
      JOIN org_units u ON u.path >= p AND u.path < left(p, -1) || '0'
      JOIN teams t ON t.org_unit_id = u.id
$$;

-- The teams of a team view: the one asked for (a covered team, else 404) or every covered
-- team; with `unit`, only those owned in its subtree (none, or no such unit: 404).
CREATE FUNCTION report_team_set(actor bigint, unit bigint, team bigint) RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
    ids bigint[];
    u org_units;
BEGIN
    IF team IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM teams WHERE id = team)
           OR team NOT IN (SELECT report_teams_covered(actor)) THEN
            PERFORM problem(404, 'team_id', 'team not found');
        END IF;
        ids := ARRAY[team];
    ELSE
        ids := ARRAY(SELECT report_teams_covered(actor));
    END IF;
    IF unit IS NOT NULL THEN
        SELECT * INTO u FROM org_units WHERE id = unit;
        ids := ARRAY(SELECT t.id FROM teams t JOIN org_units o ON o.id = t.org_unit_id
                      WHERE t.id = ANY (ids) AND o.path >= u.path AND o.path < left(u.path, -1) || '0');
        IF cardinality(ids) = 0 THEN
            PERFORM problem(404, NULL, 'org unit not found, or none of your teams is under it');
        END IF;
    END IF;
    IF cardinality(ids) = 0 THEN
        PERFORM problem(404, NULL, 'you coordinate no team');
    END IF;
    RETURN ARRAY(SELECT DISTINCT x FROM unnest(ids) x ORDER BY 1);
END $$;

-- The monthly report of a set of teams: rows shaped as report_monthly_live's by team; with
-- `under` (not null) each row is that report's row under it, without it the team's figures
-- over the whole tree.  Totals are over the rows.
CREATE FUNCTION report_monthly_teams(m date, dim text, under org_units, ids bigint[]) RETURNS jsonb
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
        SELECT c.team_id AS key, sum(c.events) AS n
          FROM report_unit_counts c JOIN org_units u ON u.id = c.org_unit_id
         WHERE c.month = m AND c.team_id = ANY (ids) AND u.path >= lo AND u.path < hi
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
-- the same reason as 0011's for report_monthly_live (partition and path pruning)
ALTER FUNCTION report_monthly_teams(date, text, org_units, bigint[]) SET plan_cache_mode = force_custom_plan;

-- GET /reports/monthly (replaces 0007's): the team views of the header, then as before.
CREATE OR REPLACE FUNCTION api.report_monthly(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m date := report_arg_month(args, 'month');
    by_ text := coalesce(arg_text(args, 'by'), 'org_unit');
    dim text := coalesce(arg_text(args, 'dimension'), 'service');
    unit bigint := arg_opt_id(args, 'under');
    under org_units;
    c month_closes;
BEGIN
    IF by_ NOT IN ('org_unit', 'team') THEN
        PERFORM problem(422, 'by', 'by must be org_unit or team');
    END IF;
    IF dim NOT IN ('service', 'residence') THEN
        PERFORM problem(422, 'dimension', 'dimension must be service or residence');
    END IF;
    IF report_has_team_grant(actor)
       AND (unit IS NULL OR authz_level(actor, unit, NULL) < role_level('coordinator')) THEN
        IF by_ = 'team' THEN
            IF unit IS NOT NULL THEN
                SELECT * INTO under FROM org_units WHERE id = unit;
            END IF;
            RETURN report_monthly_teams(m, dim, under, report_team_set(actor, unit, NULL));
        ELSIF NOT report_has_area_grant(actor) THEN
            PERFORM problem(403, 'by', 'your grants are on teams, and a report by area shows other '
                                       'teams'' figures: ask for by=team');
        END IF;
    END IF;
    under := report_under(actor, args, 'coordinator');
    SELECT * INTO c FROM month_closes WHERE month = m AND org_unit_id = under.id;
    IF FOUND THEN
        RETURN (c.snapshot::jsonb -> 'reports' -> (by_ || '/' || dim))
               || jsonb_build_object('closed', true, 'sha256', c.sha256, 'closed_at', c.closed_at,
                                     'close_id', c.id, 'scope', 'area');
    END IF;
    RETURN report_monthly_live(m, by_, dim, under) || jsonb_build_object('scope', 'area');
END $$;

-- GET /reports/volunteers for a set of teams (the team view of the header): rows and totals
-- shaped as api.report_volunteers's.
CREATE FUNCTION report_volunteers_teams(m date, under org_units, ids bigint[], team bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m_from timestamptz := m::timestamp AT TIME ZONE app_time_zone();
    m_to timestamptz := (m + interval '1 month')::timestamp AT TIME ZONE app_time_zone();
    lo text := coalesce(under.path, '/');
    hi text := CASE WHEN under.id IS NULL THEN '0' ELSE left(under.path, -1) || '0' END;
    result jsonb;
BEGIN
    WITH mins AS (
        SELECT t.volunteer_id, sum(t.approved_minutes) AS a, sum(t.pending_minutes) AS p
          FROM monthly_volunteer_totals t JOIN org_units u ON u.id = t.org_unit_id
         WHERE t.month = m AND t.team_id = ANY (ids) AND u.path >= lo AND u.path < hi
         GROUP BY 1
        HAVING sum(t.approved_minutes) <> 0 OR sum(t.pending_minutes) <> 0
    ), served AS (
        -- the events these volunteers served for these teams in the month: each volunteer's
        -- live entries that overlap the month, found by the index of hour_entries_no_overlap
        -- (volunteer, credited range), not by a scan of the month's ledger.  An entry inside
        -- the month counts when it has minutes; one across its start or end when its days in
        -- the month have (hour_entry_days by its key), as 0007's count from the days does.
        SELECT DISTINCT x.volunteer_id, h.event_id
          FROM mins x
         CROSS JOIN LATERAL (
                SELECT h.id, h.event_id, h.started_at, h.ended_at, h.minutes, h.org_unit_id
                  FROM hour_entries h
                 WHERE h.volunteer_id = x.volunteer_id
                   AND tstzrange(h.started_at, h.ended_at) && tstzrange(m_from, m_to)
                   AND h.status IN ('pending', 'approved') AND h.team_id = ANY (ids)
                OFFSET 0) h  -- kept a probe per volunteer: not merged into a scan of the month
          JOIN org_units u ON u.id = h.org_unit_id
         WHERE u.path >= lo AND u.path < hi
           AND CASE WHEN h.started_at >= m_from AND h.ended_at <= m_to THEN h.minutes > 0
                    ELSE EXISTS (SELECT 1 FROM hour_entry_days d
                                  WHERE d.entry_id = h.id AND d.day >= m
                                    AND d.day < (m + interval '1 month')::date AND d.minutes > 0) END
    ), evs AS (
        SELECT volunteer_id, count(*) AS n FROM served GROUP BY 1
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
        'scope', 'teams', 'teams', to_jsonb(ids),
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
                       'events', (SELECT count(DISTINCT event_id) FROM served))
                     FROM rows_ r))
      INTO result;
    RETURN result;
END $$;
ALTER FUNCTION report_volunteers_teams(date, org_units, bigint[], bigint) SET plan_cache_mode = force_custom_plan;

-- 0007's GET /reports/volunteers, renamed: the area report, which the new one calls.
ALTER FUNCTION api.report_volunteers(bigint, jsonb) SET SCHEMA public;
ALTER FUNCTION public.report_volunteers(bigint, jsonb) RENAME TO report_volunteers_area;

-- GET /reports/volunteers?month=&under=&team_id= (the rules of the header).
CREATE FUNCTION api.report_volunteers(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m date := report_arg_month(args, 'month');
    team bigint := arg_opt_id(args, 'team_id');
    unit bigint := arg_opt_id(args, 'under');
    under org_units;
BEGIN
    IF report_has_team_grant(actor)
       AND (unit IS NOT NULL AND authz_level(actor, unit, NULL) < role_level('coordinator')
            OR unit IS NULL AND (team IS NOT NULL OR NOT report_has_area_grant(actor))) THEN
        IF unit IS NOT NULL THEN
            SELECT * INTO under FROM org_units WHERE id = unit;
        END IF;
        RETURN report_volunteers_teams(m, under, report_team_set(actor, unit, team), team);
    END IF;
    RETURN report_volunteers_area(actor, args) || jsonb_build_object('scope', 'area');
END $$;

-- 0007's GET /reports/party-members, renamed: the new one refuses team grants alone first.
ALTER FUNCTION api.report_party_members(bigint, jsonb) SET SCHEMA public;
ALTER FUNCTION public.report_party_members(bigint, jsonb) RENAME TO report_party_members_area;

CREATE FUNCTION api.report_party_members(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF report_has_team_grant(actor) AND NOT report_has_area_grant(actor) THEN
        PERFORM problem(403, NULL, 'your grants are on teams, and the party members'' report is '
                                   'by area: it is for staff with a grant on an area');
    END IF;
    RETURN report_party_members_area(actor, args);
END $$;

-- GET /admin (replaces 0010's): as before, and for an account whose grants are all on teams
-- the teams view by default (by area would be 403), its trend from the same view, and
-- "area": whether the account may ask for the report by area at all.
CREATE OR REPLACE FUNCTION api.page_admin(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m      date;
    a      jsonb;
    report jsonb;
    under  bigint;
    trend  jsonb := '[]';
    r      jsonb;
    area   boolean := report_has_area_grant(actor);
    teams  boolean;
BEGIN
    a := args || jsonb_build_object('month', coalesce(args ->> 'month',
                                                       to_char(now() AT TIME ZONE app_time_zone(), 'YYYY-MM')));
    IF NOT a ? 'by' THEN
        a := a || jsonb_build_object('by', CASE WHEN NOT area AND report_has_team_grant(actor)
                                                THEN 'team' ELSE 'org_unit' END);
    END IF;
    m := report_arg_month(a, 'month');
    report := api.report_monthly(actor, a);
    under := (report ->> 'under')::bigint;
    teams := report ->> 'scope' = 'teams';
    FOR i IN REVERSE 11..0 LOOP
        IF teams THEN
            r := api.report_monthly(actor, a - 'by' || jsonb_build_object(
                     'month', to_char(m - i * interval '1 month', 'YYYY-MM'), 'under', under, 'by', 'team'));
        ELSE
            r := api.report_monthly(actor, a - 'by' || jsonb_build_object(
                     'month', to_char(m - i * interval '1 month', 'YYYY-MM'), 'under', under, 'by', 'org_unit'));
        END IF;
        trend := trend || jsonb_build_object('month', r ->> 'month',
                                             'approved_hours', r -> 'totals' ->> 'approved_hours');
    END LOOP;
    RETURN jsonb_build_object(
        'report', report, 'trend', trend, 'area', area,
        'path', coalesce((SELECT jsonb_agg(jsonb_build_object('id', u.id, 'name', u.name) ORDER BY n)
                            FROM org_unit_ancestors(under) WITH ORDINALITY AS x(id, n)
                            JOIN org_units u ON u.id = x.id
                           WHERE authz_level(actor, u.id, NULL) >= role_level('coordinator')), '[]'::jsonb),
        'parents', coalesce((SELECT jsonb_agg(u.id) FROM org_units u
                              WHERE u.parent_id = under
                                AND EXISTS (SELECT 1 FROM org_units c WHERE c.parent_id = u.id)), '[]'::jsonb));
END
$$;
