-- 0039: the log-in throttle counts a login's failures per client address, and in all
-- (R17; ASVS 2.2.1).
--
-- Until now five failures of one login in a 15-minute window locked that login for everyone.
-- A volunteer's login is the phone number, so anyone who knew it could keep the volunteer (or a
-- coordinator, at the start of an event) out with five wrong passwords a quarter of an hour.
-- Now, in each 15-minute window (login_window(), 0002):
--   * five failures of a login from one client address lock that login from that address:
--     the usual guesser, and the usual forgetful user, see what they saw before;
--   * twenty failures of a login, from any addresses, lock the login for everyone: at most
--     100 failures in any hour (a span of 60 minutes meets five windows), R17's budget per
--     account;
--   * thirty failures from one client address, of any logins, lock the address (unchanged).
-- The answer stays the same whether or not the login exists.
--
-- The per-address counts live in login_pair_attempts, each row tied to its login's row of
-- login_attempts by a foreign key with ON DELETE CASCADE: what deletes a login's counter (a
-- successful log-in, 0002's login_succeed; an erasure, 0018; the retention job, 0021) takes its
-- per-address counts along, with no change to those functions.

CREATE TABLE login_pair_attempts (
    login_key    text NOT NULL,  -- the login's key in login_attempts, 'login:<lower(login)>'
    window_start timestamptz NOT NULL,
    ip           text NOT NULL CONSTRAINT login_pair_attempts_ip_check CHECK (char_length(ip) <= 64),
    count        int NOT NULL DEFAULT 1 CONSTRAINT login_pair_attempts_count_check CHECK (count >= 0),
    PRIMARY KEY (login_key, window_start, ip),
    CONSTRAINT login_pair_attempts_login_fkey FOREIGN KEY (login_key, window_start)
        REFERENCES login_attempts (key, window_start) ON DELETE CASCADE
);
COMMENT ON TABLE login_pair_attempts IS
    'Failed log-ins of one login from one client address in a 15-minute window (0039).';

CREATE OR REPLACE FUNCTION login_lookup(login text, ip inet)
RETURNS TABLE (account_id bigint, password_hash text, retry_after int)
LANGUAGE sql STABLE AS $$
    SELECT a.id, a.password_hash,
           CASE WHEN EXISTS (SELECT 1 FROM login_attempts t
                              WHERE t.window_start = login_window()
                                AND ((t.key = 'login:' || lower(login_lookup.login) AND t.count >= 20)
                                  OR (t.key = 'ip:' || host(login_lookup.ip) AND t.count >= 30)))
                  OR EXISTS (SELECT 1 FROM login_pair_attempts p
                              WHERE p.login_key = 'login:' || lower(login_lookup.login)
                                AND p.window_start = login_window()
                                AND p.ip = coalesce(host(login_lookup.ip), '-') AND p.count >= 5)
                THEN greatest(1, ceil(extract(epoch FROM login_window() + interval '15 minutes' - now()))::int)
                ELSE 0 END
      FROM (SELECT 1) one
      LEFT JOIN accounts a ON lower(a.login) = lower(login_lookup.login) AND NOT a.disabled
$$;

CREATE OR REPLACE FUNCTION login_fail(login text, ip inet) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO login_attempts (key, window_start)
    SELECT k, login_window() FROM unnest(ARRAY['login:' || lower(login), 'ip:' || host(ip)]) k
     WHERE k IS NOT NULL
    ON CONFLICT (key, window_start) DO UPDATE SET count = login_attempts.count + 1, updated_at = now();
    -- after the login's row, which it refers to
    INSERT INTO login_pair_attempts (login_key, window_start, ip)
    VALUES ('login:' || lower(login), login_window(), coalesce(host(ip), '-'))
    ON CONFLICT (login_key, window_start, ip) DO UPDATE SET count = login_pair_attempts.count + 1;
    INSERT INTO audit_log (account_id, ip, action, entity, entity_id, new)
    SELECT a.id, ip, 'login_failed', 'account', a.id, NULL
      FROM (SELECT 1) one LEFT JOIN accounts a ON lower(a.login) = lower(login_fail.login);
$$;
