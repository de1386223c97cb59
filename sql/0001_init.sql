-- 0001_init.sql: the whole domain of DESIGN.md §2 in its first form.
--
-- Run by `volunteerd migrate` as one simple-protocol query inside BEGIN ... COMMIT, so nothing
-- here may need to run outside a transaction block (no CONCURRENTLY, no VACUUM). Everything lives
-- in schema public; the runner owns schema_migrations.
--
-- Conventions
--   * ids: bigint GENERATED ALWAYS AS IDENTITY (an explicit id needs OVERRIDING SYSTEM VALUE, so
--     an accidental one is an error rather than a future collision with the sequence);
--   * instants: timestamptz; local dates (days, months) are `date` in the deployment's time zone
--     (app_settings.time_zone);
--   * enums: text + CHECK, so that a later migration adds a value by swapping one constraint;
--   * constraint names are explicit and stable: the server maps them to fields and messages.
--
-- Errors raised by triggers here carry a SQLSTATE of our own class "VD" and a constraint name
-- (PG_DIAG_CONSTRAINT_NAME), so the server maps them exactly like 23xxx errors:
--   VD409  conflicts with the current state            -> HTTP 409
--   VD422  well-formed but invalid (a bug or bad input) -> HTTP 422
-- Names the server should map (SQLSTATE constraint -> status, field):
--   23505 org_units_code_key, volunteers_phone_key, volunteers_volunteer_no_key,
--         volunteers_id_number_hmac_key, accounts_login_key, accounts_volunteer_id_key,
--         role_grants_scope_key, events_activity_id_starts_at_key, signups_pkey,
--         team_members_pkey, month_closes_month_org_unit_id_key, hour_entries_corrects_key,
--         idempotency_keys_pkey                                               -> 409
--   23505 attendances_one_open_per_volunteer (already checked in somewhere)  -> 409
--   23505 hour_entries_one_live_per_attendance                              -> 409
--   23P01 attendances_no_overlap, hour_entries_no_overlap (time already credited) -> 409
--   23514 events_confirmed_within_capacity (full)                           -> 409
--   23514 <table>_<column>_check                                            -> 422, field <column>
--   23503 <table>_<column>_fkey                                             -> 422 (or 404), field <column>
--   VD409 org_units_no_cycle, teams_no_cycle, hour_entries_append_only,
--         hour_entries_status_transition, audit_log_append_only, month_closes_append_only -> 409
--   VD422 hour_entries_insert_status, hour_entries_flagged_pending,
--         hour_entries_corrects_volunteer, hour_entries_attendance_mismatch   -> 422 (a server bug if seen)

CREATE EXTENSION IF NOT EXISTS btree_gist;  -- bigint "=" inside GiST exclusion constraints

--------------------------------------------------------------------------------------------
-- Small shared helpers
--------------------------------------------------------------------------------------------

-- Deployment-wide settings the database itself needs. Only time_zone for now: the ledger's
-- split of minutes into local days (DESIGN §3 rule 8) happens in a trigger and must use the same
-- zone as the server. `volunteerd migrate`/`serve` should write VOLUNTEERD_TZ here at start-up;
-- changing it once hour entries exist would leave old day splits in the old zone.
CREATE TABLE app_settings (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO app_settings (key, value) VALUES ('time_zone', 'Asia/Shanghai');

CREATE FUNCTION app_time_zone() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT value FROM app_settings WHERE key = 'time_zone'), 'Asia/Shanghai')
$$;

-- Refuse a time zone name PostgreSQL does not know, at write time rather than at the first
-- check-out.
CREATE FUNCTION app_settings_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.key = 'time_zone' THEN
        PERFORM now() AT TIME ZONE NEW.value;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER app_settings_check BEFORE INSERT OR UPDATE ON app_settings
    FOR EACH ROW EXECUTE FUNCTION app_settings_check();

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

-- For tables that are append-only by law or by design (audit_log, month_closes).
CREATE FUNCTION forbid_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'VD409', CONSTRAINT = TG_TABLE_NAME || '_append_only';
END $$;

-- Flags are an open vocabulary (auto_checkout, walk_in, correction, self_report, backfill, ...):
-- a new flag must not need a migration, but a flag must still look like one.
CREATE FUNCTION flags_valid(flags text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_ndims(flags), 1) = 1
       AND cardinality(flags) <= 16
       AND NOT EXISTS (SELECT 1 FROM unnest(flags) f
                       WHERE f IS NULL OR f !~ '^[a-z][a-z0-9_]{0,31}$')
$$;

-- Luhn check digit of a string of decimal digits (used by volunteer numbers).
CREATE FUNCTION luhn_digit(digits text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    total int := 0;
    d     int;
BEGIN
    -- from the right: every second digit (starting with the rightmost) is doubled
    FOR i IN 1 .. length(digits) LOOP
        d := ascii(substr(digits, length(digits) - i + 1, 1)) - 48;
        IF d < 0 OR d > 9 THEN
            RETURN NULL;
        END IF;
        IF i % 2 = 1 THEN
            d := d * 2;
            IF d > 9 THEN
                d := d - 9;
            END IF;
        END IF;
        total := total + d;
    END LOOP;
    RETURN ((10 - total % 10) % 10)::text;
END $$;

--------------------------------------------------------------------------------------------
-- Org units: the area tree (district > subdistrict > community > grid, and the practice-centre
-- tree center > station > point), unlimited depth.
--------------------------------------------------------------------------------------------
--
-- Subtree queries use a materialized path of ancestor ids, '/1/5/23/' (root first, the unit's
-- own id last), kept by a trigger. Why a text path and not ltree: it is plain text for libpq
-- and the C code, needs no extension, and in the "C" collation one btree answers both
--   * "X's subtree":    path >= X.path AND path < X.path-with-its-last-'/'-replaced-by-'0'
--                       (a range scan; also usable in joins, unlike LIKE with a non-constant);
--   * "is A under X":   position('/' || X.id || '/' IN A.path) > 0.
-- The "C" collation on the column makes the plain btree byte-ordered, which is what
-- text_pattern_ops would give, and lets LIKE 'prefix%' use it too. At 10k+ units the whole
-- table fits in memory; the path is 10-60 bytes.
--
-- Moves (UPDATE parent_id) are serialized by a transaction-level advisory lock and rewrite the
-- descendants' paths in the same statement; inserts take the same lock shared, so a child
-- cannot be inserted under a unit with a stale path while that unit is moving.
CREATE TABLE org_units (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id  bigint CONSTRAINT org_units_parent_id_fkey REFERENCES org_units (id),
    kind       text NOT NULL CONSTRAINT org_units_kind_check CHECK (kind IN
                   ('district', 'subdistrict', 'community', 'grid', 'center', 'station', 'point')),
    code       text NOT NULL CONSTRAINT org_units_code_check
                   CHECK (code ~ '^[^[:space:][:cntrl:]]{1,64}$'),  -- e.g. a 12-digit division code
    name       text NOT NULL CONSTRAINT org_units_name_check
                   CHECK (char_length(btrim(name)) BETWEEN 1 AND 100),
    path       text COLLATE "C" NOT NULL CONSTRAINT org_units_path_check
                   CHECK (path ~ '^(/[0-9]+)+/$' AND length(path) <= 2000),
    depth      int NOT NULL CONSTRAINT org_units_depth_check CHECK (depth >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT org_units_code_key UNIQUE (code),
    CONSTRAINT org_units_parent_check CHECK (parent_id <> id),
    CONSTRAINT org_units_root_depth_check CHECK ((parent_id IS NULL) = (depth = 0))
);
CREATE UNIQUE INDEX org_units_path_key ON org_units (path);
CREATE INDEX org_units_parent_id_idx ON org_units (parent_id, name);

COMMENT ON TABLE org_units IS
    'The area tree. path = ''/root/.../self/'' of ids, kept by trigger org_units_path; never write path or depth.';
COMMENT ON COLUMN org_units.path IS
    'Ancestor ids including self, ''/1/5/23/''. Subtree of X: see org_unit_subtree(). COLLATE "C" so the btree is byte-ordered.';

-- Key of the advisory lock that serializes tree moves (an arbitrary constant: "org_units").
CREATE FUNCTION org_units_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 7243190571000001::bigint $$;

CREATE FUNCTION org_units_path() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    parent_path  text;
    parent_depth int;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.parent_id IS NOT DISTINCT FROM OLD.parent_id THEN
        -- Not a move. Inside a move's cascade (trigger depth > 1) the new path is ours to set;
        -- from the outside path and depth are read-only.
        IF pg_trigger_depth() <= 1 THEN
            NEW.path := OLD.path;
            NEW.depth := OLD.depth;
        END IF;
        NEW.updated_at := now();
        RETURN NEW;
    END IF;

    IF TG_OP = 'INSERT' THEN
        PERFORM pg_advisory_xact_lock_shared(org_units_lock_key());
    ELSE
        PERFORM pg_advisory_xact_lock(org_units_lock_key());
    END IF;

    IF NEW.parent_id IS NULL THEN
        NEW.path := '/' || NEW.id || '/';
        NEW.depth := 0;
    ELSE
        -- A fresh snapshot after the lock: sees any move committed while we waited.
        SELECT path, depth INTO parent_path, parent_depth FROM org_units WHERE id = NEW.parent_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'parent org unit % does not exist', NEW.parent_id
                USING ERRCODE = '23503', CONSTRAINT = 'org_units_parent_id_fkey';
        END IF;
        IF TG_OP = 'UPDATE' AND parent_path LIKE OLD.path || '%' THEN
            RAISE EXCEPTION 'org unit % cannot move under its own subtree (unit %)', NEW.id, NEW.parent_id
                USING ERRCODE = 'VD409', CONSTRAINT = 'org_units_no_cycle';
        END IF;
        NEW.path := parent_path || NEW.id || '/';
        NEW.depth := parent_depth + 1;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END $$;

-- After a move: rewrite every strict descendant's path prefix and depth. Runs once per moved
-- row; move one unit per statement (moving a unit and its descendant in one UPDATE is undefined).
CREATE FUNCTION org_units_move_subtree() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE org_units
       SET path = NEW.path || substr(path, length(OLD.path) + 1),
           depth = depth + (NEW.depth - OLD.depth)
     WHERE path > OLD.path
       AND path < left(OLD.path, -1) || '0';
    RETURN NULL;
END $$;

CREATE TRIGGER org_units_path BEFORE INSERT OR UPDATE ON org_units
    FOR EACH ROW EXECUTE FUNCTION org_units_path();
CREATE TRIGGER org_units_move_subtree AFTER UPDATE OF parent_id ON org_units
    FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path)
    EXECUTE FUNCTION org_units_move_subtree();

-- The ids of root's subtree, root included. Use it in FROM, where the planner inlines it:
--   ... WHERE e.org_unit_id IN (SELECT id FROM org_unit_subtree($1))
CREATE FUNCTION org_unit_subtree(root bigint) RETURNS TABLE (id bigint)
LANGUAGE sql STABLE AS $$
    SELECT d.id
      FROM org_units r
      JOIN org_units d ON d.path >= r.path AND d.path < left(r.path, -1) || '0'
     WHERE r.id = root
$$;

-- The ids from the root down to unit, unit included, in order.
CREATE FUNCTION org_unit_ancestors(unit bigint) RETURNS TABLE (id bigint)
LANGUAGE sql STABLE AS $$
    SELECT a::bigint
      FROM org_units u, unnest(string_to_array(btrim(u.path, '/'), '/')) WITH ORDINALITY AS t(a, n)
     WHERE u.id = unit
     ORDER BY n
$$;

-- Is unit inside root's subtree (root itself included)? The scope check of DESIGN §2.
CREATE FUNCTION org_unit_covers(root bigint, unit bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT position('/' || root || '/' IN path) > 0 FROM org_units WHERE id = unit), false)
$$;

--------------------------------------------------------------------------------------------
-- Volunteers
--------------------------------------------------------------------------------------------

-- volunteer_no: 'V' + the sequence number zero-padded to 9 digits + a Luhn check digit, e.g.
-- V0000000018. It is never derived from the ID number (MZ/T 061), it is short enough to read
-- over the phone, and the check digit catches a mistyped digit or most swapped pairs. A number
-- past 999,999,999 simply grows. Imported numbers from an older system may be given explicitly
-- (the CHECK only asks for a plain token).
CREATE SEQUENCE volunteer_no_seq AS bigint;

CREATE FUNCTION volunteer_no_next() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    d text := nextval('volunteer_no_seq')::text;
BEGIN
    d := lpad(d, greatest(9, length(d)), '0');
    RETURN 'V' || d || luhn_digit(d);
END $$;

-- True when s is a well-formed system volunteer number (for lookups typed by people).
CREATE FUNCTION volunteer_no_valid(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT s ~ '^V[0-9]{10,}$'
       AND luhn_digit(substr(s, 2, length(s) - 2)) = right(s, 1)
$$;

CREATE TABLE volunteers (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    volunteer_no     text NOT NULL DEFAULT volunteer_no_next()
                         CONSTRAINT volunteers_volunteer_no_check
                         CHECK (volunteer_no ~ '^[A-Za-z0-9-]{4,32}$'),
    name             text NOT NULL CONSTRAINT volunteers_name_check
                         CHECK (char_length(btrim(name)) BETWEEN 1 AND 50),
    phone            text NOT NULL CONSTRAINT volunteers_phone_check
                         CHECK (phone ~ '^\+?[0-9]{5,20}$'),
    -- The ID number: AES-256-GCM ciphertext (nonce || ciphertext || tag, made by the server),
    -- an HMAC-SHA256 blind index for uniqueness and lookup, and a masked form for display.
    -- All three or none.
    id_number_enc    bytea CONSTRAINT volunteers_id_number_enc_check
                         CHECK (octet_length(id_number_enc) BETWEEN 29 AND 256),
    id_number_hmac   bytea CONSTRAINT volunteers_id_number_hmac_check
                         CHECK (octet_length(id_number_hmac) = 32),
    id_number_masked text CONSTRAINT volunteers_id_number_masked_check
                         CHECK (char_length(id_number_masked) BETWEEN 1 AND 32),
    gender           text CONSTRAINT volunteers_gender_check CHECK (gender IN ('male', 'female')),
    birth_date       date CONSTRAINT volunteers_birth_date_check
                         CHECK (birth_date BETWEEN DATE '1900-01-01' AND DATE '2200-01-01'),
    org_unit_id      bigint NOT NULL CONSTRAINT volunteers_org_unit_id_fkey REFERENCES org_units (id),
    work_unit        text CONSTRAINT volunteers_work_unit_check
                         CHECK (char_length(work_unit) <= 200),
    party_member     boolean NOT NULL DEFAULT false,
    skills           text[] NOT NULL DEFAULT '{}' CONSTRAINT volunteers_skills_check
                         CHECK (coalesce(array_ndims(skills), 1) = 1 AND cardinality(skills) <= 50
                                AND array_position(skills, NULL) IS NULL),
    status           text NOT NULL DEFAULT 'active'
                         CONSTRAINT volunteers_status_check CHECK (status IN ('active', 'suspended')),
    created_by       bigint,  -- accounts(id); NULL for self-registration. FK added below.
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT volunteers_volunteer_no_key UNIQUE (volunteer_no),
    CONSTRAINT volunteers_phone_key UNIQUE (phone),
    CONSTRAINT volunteers_id_number_hmac_key UNIQUE (id_number_hmac),
    CONSTRAINT volunteers_id_number_check CHECK (
        num_nonnulls(id_number_enc, id_number_hmac, id_number_masked) IN (0, 3))
);
CREATE INDEX volunteers_org_unit_id_idx ON volunteers (org_unit_id);
CREATE INDEX volunteers_created_at_idx ON volunteers (created_at);  -- "new volunteers" per month
CREATE INDEX volunteers_name_idx ON volunteers (name text_pattern_ops);  -- q= prefix search
CREATE INDEX volunteers_work_unit_idx ON volunteers (work_unit) WHERE party_member;  -- 双报到
CREATE TRIGGER volunteers_updated_at BEFORE UPDATE ON volunteers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON COLUMN volunteers.org_unit_id IS
    'The home (residence) unit now. Its history is volunteer_home_history; the ledger copies the home unit as at service.';
COMMENT ON COLUMN volunteers.volunteer_no IS
    'System number, never the ID number: ''V'' + 9+ digits + Luhn digit, from volunteer_no_seq (volunteer_no_next()).';

-- Where a volunteer lived when: reports by residence use the home unit AS AT the time of service
-- (a volunteer who moves keeps the hours already earned in the old community). Kept by trigger
-- from volunteers.org_unit_id; the first row starts at -infinity so that backfilled hours from
-- before registration find a home.
CREATE TABLE volunteer_home_history (
    volunteer_id bigint NOT NULL CONSTRAINT volunteer_home_history_volunteer_id_fkey
                     REFERENCES volunteers (id) ON DELETE CASCADE,
    org_unit_id  bigint NOT NULL CONSTRAINT volunteer_home_history_org_unit_id_fkey
                     REFERENCES org_units (id),
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,  -- NULL: current
    PRIMARY KEY (volunteer_id, valid_from),
    CONSTRAINT volunteer_home_history_range_check CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT volunteer_home_history_no_overlap
        EXCLUDE USING gist (volunteer_id WITH =, tstzrange(valid_from, valid_to) WITH &&)
);
CREATE INDEX volunteer_home_history_org_unit_id_idx ON volunteer_home_history (org_unit_id);

CREATE FUNCTION volunteers_home_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO volunteer_home_history (volunteer_id, org_unit_id, valid_from)
        VALUES (NEW.id, NEW.org_unit_id, '-infinity');
        RETURN NULL;
    END IF;
    -- A second change in the same transaction just replaces the row it opened.
    UPDATE volunteer_home_history SET org_unit_id = NEW.org_unit_id
     WHERE volunteer_id = NEW.id AND valid_to IS NULL AND valid_from >= now();
    IF NOT FOUND THEN
        UPDATE volunteer_home_history SET valid_to = now()
         WHERE volunteer_id = NEW.id AND valid_to IS NULL;
        INSERT INTO volunteer_home_history (volunteer_id, org_unit_id, valid_from)
        VALUES (NEW.id, NEW.org_unit_id, now());
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER volunteers_home_history_insert AFTER INSERT ON volunteers
    FOR EACH ROW EXECUTE FUNCTION volunteers_home_history();
CREATE TRIGGER volunteers_home_history_update AFTER UPDATE OF org_unit_id ON volunteers
    FOR EACH ROW WHEN (OLD.org_unit_id IS DISTINCT FROM NEW.org_unit_id)
    EXECUTE FUNCTION volunteers_home_history();

-- The volunteer's home org unit at instant at.
CREATE FUNCTION volunteer_home_at(volunteer bigint, at timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT org_unit_id FROM volunteer_home_history
          WHERE volunteer_id = volunteer AND valid_from <= at
          ORDER BY valid_from DESC LIMIT 1),
        (SELECT org_unit_id FROM volunteers WHERE id = volunteer))
$$;

--------------------------------------------------------------------------------------------
-- Accounts, roles, sessions, throttling
--------------------------------------------------------------------------------------------

CREATE TABLE accounts (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login               text NOT NULL CONSTRAINT accounts_login_check
                            CHECK (login ~ '^[^[:space:][:cntrl:]]{1,64}$'),
    password_hash       text NOT NULL CONSTRAINT accounts_password_hash_check
                            CHECK (char_length(password_hash) BETWEEN 1 AND 512),  -- PHC string, Argon2id
    volunteer_id        bigint CONSTRAINT accounts_volunteer_id_fkey REFERENCES volunteers (id),
    disabled            boolean NOT NULL DEFAULT false,
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    last_login_at       timestamptz,
    CONSTRAINT accounts_volunteer_id_key UNIQUE (volunteer_id)
);
-- Logins are unique regardless of case; look them up with lower(login) = lower($1).
CREATE UNIQUE INDEX accounts_login_key ON accounts (lower(login));
CREATE TRIGGER accounts_updated_at BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

ALTER TABLE volunteers ADD CONSTRAINT volunteers_created_by_fkey
    FOREIGN KEY (created_by) REFERENCES accounts (id);

-- A scoped role. admin: one org-unit subtree, or one team, or (both NULL) the whole tree (a system
-- administrator); coordinator: exactly one of an org-unit subtree or a team; volunteer: no scope
-- (covers only the account's own volunteer record).
CREATE TABLE role_grants (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint NOT NULL CONSTRAINT role_grants_account_id_fkey
                    REFERENCES accounts (id) ON DELETE CASCADE,
    role        text NOT NULL CONSTRAINT role_grants_role_check
                    CHECK (role IN ('admin', 'coordinator', 'volunteer')),
    org_unit_id bigint CONSTRAINT role_grants_org_unit_id_fkey REFERENCES org_units (id),
    team_id     bigint,  -- teams(id); FK added below
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  bigint CONSTRAINT role_grants_created_by_fkey REFERENCES accounts (id),
    CONSTRAINT role_grants_scope_check CHECK (CASE role
        WHEN 'admin'       THEN num_nonnulls(org_unit_id, team_id) <= 1
        WHEN 'coordinator' THEN num_nonnulls(org_unit_id, team_id) = 1
        ELSE                    num_nonnulls(org_unit_id, team_id) = 0 END),
    -- PostgreSQL 15: NULL scopes compare equal, so a duplicate whole-tree grant is refused too.
    CONSTRAINT role_grants_scope_key UNIQUE NULLS NOT DISTINCT (account_id, role, org_unit_id, team_id)
);
CREATE INDEX role_grants_org_unit_id_idx ON role_grants (org_unit_id) WHERE org_unit_id IS NOT NULL;
CREATE INDEX role_grants_team_id_idx ON role_grants (team_id) WHERE team_id IS NOT NULL;

-- Only a hash of the token is stored: a leaked table does not yield usable sessions.
CREATE TABLE sessions (
    token_hash      bytea PRIMARY KEY CONSTRAINT sessions_token_hash_check
                        CHECK (octet_length(token_hash) = 32),  -- SHA-256 of the bearer token
    account_id      bigint NOT NULL CONSTRAINT sessions_account_id_fkey
                        REFERENCES accounts (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),  -- idle limit
    expires_at      timestamptz NOT NULL,                -- absolute limit
    csrf_token_hash bytea,  -- for form tokens, if not derived from the session token by HMAC
    ip              inet,
    user_agent      text CONSTRAINT sessions_user_agent_check CHECK (char_length(user_agent) <= 512),
    CONSTRAINT sessions_expires_at_check CHECK (expires_at > created_at)
);
CREATE INDEX sessions_account_id_idx ON sessions (account_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);  -- purge

-- Fixed-window counters for throttling log-ins, keyed by e.g. 'login:<lower(login)>' and
-- 'ip:<address or /64>'. Upsert with ON CONFLICT (key, window_start) DO UPDATE count = count + 1.
CREATE TABLE login_attempts (
    key          text NOT NULL CONSTRAINT login_attempts_key_check CHECK (char_length(key) <= 200),
    window_start timestamptz NOT NULL,
    count        int NOT NULL DEFAULT 1 CONSTRAINT login_attempts_count_check CHECK (count >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, window_start)
);
CREATE INDEX login_attempts_window_start_idx ON login_attempts (window_start);  -- purge

--------------------------------------------------------------------------------------------
-- Teams
--------------------------------------------------------------------------------------------

CREATE TABLE teams (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL CONSTRAINT teams_name_check
                       CHECK (char_length(btrim(name)) BETWEEN 1 AND 100),
    org_unit_id    bigint NOT NULL CONSTRAINT teams_org_unit_id_fkey REFERENCES org_units (id),
    parent_team_id bigint CONSTRAINT teams_parent_team_id_fkey REFERENCES teams (id),
    kind           text NOT NULL DEFAULT 'general'
                       CONSTRAINT teams_kind_check CHECK (kind IN ('general', 'party_branch', 'unit')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT teams_parent_check CHECK (parent_team_id <> id)
);
CREATE INDEX teams_org_unit_id_idx ON teams (org_unit_id);
CREATE INDEX teams_parent_team_id_idx ON teams (parent_team_id) WHERE parent_team_id IS NOT NULL;
CREATE TRIGGER teams_updated_at BEFORE UPDATE ON teams
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

ALTER TABLE role_grants ADD CONSTRAINT role_grants_team_id_fkey
    FOREIGN KEY (team_id) REFERENCES teams (id);

-- The team tree is shallow (a handful of levels), so a walk up the parents is enough to refuse
-- a cycle; no path needed.
CREATE FUNCTION teams_no_cycle() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_team_id IS NOT NULL AND EXISTS (
        WITH RECURSIVE up (id, parent_team_id) AS (
            SELECT id, parent_team_id FROM teams WHERE id = NEW.parent_team_id
            UNION
            SELECT t.id, t.parent_team_id FROM teams t JOIN up ON t.id = up.parent_team_id
        )
        SELECT 1 FROM up WHERE id = NEW.id)
    THEN
        RAISE EXCEPTION 'team % cannot be placed under its own sub-team %', NEW.id, NEW.parent_team_id
            USING ERRCODE = 'VD409', CONSTRAINT = 'teams_no_cycle';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER teams_no_cycle BEFORE UPDATE OF parent_team_id ON teams
    FOR EACH ROW WHEN (NEW.parent_team_id IS DISTINCT FROM OLD.parent_team_id)
    EXECUTE FUNCTION teams_no_cycle();

CREATE TABLE team_members (
    team_id      bigint NOT NULL CONSTRAINT team_members_team_id_fkey
                     REFERENCES teams (id) ON DELETE CASCADE,
    volunteer_id bigint NOT NULL CONSTRAINT team_members_volunteer_id_fkey
                     REFERENCES volunteers (id) ON DELETE CASCADE,
    role         text NOT NULL DEFAULT 'member'
                     CONSTRAINT team_members_role_check CHECK (role IN ('member', 'leader')),
    joined_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, volunteer_id)
);
CREATE INDEX team_members_volunteer_id_idx ON team_members (volunteer_id);

--------------------------------------------------------------------------------------------
-- Hour policies: the rules of DESIGN §3 as data
--------------------------------------------------------------------------------------------

CREATE TABLE hour_policies (
    id                                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                              text NOT NULL CONSTRAINT hour_policies_name_check
                                          CHECK (char_length(btrim(name)) BETWEEN 1 AND 100),
    -- credited minutes are rounded DOWN to a multiple of this
    rounding_minutes                  int NOT NULL DEFAULT 1 CONSTRAINT hour_policies_rounding_minutes_check
                                          CHECK (rounding_minutes IN (1, 5, 10, 15, 30, 60)),
    min_credit_minutes                int NOT NULL DEFAULT 0 CONSTRAINT hour_policies_min_credit_minutes_check
                                          CHECK (min_credit_minutes BETWEEN 0 AND 1440),
    daily_cap_minutes                 int CONSTRAINT hour_policies_daily_cap_minutes_check
                                          CHECK (daily_cap_minutes BETWEEN 1 AND 1440),  -- NULL: no cap
    checkin_open_before_minutes       int NOT NULL DEFAULT 30
                                          CONSTRAINT hour_policies_checkin_open_before_minutes_check
                                          CHECK (checkin_open_before_minutes BETWEEN 0 AND 1440),
    -- check-in closes this long after starts_at; NULL: open until ends_at
    checkin_close_after_start_minutes int CONSTRAINT hour_policies_checkin_close_after_start_minutes_check
                                          CHECK (checkin_close_after_start_minutes BETWEEN 0 AND 10080),
    -- a forgotten check-out is closed at ends_at + this, credited to ends_at, pending
    checkout_grace_minutes            int NOT NULL DEFAULT 120
                                          CONSTRAINT hour_policies_checkout_grace_minutes_check
                                          CHECK (checkout_grace_minutes BETWEEN 0 AND 10080),
    approval_mode                     text NOT NULL DEFAULT 'auto'
                                          CONSTRAINT hour_policies_approval_mode_check
                                          CHECK (approval_mode IN ('auto', 'manual')),
    walk_ins_allowed                  boolean NOT NULL DEFAULT true,
    -- true: the event's 6-digit code is fixed; false: the server may rotate it from checkin_secret
    static_code                       boolean NOT NULL DEFAULT false,
    created_at                        timestamptz NOT NULL DEFAULT now(),
    updated_at                        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT hour_policies_name_key UNIQUE (name)
);
CREATE TRIGGER hour_policies_updated_at BEFORE UPDATE ON hour_policies
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Policy 1 is the default of every activity: exactly the defaults of DESIGN §3.
INSERT INTO hour_policies (id, name) OVERRIDING SYSTEM VALUE VALUES (1, 'default');
DO $$ BEGIN PERFORM setval(pg_get_serial_sequence('hour_policies', 'id'), 1); END $$;

--------------------------------------------------------------------------------------------
-- Activities and their dated events
--------------------------------------------------------------------------------------------

CREATE TABLE activities (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id     bigint NOT NULL CONSTRAINT activities_team_id_fkey REFERENCES teams (id),
    org_unit_id bigint NOT NULL CONSTRAINT activities_org_unit_id_fkey REFERENCES org_units (id),
    title       text NOT NULL CONSTRAINT activities_title_check
                    CHECK (char_length(btrim(title)) BETWEEN 1 AND 200),
    category    text CONSTRAINT activities_category_check CHECK (char_length(category) <= 50),
    location    text CONSTRAINT activities_location_check CHECK (char_length(location) <= 200),
    capacity    int CONSTRAINT activities_capacity_check CHECK (capacity > 0),  -- NULL: unlimited
    policy_id   bigint NOT NULL DEFAULT 1 CONSTRAINT activities_policy_id_fkey REFERENCES hour_policies (id),
    -- {"freq":"weekly","byday":["TU","FR"],"from":"YYYY-MM-DD","until":"YYYY-MM-DD",
    --  "start_time":"08:00","end_time":"10:00"} as accepted by the API; NULL for a one-off.
    recurrence  jsonb CONSTRAINT activities_recurrence_check CHECK (jsonb_typeof(recurrence) = 'object'),
    created_by  bigint CONSTRAINT activities_created_by_fkey REFERENCES accounts (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- target of events' composite key: keeps events' copies of team and org unit in step
    CONSTRAINT activities_id_team_org_key UNIQUE (id, team_id, org_unit_id)
);
CREATE INDEX activities_team_id_idx ON activities (team_id);
CREATE INDEX activities_org_unit_id_idx ON activities (org_unit_id);
CREATE TRIGGER activities_updated_at BEFORE UPDATE ON activities
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE FUNCTION random_digits(n int) RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT lpad(floor(random() * 10 ^ n)::bigint::text, n, '0')
$$;

-- team_id and org_unit_id are copies of the activity's, filled in when omitted and kept equal by
-- the composite foreign key (ON UPDATE CASCADE), so that "events under X between two dates" is one
-- index range scan without a join. The ledger keeps its own as-at copies, so moving an activity
-- never changes past hours.
--
-- confirmed_count and waitlisted_count are kept by a trigger on signups. A sign-up decides
-- confirmed vs waitlisted after locking the event row (SELECT ... FOR NO KEY UPDATE); the CHECK
-- events_confirmed_within_capacity is the database's own guarantee against overbooking.
CREATE TABLE events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_id      bigint NOT NULL,
    team_id          bigint NOT NULL,
    org_unit_id      bigint NOT NULL,
    starts_at        timestamptz NOT NULL,
    ends_at          timestamptz NOT NULL,
    capacity         int CONSTRAINT events_capacity_check CHECK (capacity > 0),  -- NULL: unlimited
    status           text NOT NULL DEFAULT 'scheduled'
                         CONSTRAINT events_status_check CHECK (status IN ('scheduled', 'cancelled')),
    checkin_code     text NOT NULL DEFAULT random_digits(6)
                         CONSTRAINT events_checkin_code_check CHECK (checkin_code ~ '^[0-9]{6}$'),
    -- key material for rotating QR codes (HMAC(secret, slot)); 16+ random bytes
    checkin_secret   bytea NOT NULL DEFAULT decode(replace(gen_random_uuid()::text, '-', ''), 'hex')
                         CONSTRAINT events_checkin_secret_check CHECK (octet_length(checkin_secret) >= 16),
    confirmed_count  int NOT NULL DEFAULT 0 CONSTRAINT events_confirmed_count_check CHECK (confirmed_count >= 0),
    waitlisted_count int NOT NULL DEFAULT 0 CONSTRAINT events_waitlisted_count_check CHECK (waitlisted_count >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_time_check CHECK (ends_at > starts_at),
    CONSTRAINT events_confirmed_within_capacity CHECK (capacity IS NULL OR confirmed_count <= capacity),
    -- regenerating a recurrence is idempotent: INSERT ... ON CONFLICT ON CONSTRAINT this DO NOTHING
    CONSTRAINT events_activity_id_starts_at_key UNIQUE (activity_id, starts_at),
    CONSTRAINT events_activity_fkey FOREIGN KEY (activity_id, team_id, org_unit_id)
        REFERENCES activities (id, team_id, org_unit_id) ON UPDATE CASCADE,
    CONSTRAINT events_team_id_fkey FOREIGN KEY (team_id) REFERENCES teams (id),
    CONSTRAINT events_org_unit_id_fkey FOREIGN KEY (org_unit_id) REFERENCES org_units (id)
);
CREATE INDEX events_org_unit_id_starts_at_idx ON events (org_unit_id, starts_at);
CREATE INDEX events_team_id_starts_at_idx ON events (team_id, starts_at);
CREATE INDEX events_starts_at_idx ON events (starts_at);
CREATE INDEX events_checkin_code_idx ON events (checkin_code, starts_at) WHERE status = 'scheduled';

COMMENT ON COLUMN events.confirmed_count IS 'Kept by trigger signups_count; never write it.';
COMMENT ON COLUMN events.checkin_code IS
    '6 digits, not unique: look up with the time window (or the event id). Random by default.';

-- Fill team_id, org_unit_id and (on insert) capacity from the activity when omitted.
CREATE FUNCTION events_fill() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.team_id IS NULL OR NEW.org_unit_id IS NULL OR (TG_OP = 'INSERT' AND NEW.capacity IS NULL) THEN
        SELECT coalesce(NEW.team_id, a.team_id), coalesce(NEW.org_unit_id, a.org_unit_id),
               CASE WHEN TG_OP = 'INSERT' THEN coalesce(NEW.capacity, a.capacity) ELSE NEW.capacity END
          INTO NEW.team_id, NEW.org_unit_id, NEW.capacity
          FROM activities a WHERE a.id = NEW.activity_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'activity % does not exist', NEW.activity_id
                USING ERRCODE = '23503', CONSTRAINT = 'events_activity_fkey';
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER events_fill BEFORE INSERT OR UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION events_fill();

--------------------------------------------------------------------------------------------
-- Sign-ups
--------------------------------------------------------------------------------------------

-- The waitlist is ordered by created_at; a renewed sign-up after a cancellation should set
-- created_at = now() so it joins the end of the queue.
CREATE TABLE signups (
    event_id     bigint NOT NULL CONSTRAINT signups_event_id_fkey REFERENCES events (id) ON DELETE CASCADE,
    volunteer_id bigint NOT NULL CONSTRAINT signups_volunteer_id_fkey REFERENCES volunteers (id),
    status       text NOT NULL CONSTRAINT signups_status_check
                     CHECK (status IN ('confirmed', 'waitlisted', 'cancelled')),
    created_by   bigint CONSTRAINT signups_created_by_fkey REFERENCES accounts (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, volunteer_id)
);
CREATE INDEX signups_volunteer_id_idx ON signups (volunteer_id);
-- counting by status, and "the first waitlisted" (ORDER BY created_at LIMIT 1)
CREATE INDEX signups_event_status_idx ON signups (event_id, status, created_at);
CREATE TRIGGER signups_updated_at BEFORE UPDATE ON signups
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Keep events.confirmed_count / waitlisted_count exact, once per statement (set-based, so a
-- batch of sign-ups touches each event row once). Event rows are locked in id order first, so
-- two batches over the same events cannot deadlock here.
CREATE FUNCTION signups_count() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    cs  int[];
    ws  int[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(event_id ORDER BY event_id), array_agg(c ORDER BY event_id), array_agg(w ORDER BY event_id)
          INTO ids, cs, ws
          FROM (SELECT event_id, sum((status = 'confirmed')::int)::int AS c,
                       sum((status = 'waitlisted')::int)::int AS w
                  FROM new_rows GROUP BY event_id) t
         WHERE c <> 0 OR w <> 0;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(event_id ORDER BY event_id), array_agg(c ORDER BY event_id), array_agg(w ORDER BY event_id)
          INTO ids, cs, ws
          FROM (SELECT event_id, sum(c)::int AS c, sum(w)::int AS w
                  FROM (SELECT event_id, (status = 'confirmed')::int AS c, (status = 'waitlisted')::int AS w
                          FROM new_rows
                        UNION ALL
                        SELECT event_id, -(status = 'confirmed')::int, -(status = 'waitlisted')::int
                          FROM old_rows) u
                 GROUP BY event_id) t
         WHERE c <> 0 OR w <> 0;
    ELSE
        SELECT array_agg(event_id ORDER BY event_id), array_agg(c ORDER BY event_id), array_agg(w ORDER BY event_id)
          INTO ids, cs, ws
          FROM (SELECT event_id, -sum((status = 'confirmed')::int)::int AS c,
                       -sum((status = 'waitlisted')::int)::int AS w
                  FROM old_rows GROUP BY event_id) t
         WHERE c <> 0 OR w <> 0;
    END IF;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM events WHERE id = ANY (ids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE events e
       SET confirmed_count = e.confirmed_count + d.c,
           waitlisted_count = e.waitlisted_count + d.w
      FROM unnest(ids, cs, ws) AS d (id, c, w)
     WHERE e.id = d.id;
    RETURN NULL;
END $$;
CREATE TRIGGER signups_count_insert AFTER INSERT ON signups
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signups_count();
CREATE TRIGGER signups_count_update AFTER UPDATE ON signups
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signups_count();
CREATE TRIGGER signups_count_delete AFTER DELETE ON signups
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION signups_count();

--------------------------------------------------------------------------------------------
-- Attendances: one check-in/check-out pair
--------------------------------------------------------------------------------------------
--
-- credited is the time that counts, [max(check_in, starts_at), min(check_out, ends_at)), set at
-- check-out (possibly 'empty'), NULL while open.
--
-- attendances_no_overlap is DESIGN §3 rule 3 in the database. While an attendance is open it
-- claims [check_in_at, infinity): its credit can only start at or after check_in_at, so a
-- check-in that would overlap time already credited elsewhere (a backfill, an earlier
-- attendance) is refused at check-in, not only at check-out. At check-out the claim shrinks to
-- credited, which never conflicts with anything the open claim did not.
--
-- A corrected attendance is either updated in place (the ledger keeps the history) or voided
-- (voided_at set) and replaced; a voided row leaves the partial constraint and the partial index
-- at once, so void first, then insert the replacement, in one transaction. The constraint is
-- DEFERRABLE (INITIALLY IMMEDIATE) so that a transaction may also SET CONSTRAINTS ... DEFERRED
-- and swap in either order.
CREATE TABLE attendances (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     bigint NOT NULL CONSTRAINT attendances_event_id_fkey REFERENCES events (id),
    volunteer_id bigint NOT NULL CONSTRAINT attendances_volunteer_id_fkey REFERENCES volunteers (id),
    check_in_at  timestamptz NOT NULL,
    check_out_at timestamptz,  -- NULL while open
    method       text NOT NULL CONSTRAINT attendances_method_check
                     CHECK (method IN ('self', 'roster', 'walk_in', 'backfill', 'auto')),
    flags        text[] NOT NULL DEFAULT '{}'
                     CONSTRAINT attendances_flags_check CHECK (flags_valid(flags)),
    credited     tstzrange,
    created_by   bigint CONSTRAINT attendances_created_by_fkey REFERENCES accounts (id),
    ip           inet,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    voided_at    timestamptz,
    voided_by    bigint CONSTRAINT attendances_voided_by_fkey REFERENCES accounts (id),
    CONSTRAINT attendances_check_out_check CHECK (check_out_at >= check_in_at),
    CONSTRAINT attendances_credited_check CHECK (
        (check_out_at IS NULL) = (credited IS NULL)
        AND (credited IS NULL OR isempty(credited)
             OR (lower_inc(credited) AND NOT upper_inc(credited)
                 AND NOT lower_inf(credited) AND NOT upper_inf(credited)
                 AND credited <@ tstzrange(check_in_at, check_out_at, '[]')))),
    CONSTRAINT attendances_no_overlap EXCLUDE USING gist (
        volunteer_id WITH =,
        (coalesce(credited, tstzrange(check_in_at, NULL))) WITH &&
    ) WHERE (voided_at IS NULL) DEFERRABLE INITIALLY IMMEDIATE
);
-- At most one open attendance per volunteer, anywhere (DESIGN §3 rule 1).
CREATE UNIQUE INDEX attendances_one_open_per_volunteer ON attendances (volunteer_id)
    WHERE check_out_at IS NULL AND voided_at IS NULL;
CREATE INDEX attendances_event_id_idx ON attendances (event_id);
CREATE INDEX attendances_volunteer_id_idx ON attendances (volunteer_id, check_in_at);
CREATE TRIGGER attendances_updated_at BEFORE UPDATE ON attendances
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

--------------------------------------------------------------------------------------------
-- The ledger
--------------------------------------------------------------------------------------------
--
-- hour_entries is append-only: a row's facts never change; only its status moves forward
-- (pending -> approved | rejected | void, approved -> void, rejected -> void), with who and when.
-- A correction is a new row with corrects = the old id; inserting it voids the old row in the
-- same statement (trigger), so rule 7 cannot be half-done.
--
-- Partitioning (DESIGN §8). hour_entries itself is NOT partitioned: the API addresses entries by
-- id alone (approve, reject, correct, GET), and other rows reference it by id (corrects,
-- hour_entry_days, correction_requests). A partitioned table would need (id, started_at) in
-- every one of those keys, and each lookup by id would probe every monthly partition. At ~3 M entries a year per city, one table with the indexes below holds 100 M rows
-- comfortably; no report reads it. The monthly partitioning is on hour_entry_days, the per-day
-- split that reports, rollup rebuilds and month closes read: each of those touches exactly one
-- month's partition, so no report's cost grows with the size of the whole ledger.
CREATE TABLE hour_entries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    volunteer_id     bigint NOT NULL CONSTRAINT hour_entries_volunteer_id_fkey REFERENCES volunteers (id),
    event_id         bigint NOT NULL CONSTRAINT hour_entries_event_id_fkey REFERENCES events (id),
    attendance_id    bigint CONSTRAINT hour_entries_attendance_id_fkey REFERENCES attendances (id),
    -- as at the time of service, copied (filled from the event / the corrected entry / the home
    -- history when omitted), never joined: later moves do not rewrite history
    activity_id      bigint NOT NULL CONSTRAINT hour_entries_activity_id_fkey REFERENCES activities (id),
    team_id          bigint NOT NULL CONSTRAINT hour_entries_team_id_fkey REFERENCES teams (id),
    org_unit_id      bigint NOT NULL CONSTRAINT hour_entries_org_unit_id_fkey REFERENCES org_units (id),
    home_org_unit_id bigint NOT NULL CONSTRAINT hour_entries_home_org_unit_id_fkey REFERENCES org_units (id),
    policy_id        bigint CONSTRAINT hour_entries_policy_id_fkey REFERENCES hour_policies (id),
    started_at       timestamptz NOT NULL,  -- credited start
    ended_at         timestamptz NOT NULL,  -- credited end
    minutes          int NOT NULL CONSTRAINT hour_entries_minutes_check CHECK (minutes BETWEEN 0 AND 10080),
    status           text NOT NULL CONSTRAINT hour_entries_status_check
                         CHECK (status IN ('pending', 'approved', 'rejected', 'void')),
    flags            text[] NOT NULL DEFAULT '{}'
                         CONSTRAINT hour_entries_flags_check CHECK (flags_valid(flags)),
    corrects         bigint CONSTRAINT hour_entries_corrects_fkey REFERENCES hour_entries (id),
    reason           text CONSTRAINT hour_entries_reason_length_check CHECK (char_length(reason) <= 1000),
    created_by       bigint CONSTRAINT hour_entries_created_by_fkey REFERENCES accounts (id),  -- NULL: the system
    created_at       timestamptz NOT NULL DEFAULT now(),
    decided_by       bigint CONSTRAINT hour_entries_decided_by_fkey REFERENCES accounts (id),
    decided_at       timestamptz,
    decision_reason  text CONSTRAINT hour_entries_decision_reason_check CHECK (char_length(decision_reason) <= 1000),
    voided_by        bigint CONSTRAINT hour_entries_voided_by_fkey REFERENCES accounts (id),
    voided_at        timestamptz,
    CONSTRAINT hour_entries_time_check CHECK (ended_at >= started_at),
    CONSTRAINT hour_entries_corrects_check CHECK (corrects <> id),
    -- rule 6 and 7: corrections, self-reports and backfills always carry a reason
    CONSTRAINT hour_entries_reason_check CHECK (
        NOT flags && ARRAY['correction', 'self_report', 'backfill']
        OR coalesce(char_length(btrim(reason)), 0) > 0),
    -- an entry is corrected at most once; a second correction corrects the correction
    CONSTRAINT hour_entries_corrects_key UNIQUE (corrects),
    -- rule 3 on the ledger itself (self-reports need not have an attendance): no two live
    -- entries of one volunteer share a minute
    CONSTRAINT hour_entries_no_overlap EXCLUDE USING gist (
        volunteer_id WITH =,
        tstzrange(started_at, ended_at) WITH &&
    ) WHERE (status IN ('pending', 'approved'))
);
-- one live entry per attendance (a correction voids the old one before it is checked)
CREATE UNIQUE INDEX hour_entries_one_live_per_attendance ON hour_entries (attendance_id)
    WHERE attendance_id IS NOT NULL AND status IN ('pending', 'approved');
CREATE INDEX hour_entries_volunteer_id_idx ON hour_entries (volunteer_id, started_at);
CREATE INDEX hour_entries_event_id_idx ON hour_entries (event_id);
-- the approval queues, by area and by team
CREATE INDEX hour_entries_pending_org_unit_idx ON hour_entries (org_unit_id, created_at) WHERE status = 'pending';
CREATE INDEX hour_entries_pending_team_idx ON hour_entries (team_id, created_at) WHERE status = 'pending';

COMMENT ON TABLE hour_entries IS
    'The ledger. Append-only (trigger hour_entries_guard): facts never change, status only moves forward; a correction is a new row.';

-- Before insert: fill the as-at copies, enforce the insert-time rules, void the corrected entry.
CREATE FUNCTION hour_entries_before_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_entry hour_entries;
BEGIN
    IF NEW.status NOT IN ('pending', 'approved') THEN
        RAISE EXCEPTION 'a new hour entry is pending or approved, not %', NEW.status
            USING ERRCODE = 'VD422', CONSTRAINT = 'hour_entries_insert_status';
    END IF;

    IF NEW.corrects IS NOT NULL THEN
        SELECT * INTO old_entry FROM hour_entries WHERE id = NEW.corrects FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'hour entry % does not exist', NEW.corrects
                USING ERRCODE = '23503', CONSTRAINT = 'hour_entries_corrects_fkey';
        END IF;
        IF old_entry.volunteer_id <> NEW.volunteer_id THEN
            RAISE EXCEPTION 'a correction is for the same volunteer as the entry it corrects'
                USING ERRCODE = 'VD422', CONSTRAINT = 'hour_entries_corrects_volunteer';
        END IF;
        IF NOT NEW.flags @> ARRAY['correction'] THEN
            NEW.flags := NEW.flags || 'correction'::text;
        END IF;
        -- the service is the same service: keep its as-at attribution unless told otherwise
        NEW.activity_id := coalesce(NEW.activity_id, old_entry.activity_id);
        NEW.team_id := coalesce(NEW.team_id, old_entry.team_id);
        NEW.org_unit_id := coalesce(NEW.org_unit_id, old_entry.org_unit_id);
        NEW.home_org_unit_id := coalesce(NEW.home_org_unit_id, old_entry.home_org_unit_id);
        NEW.attendance_id := coalesce(NEW.attendance_id, old_entry.attendance_id);
        NEW.policy_id := coalesce(NEW.policy_id, old_entry.policy_id);
        IF old_entry.status <> 'void' THEN
            UPDATE hour_entries
               SET status = 'void', voided_at = now(), voided_by = NEW.created_by
             WHERE id = NEW.corrects;
        END IF;
    END IF;

    IF NEW.attendance_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM attendances a
         WHERE a.id = NEW.attendance_id AND a.volunteer_id = NEW.volunteer_id AND a.event_id = NEW.event_id)
    THEN
        RAISE EXCEPTION 'attendance % is not volunteer %''s at event %', NEW.attendance_id, NEW.volunteer_id, NEW.event_id
            USING ERRCODE = 'VD422', CONSTRAINT = 'hour_entries_attendance_mismatch';
    END IF;

    IF NEW.activity_id IS NULL OR NEW.team_id IS NULL OR NEW.org_unit_id IS NULL THEN
        SELECT coalesce(NEW.activity_id, e.activity_id), coalesce(NEW.team_id, e.team_id),
               coalesce(NEW.org_unit_id, e.org_unit_id)
          INTO NEW.activity_id, NEW.team_id, NEW.org_unit_id
          FROM events e WHERE e.id = NEW.event_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'event % does not exist', NEW.event_id
                USING ERRCODE = '23503', CONSTRAINT = 'hour_entries_event_id_fkey';
        END IF;
    END IF;
    IF NEW.home_org_unit_id IS NULL THEN
        NEW.home_org_unit_id := volunteer_home_at(NEW.volunteer_id, NEW.started_at);
        IF NEW.home_org_unit_id IS NULL THEN
            RAISE EXCEPTION 'volunteer % does not exist', NEW.volunteer_id
                USING ERRCODE = '23503', CONSTRAINT = 'hour_entries_volunteer_id_fkey';
        END IF;
    END IF;

    -- rule 5/6: anything flagged this way waits for a coordinator, in either approval mode
    IF NEW.status <> 'pending'
       AND NEW.flags && ARRAY['auto_checkout', 'walk_in', 'correction', 'self_report', 'backfill'] THEN
        RAISE EXCEPTION 'an entry flagged % must start pending', NEW.flags
            USING ERRCODE = 'VD422', CONSTRAINT = 'hour_entries_flagged_pending';
    END IF;
    IF NEW.status = 'approved' THEN
        NEW.decided_at := coalesce(NEW.decided_at, now());
    END IF;
    NEW.created_at := now();
    RETURN NEW;
END $$;

-- Before update / delete: the append-only guard.
CREATE FUNCTION hour_entries_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    mutable constant text[] := ARRAY['status', 'decided_by', 'decided_at', 'decision_reason',
                                     'voided_by', 'voided_at'];
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'hour entries are never deleted; void them'
            USING ERRCODE = 'VD409', CONSTRAINT = 'hour_entries_append_only';
    END IF;
    IF to_jsonb(NEW) - mutable IS DISTINCT FROM to_jsonb(OLD) - mutable THEN
        RAISE EXCEPTION 'hour entry % cannot be edited; write a correction', OLD.id
            USING ERRCODE = 'VD409', CONSTRAINT = 'hour_entries_append_only';
    END IF;
    IF NEW.status = OLD.status THEN
        IF to_jsonb(NEW) IS DISTINCT FROM to_jsonb(OLD) THEN
            RAISE EXCEPTION 'hour entry % is already %', OLD.id, OLD.status
                USING ERRCODE = 'VD409', CONSTRAINT = 'hour_entries_status_transition';
        END IF;
        RETURN NEW;
    END IF;
    IF NOT ((OLD.status = 'pending' AND NEW.status IN ('approved', 'rejected', 'void'))
            OR (OLD.status IN ('approved', 'rejected') AND NEW.status = 'void')) THEN
        RAISE EXCEPTION 'hour entry % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'VD409', CONSTRAINT = 'hour_entries_status_transition';
    END IF;
    IF NEW.status IN ('approved', 'rejected') THEN
        NEW.decided_at := now();
    ELSIF NEW.status = 'void' THEN
        NEW.voided_at := now();
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER hour_entries_before_insert BEFORE INSERT ON hour_entries
    FOR EACH ROW EXECUTE FUNCTION hour_entries_before_insert();
CREATE TRIGGER hour_entries_guard BEFORE UPDATE OR DELETE ON hour_entries
    FOR EACH ROW EXECUTE FUNCTION hour_entries_guard();

-- The split of an entry's minutes over the local days it touches (DESIGN §3 rule 8). The
-- minutes already credited by each local midnight are floor(elapsed / 1 min), capped at the
-- entry's total; a day gets the difference, and the last day gets the rest. So the days always
-- sum to exactly `minutes`, whatever rounding or minimum credit made it, and a loss to rounding
-- falls on the last day. One row per day the span touches (a zero-length span: its start day).
CREATE FUNCTION hour_day_split(p_start timestamptz, p_end timestamptz, p_minutes int, p_tz text)
RETURNS TABLE (day date, minutes int)
LANGUAGE sql STABLE AS $$
    WITH days AS (
        SELECT g::date AS d,
               greatest(p_start, g AT TIME ZONE p_tz) AS a,
               least(p_end, (g + interval '1 day') AT TIME ZONE p_tz) AS b
          FROM generate_series((p_start AT TIME ZONE p_tz)::date::timestamp,
                               (p_end AT TIME ZONE p_tz)::date::timestamp, interval '1 day') AS g
    ), kept AS (
        SELECT d, a, b, row_number() OVER (ORDER BY d DESC) AS from_end
          FROM days
         WHERE b > a OR p_start = p_end
    )
    SELECT d,
           CASE WHEN from_end = 1 THEN p_minutes
                ELSE least(p_minutes, floor(extract(epoch FROM b - p_start) / 60))::int END
         - least(p_minutes, floor(extract(epoch FROM a - p_start) / 60))::int
      FROM kept
     ORDER BY d
$$;

-- One row per (entry, local day), with the entry's as-at attribution and status copied, so that
-- a month's figures are read from one partition. Written only by the triggers on hour_entries.
-- Partitioned by range on the local day, one partition a month; hour_entry_days_add_month()
-- creates one (moving any rows that landed in the default partition), and the server should
-- call hour_entry_days_ensure(current_date - 31, current_date + 400) at start-up and daily.
CREATE TABLE hour_entry_days (
    entry_id         bigint NOT NULL CONSTRAINT hour_entry_days_entry_id_fkey REFERENCES hour_entries (id),
    day              date NOT NULL,
    volunteer_id     bigint NOT NULL,
    event_id         bigint NOT NULL,
    team_id          bigint NOT NULL,
    org_unit_id      bigint NOT NULL,
    home_org_unit_id bigint NOT NULL,
    minutes          int NOT NULL CONSTRAINT hour_entry_days_minutes_check CHECK (minutes >= 0),
    status           text NOT NULL,
    PRIMARY KEY (entry_id, day)
) PARTITION BY RANGE (day);
CREATE TABLE hour_entry_days_default PARTITION OF hour_entry_days DEFAULT;

CREATE FUNCTION hour_entry_days_add_month(month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    m    date := date_trunc('month', month)::date;
    n    date := (date_trunc('month', month) + interval '1 month')::date;
    part text := 'hour_entry_days_' || to_char(m, 'YYYY_MM');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE hour_entry_days INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format('WITH moved AS (DELETE FROM hour_entry_days_default WHERE day >= %L AND day < %L RETURNING *)
                    INSERT INTO %I SELECT * FROM moved', m, n, part);
    EXECUTE format('ALTER TABLE hour_entry_days ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, m, n);
    RETURN true;
END $$;

-- Create every missing month partition from from_day's month to to_day's; returns how many.
CREATE FUNCTION hour_entry_days_ensure(from_day date, to_day date) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    m     date := date_trunc('month', from_day)::date;
    added int := 0;
BEGIN
    WHILE m <= to_day LOOP
        IF hour_entry_days_add_month(m) THEN
            added := added + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN added;
END $$;

DO $$ BEGIN
    PERFORM hour_entry_days_ensure((now() AT TIME ZONE 'Asia/Shanghai')::date - 400,
                                   (now() AT TIME ZONE 'Asia/Shanghai')::date + 400);
END $$;

CREATE FUNCTION hour_entries_split() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hour_entry_days (entry_id, day, volunteer_id, event_id, team_id, org_unit_id,
                                 home_org_unit_id, minutes, status)
    SELECT n.id, s.day, n.volunteer_id, n.event_id, n.team_id, n.org_unit_id,
           n.home_org_unit_id, s.minutes, n.status
      FROM new_rows n,
           LATERAL hour_day_split(n.started_at, n.ended_at, n.minutes, app_time_zone()) s;
    RETURN NULL;
END $$;

CREATE FUNCTION hour_entries_sync_days() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tz text := app_time_zone();
BEGIN
    -- the day bounds let PostgreSQL prune to the one or two partitions concerned
    UPDATE hour_entry_days SET status = NEW.status
     WHERE entry_id = NEW.id
       AND day BETWEEN (NEW.started_at AT TIME ZONE tz)::date AND (NEW.ended_at AT TIME ZONE tz)::date;
    RETURN NULL;
END $$;

CREATE TRIGGER hour_entries_split AFTER INSERT ON hour_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hour_entries_split();
CREATE TRIGGER hour_entries_sync_days AFTER UPDATE OF status ON hour_entries
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION hour_entries_sync_days();

--------------------------------------------------------------------------------------------
-- Rollups for reports (first form: tables and an exact rebuild; incremental upkeep comes later)
--------------------------------------------------------------------------------------------
--
-- Minutes add up across org units and teams, distinct volunteers do not (someone who served in
-- two grids counts once for their community). So there are two grains:
--   monthly_unit_totals       minutes per (month, dimension, org unit, team): the sums;
--   monthly_volunteer_totals  minutes per (month, volunteer, service unit, team, home unit):
--                             count(DISTINCT volunteer_id) over any subtree or team.
-- dimension 'service' counts the org unit where the service happened, 'residence' the
-- volunteer's home unit as at service. Only pending and approved minutes are kept.
CREATE TABLE monthly_unit_totals (
    month            date NOT NULL CONSTRAINT monthly_unit_totals_month_check CHECK (extract(day FROM month) = 1),
    dimension        text NOT NULL CONSTRAINT monthly_unit_totals_dimension_check
                         CHECK (dimension IN ('service', 'residence')),
    org_unit_id      bigint NOT NULL,
    team_id          bigint NOT NULL,
    approved_minutes bigint NOT NULL DEFAULT 0,
    pending_minutes  bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (month, dimension, org_unit_id, team_id)
);
CREATE INDEX monthly_unit_totals_team_idx ON monthly_unit_totals (month, team_id);

CREATE TABLE monthly_volunteer_totals (
    month            date NOT NULL CONSTRAINT monthly_volunteer_totals_month_check CHECK (extract(day FROM month) = 1),
    volunteer_id     bigint NOT NULL,
    org_unit_id      bigint NOT NULL,
    team_id          bigint NOT NULL,
    home_org_unit_id bigint NOT NULL,
    approved_minutes bigint NOT NULL DEFAULT 0,
    pending_minutes  bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (month, volunteer_id, org_unit_id, team_id, home_org_unit_id)
);
CREATE INDEX monthly_volunteer_totals_org_unit_idx ON monthly_volunteer_totals (month, org_unit_id);
CREATE INDEX monthly_volunteer_totals_team_idx ON monthly_volunteer_totals (month, team_id);
CREATE INDEX monthly_volunteer_totals_home_idx ON monthly_volunteer_totals (month, home_org_unit_id);

-- All-time per volunteer, for star levels and certificates.
CREATE TABLE volunteer_totals (
    volunteer_id     bigint PRIMARY KEY CONSTRAINT volunteer_totals_volunteer_id_fkey
                         REFERENCES volunteers (id) ON DELETE CASCADE,
    approved_minutes bigint NOT NULL DEFAULT 0,
    pending_minutes  bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Recompute one month's rollups from that month's hour_entry_days partition: the reference
-- that any incremental upkeep must agree with, and the repair tool. Returns the rows written.
CREATE FUNCTION rollups_rebuild_month(month date) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    m    date := date_trunc('month', month)::date;
    n    date := (date_trunc('month', month) + interval '1 month')::date;
    rows bigint;
    more bigint;
BEGIN
    DELETE FROM monthly_unit_totals t WHERE t.month = m;
    DELETE FROM monthly_volunteer_totals t WHERE t.month = m;
    INSERT INTO monthly_volunteer_totals (month, volunteer_id, org_unit_id, team_id, home_org_unit_id,
                                          approved_minutes, pending_minutes)
    SELECT m, volunteer_id, org_unit_id, team_id, home_org_unit_id,
           coalesce(sum(minutes) FILTER (WHERE status = 'approved'), 0),
           coalesce(sum(minutes) FILTER (WHERE status = 'pending'), 0)
      FROM hour_entry_days
     WHERE day >= m AND day < n AND status IN ('approved', 'pending')
     GROUP BY volunteer_id, org_unit_id, team_id, home_org_unit_id;
    GET DIAGNOSTICS rows = ROW_COUNT;
    INSERT INTO monthly_unit_totals (month, dimension, org_unit_id, team_id, approved_minutes, pending_minutes)
    SELECT m, 'service', org_unit_id, team_id, sum(approved_minutes), sum(pending_minutes)
      FROM monthly_volunteer_totals v WHERE v.month = m GROUP BY org_unit_id, team_id
    UNION ALL
    SELECT m, 'residence', home_org_unit_id, team_id, sum(approved_minutes), sum(pending_minutes)
      FROM monthly_volunteer_totals v WHERE v.month = m GROUP BY home_org_unit_id, team_id;
    GET DIAGNOSTICS more = ROW_COUNT;
    RETURN rows + more;
END $$;

--------------------------------------------------------------------------------------------
-- Star schemes
--------------------------------------------------------------------------------------------

CREATE FUNCTION int_array_increasing(a int[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT NOT EXISTS (SELECT 1 FROM generate_subscripts(a, 1) i WHERE i > 1 AND a[i] <= a[i - 1])
$$;

CREATE TABLE star_schemes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       text NOT NULL CONSTRAINT star_schemes_code_check CHECK (code ~ '^[a-z][a-z0-9_]{0,31}$'),
    name       text NOT NULL CONSTRAINT star_schemes_name_check CHECK (char_length(btrim(name)) BETWEEN 1 AND 100),
    -- hours needed for 1, 2, 3, ... stars, strictly increasing
    thresholds int[] NOT NULL CONSTRAINT star_schemes_thresholds_check CHECK (
        array_ndims(thresholds) = 1 AND cardinality(thresholds) BETWEEN 1 AND 10
        AND array_position(thresholds, NULL) IS NULL AND thresholds[1] > 0
        AND int_array_increasing(thresholds)),
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT star_schemes_code_key UNIQUE (code)
);
CREATE UNIQUE INDEX star_schemes_one_default ON star_schemes (is_default) WHERE is_default;

INSERT INTO star_schemes (code, name, thresholds, is_default) VALUES
    ('national', '全国星级志愿者认定（100/300/600/1000/1500小时）', '{100,300,600,1000,1500}', true),
    ('local',    '地方星级标准（100/200/500/800/1000小时）',        '{100,200,500,800,1000}',  false);

-- Stars earned with `minutes` of approved service under a scheme's thresholds (in hours).
CREATE FUNCTION star_level(thresholds int[], minutes bigint) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT count(*)::int FROM unnest(thresholds) t WHERE minutes >= t::bigint * 60
$$;

--------------------------------------------------------------------------------------------
-- Audit, idempotency, month closes, correction requests
--------------------------------------------------------------------------------------------

-- Written by the server in the same transaction as the change it records. No foreign keys:
-- the trail must outlive and never block what it describes. Append-only.
CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    account_id bigint,
    ip         inet,
    action     text NOT NULL CONSTRAINT audit_log_action_check CHECK (char_length(action) BETWEEN 1 AND 100),
    entity     text NOT NULL CONSTRAINT audit_log_entity_check CHECK (char_length(entity) BETWEEN 1 AND 100),
    entity_id  bigint,
    old        jsonb,
    new        jsonb,
    request_id text CONSTRAINT audit_log_request_id_check CHECK (char_length(request_id) <= 100)
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, id);
CREATE INDEX audit_log_account_id_idx ON audit_log (account_id, id) WHERE account_id IS NOT NULL;
CREATE INDEX audit_log_at_idx ON audit_log USING brin (at);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Idempotency-Key: scope is whose key it is ('account:<id>', or 'anon:<address>' for
-- self-registration). A row with status NULL is in flight: a concurrent retry gets 409. The same
-- key with another request_hash is 422. Purge by expires_at.
CREATE TABLE idempotency_keys (
    scope         text NOT NULL CONSTRAINT idempotency_keys_scope_check CHECK (char_length(scope) BETWEEN 1 AND 100),
    key           text NOT NULL CONSTRAINT idempotency_keys_key_check CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash  bytea NOT NULL,  -- SHA-256 over method, path and body
    status        int CONSTRAINT idempotency_keys_status_check CHECK (status BETWEEN 100 AND 599),
    content_type  text,
    response      text,  -- the exact body sent
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);

-- A month close under an org unit: the report as sent, and its SHA-256. The snapshot is text,
-- not jsonb, because jsonb reorders keys and spacing and the stored checksum must verify
-- against the stored bytes; the database computes sha256 itself. Closed months are never
-- edited (a re-close would be a later, separate design).
CREATE TABLE month_closes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    month       date NOT NULL CONSTRAINT month_closes_month_check CHECK (extract(day FROM month) = 1),
    org_unit_id bigint NOT NULL CONSTRAINT month_closes_org_unit_id_fkey REFERENCES org_units (id),
    snapshot    text NOT NULL,
    sha256      text NOT NULL CONSTRAINT month_closes_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    closed_by   bigint CONSTRAINT month_closes_closed_by_fkey REFERENCES accounts (id),
    closed_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT month_closes_month_org_unit_id_key UNIQUE (month, org_unit_id)
);

CREATE FUNCTION month_closes_checksum() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.sha256 := encode(sha256(convert_to(NEW.snapshot, 'UTF8')), 'hex');
    RETURN NEW;
END $$;
CREATE TRIGGER month_closes_checksum BEFORE INSERT ON month_closes
    FOR EACH ROW EXECUTE FUNCTION month_closes_checksum();
CREATE TRIGGER month_closes_append_only BEFORE UPDATE OR DELETE ON month_closes
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- A volunteer reports an error in a record (志愿服务条例 Art. 19): about an entry, or about
-- service that has no entry at all (entry_id NULL, event_id given or not).
CREATE TABLE correction_requests (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    volunteer_id       bigint NOT NULL CONSTRAINT correction_requests_volunteer_id_fkey REFERENCES volunteers (id),
    entry_id           bigint CONSTRAINT correction_requests_entry_id_fkey REFERENCES hour_entries (id),
    event_id           bigint CONSTRAINT correction_requests_event_id_fkey REFERENCES events (id),
    message            text NOT NULL CONSTRAINT correction_requests_message_check
                           CHECK (char_length(btrim(message)) BETWEEN 1 AND 2000),
    status             text NOT NULL DEFAULT 'open' CONSTRAINT correction_requests_status_check
                           CHECK (status IN ('open', 'resolved', 'rejected')),
    resolution         text CONSTRAINT correction_requests_resolution_check CHECK (char_length(resolution) <= 2000),
    resolved_entry_id  bigint CONSTRAINT correction_requests_resolved_entry_id_fkey REFERENCES hour_entries (id),
    created_by         bigint CONSTRAINT correction_requests_created_by_fkey REFERENCES accounts (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    resolved_by        bigint CONSTRAINT correction_requests_resolved_by_fkey REFERENCES accounts (id),
    resolved_at        timestamptz,
    CONSTRAINT correction_requests_resolved_check CHECK ((status = 'open') = (resolved_at IS NULL))
);
CREATE INDEX correction_requests_volunteer_id_idx ON correction_requests (volunteer_id, created_at);
CREATE INDEX correction_requests_open_idx ON correction_requests (created_at) WHERE status = 'open';
CREATE INDEX correction_requests_entry_id_idx ON correction_requests (entry_id) WHERE entry_id IS NOT NULL;
