/*
 * queries.c: the SQL text of the server and the CLI, and the constraint -> field table
 * used to name the field in a 409 or 422.
 */
#include "queries.h"

#include <string.h>

const char Q_MIGRATIONS_CREATE[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                   " version integer PRIMARY KEY,"
                                   " name text NOT NULL,"
                                   " checksum text NOT NULL,"
                                   " applied_at timestamptz NOT NULL DEFAULT now())";

const char Q_MIGRATIONS_APPLIED[] =
        "SELECT version, checksum FROM schema_migrations ORDER BY version";

const char Q_MIGRATIONS_RECORD[] =
        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::int, $2, $3)";

/* After migrating: the deployment's zone for the ledger's day split, and monthly ledger
 * partitions from a month back to a year ahead. */
const char Q_SETTINGS_TZ[] =
        "INSERT INTO app_settings (key, value) VALUES ('time_zone', $1)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()"
        " WHERE app_settings.value <> excluded.value";

/* The settings without which a committed write may not survive a crash (R33): those off,
 * and data_sync_retry on (PostgreSQL then retries a failed fsync, whose data the kernel may
 * have dropped, instead of stopping and recovering from the WAL). */
const char Q_DURABILITY_OFF[] =
        "SELECT name FROM pg_settings WHERE (name IN ('fsync', 'synchronous_commit',"
        " 'full_page_writes') AND setting = 'off') OR (name = 'data_sync_retry' AND setting = 'on')"
        " ORDER BY name";

/* Why the server's role is broader than it needs (R31), or NULL: superuser, owner of the
 * application's tables (or a member of their owner), or allowed to create in its schemas. */
const char Q_ROLE_BROAD[] =
        "SELECT CASE"
        " WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN 'superuser'"
        " WHEN EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        "  WHERE n.nspname IN ('public', 'api') AND c.relkind IN ('r', 'p')"
        "  AND pg_has_role(c.relowner, 'USAGE')) THEN 'owns_tables'"
        " WHEN has_schema_privilege('public', 'CREATE') OR has_schema_privilege('api', 'CREATE')"
        " THEN 'may_create' END";

/* migrate, with VOLUNTEERD_APP_ROLE: the server's rights to $1 (0028). */
const char Q_APP_ROLE_GRANT[] = "SELECT app_role_grant($1)";

const char Q_PARTITIONS_ENSURE[] =
        "SELECT hour_entry_days_ensure(current_date - 31, current_date + 400)";

/* Forgotten check-outs (one runner at a time across servers; returns how many closed). */
const char Q_AUTO_CHECKOUT[] = "SELECT auto_checkout_run()";

/* Fold the report journal into the report totals (one runner at a time; 0007). */
const char Q_ROLLUPS_COMPACT[] = "SELECT rollups_compact()";

/* Retention (0021): one bounded run of the purge; $1 the session idle limit in minutes, $2
 * the most rows deleted from each table. */
const char Q_RETENTION_PURGE[] =
        "SELECT keys_purged, sessions_purged, attempts_purged FROM retention_purge($1, $2)";

const char Q_SCHEMA_VERSION[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";

const char Q_ADMIN_EXISTS[] = "SELECT id FROM accounts WHERE lower(login) = lower($1)";

/* The account and its tree-wide admin grant, in one statement (one transaction). */
const char Q_ADMIN_CREATE[] =
        "WITH a AS (INSERT INTO accounts (login, password_hash) VALUES ($1, $2) RETURNING id)"
        " INSERT INTO role_grants (account_id, role) SELECT id, 'admin' FROM a RETURNING "
        "account_id";

/* $1 token hash, $2 idle minutes -> (account_id, volunteer_id) or no row. */
const char Q_SESSION_RESOLVE[] =
        "SELECT account_id, volunteer_id FROM session_resolve($1::bytea, $2::int)";

const char Q_SESSION_DELETE[] = "DELETE FROM sessions WHERE token_hash = $1::bytea";

/* $1 login, $2 ip -> (account_id, password_hash, retry_after_seconds). */
const char Q_LOGIN_LOOKUP[] =
        "SELECT account_id, password_hash, retry_after FROM login_lookup($1, $2::inet)";

/* $1 account, $2 token hash, $3 old token hash, $4 max minutes, $5 ip, $6 user agent,
 * $7 login, $8 request id -> the account as JSON. */
const char Q_LOGIN_SUCCEED[] =
        "SELECT login_succeed($1::bigint, $2::bytea, $3::bytea, $4::int, $5::inet, $6, $7, $8)";

/* As Q_LOGIN_SUCCEED with $1 the TOTP step the code matched first: NULL when that step was
 * taken already (0030). */
const char Q_LOGIN_SUCCEED_TOTP[] = "SELECT login_succeed_totp($2::bigint, $1::bigint, $3::bytea, "
                                    "$4::bytea, $5::int, $6::inet, $7, $8, $9)";

/* $1 account -> (the sealed secret in hex, confirmed, last step); no row without TOTP. */
const char Q_TOTP_STATE[] = "SELECT encode(secret_sealed, 'hex'), confirmed_at IS NOT NULL, "
                            "last_step FROM account_totp WHERE account_id = $1::bigint";

/* $1 the caller's token hash, $2 account, $3 the TOTP step or NULL, $4 ip, $5 rid -> false
 * when the step was taken already. */
const char Q_SESSION_REAUTH[] =
        "SELECT session_reauth($1::bytea, $2::bigint, $3::bigint, $4::inet, $5)";

/* $1 login, $2 ip: count the failure; no row. */
const char Q_LOGIN_FAIL[] = "SELECT login_fail($1, $2::inet)";

/* $1 account, $2 the hash the log-in verified, $3 a new one of the same password: stored only
 * when the hash is still $2 (a password changed meanwhile wins); the password's age stays. */
const char Q_PASSWORD_REHASH[] =
        "UPDATE accounts SET password_hash = $3 WHERE id = $1::bigint AND password_hash = $2";

/* $1 account, $2 ip: count a failure against the account's login (a wrong second-factor code
 * after the right password); no row. */
const char Q_LOGIN_FAIL_ACCOUNT[] =
        "SELECT login_fail(login, $2::inet) FROM accounts WHERE id = $1::bigint";

/* $1 account, $2 ip -> (login, password_hash, retry_after_seconds); no row when disabled. */
const char Q_PASSWORD_LOOKUP[] =
        "SELECT login, password_hash, retry_after FROM password_lookup($1::bigint, $2::inet)";

/* $1 account, $2 the hash verified, $3 the new hash, $4 the caller's token hash, $5 ip,
 * $6 rid -> the number of other sessions ended. */
const char Q_PASSWORD_CHANGE[] =
        "SELECT password_change($1::bigint, $2, $3, $4::bytea, $5::inet, $6)";

/* $1 account, $2 the hash verified, $3 ip, $4 rid -> {"volunteer_no", "erased": true} */
const char Q_ME_ERASE[] = "SELECT me_erase($1::bigint, $2, $3::inet, $4)";

/* $1 account, $2 the caller's token hash, $3 idle minutes -> {"items": [...]} */
const char Q_SESSIONS_JSON[] = "SELECT sessions_json($1::bigint, $2::bytea, $3::int)";

/* $1 account, $2 the caller's token hash, $3 ip, $4 rid -> the number of sessions ended. */
const char Q_SESSIONS_END_OTHERS[] =
        "SELECT sessions_end_others($1::bigint, $2::bytea, $3::inet, $4)";

/* $1 function, $2 actor, $3 args, $4 idempotency key, $5 request hash, $6 ip, $7 rid. */
const char Q_API_CALL[] = "SELECT api_call($1, $2::bigint, $3::jsonb, $4, $5, $6::inet, $7)";

/* $1 a JSON array of api_call parameter objects, each with "actor" or "session" (a token
 * hash), $2 the session idle limit in minutes -> one row per item, in item order: (n, ok,
 * body, state, message, col, cons, and the session's account_id, volunteer_id and valid_ms
 * for an item that came with one).  See sql/0015_checkin_lean.sql, 0014 and 0008. */
const char Q_API_CALL_BATCH[] =
        "SELECT n, ok, body, state, message, col, cons, account_id, volunteer_id, valid_ms "
        "FROM checkin_batch($1::jsonb, $2::int) ORDER BY n";

/* $1 a text[] of token hashes in hex, $2 idle minutes -> (i, account_id, volunteer_id,
 * valid_ms) for the live ones. */
/* $1 the token hashes in hex, $2 idle minutes -> one row per live session: (i, account_id,
 * volunteer_id, valid_ms, mfa, auth_at_ms, admin); sql/0030_totp.sql. */
const char Q_SESSION_RESOLVE_MANY[] =
        "SELECT i, account_id, volunteer_id, valid_ms, mfa, auth_at_ms, "
        "admin FROM session_resolve_info($1::text[], $2::int)";

/* The session caches' invalidations (payloads: sql/0008_batch.sql). */
const char Q_SESSIONS_LISTEN[] = "LISTEN vd_sessions";

/* Before an ID number is encrypted (sql/0026): $1 its blind index under the previous key in hex
 * (NULL when no rotation is under way), $2 the volunteer's id (NULL for a registration) ->
 * (the id to encrypt for, reserved for a registration; whether another volunteer holds the
 * number under the previous key). */
const char Q_ID_NUMBER_PREPARE[] = "SELECT volunteer_id, taken FROM "
                                   "id_number_prepare(decode($1, 'hex'), $2::bigint)";

/* `rekey-ids`, one batch in one transaction: $1 the last id done, $2 the current key's prefix
 * of the stored form in hex, $3 the batch size -> (id, stored form in hex) of the next rows to
 * rewrite (sql/0026), locked. */
const char Q_REKEY_PENDING[] = "SELECT id, encode(id_number_enc, 'hex') FROM volunteers"
                               " WHERE id > $1::bigint AND id_number_enc IS NOT NULL"
                               " AND id_number_enc_stale(id_number_enc, decode($2, 'hex'))"
                               " ORDER BY id LIMIT $3::int FOR UPDATE";

/* $1 volunteer, $2 the new stored form in hex, $3 its blind index in hex -> false when
 * another volunteer holds that index (nothing written). */
const char Q_REKEY_WRITE[] = "SELECT id_number_rekey($1::bigint, decode($2, 'hex'), "
                             "decode($3, 'hex'))";

/* $1 the batch's key id, volunteer ids and count as JSON: one audit row per batch (no account:
 * the command runs as the database role). */
const char Q_REKEY_AUDIT[] = "SELECT audit('rekey', 'id_numbers', NULL, NULL, $1::jsonb)";

/* $1 the current key's prefix in hex -> (ID numbers stored, how many of them to rewrite). */
const char Q_REKEY_LEFT[] = "SELECT count(*), count(*) FILTER (WHERE "
                            "id_number_enc_stale(id_number_enc, decode($1, 'hex')))"
                            " FROM volunteers WHERE id_number_enc IS NOT NULL";

static const struct {
	const char *constraint;
	const char *field;
} constraint_fields[] = {
        {"accounts_login_key", "login"},
        {"volunteers_phone_key", "phone"},
        {"volunteers_id_number_hmac_key", "id_number"},
        {"org_units_code_key", "code"},
        {"hour_policies_owner_name_key", "name"},
};

const char *queries_constraint_field(const char *constraint)
{
	for (size_t i = 0; i < sizeof constraint_fields / sizeof constraint_fields[0]; i++)
		if (!strcmp(constraint, constraint_fields[i].constraint))
			return constraint_fields[i].field;
	return NULL;
}
