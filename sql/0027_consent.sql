-- 0027_consent.sql: the separate consent to keep a volunteer's ID number (PIPL Art. 28-29: an
-- ID number is sensitive personal information, processed only with the person's separate
-- consent; ../shared/research/reliability-security-anchors.md R44), recorded when it is given,
-- shown to the volunteer, and withdrawn by them, which removes the number.
--
--   * Self-registration (POST /volunteers without a login, and /register) with an ID number
--     needs `consent_id_number: true`, else 422 naming it (the C handler refuses first, and
--     adds the version of the notice the person agreed to as `id_consent_notice`).  Recorded
--     as method `self` with that version.
--   * Staff (POST /volunteers, or PATCH /volunteers/{id} with id_number) enter a number from a
--     paper form, where the person agreed: not refused, recorded as method `staff`, attested by
--     the staff account (given_by).  A number replaced by staff closes the old record as
--     `replaced`.
--   * Withdrawal: PATCH /volunteers/{id} {"id_number": null} by the volunteer themself (until
--     now a staff-only field: removing is now their own, setting stays staff-only) or by staff.
--     The number goes (ciphertext, blind index, mask), the record is closed (withdrawn_at, how,
--     by whom) and the trail has an 'id_consent_withdraw' row on the volunteer.
--   * Erasure (0018) closes it as `erased`.  The record holds nothing personal (the volunteer id
--     is the pseudonymous key the hours keep too, the accounts are who acted), so it stays,
--     with its times, as the proof of what was agreed and when.
--
-- Numbers stored before this migration have no record: nothing here pretends a consent.
-- At most one record per volunteer is live (not withdrawn); it is live exactly while the
-- number it covers is stored.

CREATE TABLE id_number_consents (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    volunteer_id   bigint NOT NULL REFERENCES volunteers,
    method         text NOT NULL CONSTRAINT id_number_consents_method_check
                       CHECK (method IN ('self', 'staff')),
    notice_version text CONSTRAINT id_number_consents_notice_version_check
                       CHECK (char_length(notice_version) BETWEEN 1 AND 40),
    given_at       timestamptz NOT NULL DEFAULT now(),
    given_by       bigint REFERENCES accounts,
    withdrawn_at   timestamptz,
    withdrawn_how  text CONSTRAINT id_number_consents_withdrawn_how_check
                       CHECK (withdrawn_how IN ('self', 'staff', 'replaced', 'erased')),
    withdrawn_by   bigint REFERENCES accounts,
    -- the person saw a notice (its version), or staff attest a paper form
    CONSTRAINT id_number_consents_source_check
        CHECK (CASE method WHEN 'self' THEN notice_version IS NOT NULL ELSE given_by IS NOT NULL END),
    CONSTRAINT id_number_consents_withdrawn_check
        CHECK ((withdrawn_at IS NULL) = (withdrawn_how IS NULL))
);
CREATE INDEX id_number_consents_volunteer_id_idx ON id_number_consents (volunteer_id, id);
CREATE UNIQUE INDEX id_number_consents_live_key ON id_number_consents (volunteer_id)
    WHERE withdrawn_at IS NULL;

-- What a volunteer (GET /me) and the trail see of a record.
CREATE FUNCTION id_consent_json(c id_number_consents) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN c.id IS NOT NULL THEN jsonb_build_object(
        'method', c.method, 'notice_version', c.notice_version, 'given_at', c.given_at,
        'withdrawn_at', c.withdrawn_at, 'withdrawn_how', c.withdrawn_how) END
$$;

-- The volunteer's latest record, live or withdrawn (NULL: none).
CREATE FUNCTION id_consent_latest(vid bigint) RETURNS id_number_consents
LANGUAGE sql STABLE AS $$
    SELECT c.* FROM id_number_consents c WHERE c.volunteer_id = vid ORDER BY c.id DESC LIMIT 1
$$;

-- Close vid's live record, if any: how it ended, and by whom (the request's account), audited.
CREATE FUNCTION id_consent_close(vid bigint, how text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c id_number_consents;
BEGIN
    UPDATE id_number_consents k SET withdrawn_at = now(), withdrawn_how = how, withdrawn_by = ctx_actor()
     WHERE k.volunteer_id = vid AND k.withdrawn_at IS NULL
    RETURNING * INTO c;
    IF c.id IS NOT NULL THEN
        PERFORM audit('id_consent_withdraw', 'volunteer', vid, NULL, id_consent_json(c));
    END IF;
END
$$;

-- Record the consent for the number just stored for vid: `self` with the notice's version, or
-- `staff`, attested by the request's account.
CREATE FUNCTION id_consent_give(vid bigint, method text, notice text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c id_number_consents;
BEGIN
    PERFORM id_consent_close(vid, 'replaced');
    INSERT INTO id_number_consents (volunteer_id, method, notice_version, given_by)
    VALUES (vid, method, CASE WHEN method = 'self' THEN notice END,
            CASE WHEN method = 'staff' THEN ctx_actor() END)
    RETURNING * INTO c;
    PERFORM audit('id_consent_give', 'volunteer', vid, NULL, id_consent_json(c));
END
$$;

-- The volunteer removes their own number (withdrawing the consent); the caller has authorized it.
CREATE FUNCTION volunteer_id_number_withdraw(vid bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    old volunteers;
    v volunteers;
BEGIN
    SELECT * INTO old FROM volunteers WHERE id = vid FOR UPDATE;
    IF old.id_number_hmac IS NULL THEN
        RETURN;
    END IF;
    UPDATE volunteers SET id_number_enc = NULL, id_number_hmac = NULL, id_number_masked = NULL
     WHERE id = vid
    RETURNING * INTO v;
    PERFORM audit('update', 'volunteer', vid, volunteer_audit_json(old), volunteer_audit_json(v));
    PERFORM id_consent_close(vid, 'self');
END
$$;

--------------------------------------------------------------------------------------------
-- POST /volunteers, PATCH /volunteers/{id}, the erasure: the earlier functions, wrapped
--------------------------------------------------------------------------------------------

ALTER FUNCTION api.volunteer_create(bigint, jsonb) RENAME TO volunteer_create_before_consent;
ALTER FUNCTION api.volunteer_create_before_consent(bigint, jsonb) SET SCHEMA public;
CREATE FUNCTION api.volunteer_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    self boolean := coalesce(actor, 0) = 0;
    v jsonb;
BEGIN
    IF self AND args ? 'id_number_enc' AND NOT coalesce((args ->> 'consent_id_number')::boolean, false) THEN
        PERFORM problem(422, 'consent_id_number', 'must be true to register with an ID number: keeping it needs its own, separate consent');
    END IF;
    v := volunteer_create_before_consent(actor, args);
    IF args ? 'id_number_enc' THEN
        PERFORM id_consent_give((v ->> 'id')::bigint, CASE WHEN self THEN 'self' ELSE 'staff' END,
                                args ->> 'id_consent_notice');
    END IF;
    RETURN v;
END
$$;

ALTER FUNCTION api.volunteer_update(bigint, jsonb) RENAME TO volunteer_update_before_consent;
ALTER FUNCTION api.volunteer_update_before_consent(bigint, jsonb) SET SCHEMA public;
CREATE FUNCTION api.volunteer_update(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    vid bigint := arg_id(args, 'id');
    level int := authz_volunteer_level(actor, vid);
    v jsonb;
BEGIN
    IF args ? 'id_number_clear' AND level < role_level('coordinator') THEN
        PERFORM authz_require(level, 'volunteer', 'volunteer');
        PERFORM volunteer_id_number_withdraw(vid);
        RETURN volunteer_update_before_consent(actor, args - 'id_number_clear');
    END IF;
    v := volunteer_update_before_consent(actor, args);
    IF args ? 'id_number_enc' THEN
        PERFORM id_consent_give(vid, 'staff', NULL);
    ELSIF args ? 'id_number_clear' THEN
        PERFORM id_consent_close(vid, 'staff');
    END IF;
    RETURN v;
END
$$;

ALTER FUNCTION volunteer_erase_data(bigint) RENAME TO volunteer_erase_data_before_consent;
CREATE FUNCTION volunteer_erase_data(vid bigint) RETURNS volunteers
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM id_consent_close(vid, 'erased');
    RETURN volunteer_erase_data_before_consent(vid);
END
$$;

--------------------------------------------------------------------------------------------
-- What the volunteer sees: GET /me, GET /me/data, the /me page
--------------------------------------------------------------------------------------------

ALTER FUNCTION api.me(bigint, jsonb) RENAME TO me_before_consent;
ALTER FUNCTION api.me_before_consent(bigint, jsonb) SET SCHEMA public;
CREATE FUNCTION api.me(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT d || jsonb_build_object('id_number_consent', id_consent_json(id_consent_latest(actor_volunteer(actor))))
      FROM me_before_consent(actor, args) d
$$;

ALTER FUNCTION api.me_data(bigint, jsonb) RENAME TO me_data_before_consent;
ALTER FUNCTION api.me_data_before_consent(bigint, jsonb) SET SCHEMA public;
CREATE FUNCTION api.me_data(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT d || jsonb_build_object('id_number_consents', coalesce((
                    SELECT jsonb_agg(id_consent_json(c) ORDER BY c.id)
                      FROM id_number_consents c WHERE c.volunteer_id = actor_volunteer(actor)), '[]'::jsonb))
      FROM me_data_before_consent(actor, args) d
$$;

-- The page's view: the masked number and the latest record, its times in local time.
ALTER FUNCTION api.page_me(bigint, jsonb) RENAME TO page_me_before_consent;
ALTER FUNCTION api.page_me_before_consent(bigint, jsonb) SET SCHEMA public;
CREATE FUNCTION api.page_me(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT d || CASE WHEN jsonb_typeof(d -> 'volunteer') = 'object' THEN jsonb_build_object(
                    'id_number', (SELECT v.id_number_masked FROM volunteers v WHERE v.id = actor_volunteer(actor)),
                    'id_number_consent', (SELECT jsonb_build_object(
                            'method', c.method, 'notice_version', c.notice_version,
                            'given', local_time(c.given_at), 'withdrawn', local_time(c.withdrawn_at),
                            'withdrawn_how', c.withdrawn_how)
                        FROM id_consent_latest(actor_volunteer(actor)) c WHERE c.id IS NOT NULL))
                ELSE '{}'::jsonb END
      FROM page_me_before_consent(actor, args) d
$$;
