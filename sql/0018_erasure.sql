-- 0018_erasure.sql: a volunteer's personal data erased on request (PIPL Art. 47; MIIT's rule
-- that an account can be cancelled, 注销).  An administrator over the volunteer's home unit
-- erases it (DELETE /api/v1/volunteers/{id}), or the volunteer does, confirming with their
-- password (POST /api/v1/me/erase, and a form on /me).
--
-- What goes: the name (the volunteer number takes its place), phone, ID number, gender, birth
-- date, work unit, skills; the log-in (the account is disabled and can never log in again),
-- its sessions, throttle counters and stored Idempotency-Key answers; the network addresses
-- of the person's check-ins and of their own actions; the same fields in the audit trail's
-- snapshots and in the certificates issued (which are revoked); and the places held at events
-- still to come.  What stays, under the volunteer number: the hours (attendances, the ledger,
-- the monthly figures, which do not change), past sign-ups, team memberships, and the audit
-- trail's record of who did what and when.  The record is then frozen: no update, and the
-- phone and ID number are free for a new registration.

--------------------------------------------------------------------------------------------
-- The schema
--------------------------------------------------------------------------------------------

-- An erased volunteer has no phone; every other has one.  NOT VALID then VALIDATE, so that
-- the scan of a big table does not hold its exclusive lock.
ALTER TABLE volunteers ALTER COLUMN phone DROP NOT NULL;
ALTER TABLE volunteers DROP CONSTRAINT volunteers_status_check;
ALTER TABLE volunteers ADD CONSTRAINT volunteers_status_check
    CHECK (status IN ('active', 'suspended', 'erased')) NOT VALID;
ALTER TABLE volunteers ADD CONSTRAINT volunteers_erased_check
    CHECK ((status = 'erased') = (phone IS NULL)
           AND (status <> 'erased'
                OR num_nonnulls(id_number_enc, gender, birth_date, work_unit) = 0)) NOT VALID;
ALTER TABLE volunteers VALIDATE CONSTRAINT volunteers_status_check;
ALTER TABLE volunteers VALIDATE CONSTRAINT volunteers_erased_check;

-- The erasure is the one change allowed to the append-only audit trail, and only to its
-- recorded values (the address and the snapshots): who did what to which entity, and when,
-- stays.  vd.erasing is set by volunteer_erase_data alone, for its own transaction.
CREATE FUNCTION audit_log_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('vd.erasing', true) = 'on'
       AND (NEW.id, NEW.at, NEW.account_id, NEW.action, NEW.entity, NEW.entity_id, NEW.request_id)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.at, OLD.account_id, OLD.action, OLD.entity, OLD.entity_id, OLD.request_id) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'VD409', CONSTRAINT = TG_TABLE_NAME || '_append_only';
END $$;
DROP TRIGGER audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard();

-- An erased record is frozen: nothing may bring personal data back into it.
CREATE FUNCTION volunteers_erased_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'erased' THEN
        PERFORM problem(409, NULL, 'this volunteer''s personal data has been erased; only the service hours are kept');
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER volunteers_erased_frozen BEFORE UPDATE ON volunteers
    FOR EACH ROW EXECUTE FUNCTION volunteers_erased_frozen();

--------------------------------------------------------------------------------------------
-- The erasure
--------------------------------------------------------------------------------------------

-- The keys of personal data in the audit trail's snapshots (volunteer_audit_json, the
-- accounts' and the attendances' snapshots).
CREATE FUNCTION erasable_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['name', 'phone', 'id_number', 'gender', 'birth_date', 'work_unit', 'skills',
                 'party_member', 'login', 'ip', 'user_agent']
$$;

-- Erase volunteer vid (locked, not yet erased; the caller has authorized it and set the audit
-- context).  A staff account is not erased while it holds roles: those are revoked first, by
-- an administrator, so that nobody's access disappears as a side effect.  -> the record.
CREATE FUNCTION volunteer_erase_data(vid bigint) RETURNS volunteers
LANGUAGE plpgsql AS $$
DECLARE
    v volunteers;
    acc accounts;
    s signups;
BEGIN
    SELECT * INTO acc FROM accounts a WHERE a.volunteer_id = vid FOR UPDATE;
    IF acc.id IS NOT NULL
       AND EXISTS (SELECT 1 FROM role_grants g WHERE g.account_id = acc.id AND g.role <> 'volunteer') THEN
        PERFORM problem(409, NULL, 'the account holds staff roles: an administrator revokes them first');
    END IF;
    PERFORM set_config('vd.erasing', 'on', true);

    -- Places held at events still to come are given up (the waitlist moves up), as a
    -- cancellation would; past sign-ups stay, as the record of who was expected.
    FOR s IN SELECT sg.* FROM signups sg JOIN events e ON e.id = sg.event_id
              WHERE sg.volunteer_id = vid AND sg.status <> 'cancelled' AND e.starts_at > now()
              ORDER BY sg.event_id LOOP
        PERFORM 1 FROM events WHERE id = s.event_id FOR NO KEY UPDATE;
        UPDATE signups SET status = 'cancelled' WHERE event_id = s.event_id AND volunteer_id = vid;
        PERFORM audit('cancel', 'signup', s.event_id, signup_json(s),
                      jsonb_build_object('volunteer_id', vid, 'status', 'cancelled'));
        IF s.status = 'confirmed' THEN
            PERFORM signups_promote(s.event_id);
        END IF;
    END LOOP;

    UPDATE attendances SET ip = NULL WHERE volunteer_id = vid AND ip IS NOT NULL;
    -- A certificate names the person: it is revoked, and its check shows it without them.
    UPDATE certificates SET revoked_at = coalesce(revoked_at, now()),
           content = jsonb_set(content, '{volunteer}', (content -> 'volunteer') - erasable_keys())
     WHERE volunteer_id = vid;
    UPDATE audit_log SET ip = NULL, old = old - erasable_keys(), new = new - erasable_keys()
     WHERE (entity = 'volunteer' AND entity_id = vid)
        OR (entity = 'attendance'
            AND entity_id IN (SELECT a.id FROM attendances a WHERE a.volunteer_id = vid));
    IF acc.id IS NOT NULL THEN
        UPDATE audit_log SET ip = NULL, old = old - erasable_keys(), new = new - erasable_keys()
         WHERE entity = 'account' AND entity_id = acc.id;
        -- What they did to others keeps its snapshots (those are the others' records); only
        -- the address they did it from goes.
        UPDATE audit_log SET ip = NULL WHERE account_id = acc.id AND ip IS NOT NULL;
        DELETE FROM sessions WHERE account_id = acc.id;
        DELETE FROM login_attempts WHERE key = 'login:' || lower(acc.login);
        DELETE FROM idempotency_keys WHERE scope = 'account:' || acc.id;
        -- '!' is no PHC string: no password verifies against it.
        UPDATE accounts SET login = 'erased-' || acc.id, password_hash = '!', disabled = true
         WHERE id = acc.id;
    END IF;

    -- The last change the trigger lets through: its OLD row is not yet erased.
    UPDATE volunteers SET name = volunteer_no, phone = NULL, id_number_enc = NULL,
           id_number_hmac = NULL, id_number_masked = NULL, gender = NULL, birth_date = NULL,
           work_unit = NULL, party_member = false, skills = '{}', status = 'erased'
     WHERE id = vid
    RETURNING * INTO v;
    IF acc.id IS NOT NULL AND ctx_actor() = acc.id THEN
        PERFORM set_config('vd.ip', '', true); -- their own request: its address is not kept either
    END IF;
    PERFORM audit('erase', 'volunteer', vid, NULL,
                  jsonb_build_object('volunteer_no', v.volunteer_no, 'account_id', acc.id));
    PERFORM set_config('vd.erasing', '', true);
    RETURN v;
END
$$;

-- DELETE /api/v1/volunteers/{id}: an administrator over the volunteer's home unit erases the
-- personal data (a coordinator may not: 403).  Erasing an erased record again changes nothing.
-- -> the volunteer as it now reads.
CREATE FUNCTION api.volunteer_erase(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    vid bigint := arg_id(args, 'id');
    v volunteers;
BEGIN
    PERFORM authz_require(authz_volunteer_level(actor, vid), 'admin', 'volunteer');
    SELECT * INTO v FROM volunteers WHERE id = vid FOR UPDATE;
    IF v.status <> 'erased' THEN
        v := volunteer_erase_data(vid);
    END IF;
    RETURN volunteer_json(v);
END
$$;

-- POST /api/v1/me/erase, the last step (server/h_password.c): the caller's password was
-- verified against verified_hash, which must still be the account's.  A staff account
-- without a volunteer record has nothing to erase here: an administrator disables it.
-- -> {"volunteer_no", "erased": true}.
CREATE FUNCTION me_erase(account bigint, verified_hash text, ip inet, rid text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    vid bigint;
    v volunteers;
BEGIN
    PERFORM set_config('vd.actor', account::text, true),
            set_config('vd.ip', coalesce(host(ip), ''), true),
            set_config('vd.rid', coalesce(rid, ''), true);
    SELECT a.volunteer_id INTO vid FROM accounts a
     WHERE a.id = account AND a.password_hash = verified_hash AND NOT a.disabled;
    IF NOT FOUND THEN
        PERFORM problem(409, NULL, 'the password was changed at the same moment by another request; try again');
    END IF;
    IF vid IS NULL THEN
        PERFORM problem(409, NULL, 'this account has no volunteer record to erase; an administrator can disable it');
    END IF;
    PERFORM 1 FROM volunteers WHERE id = vid FOR UPDATE;
    v := volunteer_erase_data(vid);
    RETURN jsonb_build_object('volunteer_no', v.volunteer_no, 'erased', true);
END
$$;
