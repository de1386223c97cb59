-- 0024_erased_volunteers.sql: an erased volunteer (0018) takes no new service, and their
-- correction requests lose their words.
--
-- Erasure keeps the record's service under its volunteer number and freezes the record, but a
-- coordinator could still check the number in at an event, backfill hours for it or enrol it
-- in a team: new service for a person who asked to leave, on a record nobody can tie to them.
-- A person who comes back registers again (their phone and ID number are free).  Corrections
-- of what was recorded before the erasure stay possible, so that reports can still be put
-- right.  (A sign-up was already refused: 0005 takes only active volunteers.)
--
-- Triggers rather than a check in each function, so that every way in is covered.  The one on
-- attendances fires only for a coordinator's check-in (method roster): a volunteer's own
-- check-in needs their log-in, which erasure disabled, and the batched self check-ins of the
-- hot path do not call it.  Its refusal fails the round's statement, and the round then runs
-- one by one (0013), so that only that item gets the 409.  What the WHEN costs a row that
-- does not fire it: 0.23 us (a million one-row INSERTs into a bare table, with and without
-- it, four alternating rounds), against about 185 us of PostgreSQL's CPU per check-in.

CREATE FUNCTION refuse_erased_volunteer() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM volunteers v WHERE v.id = NEW.volunteer_id AND v.status = 'erased') THEN
        PERFORM problem(409, 'volunteer_id',
                        'this volunteer''s personal data was erased at their request; '
                        'a person who comes back registers again');
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER attendances_not_erased BEFORE INSERT ON attendances
    FOR EACH ROW WHEN (NEW.method = 'roster') EXECUTE FUNCTION refuse_erased_volunteer();

-- A backfill or a self-report (no attendance behind it), not a correction of an entry.
CREATE TRIGGER hour_entries_not_erased BEFORE INSERT ON hour_entries
    FOR EACH ROW WHEN (NEW.attendance_id IS NULL AND NEW.corrects IS NULL)
    EXECUTE FUNCTION refuse_erased_volunteer();

CREATE TRIGGER team_members_not_erased BEFORE INSERT ON team_members
    FOR EACH ROW EXECUTE FUNCTION refuse_erased_volunteer();

-- The volunteer's own words in their correction requests (0009), and the organizer's notes
-- to them (0020), go with the rest of their personal data, from the requests and from the
-- audit trail's snapshots of them; what was asked about, and when, stays.  Run by the erasure
-- itself (0018's last UPDATE of the record), while it lets the audit trail be changed.
CREATE FUNCTION erase_correction_requests() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE correction_requests
       SET message = '（已应本人要求删除）',
           note = CASE WHEN note IS NULL THEN NULL ELSE '（已应本人要求删除）' END
     WHERE volunteer_id = NEW.id;
    -- (the table's columns old and new named through its alias: in a trigger OLD and NEW are
    -- the row being changed)
    UPDATE audit_log l SET old = l.old - ARRAY['message', 'note'], new = l.new - ARRAY['message', 'note']
     WHERE l.entity = 'correction_request'
       AND l.entity_id IN (SELECT c.id FROM correction_requests c WHERE c.volunteer_id = NEW.id);
    RETURN NULL;
END $$;

CREATE TRIGGER volunteers_erased_requests AFTER UPDATE OF status ON volunteers
    FOR EACH ROW WHEN (NEW.status = 'erased' AND OLD.status <> 'erased')
    EXECUTE FUNCTION erase_correction_requests();
