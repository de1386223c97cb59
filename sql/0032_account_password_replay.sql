-- 0032: POST /accounts without a password honours its Idempotency-Key.
--
-- The server generates the password and shows it once.  Until now such a request was not
-- replayed at all (a stored answer must not hold the password in clear), so a retry after a
-- lost answer created nothing and said 409 (the login was taken), and the password was lost.
-- Now the server also sends the password sealed (AES-GCM under a key of its secret file,
-- bound to the login) as args.password_sealed; the answer carries it back, is stored with the
-- key as every answer is (and pruned with it), and the server opens it into "password" on
-- the first answer and on every replay.  The database never holds the password in clear.
ALTER FUNCTION api.account_create(bigint, jsonb) RENAME TO account_create_before_replay;

CREATE FUNCTION api.account_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT CASE WHEN args ? 'password_sealed'
                THEN a || jsonb_build_object('password_sealed', args -> 'password_sealed')
                ELSE a END
      FROM api.account_create_before_replay(actor, args - 'password_sealed') a
$$;
