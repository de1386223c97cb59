-- gen-data / seed-demo, before anything: does the database already hold a district, and may
-- this connection set session_replication_role (a superuser)?  One row: holds_data, superuser.
SELECT EXISTS (SELECT 1 FROM org_units) OR EXISTS (SELECT 1 FROM volunteers) OR EXISTS (SELECT 1 FROM events),
       coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
