-- 0004_volunteers.sql: registering, finding, reading and editing volunteers (DESIGN §4,
-- issue 4).
--
-- Every function here is api.<name>(actor, args) -> jsonb, run by api_call() in one
-- transaction.  The C handler (server/h_volunteers.c) has checked types, lengths, formats
-- (phone, ID number, dates, enums) and has already replaced:
--   * the ID number by id_number_enc (hex of nonce || AES-256-GCM ciphertext || tag),
--     id_number_hmac (hex of the keyed blind index) and id_number_masked: the number in clear
--     never reaches the database, so it cannot land in its log either;
--   * a password by password_hash (Argon2id, computed off the event loop).
-- What is checked here is what only the database knows: existence, uniqueness, scope.
--
-- Who may do what (the one scope check is authz_level / authz_volunteer_level of 0002):
--   create  anyone without a login (self-registration, into any existing org unit); a logged-
--           in caller must be a coordinator or admin over org_unit_id (404 outside scope; an
--           account without any staff grant, e.g. a volunteer, 403).
--   list    coordinator or admin: volunteers whose home unit is in a subtree they hold, or who
--           belong to a team they reach (the same reach as authz_volunteer_level).  Filters
--           never 404: they narrow what the caller sees.  A caller without a staff grant: 403.
--   read    the volunteer themself, or staff over the volunteer; otherwise 404.
--   update  self: name, gender, birth_date, work_unit, party_member, skills.  Staff over the
--           volunteer additionally: phone (the login follows it), org_unit_id (into a unit of
--           their own scope; volunteer_home_history is kept by trigger), id_number (or null to
--           remove it), status, password (sets or resets the volunteer's login, ending its
--           sessions).  A self-only caller naming a staff field gets 403 naming it.
--   When an ID number is given (create or update) and birth_date or gender is not, the C
--   handler fills them from the number (digits 7-14, and the parity of digit 17); explicit
--   values are kept as given.
--
-- Audit entity 'volunteer' (create, update) with volunteer_json before/after: the ID number
-- appears there only masked; password changes are recorded as 'password_set' on the account
-- without any hash.

--------------------------------------------------------------------------------------------
-- Shape and helpers
--------------------------------------------------------------------------------------------

-- The public shape of a volunteer (replaces 0002's, adding the teams and the login): the ID
-- number only masked, never the ciphertext or the blind index.
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
        'created_at', v.created_at, 'updated_at', v.updated_at)
$$;

-- What the audit trail keeps of a volunteer: the public shape without derived fields.
CREATE FUNCTION volunteer_audit_json(v volunteers) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT volunteer_json(v) - 'teams' - 'account_id' - 'created_at' - 'updated_at'
$$;

-- Does the actor hold any coordinator or admin grant at all?  (Tells "a volunteer may not do
-- this" (403) from "not in your scope" (404).)
CREATE FUNCTION volunteer_actor_is_staff(actor bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM role_grants g WHERE g.account_id = actor AND g.role <> 'volunteer')
$$;

-- Text[] of skills from a JSON array of strings, trimmed, duplicates dropped, order kept.
CREATE FUNCTION volunteer_skills(j jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(s ORDER BY n), '{}')
      FROM (SELECT btrim(e) AS s, min(n) AS n
              FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(j) = 'array' THEN j
                                                  ELSE '[]'::jsonb END) WITH ORDINALITY AS t(e, n)
             WHERE btrim(e) <> ''
             GROUP BY btrim(e)) u
$$;

-- A birth date must not lie in the future (in the deployment's zone).
CREATE FUNCTION volunteer_check_birth_date(d date) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF d IS NOT NULL AND d > (now() AT TIME ZONE app_time_zone())::date THEN
        PERFORM problem(422, 'birth_date', 'birth_date must not be in the future');
    END IF;
END
$$;

-- The phone number is also the volunteer's login: refuse, naming `phone`, a number that is
-- already some other account's login (a race still ends in accounts_login_key, 409 login).
CREATE FUNCTION volunteer_check_login_free(phone text, volunteer bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM accounts a WHERE lower(a.login) = lower(phone)
                  AND coalesce(a.volunteer_id <> volunteer, true)) THEN
        PERFORM problem(409, 'phone', 'this phone number is already the login of another account');
    END IF;
END
$$;

-- Phone prefix search under any database collation (the unique index on phone serves only
-- equality unless the collation is "C").
CREATE INDEX volunteers_phone_prefix_idx ON volunteers (phone text_pattern_ops);
-- Keyset pages of one org unit's volunteers: (org_unit_id, id) serves both the plain lookup
-- and "ORDER BY id" within a unit, so it replaces 0001's single-column index.
CREATE INDEX volunteers_org_unit_id_id_idx ON volunteers (org_unit_id, id);
DROP INDEX volunteers_org_unit_id_idx;

--------------------------------------------------------------------------------------------
-- POST /volunteers
--------------------------------------------------------------------------------------------

CREATE FUNCTION api.volunteer_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    unit bigint := arg_id(args, 'org_unit_id');
    v volunteers;
    account bigint;
BEGIN
    IF coalesce(actor, 0) <> 0 THEN
        -- Registration by staff: scope first, so that a unit outside it (existing or not)
        -- is the same 404.
        IF NOT volunteer_actor_is_staff(actor) THEN
            PERFORM problem(403, NULL, 'only a coordinator or an administrator registers other volunteers; log out to register yourself');
        END IF;
        PERFORM authz_require(authz_level(actor, unit, NULL), 'coordinator', 'org unit');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM org_units WHERE id = unit) THEN
        PERFORM problem(422, 'org_unit_id', 'no such org unit');
    END IF;
    PERFORM volunteer_check_birth_date((args ->> 'birth_date')::date);
    IF args ? 'password_hash' THEN
        PERFORM volunteer_check_login_free(args ->> 'phone', NULL);
    END IF;

    INSERT INTO volunteers (name, phone, id_number_enc, id_number_hmac, id_number_masked, gender,
                            birth_date, org_unit_id, work_unit, party_member, skills, created_by)
    VALUES (btrim(args ->> 'name'), args ->> 'phone',
            decode(args ->> 'id_number_enc', 'hex'), decode(args ->> 'id_number_hmac', 'hex'),
            args ->> 'id_number_masked', args ->> 'gender', (args ->> 'birth_date')::date, unit,
            arg_text(args, 'work_unit'), coalesce((args ->> 'party_member')::boolean, false),
            volunteer_skills(args -> 'skills'), nullif(actor, 0))
    RETURNING * INTO v;
    PERFORM audit('create', 'volunteer', v.id, NULL, volunteer_audit_json(v));

    IF args ? 'password_hash' THEN
        INSERT INTO accounts (login, password_hash, volunteer_id)
        VALUES (v.phone, args ->> 'password_hash', v.id)
        RETURNING id INTO account;
        PERFORM audit('create', 'account', account, NULL,
                      jsonb_build_object('login', v.phone, 'volunteer_id', v.id));
    END IF;
    RETURN volunteer_json(v);
END
$$;

--------------------------------------------------------------------------------------------
-- GET /volunteers/{id}
--------------------------------------------------------------------------------------------

CREATE FUNCTION api.volunteer_get(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    vid bigint := arg_id(args, 'id');
    v volunteers;
BEGIN
    PERFORM authz_require(authz_volunteer_level(actor, vid), 'volunteer', 'volunteer');
    SELECT * INTO v FROM volunteers WHERE volunteers.id = vid;
    RETURN volunteer_json(v);
END
$$;

--------------------------------------------------------------------------------------------
-- GET /volunteers?q=&org_unit_id=&team_id=&status=&limit=&cursor=
--------------------------------------------------------------------------------------------
--
-- q: a volunteer number (exact, e.g. V0000000018), digits (a phone prefix, at least 3), or
-- else a name prefix.  Keyset pages by id ascending.  The statement is built for the filters
-- actually given (EXECUTE plans it with their values), so that each search uses its index:
-- volunteers_volunteer_no_key, volunteers_phone_prefix_idx, volunteers_name_idx, and the
-- scope through org_units_path_key and volunteers_org_unit_id_id_idx.
CREATE FUNCTION api.volunteer_list(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    lim int := arg_limit(args);
    cur bigint := arg_cursor(args);
    unit bigint := arg_opt_id(args, 'org_unit_id');
    team bigint := arg_opt_id(args, 'team_id');
    q text := arg_text(args, 'q');
    want_status text := arg_text(args, 'status');
    paths text[];
    teams bigint[];
    everything boolean;
    cond text := '';
    items jsonb;
BEGIN
    IF NOT volunteer_actor_is_staff(actor) THEN
        PERFORM problem(403, NULL, 'searching volunteers is for coordinators and administrators');
    END IF;
    IF q IS NOT NULL AND char_length(q) > 50 THEN
        PERFORM problem(422, 'q', 'q must be at most 50 characters');
    END IF;
    IF want_status IS NOT NULL AND want_status NOT IN ('active', 'suspended') THEN
        PERFORM problem(422, 'status', 'status must be active or suspended');
    END IF;

    paths := ARRAY(SELECT DISTINCT p FROM authz_unit_paths(actor, 'coordinator') p);
    everything := '/' = ANY (paths);
    IF NOT everything THEN
        -- The teams reached: team grants (with sub-teams) and teams owned by a unit in a
        -- subtree held.  Few rows: teams are counted in hundreds per district.
        teams := ARRAY(SELECT authz_team_ids(actor, 'coordinator')
                       UNION
                       SELECT t.id FROM teams t JOIN org_units u ON u.id = t.org_unit_id
                        WHERE EXISTS (SELECT 1 FROM unnest(paths) p
                                       WHERE u.path >= p AND u.path < left(p, -1) || '0'));
        cond := cond || ' AND (v.org_unit_id IN (SELECT u.id FROM org_units u, unnest($1) p'
                     || ' WHERE u.path >= p AND u.path < left(p, -1) || ''0'')'
                     || ' OR v.id IN (SELECT m.volunteer_id FROM team_members m WHERE m.team_id = ANY ($2)))';
    END IF;
    IF unit IS NOT NULL THEN
        cond := cond || ' AND v.org_unit_id IN (SELECT s.id FROM org_unit_subtree($3) s)';
    END IF;
    IF team IS NOT NULL THEN
        cond := cond || ' AND v.id IN (SELECT m.volunteer_id FROM team_members m WHERE m.team_id = $4)';
    END IF;
    IF want_status IS NOT NULL THEN
        cond := cond || ' AND v.status = $5';
    END IF;
    IF q ~ '^[Vv][0-9]{4,}$' THEN
        q := upper(q);
        cond := cond || ' AND v.volunteer_no = $6';
    ELSIF q ~ '^\+?[0-9]{3,20}$' THEN
        cond := cond || ' AND v.phone LIKE ' || quote_literal(q || '%');
    ELSIF q IS NOT NULL THEN
        cond := cond || ' AND v.name LIKE '
                     || quote_literal(replace(replace(replace(q, '\', '\\'), '%', '\%'), '_', '\_') || '%');
    END IF;

    EXECUTE 'SELECT jsonb_agg(volunteer_json(v) ORDER BY v.id) FROM ('
            || 'SELECT * FROM volunteers v WHERE v.id > $7' || cond
            || ' ORDER BY v.id LIMIT $8) v'
       INTO items
      USING paths, teams, unit, team, want_status, q, cur, lim + 1;
    RETURN page(coalesce(items, '[]'::jsonb), lim);
END
$$;

--------------------------------------------------------------------------------------------
-- PATCH /volunteers/{id}
--------------------------------------------------------------------------------------------

CREATE FUNCTION api.volunteer_update(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    vid bigint := arg_id(args, 'id');
    level int := authz_volunteer_level(actor, vid);
    staff_field text;
    old volunteers;
    v volunteers;
    new_unit bigint := arg_id(args, 'org_unit_id');
    account bigint;
BEGIN
    PERFORM authz_require(level, 'volunteer', 'volunteer');
    IF level < role_level('coordinator') THEN
        SELECT f INTO staff_field
          FROM unnest(ARRAY['phone', 'org_unit_id', 'id_number_enc', 'id_number_clear', 'status',
                            'password_hash']) f
         WHERE args ? f LIMIT 1;
        IF staff_field IS NOT NULL THEN
            staff_field := CASE WHEN staff_field LIKE 'id_number%' THEN 'id_number'
                                WHEN staff_field = 'password_hash' THEN 'password'
                                ELSE staff_field END;
            PERFORM problem(403, staff_field, 'only a coordinator or an administrator may change ' || staff_field);
        END IF;
    END IF;
    SELECT * INTO old FROM volunteers WHERE volunteers.id = vid FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'volunteer not found');
    END IF;
    IF new_unit IS NOT NULL AND new_unit <> old.org_unit_id
       AND authz_level(actor, new_unit, NULL) < role_level('coordinator') THEN
        PERFORM problem(422, 'org_unit_id', 'no such org unit in your scope');
    END IF;
    IF args ? 'birth_date' THEN
        PERFORM volunteer_check_birth_date((args ->> 'birth_date')::date);
    END IF;
    IF args ? 'phone' AND args ->> 'phone' <> old.phone THEN
        PERFORM volunteer_check_login_free(args ->> 'phone', old.id);
    END IF;

    UPDATE volunteers u SET
        name = CASE WHEN args ? 'name' THEN btrim(args ->> 'name') ELSE u.name END,
        phone = coalesce(args ->> 'phone', u.phone),
        gender = CASE WHEN args ? 'gender' THEN args ->> 'gender' ELSE u.gender END,
        birth_date = CASE WHEN args ? 'birth_date' THEN (args ->> 'birth_date')::date ELSE u.birth_date END,
        work_unit = CASE WHEN args ? 'work_unit' THEN arg_text(args, 'work_unit') ELSE u.work_unit END,
        party_member = coalesce((args ->> 'party_member')::boolean, u.party_member),
        skills = CASE WHEN args ? 'skills' THEN volunteer_skills(args -> 'skills') ELSE u.skills END,
        org_unit_id = coalesce(new_unit, u.org_unit_id),
        status = coalesce(args ->> 'status', u.status),
        id_number_enc = CASE WHEN args ? 'id_number_enc' THEN decode(args ->> 'id_number_enc', 'hex')
                             WHEN args ? 'id_number_clear' THEN NULL ELSE u.id_number_enc END,
        id_number_hmac = CASE WHEN args ? 'id_number_enc' THEN decode(args ->> 'id_number_hmac', 'hex')
                              WHEN args ? 'id_number_clear' THEN NULL ELSE u.id_number_hmac END,
        id_number_masked = CASE WHEN args ? 'id_number_enc' THEN args ->> 'id_number_masked'
                                WHEN args ? 'id_number_clear' THEN NULL ELSE u.id_number_masked END
     WHERE u.id = old.id
    RETURNING * INTO v;

    IF v.phone <> old.phone THEN
        UPDATE accounts SET login = v.phone WHERE volunteer_id = v.id AND lower(login) = lower(old.phone);
    END IF;
    IF volunteer_audit_json(v) IS DISTINCT FROM volunteer_audit_json(old) THEN
        PERFORM audit('update', 'volunteer', v.id, volunteer_audit_json(old), volunteer_audit_json(v));
    END IF;

    IF args ? 'password_hash' THEN
        UPDATE accounts SET password_hash = args ->> 'password_hash', password_changed_at = now()
         WHERE volunteer_id = v.id
        RETURNING accounts.id INTO account;
        IF account IS NULL THEN
            PERFORM volunteer_check_login_free(v.phone, v.id);
            INSERT INTO accounts (login, password_hash, volunteer_id)
            VALUES (v.phone, args ->> 'password_hash', v.id)
            RETURNING accounts.id INTO account;
            PERFORM audit('create', 'account', account, NULL,
                          jsonb_build_object('login', v.phone, 'volunteer_id', v.id));
        ELSE
            DELETE FROM sessions WHERE account_id = account;  -- a reset ends every session
            PERFORM audit('password_set', 'account', account, NULL, NULL);
        END IF;
    END IF;
    RETURN volunteer_json(v);
END
$$;
