-- 0030_totp.sql: two-step verification (TOTP, RFC 6238) and step-up re-authentication (R19).
--
--   * account_totp: one enrollment per account.  The secret is stored sealed by the server
--     (AES-256-GCM under a key derived from the secret file, bound to the account id: see
--     common/totp.h); the database never sees it in clear.  confirmed_at is NULL until the
--     user has typed one right code; last_step is the latest 30-second step accepted, so a
--     code (or an older one) never works twice.
--   * sessions.mfa: the session was made, or upgraded, with a TOTP code.  sessions.auth_at: the
--     session's last authentication (its log-in, or POST /session/reauth), for the step-up
--     rule of VOLUNTEERD_ADMIN_MFA=required.
--   * session_resolve_info: session_resolve_many's answer with what the workers cache about
--     each session besides its account: mfa, auth_at and whether the account is an admin.
--     The caches drop a session when mfa or auth_at change (trigger below) and an account's
--     sessions when its admin grants change, as they do on a log-out (0008).
--   * The functions of the flows: log-in with a code, enrollment, confirmation, turning off
--     (one's own, or an administrator's clearing of another's), re-authentication.  Each
--     takes the step the server matched and accepts it only when later than last_step, in
--     the same statement that records it, so two requests with one code cannot both pass.

CREATE TABLE account_totp (
    account_id    bigint PRIMARY KEY CONSTRAINT account_totp_account_id_fkey
                      REFERENCES accounts (id) ON DELETE CASCADE,
    secret_sealed bytea NOT NULL CONSTRAINT account_totp_secret_sealed_check
                      CHECK (octet_length(secret_sealed) = 48),  -- nonce 12, secret 20, tag 16
    confirmed_at  timestamptz,
    last_step     bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE sessions
    ADD COLUMN mfa boolean NOT NULL DEFAULT false,
    ADD COLUMN auth_at timestamptz NOT NULL DEFAULT now();

-- What a worker caches about a session changed: it asks again (payload as 0008's).
CREATE TRIGGER sessions_reauthenticated AFTER UPDATE OF mfa, auth_at ON sessions
    FOR EACH ROW WHEN (NEW.mfa IS DISTINCT FROM OLD.mfa OR NEW.auth_at <> OLD.auth_at)
    EXECUTE FUNCTION sessions_notify_shortened();

-- An admin grant given or taken: the account's sessions are looked up again, so that
-- VOLUNTEERD_ADMIN_MFA=required applies to them at once.
CREATE FUNCTION role_grants_notify_admin() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    g role_grants := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
BEGIN
    IF g.role = 'admin' THEN
        PERFORM pg_notify('vd_sessions', 'a:' || g.account_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER role_grants_admin_changed AFTER INSERT OR DELETE ON role_grants
    FOR EACH ROW EXECUTE FUNCTION role_grants_notify_admin();

-- session_resolve_many (0014) with each live session's mfa, auth_at (Unix milliseconds) and
-- whether its account holds an admin grant.
CREATE FUNCTION session_resolve_info(hashes text[], idle_minutes int)
RETURNS TABLE (i int, account_id bigint, volunteer_id bigint, valid_ms bigint, mfa boolean,
               auth_at_ms bigint, admin boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    -- A look-up alone: its touch is bookkeeping, not a record (0008).
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN QUERY
    SELECT r.i, r.account_id, r.volunteer_id, r.valid_ms, s.mfa,
           floor(extract(epoch FROM s.auth_at) * 1000)::bigint,
           EXISTS (SELECT 1 FROM role_grants g WHERE g.account_id = r.account_id AND g.role = 'admin')
      FROM sessions_resolve_touch(hashes, idle_minutes) r
      JOIN sessions s ON s.token_hash = decode(hashes[r.i], 'hex');
END
$$;

-- The request context of the functions below, which are called outside api_call.
CREATE FUNCTION totp_ctx(account bigint, ip inet, rid text) RETURNS void
LANGUAGE sql AS $$
    SELECT set_config('vd.actor', account::text, true),
           set_config('vd.ip', coalesce(host(ip), ''), true),
           set_config('vd.rid', coalesce(rid, ''), true)
$$;

-- Whether account has two-step verification on (a confirmed enrollment).
CREATE FUNCTION totp_on(account bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM account_totp t WHERE t.account_id = account AND t.confirmed_at IS NOT NULL)
$$;

-- Take step as account's latest accepted step if it is later than the last one: true, or
-- false (a replayed or older code, or no confirmed enrollment).
CREATE FUNCTION totp_step_take(account bigint, step bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_totp SET last_step = step
     WHERE account_id = account AND confirmed_at IS NOT NULL AND last_step < step;
    RETURN FOUND;
END
$$;

-- Log-in with a code: login_succeed (0002), its session marked as made with a second factor;
-- NULL (nothing done) when the step was taken already.
CREATE FUNCTION login_succeed_totp(account bigint, step bigint, hash bytea, old_hash bytea,
                                   max_minutes int, ip inet, user_agent text, login text, rid text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    result jsonb;
BEGIN
    IF NOT totp_step_take(account, step) THEN
        RETURN NULL;
    END IF;
    result := login_succeed(account, hash, old_hash, max_minutes, ip, user_agent, login, rid);
    UPDATE sessions SET mfa = true WHERE token_hash = hash;
    RETURN result;
END
$$;

-- POST /me/totp: a new unconfirmed enrollment (replacing an unconfirmed one); 409 when one is
-- confirmed.  -> {"login"} (for the otpauth URI the server adds)
CREATE FUNCTION api.totp_enroll(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF totp_on(actor) THEN
        PERFORM problem(409, NULL, 'two-step verification is already on; turn it off first');
    END IF;
    INSERT INTO account_totp (account_id, secret_sealed)
    VALUES (actor, decode(args ->> 'secret_sealed', 'hex'))
    ON CONFLICT (account_id) DO UPDATE
       SET secret_sealed = excluded.secret_sealed, created_at = now(), last_step = 0;
    PERFORM audit('totp_enroll', 'account', actor, NULL, NULL);
    RETURN jsonb_build_object('login', (SELECT a.login FROM accounts a WHERE a.id = actor));
END
$$;

-- POST /me/totp/confirm: the code matched step (checked by the server against the sealed
-- secret it read); the enrollment is on, and the caller's session (token hash "session")
-- counts as made with a second factor.  409 when there is nothing to confirm.
CREATE FUNCTION api.totp_confirm(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    step bigint := (args ->> 'step')::bigint;
BEGIN
    UPDATE account_totp t SET confirmed_at = now(), last_step = step
     WHERE t.account_id = actor AND t.confirmed_at IS NULL AND t.last_step < step;
    IF NOT FOUND THEN
        PERFORM problem(409, NULL, 'no enrollment to confirm: start one with POST /api/v1/me/totp');
    END IF;
    UPDATE sessions s SET mfa = true, auth_at = now()
     WHERE s.token_hash = decode(args ->> 'session', 'hex') AND s.account_id = actor;
    PERFORM audit('totp_enrolled', 'account', actor, NULL, NULL);
    RETURN jsonb_build_object('totp', true, 'session', jsonb_build_object('mfa', true));
END
$$;

-- DELETE /me/totp, after the password and the code (step) were checked: off, and no session of
-- the account counts as made with a second factor any more.  409 when the step was taken.
CREATE FUNCTION api.totp_disable(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT totp_step_take(actor, (args ->> 'step')::bigint) THEN
        PERFORM problem(422, 'code', 'wrong or already used code');
    END IF;
    DELETE FROM account_totp WHERE account_id = actor;
    UPDATE sessions SET mfa = false WHERE account_id = actor AND mfa;
    PERFORM audit('totp_disabled', 'account', actor, NULL, NULL);
    RETURN '{}'::jsonb;
END
$$;

-- DELETE /accounts/{id}/totp (a system administrator; not for oneself, who has DELETE
-- /me/totp): the lost phone.  Idempotent: 204 whether or not there was an enrollment.
CREATE FUNCTION api.account_totp_clear(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    account bigint := arg_id(args, 'account_id');
BEGIN
    PERFORM authz_require(authz_level(actor, NULL, NULL), 'admin', 'account');
    IF NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = account) THEN
        PERFORM problem(404, NULL, 'account not found');
    END IF;
    IF account = actor THEN
        PERFORM problem(409, NULL, 'to turn off your own two-step verification use DELETE /api/v1/me/totp');
    END IF;
    DELETE FROM account_totp WHERE account_id = account;
    UPDATE sessions SET mfa = false WHERE account_id = account AND mfa;
    PERFORM audit('totp_cleared', 'account', account, NULL, NULL);
    RETURN '{}'::jsonb;
END
$$;

-- POST /session/reauth, after the password (and the code, step, when the account has TOTP)
-- were checked: the session's authentication is now.  false when the step was taken already.
CREATE FUNCTION session_reauth(hash bytea, account bigint, step bigint, ip inet, rid text)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM totp_ctx(account, ip, rid);
    IF step IS NOT NULL AND NOT totp_step_take(account, step) THEN
        RETURN false;
    END IF;
    UPDATE sessions SET auth_at = now(), mfa = mfa OR step IS NOT NULL
     WHERE token_hash = hash AND account_id = account;
    PERFORM audit('reauth', 'account', account, NULL, NULL);
    RETURN true;
END
$$;

-- GET /me: whether the account has two-step verification on.
ALTER FUNCTION api.me(bigint, jsonb) RENAME TO me_before_totp;
ALTER FUNCTION api.me_before_totp(bigint, jsonb) SET SCHEMA public;
CREATE FUNCTION api.me(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT d || jsonb_build_object('totp', totp_on(actor)) FROM me_before_totp(actor, args) d
$$;

-- The /me page: the same flag, for its two-step verification section.
ALTER FUNCTION api.page_me(bigint, jsonb) RENAME TO page_me_before_totp;
ALTER FUNCTION api.page_me_before_totp(bigint, jsonb) SET SCHEMA public;
CREATE FUNCTION api.page_me(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT d || jsonb_build_object('totp', totp_on(actor)) FROM page_me_before_totp(actor, args) d
$$;
