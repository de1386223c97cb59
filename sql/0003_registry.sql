-- 0003_registry.sql: the area tree, teams and team membership (DESIGN §4, issue 4).
--
-- Every function here is api.<name>(actor, args) -> jsonb, run by api_call() in one
-- transaction; the C handlers in server/h_registry.c have already checked types, lengths and
-- enums, so what is checked here is what only the database knows (existence, uniqueness,
-- scope) plus a few cheap re-checks so that a refusal always names its field.
--
-- Who may do what (the one scope check is authz_level/authz_require of 0002):
--
--   org units  read:  coordinator or admin whose org-unit grant covers the unit (a grant on X
--                     covers X's subtree; the ancestors of X are NOT shown);
--              write: admin over the unit (create: admin over the parent; a root, i.e. no
--                     parent, only a system administrator, anyone else gets 403).
--   teams      read:  coordinator or admin over the team: through an org-unit grant covering
--                     the team's org unit, or a grant on the team or one of its ancestors;
--              write: the same, at least coordinator; creating needs that over org_unit_id
--                     (so a team-scoped coordinator cannot create teams, only edit their own).
--   members    add/remove: coordinator or admin over the team.
--
--   A plain volunteer (no staff grant) has no org-unit scope.  To keep "a volunteer sees only
--   their own records" consistent, the records attached to their own volunteer row are theirs
--   to READ: their home org unit and the teams they are a member of (GET and the lists show
--   them).  Any write on those is 403 (in scope, weaker role); everything else is 404.
--
-- Lists never 404 on a filter: they return the caller's visible rows that match it (possibly
-- none), keyset-paginated by id ascending.
--
-- Audit entities: 'org_unit' (create, update) and 'team' (create, update, member_add,
-- member_update, member_remove; membership rows carry the volunteer_id in old/new).

--------------------------------------------------------------------------------------------
-- Shapes and levels
--------------------------------------------------------------------------------------------

CREATE FUNCTION org_unit_json(u org_units) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', u.id, 'parent_id', u.parent_id, 'kind', u.kind, 'code', u.code, 'name', u.name,
        'depth', u.depth, 'path', u.path, 'created_at', u.created_at, 'updated_at', u.updated_at)
$$;

CREATE FUNCTION team_json(t teams) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', t.id, 'name', t.name, 'org_unit_id', t.org_unit_id,
        'parent_team_id', t.parent_team_id, 'kind', t.kind,
        'member_count', (SELECT count(*) FROM team_members m WHERE m.team_id = t.id),
        'created_at', t.created_at, 'updated_at', t.updated_at)
$$;

CREATE FUNCTION team_member_json(m team_members) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('team_id', m.team_id, 'volunteer_id', m.volunteer_id,
                              'role', m.role, 'joined_at', m.joined_at)
$$;

-- The caller's own volunteer record, or NULL (a staff account without one).
CREATE FUNCTION actor_volunteer(actor bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT volunteer_id FROM accounts WHERE id = actor $$;

-- authz_level over an org unit, plus level 1 (read only) on the caller's own home unit.
CREATE FUNCTION registry_unit_level(actor bigint, unit bigint) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT greatest(authz_level(actor, unit, NULL),
                    CASE WHEN EXISTS (SELECT 1 FROM volunteers v
                                       WHERE v.id = actor_volunteer(actor) AND v.org_unit_id = unit)
                         THEN 1 ELSE 0 END)
$$;

-- authz_level over a team, plus level 1 (read only) on the teams the caller is a member of.
CREATE FUNCTION registry_team_level(actor bigint, team bigint) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT greatest(authz_level(actor, NULL, team),
                    CASE WHEN EXISTS (SELECT 1 FROM team_members m
                                       WHERE m.team_id = team AND m.volunteer_id = actor_volunteer(actor))
                         THEN 1 ELSE 0 END)
$$;

-- Is the actor a system administrator (an admin grant without scope)?
CREATE FUNCTION is_system_admin(actor bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM role_grants g WHERE g.account_id = actor AND g.role = 'admin'
                      AND g.org_unit_id IS NULL AND g.team_id IS NULL)
$$;

-- The same rule as the CHECK on org_units.code, so that a bad code is a 422 naming `code`.
CREATE FUNCTION org_unit_code_ok(code text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT code ~ '^[^[:space:][:cntrl:]]{1,64}$' $$;

-- A parent for a new or moved unit: it must exist (422 parent_id) and the actor must be an
-- admin over it (404 outside scope, 403 weaker role), as api.role_grant does with its unit.
CREATE FUNCTION registry_require_parent(actor bigint, parent bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM org_units WHERE id = parent) THEN
        PERFORM problem(422, 'parent_id', 'no such org unit');
    END IF;
    PERFORM authz_require(authz_level(actor, parent, NULL), 'admin', 'parent org unit');
END
$$;

--------------------------------------------------------------------------------------------
-- Org units
--------------------------------------------------------------------------------------------

-- POST /org-units {parent_id, kind, code, name} (admin over the parent; a root: system admin).
CREATE FUNCTION api.org_unit_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    parent bigint := arg_id(args, 'parent_id');
    new_code text := args ->> 'code';
    u org_units;
BEGIN
    IF parent IS NULL THEN
        IF NOT is_system_admin(actor) THEN
            PERFORM problem(403, NULL, 'only a system administrator creates a root org unit');
        END IF;
    ELSE
        PERFORM registry_require_parent(actor, parent);
    END IF;
    IF NOT org_unit_code_ok(new_code) THEN
        PERFORM problem(422, 'code', 'code must be 1-64 characters without spaces');
    END IF;
    IF EXISTS (SELECT 1 FROM org_units o WHERE o.code = new_code) THEN
        PERFORM problem(409, 'code', 'an org unit with this code already exists');
    END IF;
    INSERT INTO org_units (parent_id, kind, code, name)
    VALUES (parent, args ->> 'kind', new_code, btrim(args ->> 'name'))
    RETURNING * INTO u;
    PERFORM audit('create', 'org_unit', u.id, NULL, org_unit_json(u));
    RETURN org_unit_json(u);
END
$$;

-- GET /org-units/{id}.
CREATE FUNCTION api.org_unit_get(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    u org_units;
BEGIN
    SELECT * INTO u FROM org_units WHERE id = arg_id(args, 'id');
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'org unit not found');
    END IF;
    PERFORM authz_require(registry_unit_level(actor, u.id), 'volunteer', 'org unit');
    RETURN org_unit_json(u);
END
$$;

-- GET /org-units?parent_id=&under=&kind=&limit=&cursor=
--   parent_id: the visible children of that unit;
--   under:     the visible units of that unit's subtree (itself included);
--   neither:   the top of what the caller sees: the tree's roots for a system administrator,
--              the units their grants are on for the others (and a volunteer's home unit).
CREATE FUNCTION api.org_unit_list(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    lim int := arg_limit(args);
    cur bigint := arg_cursor(args);
    parent bigint := arg_opt_id(args, 'parent_id');
    under bigint := arg_opt_id(args, 'under');
    want_kind text := arg_text(args, 'kind');
    under_path text;
BEGIN
    IF under IS NOT NULL THEN
        SELECT path INTO under_path FROM org_units WHERE id = under;
        IF NOT FOUND THEN
            RETURN page('[]'::jsonb, lim);
        END IF;
    END IF;
    RETURN page(coalesce((
        WITH p AS (SELECT DISTINCT q AS path FROM authz_unit_paths(actor, 'coordinator') q),
             home AS (SELECT v.org_unit_id AS id FROM volunteers v WHERE v.id = actor_volunteer(actor))
        SELECT jsonb_agg(org_unit_json(u) ORDER BY u.id)
          FROM (SELECT u.* FROM org_units u
                 WHERE u.id > cur
                   AND (EXISTS (SELECT 1 FROM p WHERE u.path >= p.path AND u.path < left(p.path, -1) || '0')
                        OR u.id IN (SELECT id FROM home))
                   AND (parent IS NULL OR u.parent_id = parent)
                   AND (under_path IS NULL OR (u.path >= under_path AND u.path < left(under_path, -1) || '0'))
                   AND (want_kind IS NULL OR u.kind = want_kind)
                   -- top mode: not reachable through a grant on a strict ancestor
                   AND (parent IS NOT NULL OR under IS NOT NULL OR u.parent_id IS NULL
                        OR NOT EXISTS (SELECT 1 FROM p WHERE u.path > p.path AND u.path < left(p.path, -1) || '0'))
                 ORDER BY u.id
                 LIMIT lim + 1) u), '[]'::jsonb), lim);
END
$$;

-- PATCH /org-units/{id} {name?, code?, kind?, parent_id?} (admin over the unit; a move also
-- needs admin over the new parent, and a move to the top a system administrator).
CREATE FUNCTION api.org_unit_update(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    prev org_units;
    u org_units;
    parent bigint := arg_id(args, 'parent_id');
    moving boolean;
BEGIN
    SELECT * INTO prev FROM org_units WHERE id = arg_id(args, 'id') FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'org unit not found');
    END IF;
    PERFORM authz_require(registry_unit_level(actor, prev.id), 'admin', 'org unit');
    moving := args ? 'parent_id' AND parent IS DISTINCT FROM prev.parent_id;
    IF moving THEN
        IF parent IS NULL THEN
            IF NOT is_system_admin(actor) THEN
                PERFORM problem(403, 'parent_id', 'only a system administrator makes a root org unit');
            END IF;
        ELSE
            PERFORM registry_require_parent(actor, parent);
            IF org_unit_covers(prev.id, parent) THEN
                PERFORM problem(409, 'parent_id', 'an org unit cannot move under itself or its own descendant');
            END IF;
        END IF;
    END IF;
    IF args ? 'code' THEN
        IF NOT org_unit_code_ok(args ->> 'code') THEN
            PERFORM problem(422, 'code', 'code must be 1-64 characters without spaces');
        END IF;
        IF EXISTS (SELECT 1 FROM org_units o WHERE o.code = args ->> 'code' AND o.id <> prev.id) THEN
            PERFORM problem(409, 'code', 'an org unit with this code already exists');
        END IF;
    END IF;
    -- Move in its own statement: the trigger rewrites the subtree's paths (and refuses a cycle
    -- under its lock, should one appear concurrently).
    IF moving THEN
        UPDATE org_units SET parent_id = parent WHERE id = prev.id;
    END IF;
    UPDATE org_units
       SET name = CASE WHEN args ? 'name' THEN btrim(args ->> 'name') ELSE name END,
           code = CASE WHEN args ? 'code' THEN args ->> 'code' ELSE code END,
           kind = CASE WHEN args ? 'kind' THEN args ->> 'kind' ELSE kind END
     WHERE id = prev.id
    RETURNING * INTO u;
    IF org_unit_json(u) - 'updated_at' IS DISTINCT FROM org_unit_json(prev) - 'updated_at' THEN
        PERFORM audit('update', 'org_unit', u.id, org_unit_json(prev), org_unit_json(u));
    END IF;
    RETURN org_unit_json(u);
END
$$;

--------------------------------------------------------------------------------------------
-- Teams
--------------------------------------------------------------------------------------------

-- The owning org unit of a new or edited team: it must exist (422) and the actor must be at
-- least a coordinator over it (404 / 403).
CREATE FUNCTION registry_require_team_unit(actor bigint, unit bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM org_units WHERE id = unit) THEN
        PERFORM problem(422, 'org_unit_id', 'no such org unit');
    END IF;
    PERFORM authz_require(authz_level(actor, unit, NULL), 'coordinator', 'org unit');
END
$$;

-- A parent team: it must exist (422) and be within the actor's scope as a coordinator.
CREATE FUNCTION registry_require_parent_team(actor bigint, parent bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM teams WHERE id = parent) THEN
        PERFORM problem(422, 'parent_team_id', 'no such team');
    END IF;
    PERFORM authz_require(authz_level(actor, NULL, parent), 'coordinator', 'parent team');
END
$$;

-- POST /teams {name, org_unit_id, parent_team_id?, kind?} (coordinator over org_unit_id).
CREATE FUNCTION api.team_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    unit bigint := arg_id(args, 'org_unit_id');
    parent bigint := arg_id(args, 'parent_team_id');
    t teams;
BEGIN
    PERFORM registry_require_team_unit(actor, unit);
    IF parent IS NOT NULL THEN
        PERFORM registry_require_parent_team(actor, parent);
    END IF;
    INSERT INTO teams (name, org_unit_id, parent_team_id, kind)
    VALUES (btrim(args ->> 'name'), unit, parent, coalesce(args ->> 'kind', 'general'))
    RETURNING * INTO t;
    PERFORM audit('create', 'team', t.id, NULL, team_json(t));
    RETURN team_json(t);
END
$$;

-- GET /teams/{id}.
CREATE FUNCTION api.team_get(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t teams;
BEGIN
    SELECT * INTO t FROM teams WHERE id = arg_id(args, 'id');
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'team not found');
    END IF;
    PERFORM authz_require(registry_team_level(actor, t.id), 'volunteer', 'team');
    RETURN team_json(t);
END
$$;

-- GET /teams?org_unit_id=&under=&parent_team_id=&kind=&limit=&cursor=: the caller's visible
-- teams (through org-unit grants, team grants with their sub-teams, or membership), owned by
-- org_unit_id exactly, or by any unit of under's subtree.
CREATE FUNCTION api.team_list(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    lim int := arg_limit(args);
    cur bigint := arg_cursor(args);
    unit bigint := arg_opt_id(args, 'org_unit_id');
    under bigint := arg_opt_id(args, 'under');
    parent bigint := arg_opt_id(args, 'parent_team_id');
    want_kind text := arg_text(args, 'kind');
    under_path text;
BEGIN
    IF under IS NOT NULL THEN
        SELECT path INTO under_path FROM org_units WHERE id = under;
        IF NOT FOUND THEN
            RETURN page('[]'::jsonb, lim);
        END IF;
    END IF;
    RETURN page(coalesce((
        WITH p AS (SELECT DISTINCT q AS path FROM authz_unit_paths(actor, 'coordinator') q),
             direct AS (SELECT authz_team_ids(actor, 'coordinator') AS id
                        UNION
                        SELECT m.team_id FROM team_members m WHERE m.volunteer_id = actor_volunteer(actor))
        SELECT jsonb_agg(team_json(t) ORDER BY t.id)
          FROM (SELECT t.* FROM teams t JOIN org_units u ON u.id = t.org_unit_id
                 WHERE t.id > cur
                   AND (EXISTS (SELECT 1 FROM p WHERE u.path >= p.path AND u.path < left(p.path, -1) || '0')
                        OR t.id IN (SELECT id FROM direct))
                   AND (unit IS NULL OR t.org_unit_id = unit)
                   AND (under_path IS NULL OR (u.path >= under_path AND u.path < left(under_path, -1) || '0'))
                   AND (parent IS NULL OR t.parent_team_id = parent)
                   AND (want_kind IS NULL OR t.kind = want_kind)
                 ORDER BY t.id
                 LIMIT lim + 1) t), '[]'::jsonb), lim);
END
$$;

-- PATCH /teams/{id} {name?, kind?, org_unit_id?, parent_team_id?} (coordinator over the team;
-- a new owner unit or parent team must be in the actor's scope too).
CREATE FUNCTION api.team_update(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    prev teams;
    t teams;
    unit bigint := arg_id(args, 'org_unit_id');
    parent bigint := arg_id(args, 'parent_team_id');
BEGIN
    SELECT * INTO prev FROM teams WHERE id = arg_id(args, 'id') FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'team not found');
    END IF;
    PERFORM authz_require(registry_team_level(actor, prev.id), 'coordinator', 'team');
    IF unit IS NOT NULL AND unit <> prev.org_unit_id THEN
        PERFORM registry_require_team_unit(actor, unit);
    END IF;
    IF parent IS NOT NULL AND parent IS DISTINCT FROM prev.parent_team_id THEN
        PERFORM registry_require_parent_team(actor, parent);
        IF parent = prev.id OR prev.id IN (SELECT team_ancestors(parent)) THEN
            PERFORM problem(409, 'parent_team_id', 'a team cannot be placed under itself or its own sub-team');
        END IF;
    END IF;
    UPDATE teams
       SET name = CASE WHEN args ? 'name' THEN btrim(args ->> 'name') ELSE name END,
           kind = CASE WHEN args ? 'kind' THEN args ->> 'kind' ELSE kind END,
           org_unit_id = coalesce(unit, org_unit_id),
           parent_team_id = CASE WHEN args ? 'parent_team_id' THEN parent ELSE parent_team_id END
     WHERE id = prev.id
    RETURNING * INTO t;
    IF team_json(t) - 'updated_at' IS DISTINCT FROM team_json(prev) - 'updated_at' THEN
        PERFORM audit('update', 'team', t.id, team_json(prev), team_json(t));
    END IF;
    RETURN team_json(t);
END
$$;

--------------------------------------------------------------------------------------------
-- Team membership
--------------------------------------------------------------------------------------------

-- POST /teams/{id}/members {volunteer_id, role} (coordinator over the team).  The volunteer
-- must exist AND be one the actor may enrol: within the actor's own scope, or living inside
-- the team's org-unit subtree (so a team's coordinator can recruit from the team's area).
-- Anyone else is "no such volunteer" (422), the same answer as for an unknown id, so that
-- neither the existence nor the data of volunteers outside scope leak through membership.
-- The answer carries `_created` (true on the first add) for the handler to pick 201 or 200.
CREATE FUNCTION api.team_member_add(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t teams;
    vol bigint := arg_id(args, 'volunteer_id');
    new_role text := coalesce(args ->> 'role', 'member');
    prev team_members;
    m team_members;
BEGIN
    SELECT * INTO t FROM teams WHERE id = arg_id(args, 'team_id');
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'team not found');
    END IF;
    PERFORM authz_require(registry_team_level(actor, t.id), 'coordinator', 'team');
    IF NOT EXISTS (SELECT 1 FROM volunteers v
                    WHERE v.id = vol
                      AND (org_unit_covers(t.org_unit_id, v.org_unit_id)
                           OR authz_volunteer_level(actor, v.id) >= role_level('coordinator'))) THEN
        PERFORM problem(422, 'volunteer_id', 'no such volunteer in your scope or the team''s area');
    END IF;
    -- DO NOTHING rather than DO UPDATE: a concurrent first add waits here for the other one
    -- to commit, and then takes the update path below, so "created" is said exactly once.
    INSERT INTO team_members (team_id, volunteer_id, role)
    VALUES (t.id, vol, new_role)
    ON CONFLICT (team_id, volunteer_id) DO NOTHING
    RETURNING * INTO m;
    IF FOUND THEN
        PERFORM audit('member_add', 'team', t.id, NULL, team_member_json(m));
        RETURN team_member_json(m) || '{"_created": true}';
    END IF;
    SELECT * INTO prev FROM team_members WHERE team_id = t.id AND volunteer_id = vol FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM problem(409, NULL, 'the membership changed at the same moment; try again');
    END IF;
    IF prev.role <> new_role THEN
        UPDATE team_members SET role = new_role
         WHERE team_id = t.id AND volunteer_id = vol
        RETURNING * INTO m;
        PERFORM audit('member_update', 'team', t.id, team_member_json(prev), team_member_json(m));
    ELSE
        m := prev;
    END IF;
    RETURN team_member_json(m) || '{"_created": false}';
END
$$;

-- DELETE /teams/{id}/members/{volunteer_id} (coordinator over the team); 404 when not a member.
CREATE FUNCTION api.team_member_remove(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    m team_members;
BEGIN
    PERFORM 1 FROM teams WHERE id = arg_id(args, 'team_id');
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'team not found');
    END IF;
    PERFORM authz_require(registry_team_level(actor, arg_id(args, 'team_id')), 'coordinator', 'team');
    DELETE FROM team_members
     WHERE team_id = arg_id(args, 'team_id') AND volunteer_id = arg_id(args, 'volunteer_id')
    RETURNING * INTO m;
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'not a member of this team');
    END IF;
    PERFORM audit('member_remove', 'team', m.team_id, team_member_json(m), NULL);
    RETURN '{}'::jsonb;
END
$$;
