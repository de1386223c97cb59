-- 0016_coordinators_and_accounts.sql: a team's coordinator registers new volunteers into the team;
-- a coordinator finds a walk-in for the roster by phone, volunteer or ID number; every user
-- changes their own password, sees and ends their own sessions, and takes a copy of their data.

--------------------------------------------------------------------------------------------
-- POST /volunteers with team_id
--------------------------------------------------------------------------------------------

-- Until now POST /volunteers by staff needed a coordinator grant over the new volunteer's home
-- org unit.  A team leader whose only grant is on the team (DESIGN §2: coordinators are team
-- leaders and community staff) got 404 for every unit, and could not sign up a newcomer at the
-- gate.  The body may now name `team_id`:
--
--   * the caller must be a coordinator over that team (its grant on the team or a parent team,
--     or on a unit owning the team): 404 when the team is out of reach, 403 for a weaker role;
--   * the home unit must lie in the team's area or in the caller's own unit scope, the same
--     recruiting rule as POST /teams/{id}/members; otherwise 422 naming org_unit_id;
--   * the volunteer joins the team as a member in the same transaction (audited 'member_add'
--     on the team), so the coordinator reaches the record afterwards through the team;
--   * without a login (self-registration) `team_id` is 403 naming it: a team takes members
--     through its coordinator.
--
-- Without `team_id` nothing changes: staff need a coordinator grant over org_unit_id.

CREATE OR REPLACE FUNCTION api.volunteer_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    unit bigint := arg_id(args, 'org_unit_id');
    team teams;
    v volunteers;
    m team_members;
    account bigint;
BEGIN
    IF coalesce(actor, 0) = 0 THEN
        IF args ? 'team_id' THEN
            PERFORM problem(403, 'team_id', 'a team takes members through its coordinator; register without team_id');
        END IF;
    ELSE
        -- Registration by staff: scope first, so that a unit or team outside it (existing or
        -- not) is the same 404.
        IF NOT volunteer_actor_is_staff(actor) THEN
            PERFORM problem(403, NULL, 'only a coordinator or an administrator registers other volunteers; log out to register yourself');
        END IF;
        IF args ? 'team_id' THEN
            SELECT * INTO team FROM teams WHERE id = arg_id(args, 'team_id');
            IF NOT FOUND THEN
                PERFORM problem(404, NULL, 'team not found');
            END IF;
            PERFORM authz_require(registry_team_level(actor, team.id), 'coordinator', 'team');
            IF NOT (org_unit_covers(team.org_unit_id, unit)
                    OR authz_level(actor, unit, NULL) >= role_level('coordinator')) THEN
                PERFORM problem(422, 'org_unit_id', 'must be a unit in the team''s area or in your scope');
            END IF;
        ELSE
            PERFORM authz_require(authz_level(actor, unit, NULL), 'coordinator', 'org unit');
        END IF;
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

    IF team.id IS NOT NULL THEN
        INSERT INTO team_members (team_id, volunteer_id, role)
        VALUES (team.id, v.id, 'member')
        RETURNING * INTO m;
        PERFORM audit('member_add', 'team', team.id, NULL, team_member_json(m));
    END IF;

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
-- The roster's walk-in form
--------------------------------------------------------------------------------------------

-- The roster's walk-in form (POST /console/events/{id}, action=walkin): the volunteer whose
-- phone, volunteer number or ID number is given, for a coordinator of the event, who may
-- check any volunteer in (attendance_who); the check-in itself then goes through the API's
-- path, with the event's rules for walk-ins.  An ID number arrives only as its blind index
-- (`id_hmac`, made by the server as at registration), anything else as typed (`who`).  Exact
-- matches only (all three are unique; a volunteer number starts with V, a phone with a
-- digit), so a mistyped digit finds nobody rather than somebody else.
CREATE FUNCTION api.page_walkin(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    e events := event_get(arg_id(args, 'event_id'));
    who text := upper(btrim(coalesce(args ->> 'who', '')));
    hit jsonb;
BEGIN
    PERFORM authz_event_write(actor, e.org_unit_id, e.team_id, 'event');
    IF args ? 'id_hmac' THEN
        SELECT jsonb_build_object('volunteer_id', v.id, 'name', v.name) INTO hit
          FROM volunteers v WHERE v.id_number_hmac = decode(args ->> 'id_hmac', 'hex');
    ELSE
        SELECT jsonb_build_object('volunteer_id', v.id, 'name', v.name) INTO hit
          FROM volunteers v WHERE v.phone = who OR v.volunteer_no = who;
    END IF;
    IF hit IS NULL THEN
        PERFORM problem(422, 'who', 'no volunteer has this phone number, volunteer number or ID number');
    END IF;
    RETURN hit;
END
$$;

--------------------------------------------------------------------------------------------
-- One's own password and sessions
--------------------------------------------------------------------------------------------

-- POST /api/v1/me/password, step 1: the caller's login and hash, with the log-in throttle's
-- state for that login and address (server/h_password.c).  A wrong current password is then
-- counted by login_fail, as a failed log-in: this form is no way around the brute-force limit.
CREATE FUNCTION password_lookup(account bigint, ip inet)
RETURNS TABLE (login text, password_hash text, retry_after int)
LANGUAGE sql STABLE AS $$
    SELECT a.login, l.password_hash, l.retry_after
      FROM accounts a CROSS JOIN LATERAL login_lookup(a.login, ip) l
     WHERE a.id = account AND NOT a.disabled
$$;

-- Every session of the account but `keep` (the caller's) ends, audited when there were any;
-- the sessions' trigger tells every worker to drop them from its cache.
CREATE FUNCTION sessions_end_others(account bigint, keep bytea, ip inet, rid text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    ended int;
BEGIN
    PERFORM set_config('vd.actor', account::text, true),
            set_config('vd.ip', coalesce(host(ip), ''), true),
            set_config('vd.rid', coalesce(rid, ''), true);
    DELETE FROM sessions WHERE account_id = account AND token_hash <> keep;
    GET DIAGNOSTICS ended = ROW_COUNT;
    IF ended > 0 THEN
        PERFORM audit('sessions_ended', 'account', account, NULL,
                      jsonb_build_object('sessions_ended', ended));
    END IF;
    RETURN ended;
END
$$;

-- Step 3: the new hash, only if the stored one is still the hash the current password was
-- verified against (of two changes at once, the second gets 409), then the end of every other
-- session of the account (ASVS 3.3.3).  -> the number of sessions ended.
CREATE FUNCTION password_change(account bigint, verified_hash text, new_hash text, keep bytea,
                                ip inet, rid text) RETURNS int
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('vd.actor', account::text, true),
            set_config('vd.ip', coalesce(host(ip), ''), true),
            set_config('vd.rid', coalesce(rid, ''), true);
    UPDATE accounts SET password_hash = new_hash, password_changed_at = now()
     WHERE id = account AND password_hash = verified_hash AND NOT disabled;
    IF NOT FOUND THEN
        PERFORM problem(409, NULL, 'the password was changed at the same moment by another request: if it was yours, the change is done');
    END IF;
    PERFORM audit('password_set', 'account', account, NULL, NULL);
    RETURN sessions_end_others(account, keep, ip, rid);
END
$$;

-- GET /api/v1/me/sessions: the account's live sessions (the idle and absolute limits of
-- session_resolve), newest first; `current` marks the caller's.  No token hash leaves.
CREATE FUNCTION sessions_json(account bigint, current_hash bytea, idle_minutes int) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object(
               'created_at', s.created_at, 'last_seen_at', s.last_seen_at,
               'expires_at', s.expires_at, 'ip', host(s.ip), 'user_agent', s.user_agent,
               'current', s.token_hash = current_hash) ORDER BY s.created_at DESC), '[]'::jsonb))
      FROM sessions s
     WHERE s.account_id = account AND s.expires_at > now()
       AND s.last_seen_at > now() - make_interval(mins => idle_minutes)
$$;

--------------------------------------------------------------------------------------------
-- One's own data
--------------------------------------------------------------------------------------------

-- An event as a volunteer's own records name it.
CREATE FUNCTION me_event_json(event bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', e.id, 'title', ac.title, 'location', ac.location,
                              'starts_at', e.starts_at, 'ends_at', e.ends_at)
      FROM events e JOIN activities ac ON ac.id = e.activity_id
     WHERE e.id = event
$$;

-- GET /api/v1/me/data: everything the server holds about the caller, as one document to keep
-- (PIPL Art. 45, ASVS 8.3.2): the account, the volunteer record (the ID number only masked,
-- as everywhere), homes over time, teams, sign-ups, attendances and hour entries with their
-- events, correction requests, live sessions and the account's own security events (log-ins,
-- failed log-ins, password changes).  Records of other people are never in it: what staff
-- did to others stays in the audit trail, for administrators.
CREATE FUNCTION api.me_data(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'exported_at', now(),
        'account', account_json(a.id) || jsonb_build_object(
            'created_at', a.created_at, 'last_login_at', a.last_login_at,
            'password_changed_at', a.password_changed_at),
        'volunteer', (SELECT volunteer_json(v) FROM volunteers v WHERE v.id = a.volunteer_id),
        'homes', coalesce((SELECT jsonb_agg(jsonb_build_object(
                      'org_unit_id', h.org_unit_id, 'valid_from', h.valid_from, 'valid_to', h.valid_to)
                      ORDER BY h.valid_from)
                 FROM volunteer_home_history h WHERE h.volunteer_id = a.volunteer_id), '[]'),
        'signups', coalesce((SELECT jsonb_agg(signup_json(s) || jsonb_build_object('event', me_event_json(s.event_id))
                                              ORDER BY s.created_at)
                               FROM signups s WHERE s.volunteer_id = a.volunteer_id), '[]'),
        'attendances', coalesce((SELECT jsonb_agg(attendance_json(t) || jsonb_build_object('event', me_event_json(t.event_id))
                                                  ORDER BY t.check_in_at)
                                   FROM attendances t WHERE t.volunteer_id = a.volunteer_id), '[]'),
        'hour_entries', coalesce((SELECT jsonb_agg(entry_json(h) ORDER BY h.started_at, h.id)
                        FROM hour_entries h WHERE h.volunteer_id = a.volunteer_id), '[]'),
        'correction_requests', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                   'id', c.id, 'entry_id', c.entry_id, 'event_id', c.event_id,
                                   'message', c.message, 'status', c.status, 'resolution', c.resolution,
                                   'created_at', c.created_at, 'resolved_at', c.resolved_at)
                                   ORDER BY c.created_at)
                              FROM correction_requests c WHERE c.volunteer_id = a.volunteer_id), '[]'),
        'sessions', sessions_json(a.id, NULL, (args ->> 'idle_minutes')::int) -> 'items',
        'security_events', coalesce((SELECT jsonb_agg(jsonb_build_object(
                               'at', l.at, 'action', l.action, 'ip', host(l.ip)) ORDER BY l.id)
                          FROM audit_log l
                         WHERE l.entity = 'account' AND l.entity_id = a.id
                           AND l.action IN ('login', 'login_failed', 'password_set', 'sessions_ended')), '[]'))
      FROM accounts a WHERE a.id = actor
$$;
