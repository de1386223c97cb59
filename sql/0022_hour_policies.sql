-- 0022_hour_policies.sql: hour policies that staff set through the API (DESIGN §2, §3).
--
-- The api functions of GET/POST /hour-policies and GET/PATCH /hour-policies/{id}, and
-- POST /activities with a policy_id.  The server has checked types and ranges (422 naming the
-- field); the CHECKs of hour_policies back them up.
--
-- Ownership.  A policy belongs to an org unit (org_unit_id) or to no unit (a global policy,
-- like policy 1, the default of every activity).
--   * Reading: staff (coordinator or admin) whose grants lie on the owner's branch of the
--     tree: a grant on the owner, on one of its ancestors, or on one of its descendants (a
--     community's coordinator uses its subdistrict's policies; a district admin sees those of
--     its subdistricts).  A team grant counts as a grant on the team's org unit.  Global
--     policies: every staff account.  A volunteer without a staff grant: 403 (whatever the
--     policy); staff who cannot see it: 404.
--   * Writing: an admin over the owner unit (create: over org_unit_id); a global policy,
--     including policy 1, only a system administrator (an admin grant without scope).
--     Visible but a weaker role: 403.
--   * Using (policy_id of POST /activities): a policy the caller sees that is global or owned
--     by the activity's org unit or one of its ancestors; else 422 on policy_id.
--
-- A change applies to every check-in, check-out and automatic check-out from then on, for
-- every activity on the policy (the rules are read when they are applied).  The ledger is
-- never rewritten: an entry keeps the minutes and status it was written with; the audit
-- trail keeps each version of the policy (entity 'hour_policy', create and update).
--
-- Names are unique per owner (two subdistricts may both call theirs 'weekday rounding').

ALTER TABLE hour_policies
    ADD COLUMN org_unit_id bigint CONSTRAINT hour_policies_org_unit_id_fkey REFERENCES org_units (id);
CREATE INDEX hour_policies_org_unit_id_idx ON hour_policies (org_unit_id);

ALTER TABLE hour_policies DROP CONSTRAINT hour_policies_name_key;
CREATE UNIQUE INDEX hour_policies_owner_name_key ON hour_policies (coalesce(org_unit_id, 0), name);

-- A rounding unit is any divisor of an hour (so that whole hours stay whole), not only the
-- six of 0001.
ALTER TABLE hour_policies DROP CONSTRAINT hour_policies_rounding_minutes_check;
ALTER TABLE hour_policies ADD CONSTRAINT hour_policies_rounding_minutes_check
    CHECK (rounding_minutes BETWEEN 1 AND 60 AND 60 % rounding_minutes = 0);

--------------------------------------------------------------------------------------------
-- Shapes and scope
--------------------------------------------------------------------------------------------

CREATE FUNCTION hour_policy_json(p hour_policies) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', p.id, 'name', p.name, 'org_unit_id', p.org_unit_id,
        'org_unit_name', (SELECT u.name FROM org_units u WHERE u.id = p.org_unit_id),
        'rounding_minutes', p.rounding_minutes, 'min_credit_minutes', p.min_credit_minutes,
        'daily_cap_minutes', p.daily_cap_minutes,
        'checkin_open_before_minutes', p.checkin_open_before_minutes,
        'checkin_close_after_start_minutes', p.checkin_close_after_start_minutes,
        'checkout_grace_minutes', p.checkout_grace_minutes, 'approval_mode', p.approval_mode,
        'walk_ins_allowed', p.walk_ins_allowed, 'static_code', p.static_code,
        'is_default', p.id = 1, 'created_at', p.created_at, 'updated_at', p.updated_at)
$$;

-- Does actor see a policy owned by `owner` (NULL: global)?  See the header.
CREATE FUNCTION hour_policy_visible(actor bigint, owner bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN owner IS NULL THEN actor_is_staff(actor) ELSE EXISTS (
        SELECT 1 FROM role_grants g LEFT JOIN teams t ON t.id = g.team_id
         WHERE g.account_id = actor AND g.role IN ('admin', 'coordinator')
           AND (   (g.org_unit_id IS NULL AND g.team_id IS NULL)
                OR org_unit_covers(owner, coalesce(g.org_unit_id, t.org_unit_id))
                OR org_unit_covers(coalesce(g.org_unit_id, t.org_unit_id), owner))) END
$$;

-- The level (as authz_level) actor holds over a policy: 0 when it is not visible, at least 1
-- when visible, 3 when the actor may change it.
CREATE FUNCTION hour_policy_level(actor bigint, owner bigint) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN NOT hour_policy_visible(actor, owner) THEN 0
                WHEN owner IS NULL THEN CASE WHEN is_system_admin(actor) THEN 3 ELSE 1 END
                ELSE greatest(1, authz_level(actor, owner, NULL)) END
$$;

-- The fields a create or a PATCH may set, from args (absent keys: the current values of p).
-- The server has checked types and ranges; a null is allowed for daily_cap_minutes and
-- checkin_close_after_start_minutes (no cap, open until the end).
CREATE FUNCTION hour_policy_apply(p hour_policies, args jsonb) RETURNS hour_policies
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF args ? 'name' THEN p.name := btrim(args ->> 'name'); END IF;
    IF args ? 'rounding_minutes' THEN p.rounding_minutes := (args ->> 'rounding_minutes')::int; END IF;
    IF args ? 'min_credit_minutes' THEN p.min_credit_minutes := (args ->> 'min_credit_minutes')::int; END IF;
    IF args ? 'daily_cap_minutes' THEN p.daily_cap_minutes := (args ->> 'daily_cap_minutes')::int; END IF;
    IF args ? 'checkin_open_before_minutes' THEN
        p.checkin_open_before_minutes := (args ->> 'checkin_open_before_minutes')::int;
    END IF;
    IF args ? 'checkin_close_after_start_minutes' THEN
        p.checkin_close_after_start_minutes := (args ->> 'checkin_close_after_start_minutes')::int;
    END IF;
    IF args ? 'checkout_grace_minutes' THEN
        p.checkout_grace_minutes := (args ->> 'checkout_grace_minutes')::int;
    END IF;
    IF args ? 'approval_mode' THEN p.approval_mode := args ->> 'approval_mode'; END IF;
    IF args ? 'walk_ins_allowed' THEN p.walk_ins_allowed := (args ->> 'walk_ins_allowed')::boolean; END IF;
    IF args ? 'static_code' THEN p.static_code := (args ->> 'static_code')::boolean; END IF;
    IF char_length(coalesce(p.name, '')) NOT BETWEEN 1 AND 100 THEN
        PERFORM problem(422, 'name', 'name must be 1-100 characters');
    END IF;
    RETURN p;
END
$$;

-- 409 on name when the owner already has a policy of that name (other than `self`).
CREATE FUNCTION hour_policy_name_free(owner bigint, new_name text, self bigint) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM hour_policies p
                WHERE coalesce(p.org_unit_id, 0) = coalesce(owner, 0) AND p.name = new_name
                  AND p.id IS DISTINCT FROM self) THEN
        PERFORM problem(409, 'name', 'this org unit already has an hour policy of this name');
    END IF;
END
$$;

--------------------------------------------------------------------------------------------
-- The API
--------------------------------------------------------------------------------------------

-- POST /hour-policies {name, org_unit_id?, rounding_minutes?, ...}: admin over org_unit_id;
-- without one (a global policy) a system administrator.
CREATE FUNCTION api.hour_policy_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    unit bigint := arg_id(args, 'org_unit_id');
    p hour_policies;
BEGIN
    IF NOT actor_is_staff(actor) THEN
        PERFORM problem(403, NULL, 'only administrators create hour policies');
    END IF;
    IF unit IS NULL THEN
        IF NOT is_system_admin(actor) THEN
            PERFORM problem(403, 'org_unit_id',
                            'only a system administrator creates a global policy: name the org unit that owns it');
        END IF;
    ELSE
        IF NOT EXISTS (SELECT 1 FROM org_units WHERE id = unit) THEN
            PERFORM problem(404, 'org_unit_id', 'org unit not found');
        END IF;
        PERFORM authz_require(authz_level(actor, unit, NULL), 'admin', 'org unit');
    END IF;
    -- the column defaults (DESIGN §3), then what args set
    p.name := NULL; p.rounding_minutes := 1; p.min_credit_minutes := 0; p.daily_cap_minutes := NULL;
    p.checkin_open_before_minutes := 30; p.checkin_close_after_start_minutes := NULL;
    p.checkout_grace_minutes := 120; p.approval_mode := 'auto'; p.walk_ins_allowed := true;
    p.static_code := false;
    p := hour_policy_apply(p, args);
    PERFORM hour_policy_name_free(unit, p.name, NULL);
    INSERT INTO hour_policies (name, org_unit_id, rounding_minutes, min_credit_minutes,
                               daily_cap_minutes, checkin_open_before_minutes,
                               checkin_close_after_start_minutes, checkout_grace_minutes,
                               approval_mode, walk_ins_allowed, static_code)
    VALUES (p.name, unit, p.rounding_minutes, p.min_credit_minutes, p.daily_cap_minutes,
            p.checkin_open_before_minutes, p.checkin_close_after_start_minutes,
            p.checkout_grace_minutes, p.approval_mode, p.walk_ins_allowed, p.static_code)
    RETURNING * INTO p;
    PERFORM audit('create', 'hour_policy', p.id, NULL, hour_policy_json(p));
    RETURN hour_policy_json(p);
END
$$;

-- GET /hour-policies/{id}.
CREATE FUNCTION api.hour_policy_get(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p hour_policies;
BEGIN
    IF NOT actor_is_staff(actor) THEN
        PERFORM problem(403, NULL, 'hour policies are for coordinators and administrators');
    END IF;
    SELECT * INTO p FROM hour_policies WHERE id = arg_id(args, 'id');
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'hour policy not found');
    END IF;
    PERFORM authz_require(hour_policy_level(actor, p.org_unit_id), 'volunteer', 'hour policy');
    RETURN hour_policy_json(p);
END
$$;

-- GET /hour-policies?org_unit_id=&limit=&cursor=: the policies the caller sees, by id; with
-- org_unit_id, only those an activity at that unit may use (global ones, and those owned by
-- the unit or one of its ancestors).
CREATE FUNCTION api.hour_policy_list(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    lim int := arg_limit(args);
    cur bigint := arg_cursor(args);
    at_unit bigint := arg_opt_id(args, 'org_unit_id');
BEGIN
    IF NOT actor_is_staff(actor) THEN
        PERFORM problem(403, NULL, 'hour policies are for coordinators and administrators');
    END IF;
    RETURN page(coalesce((
        SELECT jsonb_agg(hour_policy_json(p) ORDER BY p.id)
          FROM (SELECT * FROM hour_policies p
                 WHERE p.id > cur
                   AND hour_policy_visible(actor, p.org_unit_id)
                   AND (at_unit IS NULL OR p.org_unit_id IS NULL OR org_unit_covers(p.org_unit_id, at_unit))
                 ORDER BY p.id LIMIT lim + 1) p), '[]'::jsonb), lim);
END
$$;

-- PATCH /hour-policies/{id} {name?, rounding_minutes?, ...}: admin over the owner; a global
-- policy (policy 1 too) a system administrator.  The owner does not change.
CREATE FUNCTION api.hour_policy_update(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    prev hour_policies;
    p hour_policies;
BEGIN
    IF NOT actor_is_staff(actor) THEN
        PERFORM problem(403, NULL, 'only administrators change hour policies');
    END IF;
    SELECT * INTO prev FROM hour_policies WHERE id = arg_id(args, 'id') FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'hour policy not found');
    END IF;
    IF prev.org_unit_id IS NULL AND hour_policy_level(actor, NULL) < 3 THEN
        PERFORM problem(403, NULL, 'only a system administrator changes a global hour policy');
    END IF;
    PERFORM authz_require(hour_policy_level(actor, prev.org_unit_id), 'admin', 'hour policy');
    p := hour_policy_apply(prev, args);
    PERFORM hour_policy_name_free(p.org_unit_id, p.name, p.id);
    UPDATE hour_policies SET
        name = p.name, rounding_minutes = p.rounding_minutes,
        min_credit_minutes = p.min_credit_minutes, daily_cap_minutes = p.daily_cap_minutes,
        checkin_open_before_minutes = p.checkin_open_before_minutes,
        checkin_close_after_start_minutes = p.checkin_close_after_start_minutes,
        checkout_grace_minutes = p.checkout_grace_minutes, approval_mode = p.approval_mode,
        walk_ins_allowed = p.walk_ins_allowed, static_code = p.static_code
     WHERE id = prev.id
    RETURNING * INTO p;
    PERFORM audit('update', 'hour_policy', p.id, hour_policy_json(prev), hour_policy_json(p));
    RETURN hour_policy_json(p);
END
$$;

--------------------------------------------------------------------------------------------
-- POST /activities with policy_id
--------------------------------------------------------------------------------------------

-- 422 on policy_id unless actor sees the policy and an activity at `unit` may use it.
CREATE FUNCTION hour_policy_usable(actor bigint, policy bigint, unit bigint) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p hour_policies;
BEGIN
    SELECT * INTO p FROM hour_policies WHERE id = policy;
    IF NOT FOUND OR NOT hour_policy_visible(actor, p.org_unit_id) THEN
        PERFORM problem(422, 'policy_id', 'no such hour policy');
    END IF;
    IF p.org_unit_id IS NOT NULL AND NOT org_unit_covers(p.org_unit_id, unit) THEN
        PERFORM problem(422, 'policy_id',
                        'this hour policy belongs to another area: an activity may use a global policy '
                        'or one of its own org unit or above');
    END IF;
END
$$;

-- As 0005, with policy_id (default 1, the default policy).
CREATE OR REPLACE FUNCTION api.activity_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    team bigint := arg_id(args, 'team_id');
    unit bigint := arg_id(args, 'org_unit_id');
    policy bigint := coalesce(arg_id(args, 'policy_id'), 1);
    t    teams;
    a    activities;
    n    int;
BEGIN
    IF NOT actor_is_staff(actor) THEN
        PERFORM problem(403, NULL, 'only coordinators and administrators create activities');
    END IF;
    SELECT * INTO t FROM teams WHERE id = team;
    IF NOT FOUND THEN
        PERFORM problem(404, 'team_id', 'team not found');
    END IF;
    PERFORM authz_require(authz_level(actor, NULL, team), 'coordinator', 'team');
    IF NOT EXISTS (SELECT 1 FROM org_units WHERE id = unit)
       OR NOT (authz_level(actor, unit, NULL) >= role_level('coordinator')
               OR org_unit_covers(t.org_unit_id, unit)) THEN
        PERFORM problem(422, 'org_unit_id',
                        'no such org unit in your scope or under the team''s own unit');
    END IF;
    PERFORM hour_policy_usable(actor, policy, unit);
    INSERT INTO activities (team_id, org_unit_id, title, category, location, capacity, recurrence,
                            policy_id, created_by)
    VALUES (team, unit, args ->> 'title', args ->> 'category', args ->> 'location',
            (args ->> 'capacity')::int, args -> 'recurrence', policy, actor)
    RETURNING * INTO a;
    IF a.recurrence IS NULL THEN
        INSERT INTO events (activity_id, team_id, org_unit_id, starts_at, ends_at, capacity)
        VALUES (a.id, a.team_id, a.org_unit_id, (args ->> 'starts_at')::timestamptz,
                (args ->> 'ends_at')::timestamptz, a.capacity);
        n := 1;
    ELSE
        n := activity_generate_events(a.id);
    END IF;
    PERFORM audit('create', 'activity', a.id, NULL, to_jsonb(a) || jsonb_build_object('events', n));
    RETURN activity_json(a);
END
$$;

--------------------------------------------------------------------------------------------
-- The console's create form: the policies it offers
--------------------------------------------------------------------------------------------

-- GET /console: as 0010, plus `policies` (the first 50 the actor sees: global ones first, then
-- by owner) for the form that creates an activity.
CREATE FUNCTION api.page_console_policies(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'name', p.name, 'unit', p.unit,
                                                 'approval_mode', p.approval_mode,
                                                 'static_code', p.static_code)
                              ORDER BY p.path NULLS FIRST, p.id), '[]'::jsonb)
      FROM (SELECT p.id, p.name, p.approval_mode, p.static_code, u.name AS unit, u.path
              FROM hour_policies p LEFT JOIN org_units u ON u.id = p.org_unit_id
             WHERE hour_policy_visible(actor, p.org_unit_id)
             ORDER BY u.path NULLS FIRST, p.id LIMIT 50) p
$$;
