-- 0038_one_id_per_registration.sql: a registration with an ID number takes one volunteer id,
-- not two.
--
-- Since 0026 the server reserves a registration's id first (id_number_prepare: nextval of the
-- id's sequence) and binds the ciphertext to it; the INSERT then named no id, so the identity
-- default took a second number, which the trigger volunteers_reserved_id overwrote with the
-- reserved one (defaults are evaluated before BEFORE triggers run).  Every successful
-- registration with an ID number left a gap of one in volunteers.id (volunteer_no_seq was
-- not affected: its default runs once per INSERT).
--
-- Now the INSERT of POST /volunteers names its id: the one the ciphertext's header names
-- (what the server reserved), else the sequence's next.  The binding is unchanged: the same
-- ciphertext, the same CHECK that it names its row.  The trigger stays for any other INSERT
-- that names no id, and now checks the reservation also when the INSERT names the id, so that
-- an id ahead of the sequence (which a later registration would be given again) is still
-- refused.

-- As 0026, with the check made whenever the ciphertext names an id (a sequence never used has
-- reserved nothing).
CREATE OR REPLACE FUNCTION volunteers_reserved_id() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    reserved bigint := id_number_enc_volunteer(NEW.id_number_enc);
BEGIN
    IF reserved IS NULL THEN
        RETURN NEW;
    END IF;
    IF reserved > coalesce(pg_sequence_last_value(pg_get_serial_sequence('volunteers', 'id')::regclass), 0) THEN
        RAISE EXCEPTION 'volunteer id % was not reserved', reserved;
    END IF;
    NEW.id := reserved;
    RETURN NEW;
END $$;

-- As 0016 (renamed by 0027, which wraps it with the consent), with the INSERT naming the id.
CREATE OR REPLACE FUNCTION volunteer_create_before_consent(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    unit bigint := arg_id(args, 'org_unit_id');
    -- the id the server reserved and encrypted the ID number for; NULL without a number
    reserved bigint := id_number_enc_volunteer(decode(args ->> 'id_number_enc', 'hex'));
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

    -- OVERRIDING SYSTEM VALUE: the identity default is not evaluated, so the sequence moves
    -- only when no id was reserved.
    INSERT INTO volunteers (id, name, phone, id_number_enc, id_number_hmac, id_number_masked, gender,
                            birth_date, org_unit_id, work_unit, party_member, skills, created_by)
    OVERRIDING SYSTEM VALUE
    VALUES (coalesce(reserved, nextval(pg_get_serial_sequence('volunteers', 'id'))),
            btrim(args ->> 'name'), args ->> 'phone',
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
