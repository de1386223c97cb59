-- 0029_walkin_previous_key.sql: the console's walk-in lookup by ID number during a key
-- rotation.
--
-- Since 0026 a key rotation leaves the rows that `volunteerd rekey-ids` has not rewritten yet
-- with their blind index under the previous key, and 0016's api.page_walkin compared only the
-- current key's: between the restart with the new key and the end of rekey-ids, a coordinator
-- looking a walk-in up by ID number found nobody.  The server now also sends the number's
-- index under the previous key (`id_hmac_previous`) while it has one; the lookup takes either,
-- the current key's first.  The rest is 0016's function as it was.
CREATE OR REPLACE FUNCTION api.page_walkin(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    e events := event_get(arg_id(args, 'event_id'));
    who text := upper(btrim(coalesce(args ->> 'who', '')));
    hit jsonb;
BEGIN
    PERFORM authz_event_write(actor, e.org_unit_id, e.team_id, 'event');
    IF args ? 'id_hmac' THEN
        SELECT jsonb_build_object('volunteer_id', v.id, 'name', v.name) INTO hit
          FROM volunteers v
         WHERE v.id_number_hmac IN (decode(args ->> 'id_hmac', 'hex'),
                                    decode(args ->> 'id_hmac_previous', 'hex'))
         ORDER BY v.id_number_hmac = decode(args ->> 'id_hmac', 'hex') DESC
         LIMIT 1;
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
