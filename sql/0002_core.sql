-- 0002_core.sql: the machinery every API call goes through.
--
--   * api_call(): one statement per request.  It sets the request context (actor, address,
--     request id) for the audit trail, handles the Idempotency-Key in the same transaction,
--     and runs one function of schema `api`, each of the shape api.<name>(actor, args) -> jsonb.
--   * problem(): how those functions refuse: SQLSTATE VD<http status>, the field in COLUMN.
--   * authz_*(): the one place that decides scope.  Every api function asks it.
--   * sessions and log-in throttling.

CREATE SCHEMA api;

--------------------------------------------------------------------------------------------
-- Errors and audit
--------------------------------------------------------------------------------------------

-- Refuse with an HTTP status: the server maps SQLSTATE VDnnn to status nnn, COLUMN to the
-- problem's field and MESSAGE to its detail.
CREATE FUNCTION problem(status int, field text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'VD' || status::text, MESSAGE = message,
                          COLUMN = coalesce(field, '');
END
$$;

-- The request context, set by api_call for the transaction only.
CREATE FUNCTION ctx_actor() RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT nullif(nullif(current_setting('vd.actor', true), ''), '0')::bigint $$;

-- One audit row, in the caller's transaction.
CREATE FUNCTION audit(action text, entity text, entity_id bigint, old jsonb, new jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit_log (account_id, ip, action, entity, entity_id, old, new, request_id)
    VALUES (ctx_actor(), nullif(current_setting('vd.ip', true), '')::inet, action, entity,
            entity_id, old, new, nullif(current_setting('vd.rid', true), ''))
$$;

--------------------------------------------------------------------------------------------
-- Authorization: roles over the area tree and over teams
--------------------------------------------------------------------------------------------

-- Role levels, so that "at least coordinator" is a comparison.
CREATE FUNCTION role_level(role text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE role WHEN 'admin' THEN 3 WHEN 'coordinator' THEN 2 WHEN 'volunteer' THEN 1 ELSE 0 END
$$;

-- The team and its ancestors (a grant on a team covers its child teams).
CREATE FUNCTION team_ancestors(team bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up(id, parent) AS (
        SELECT id, parent_team_id FROM teams WHERE id = team
        UNION ALL
        SELECT t.id, t.parent_team_id FROM teams t JOIN up ON t.id = up.parent)
    SELECT id FROM up
$$;

-- The strongest role (as a level, 0 = none) that actor holds over an object located at org
-- unit `unit` and/or team `team`.  A grant on an org unit covers its subtree, and also the
-- teams owned by a unit of that subtree; a grant on a team covers the team and its children.
-- A system administrator (an admin grant without scope) covers everything.
CREATE FUNCTION authz_level(actor bigint, unit bigint, team bigint) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT coalesce(max(role_level(g.role)), 0)
      FROM role_grants g
     WHERE g.account_id = actor
       AND g.role <> 'volunteer'
       AND (   (g.org_unit_id IS NULL AND g.team_id IS NULL)
            OR (g.org_unit_id IS NOT NULL AND unit IS NOT NULL AND org_unit_covers(g.org_unit_id, unit))
            OR (g.org_unit_id IS NOT NULL AND team IS NOT NULL AND EXISTS (
                    SELECT 1 FROM teams t WHERE t.id = team AND org_unit_covers(g.org_unit_id, t.org_unit_id)))
            OR (g.team_id IS NOT NULL AND team IS NOT NULL AND g.team_id IN (SELECT team_ancestors(team))))
$$;

-- Over a volunteer record: the volunteer themself is level 1; staff reach it through the
-- volunteer's home unit or any team the volunteer belongs to.
CREATE FUNCTION authz_volunteer_level(actor bigint, volunteer bigint) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT greatest(
        (SELECT CASE WHEN EXISTS (SELECT 1 FROM accounts a WHERE a.id = actor AND a.volunteer_id = volunteer)
                     THEN 1 ELSE 0 END),
        (SELECT authz_level(actor, v.org_unit_id, NULL) FROM volunteers v WHERE v.id = volunteer),
        (SELECT coalesce(max(authz_level(actor, NULL, m.team_id)), 0) FROM team_members m
          WHERE m.volunteer_id = volunteer))
$$;

-- The scope check every api function makes: nothing found in scope is 404 (the object's
-- existence is not revealed); in scope but a weaker role than `need` is 403.
CREATE FUNCTION authz_require(level int, need text, what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF level IS NULL OR level = 0 THEN
        PERFORM problem(404, NULL, what || ' not found');
    ELSIF level < role_level(need) THEN
        PERFORM problem(403, NULL, 'your role does not allow this on ' || what);
    END IF;
END
$$;

-- The org units whose subtrees actor reaches with at least role `need`, as paths, for list
-- queries: `WHERE EXISTS (SELECT 1 FROM authz_unit_paths(a, 'coordinator') p WHERE x.path LIKE p || '%')`.
-- A system administrator gets the root path '/'.
CREATE FUNCTION authz_unit_paths(actor bigint, need text) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN g.org_unit_id IS NULL THEN '/' ELSE u.path END
      FROM role_grants g LEFT JOIN org_units u ON u.id = g.org_unit_id
     WHERE g.account_id = actor AND g.team_id IS NULL AND g.role <> 'volunteer'
       AND role_level(g.role) >= role_level(need)
$$;

-- The teams (with their descendants) actor reaches through team grants with at least `need`.
CREATE FUNCTION authz_team_ids(actor bigint, need text) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE down(id) AS (
        SELECT g.team_id FROM role_grants g
         WHERE g.account_id = actor AND g.team_id IS NOT NULL AND role_level(g.role) >= role_level(need)
        UNION
        SELECT t.id FROM teams t JOIN down ON t.parent_team_id = down.id)
    SELECT id FROM down
$$;

--------------------------------------------------------------------------------------------
-- The single entry point
--------------------------------------------------------------------------------------------

-- Run api.<fn>(actor, args) in this transaction, with the Idempotency-Key handled here: the
-- first call stores its response with the change; a retry with the same key and request gets
-- the stored response and changes nothing; the same key with another request is 422.  A
-- concurrent retry waits on the first one's key row and then sees its outcome.
CREATE FUNCTION api_call(fn text, actor bigint, args jsonb, idem_key text, req_hash text,
                         ip inet, rid text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    key_scope text;
    k idempotency_keys;
    result jsonb;
BEGIN
    PERFORM set_config('vd.actor', coalesce(actor, 0)::text, true),
            set_config('vd.ip', coalesce(host(ip), ''), true),
            set_config('vd.rid', coalesce(rid, ''), true);
    IF idem_key IS NOT NULL THEN
        key_scope := CASE WHEN coalesce(actor, 0) > 0 THEN 'account:' || actor
                      ELSE 'anon:' || coalesce(host(ip), '') END;
        INSERT INTO idempotency_keys (scope, key, request_hash)
        VALUES (key_scope, idem_key, decode(req_hash, 'hex'))
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            SELECT * INTO k FROM idempotency_keys i WHERE i.scope = key_scope AND i.key = idem_key;
            IF k.request_hash <> decode(req_hash, 'hex') THEN
                PERFORM problem(422, 'Idempotency-Key', 'this Idempotency-Key was used for a different request');
            END IF;
            RETURN k.response::jsonb;
        END IF;
    END IF;
    EXECUTE format('SELECT api.%I($1, $2)', fn) INTO result USING actor, args;
    IF idem_key IS NOT NULL THEN
        UPDATE idempotency_keys i SET status = 200, content_type = 'application/json',
               response = result::text
         WHERE i.scope = key_scope AND i.key = idem_key;
    END IF;
    RETURN result;
END
$$;

-- Small readers for args, so that api functions read like their contract.
CREATE FUNCTION arg_id(args jsonb, key text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT (args ->> key)::bigint $$;

CREATE FUNCTION arg_text(args jsonb, key text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT nullif(btrim(args ->> key), '') $$;

-- Keyset pagination: `limit` (default 50, max 500) and an opaque cursor (the last id seen).
CREATE FUNCTION arg_limit(args jsonb) RETURNS int
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE n int;
BEGIN
    IF args ->> 'limit' IS NULL THEN RETURN 50; END IF;
    IF args ->> 'limit' !~ '^[0-9]{1,4}$' OR (args ->> 'limit')::int NOT BETWEEN 1 AND 500 THEN
        PERFORM problem(422, 'limit', 'limit must be an integer from 1 to 500');
    END IF;
    RETURN (args ->> 'limit')::int;
END
$$;

CREATE FUNCTION arg_cursor(args jsonb) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF args ->> 'cursor' IS NULL THEN RETURN 0; END IF;
    IF args ->> 'cursor' !~ '^[0-9]{1,18}$' THEN
        PERFORM problem(422, 'cursor', 'cursor is not one this server gave out');
    END IF;
    RETURN (args ->> 'cursor')::bigint;
END
$$;

-- {"items": [...], "next_cursor": ...} from rows fetched with limit + 1 (the extra row only
-- says whether there is a next page).
CREATE FUNCTION page(items jsonb, lim int, id_key text DEFAULT 'id') RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'items', CASE WHEN jsonb_array_length(items) > lim
                      THEN (SELECT jsonb_agg(e ORDER BY n) FROM jsonb_array_elements(items) WITH ORDINALITY AS t(e, n) WHERE n <= lim)
                      ELSE items END,
        'next_cursor', CASE WHEN jsonb_array_length(items) > lim
                            THEN (items -> (lim - 1) ->> id_key) END)
$$;

-- An optional id argument given as text (query strings arrive as text).
CREATE FUNCTION arg_opt_id(args jsonb, key text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF args ->> key IS NULL THEN RETURN NULL; END IF;
    IF (args ->> key) !~ '^[1-9][0-9]{0,17}$' THEN
        PERFORM problem(422, key, key || ' must be a positive integer id');
    END IF;
    RETURN (args ->> key)::bigint;
END
$$;

--------------------------------------------------------------------------------------------
-- Sessions and log-in
--------------------------------------------------------------------------------------------

-- The live session of a token hash, touching last_seen_at at most every 30 s (so a burst of
-- requests does not write a row each).  Idle and absolute limits both apply.
CREATE FUNCTION session_resolve(hash bytea, idle_minutes int)
RETURNS TABLE (account_id bigint, volunteer_id bigint)
LANGUAGE sql AS $$
    WITH s AS (
        SELECT s.account_id, a.volunteer_id, s.last_seen_at
          FROM sessions s JOIN accounts a ON a.id = s.account_id AND NOT a.disabled
         WHERE s.token_hash = hash AND s.expires_at > now()
           AND s.last_seen_at > now() - make_interval(mins => idle_minutes)),
    touch AS (
        UPDATE sessions SET last_seen_at = now()
         WHERE token_hash = hash AND last_seen_at < now() - interval '30 seconds'
           AND EXISTS (SELECT 1 FROM s))
    SELECT account_id, volunteer_id FROM s
$$;

CREATE FUNCTION login_window() RETURNS timestamptz
LANGUAGE sql STABLE AS $$ SELECT to_timestamp(floor(extract(epoch FROM now()) / 900) * 900) $$;

-- Throttle state and the account's hash.  Five failures for one login, or thirty from one
-- address, in a 15-minute window lock that key until the window ends.  The answer is the
-- same whether or not the login exists.
CREATE FUNCTION login_lookup(login text, ip inet)
RETURNS TABLE (account_id bigint, password_hash text, retry_after int)
LANGUAGE sql STABLE AS $$
    SELECT a.id, a.password_hash,
           CASE WHEN EXISTS (SELECT 1 FROM login_attempts t
                              WHERE t.window_start = login_window()
                                AND ((t.key = 'login:' || lower(login_lookup.login) AND t.count >= 5)
                                  OR (t.key = 'ip:' || host(ip) AND t.count >= 30)))
                THEN greatest(1, ceil(extract(epoch FROM login_window() + interval '15 minutes' - now()))::int)
                ELSE 0 END
      FROM (SELECT 1) one
      LEFT JOIN accounts a ON lower(a.login) = lower(login_lookup.login) AND NOT a.disabled
$$;

CREATE FUNCTION login_fail(login text, ip inet) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO login_attempts (key, window_start)
    SELECT k, login_window() FROM unnest(ARRAY['login:' || lower(login), 'ip:' || host(ip)]) k
     WHERE k IS NOT NULL
    ON CONFLICT (key, window_start) DO UPDATE SET count = login_attempts.count + 1, updated_at = now();
    INSERT INTO audit_log (account_id, ip, action, entity, entity_id, new)
    SELECT a.id, ip, 'login_failed', 'account', a.id, NULL
      FROM (SELECT 1) one LEFT JOIN accounts a ON lower(a.login) = lower(login_fail.login);
$$;

-- {"id","login","roles":[{"id","role","org_unit_id","team_id"}],"volunteer_id"}
CREATE FUNCTION account_json(account bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'login', a.login, 'volunteer_id', a.volunteer_id, 'disabled', a.disabled,
        'roles', coalesce((SELECT jsonb_agg(jsonb_build_object('id', g.id, 'role', g.role,
                                   'org_unit_id', g.org_unit_id, 'team_id', g.team_id) ORDER BY g.id)
                             FROM role_grants g WHERE g.account_id = a.id), '[]'::jsonb)
               || CASE WHEN a.volunteer_id IS NOT NULL
                            AND NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.account_id = a.id AND g.role = 'volunteer')
                       THEN jsonb_build_array(jsonb_build_object('id', NULL, 'role', 'volunteer',
                                              'org_unit_id', NULL, 'team_id', NULL))
                       ELSE '[]'::jsonb END)
      FROM accounts a WHERE a.id = account
$$;

-- A new session (the old one of this browser, if any, ends: rotation at log-in).
CREATE FUNCTION login_succeed(account bigint, hash bytea, old_hash bytea, max_minutes int,
                              ip inet, user_agent text, login text, rid text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('vd.actor', account::text, true),
            set_config('vd.ip', coalesce(host(ip), ''), true),
            set_config('vd.rid', coalesce(rid, ''), true);
    IF old_hash IS NOT NULL THEN
        DELETE FROM sessions WHERE token_hash = old_hash;
    END IF;
    INSERT INTO sessions (token_hash, account_id, expires_at, ip, user_agent)
    VALUES (hash, account, now() + make_interval(mins => max_minutes), ip, left(user_agent, 512));
    DELETE FROM login_attempts WHERE key = 'login:' || lower(login);
    UPDATE accounts SET last_login_at = now() WHERE id = account;
    PERFORM audit('login', 'account', account, NULL, NULL);
    RETURN account_json(account);
END
$$;

--------------------------------------------------------------------------------------------
-- Accounts and role grants
--------------------------------------------------------------------------------------------

-- The public shape of a volunteer: the ID number only masked, never the ciphertext.
CREATE FUNCTION volunteer_json(v volunteers) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', v.id, 'volunteer_no', v.volunteer_no, 'name', v.name, 'phone', v.phone,
        'id_number', v.id_number_masked, 'gender', v.gender, 'birth_date', v.birth_date,
        'org_unit_id', v.org_unit_id, 'work_unit', v.work_unit, 'party_member', v.party_member,
        'skills', to_jsonb(v.skills), 'status', v.status, 'created_at', v.created_at,
        'updated_at', v.updated_at)
$$;

-- GET /me: the account, and the volunteer record when there is one.
CREATE FUNCTION api.me(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT account_json(a.id) || jsonb_build_object('account', account_json(a.id),
               'volunteer', (SELECT volunteer_json(v) FROM volunteers v WHERE v.id = a.volunteer_id))
      FROM accounts a WHERE a.id = actor
$$;

-- POST /accounts (admin): a staff account, or a volunteer's account when volunteer_id is set.
-- The password arrives already hashed (Argon2id, computed off the event loop).
CREATE FUNCTION api.account_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    vol bigint := arg_id(args, 'volunteer_id');
    id bigint;
BEGIN
    -- Creating logins is an administrator's act; any admin grant will do, a volunteer's
    -- account additionally needs the volunteer in the admin's scope.
    IF NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.account_id = actor AND g.role = 'admin') THEN
        PERFORM authz_require(CASE WHEN EXISTS (SELECT 1 FROM role_grants g WHERE g.account_id = actor
                                                   AND g.role = 'coordinator') THEN 2 ELSE 1 END,
                              'admin', 'accounts');
    END IF;
    IF vol IS NOT NULL THEN
        PERFORM authz_require(authz_volunteer_level(actor, vol), 'admin', 'volunteer');
    END IF;
    INSERT INTO accounts (login, password_hash, volunteer_id)
    VALUES (args ->> 'login', args ->> 'password_hash', vol)
    RETURNING accounts.id INTO id;
    PERFORM audit('create', 'account', id, NULL, jsonb_build_object('login', args ->> 'login', 'volunteer_id', vol));
    RETURN account_json(id);
END
$$;

-- POST /accounts/{id}/roles (admin within scope): grant a scoped role.
CREATE FUNCTION api.role_grant(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    account bigint := arg_id(args, 'account_id');
    role text := args ->> 'role';
    unit bigint := arg_id(args, 'org_unit_id');
    team bigint := arg_id(args, 'team_id');
    g role_grants;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM accounts WHERE id = account) THEN
        PERFORM problem(404, NULL, 'account not found');
    END IF;
    IF unit IS NOT NULL AND NOT EXISTS (SELECT 1 FROM org_units WHERE id = unit) THEN
        PERFORM problem(422, 'org_unit_id', 'no such org unit');
    END IF;
    IF team IS NOT NULL AND NOT EXISTS (SELECT 1 FROM teams WHERE id = team) THEN
        PERFORM problem(422, 'team_id', 'no such team');
    END IF;
    -- The granter must be an admin over the whole scope granted: an unscoped grant needs a
    -- system administrator.
    IF unit IS NULL AND team IS NULL THEN
        PERFORM authz_require(CASE WHEN EXISTS (SELECT 1 FROM role_grants r WHERE r.account_id = actor
                                  AND r.role = 'admin' AND r.org_unit_id IS NULL AND r.team_id IS NULL)
                                   THEN 3 WHEN EXISTS (SELECT 1 FROM role_grants r WHERE r.account_id = actor
                                  AND r.role = 'admin') THEN 2 ELSE 0 END,
                              'admin', 'scope');
    ELSE
        PERFORM authz_require(authz_level(actor, unit, team), 'admin', 'scope');
    END IF;
    INSERT INTO role_grants (account_id, role, org_unit_id, team_id, created_by)
    VALUES (account, role, unit, team, actor)
    RETURNING * INTO g;
    PERFORM audit('grant', 'account', account, NULL, to_jsonb(g));
    RETURN jsonb_build_object('id', g.id, 'account_id', g.account_id, 'role', g.role,
                              'org_unit_id', g.org_unit_id, 'team_id', g.team_id);
END
$$;

-- DELETE /accounts/{id}/roles/{grant_id} (admin within the grant's scope).
CREATE FUNCTION api.role_revoke(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    g role_grants;
BEGIN
    SELECT * INTO g FROM role_grants
     WHERE id = arg_id(args, 'grant_id') AND account_id = arg_id(args, 'account_id');
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'role grant not found');
    END IF;
    IF g.org_unit_id IS NULL AND g.team_id IS NULL THEN
        PERFORM authz_require(authz_level(actor, NULL, NULL), 'admin', 'role grant');
    ELSE
        PERFORM authz_require(authz_level(actor, g.org_unit_id, g.team_id), 'admin', 'role grant');
    END IF;
    DELETE FROM role_grants WHERE id = g.id;
    PERFORM audit('revoke', 'account', g.account_id, to_jsonb(g), NULL);
    RETURN '{}'::jsonb;
END
$$;

-- The level (as authz_level) that actor holds over the object an audit row is about, found
-- through the object's org unit and/or team (a sign-up's entity_id is its event).  An entity
-- this function does not know is a system administrator's only.
CREATE FUNCTION audit_entity_level(actor bigint, entity text, entity_id bigint) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT coalesce(CASE entity
        WHEN 'org_unit' THEN authz_level(actor, entity_id, NULL)
        WHEN 'team' THEN authz_level(actor, NULL, entity_id)
        WHEN 'volunteer' THEN authz_volunteer_level(actor, entity_id)
        WHEN 'account' THEN (SELECT greatest(
                coalesce(authz_volunteer_level(actor, a.volunteer_id), 0),
                coalesce((SELECT max(authz_level(actor, g.org_unit_id, g.team_id)) FROM role_grants g
                           WHERE g.account_id = a.id AND num_nonnulls(g.org_unit_id, g.team_id) > 0), 0))
              FROM accounts a WHERE a.id = entity_id)
        WHEN 'activity' THEN (SELECT authz_level(actor, x.org_unit_id, x.team_id) FROM activities x WHERE x.id = entity_id)
        WHEN 'event' THEN (SELECT authz_level(actor, x.org_unit_id, x.team_id) FROM events x WHERE x.id = entity_id)
        WHEN 'signup' THEN (SELECT authz_level(actor, x.org_unit_id, x.team_id) FROM events x WHERE x.id = entity_id)
        WHEN 'attendance' THEN (SELECT authz_level(actor, x.org_unit_id, x.team_id)
                                  FROM attendances t JOIN events x ON x.id = t.event_id WHERE t.id = entity_id)
        WHEN 'hour_entry' THEN (SELECT authz_level(actor, h.org_unit_id, h.team_id) FROM hour_entries h WHERE h.id = entity_id)
        END, 0)
$$;

-- GET /audit?entity=&entity_id= (admin): the trail of one object, newest first.  Only an
-- administrator reads the trail (anyone else: 403, whatever the object); an administrator
-- with a scoped grant reads only the rows about objects in that scope: a named object
-- (entity and entity_id) outside it is 404, and a wider list leaves such rows out.
CREATE FUNCTION api.audit_list(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    lim int := arg_limit(args);
    cur bigint := arg_cursor(args);
    everything boolean := EXISTS (SELECT 1 FROM role_grants g WHERE g.account_id = actor
                                     AND g.role = 'admin' AND g.org_unit_id IS NULL AND g.team_id IS NULL);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.account_id = actor AND g.role = 'admin') THEN
        PERFORM problem(403, NULL, 'the audit trail is for administrators');
    END IF;
    IF NOT everything AND arg_text(args, 'entity') IS NOT NULL AND arg_opt_id(args, 'entity_id') IS NOT NULL THEN
        PERFORM authz_require(audit_entity_level(actor, arg_text(args, 'entity'), arg_opt_id(args, 'entity_id')),
                              'admin', arg_text(args, 'entity'));
    END IF;
    RETURN page(coalesce((
        SELECT jsonb_agg(jsonb_build_object('id', l.id, 'at', l.at, 'account_id', l.account_id,
                   'ip', host(l.ip), 'action', l.action, 'entity', l.entity, 'entity_id', l.entity_id,
                   'old', l.old, 'new', l.new, 'request_id', l.request_id) ORDER BY l.id DESC)
          FROM (SELECT * FROM audit_log l
                 WHERE (arg_text(args, 'entity') IS NULL OR l.entity = arg_text(args, 'entity'))
                   AND (arg_opt_id(args, 'entity_id') IS NULL OR l.entity_id = arg_opt_id(args, 'entity_id'))
                   AND (cur = 0 OR l.id < cur)
                   AND (everything OR audit_entity_level(actor, l.entity, l.entity_id) >= role_level('admin'))
                 ORDER BY l.id DESC LIMIT lim + 1) l), '[]'::jsonb), lim);
END
$$;
