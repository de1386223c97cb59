-- 0026_id_number_keys.sql: an ID number's ciphertext is bound to its volunteer and names its
-- key, so that keys can be rotated (R43; common/idnum.h has the stored form).
--
-- Until now the ciphertext (nonce || ciphertext || tag, 46 bytes) had a fixed label as
-- associated data: swapped between two rows, or copied onto another, it decrypted as the
-- other person's number.  The server now writes 59 bytes: format 2 || key id (4 bytes) ||
-- the volunteer's id (8 bytes, big-endian) || nonce || ciphertext || tag, with that header in
-- the associated data.  The server checks the binding when it decrypts; the database keeps it
-- too (the CHECK below), so that a swap or a copy is refused before anything reads it.
--
-- The id must be known before the encryption, but a registration's row gets its id from the
-- INSERT inside api.volunteer_create.  So the server reserves it first (id_number_prepare:
-- nextval of the id's sequence, one round trip, only for a registration that gives an ID
-- number), encrypts with it, and the INSERT takes it from the ciphertext's header
-- (volunteers_reserved_id).  Not a second step in the same transaction: api_call runs one
-- statement per transaction, and the server would have to hold a connection in a transaction
-- across a round trip.  And a trigger rather than a new api.volunteer_create: every way of
-- inserting a volunteer gets it, whichever migration defines that function last.  A
-- registration that fails leaves a gap in the ids, as any rolled-back INSERT does.  An update
-- knows its id from the path.
--
-- Rotation (VOLUNTEERD_SECRET_FILE_PREVIOUS, README): while the server has the previous key as
-- well, rows not yet rewritten by `volunteerd rekey-ids` hold the previous key's blind index,
-- which the unique index cannot compare with the current key's.  id_number_prepare then also
-- says whether another volunteer holds the number under the previous key (409).  That check
-- and the unique index together keep numbers unique throughout: a row rewritten between the
-- check and the INSERT holds the current key's index by then, which the INSERT meets.

-- The volunteer id named by a current-form ciphertext, else NULL (the older 46-byte form).
CREATE FUNCTION id_number_enc_volunteer(enc bytea) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN octet_length(enc) = 59 AND get_byte(enc, 0) = 2
                THEN ('x' || encode(substring(enc FROM 6 FOR 8), 'hex'))::bit(64)::bigint END
$$;

-- Every ciphertext is the older form or names its own row.
ALTER TABLE volunteers ADD CONSTRAINT volunteers_id_number_enc_volunteer
    CHECK (octet_length(id_number_enc) = 46 OR id_number_enc_volunteer(id_number_enc) = id);

-- A registration's row takes the id its ciphertext was made for, which the server reserved
-- (id_number_prepare) and so the sequence has handed out already; never one ahead of it,
-- which a later INSERT would be given again.
CREATE FUNCTION volunteers_reserved_id() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    reserved bigint := id_number_enc_volunteer(NEW.id_number_enc);
BEGIN
    IF reserved IS NOT NULL AND reserved <> NEW.id THEN
        IF reserved > pg_sequence_last_value(pg_get_serial_sequence('volunteers', 'id')::regclass) THEN
            RAISE EXCEPTION 'volunteer id % was not reserved', reserved;
        END IF;
        NEW.id := reserved;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER volunteers_reserved_id BEFORE INSERT ON volunteers
    FOR EACH ROW WHEN (NEW.id_number_enc IS NOT NULL) EXECUTE FUNCTION volunteers_reserved_id();

-- Before the server encrypts an ID number for a volunteer (volunteer: the id of an update,
-- NULL for a registration): the id to encrypt for (a registration's, reserved now), and
-- whether another volunteer holds the number under the previous key (previous_index: its
-- blind index under that key; NULL when no rotation is under way).
CREATE FUNCTION id_number_prepare(previous_index bytea, volunteer bigint)
RETURNS TABLE (volunteer_id bigint, taken boolean)
LANGUAGE sql AS $$
    SELECT coalesce(volunteer, nextval(pg_get_serial_sequence('volunteers', 'id'))),
           EXISTS (SELECT 1 FROM volunteers v
                    WHERE v.id_number_hmac = previous_index AND v.id IS DISTINCT FROM volunteer)
$$;

-- `volunteerd rekey-ids`: whether a stored form is to be rewritten, being the older form or
-- made by another key than the one whose prefix (format and key id) is given.
CREATE FUNCTION id_number_enc_stale(enc bytea, prefix bytea) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT id_number_enc_volunteer(enc) IS NULL
           OR substring(enc FROM 1 FOR octet_length(prefix)) <> prefix
$$;

-- `volunteerd rekey-ids`: one volunteer's ID number rewritten under the current key (the
-- server decrypted the stored form and made the new one and its blind index; the batch's
-- SELECT ... FOR UPDATE holds the row).  False, and nothing written, when another volunteer
-- holds that index already: two rows with one number, which only a server that did not yet
-- have the new key could have written during the rotation; settled by hand.
CREATE FUNCTION id_number_rekey(vid bigint, enc bytea, hmac bytea) RETURNS boolean
LANGUAGE sql AS $$
    WITH w AS (
        UPDATE volunteers v SET id_number_enc = enc, id_number_hmac = hmac
         WHERE v.id = vid
           AND NOT EXISTS (SELECT 1 FROM volunteers o WHERE o.id_number_hmac = hmac AND o.id <> vid)
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM w)
$$;
