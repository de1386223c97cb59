-- 0028_least_privilege.sql: the server can run as a role that may change data but not the
-- schema (R31: DML on the application's tables only, no DDL, no superuser).
--
-- `volunteerd migrate` runs as the owner of the schema.  With VOLUNTEERD_APP_ROLE set it then
-- calls app_role_grant(role) below, so that `volunteerd serve` can connect as that role.  Two
-- things the server does need more than DML, and get it from here:
--
--   * the ledger's month partitions, which the server's job creates ahead of time: the
--     function that creates one now runs as its owner (SECURITY DEFINER, with a fixed
--     search_path so that a caller's objects cannot stand in for ours), and only roles given
--     EXECUTE may call it;
--   * nothing else: LOCK TABLE in the month close and the roll-ups needs UPDATE, which DML has.

ALTER FUNCTION hour_entry_days_add_month(date) SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE EXECUTE ON FUNCTION hour_entry_days_add_month(date) FROM PUBLIC;

-- Give role_name what the server needs, and no more: the schemas' use, SELECT, INSERT, UPDATE
-- and DELETE on every table (TRUNCATE, REFERENCES and TRIGGER not), the sequences, every
-- function but this one; schema_migrations only to read.  Idempotent: migrate calls it on every run, so
-- tables added by later migrations are granted too.  Refuses a role that does not exist, and
-- the owner itself (a grant to oneself would hide that the server still runs as the owner).
CREATE FUNCTION app_role_grant(role_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
        RAISE EXCEPTION 'VOLUNTEERD_APP_ROLE: role "%" does not exist: create it first (CREATE ROLE % LOGIN)',
            role_name, role_name;
    END IF;
    IF role_name = current_user THEN
        RAISE EXCEPTION 'VOLUNTEERD_APP_ROLE: "%" is the role migrate runs as; name the role the server connects as',
            role_name;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA public, api TO %I', role_name);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', role_name);
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM %I', role_name);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public, api TO %I', role_name);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION app_role_grant(text) FROM %I', role_name);
END
$$;
REVOKE EXECUTE ON FUNCTION app_role_grant(text) FROM PUBLIC;
