-- scripts/bench/setup.sql: the data of `make bench`, straight into the database (no Argon2
-- log-ins): one district, team and activity whose policy takes a fixed code and no walk-ins,
-- one event open now, and :nv volunteers, each with an account, a session and a confirmed
-- sign-up.  Volunteer k (1-based) has the bearer token 'bench' || lpad(k, 38, '0'); the
-- sessions table stores its SHA-256, as the server does.  psql -v nv=N -f setup.sql
\set ON_ERROR_STOP on
INSERT INTO org_units (kind, code, name) VALUES ('district', 'BENCH-110999', 'Bench district')
RETURNING id AS ou \gset
INSERT INTO teams (name, org_unit_id) VALUES ('Bench team', :ou) RETURNING id AS team \gset
INSERT INTO hour_policies (name, static_code, walk_ins_allowed) VALUES ('bench', true, false)
RETURNING id AS pol \gset
INSERT INTO activities (team_id, org_unit_id, title, policy_id)
VALUES (:team, :ou, 'Bench traffic post', :pol) RETURNING id AS act \gset
INSERT INTO events (activity_id, starts_at, ends_at, checkin_code)
VALUES (:act, now() - interval '10 minutes', now() + interval '1 day', '424242') RETURNING id AS ev \gset

CREATE TEMP TABLE bench_v AS
SELECT k, 'bench' || lpad(k::text, 38, '0') AS token FROM generate_series(1, :nv) k;
INSERT INTO volunteers (name, phone, org_unit_id)
SELECT 'Bench ' || k, '139' || lpad(k::text, 9, '0'), :ou FROM bench_v ORDER BY k;
INSERT INTO accounts (login, password_hash, volunteer_id)
SELECT v.phone, '$argon2id$v=19$m=65536,t=2,p=1$bm9uZQ$bm9uZQ', v.id
  FROM volunteers v WHERE v.org_unit_id = :ou;
INSERT INTO sessions (token_hash, account_id, expires_at)
SELECT sha256(convert_to(b.token, 'UTF8')), a.id, now() + interval '1 day'
  FROM bench_v b
  JOIN volunteers v ON v.phone = '139' || lpad(b.k::text, 9, '0')
  JOIN accounts a ON a.volunteer_id = v.id;
INSERT INTO signups (event_id, volunteer_id, status)
SELECT :ev, v.id, 'confirmed' FROM volunteers v WHERE v.org_unit_id = :ou;
ANALYZE;
SELECT :ev AS event_id, (SELECT checkin_code FROM events WHERE id = :ev) AS code,
       (SELECT count(*) FROM sessions) AS sessions;
