/*
 * migrate.c: the migration runner.
 *
 * Each sql/NNNN_name.sql is applied once, in order, in one transaction with its row in
 * schema_migrations (version, name, SHA-256 checksum).  A session-level advisory lock
 * serialises concurrent runners (several servers starting at once).  An applied file whose
 * checksum changed means someone edited history: we refuse rather than guess.
 */
#include "migrate.h"

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "migrations.h"
#include "queries.h"

#define MIGRATE_LOCK_KEY "7301001"

static void checksum(const char *sql, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_Digest(sql, strlen(sql), md, &len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

int migrate_latest(void)
{
	int v = 0;
	for (const struct migration *m = migrations_embedded; m->version; m++)
		if (m->version > v)
			v = m->version;
	return v;
}

static const struct migration *find(int version)
{
	for (const struct migration *m = migrations_embedded; m->version; m++)
		if (m->version == version)
			return m;
	return NULL;
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Connect to url; key names the setting it came from, for the error. */
static PGconn *connect_db(const char *url, const char *key, struct err *err)
{
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *vals[] = {url, "volunteerd-cli", "10", NULL};
	PGconn *pg = PQconnectdbParams(keys, vals, 1);
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		err_set(err, APP_EUNAVAILABLE, key, "cannot connect: %s",
		        pg ? PQerrorMessage(pg) : "out of memory");
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg, quiet, NULL); /* no "already exists" chatter */
	return pg;
}

static int exec_ok(PGconn *pg, const char *sql, struct err *err, const char *what)
{
	PGresult *res = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(res);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		err_set(err, APP_EINTERNAL, NULL, "%s: %s", what, PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : -1;
}

static int is_applied(const int *applied, int n, int version)
{
	for (int i = 0; i < n; i++)
		if (applied[i] == version)
			return 1;
	return 0;
}

/* Compare applied rows with the embedded set.  Returns the number of applied migrations
 * found intact, or -1 (err filled) on a changed checksum or an unknown version. */
static int verify_applied(PGconn *pg, int *applied_max, struct err *err)
{
	PGresult *res = PQexec(pg, Q_MIGRATIONS_APPLIED);
	*applied_max = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		err_set(err, APP_EINTERNAL, NULL, "reading schema_migrations: %s",
		        PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	int n = PQntuples(res);
	int *applied = calloc((size_t)n + 1, sizeof *applied);
	if (!applied) {
		PQclear(res);
		return err_set(err, APP_EINTERNAL, NULL, "out of memory");
	}
	for (int i = 0; i < n; i++) {
		int version = atoi(PQgetvalue(res, i, 0));
		applied[i] = version;
		const char *sum = PQgetvalue(res, i, 1);
		const struct migration *m = find(version);
		char want[65];
		if (!m) {
			err_set(err, APP_ECONFLICT, NULL,
			        "the database has migration %d, which this binary does not know: "
			        "it is newer than this build",
			        version);
			PQclear(res);
			free(applied);
			return -1;
		}
		checksum(m->sql, want);
		if (strcmp(want, sum) != 0) {
			err_set(err, APP_ECONFLICT, NULL,
			        "migration %04d_%s was changed after it was applied (checksum "
			        "%.12s "
			        "in the database, %.12s in this build); refusing",
			        version, m->name, sum, want);
			PQclear(res);
			free(applied);
			return -1;
		}
		if (version > *applied_max)
			*applied_max = version;
	}
	PQclear(res);
	/* Out of order is refused: a version missing below the newest applied one would
	 * otherwise be skipped for ever. */
	for (const struct migration *m = migrations_embedded; m->version; m++) {
		int seen = 0;
		for (int i = 0; i < n && !seen; i++)
			seen = m->version <= *applied_max && is_applied(applied, n, m->version);
		if (m->version < *applied_max && !seen) {
			err_set(err, APP_ECONFLICT, NULL,
			        "migration %04d_%s was never applied but later ones were; refusing",
			        m->version, m->name);
			free(applied);
			return -1;
		}
	}
	free(applied);
	return n;
}

/* Give VOLUNTEERD_APP_ROLE the server's rights (0028's app_role_grant), in one transaction. */
static int grant_app_role(PGconn *pg, const char *role, struct err *err)
{
	const char *params[] = {role};
	PGresult *res = PQexecParams(pg, Q_APP_ROLE_GRANT, 1, NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		err_set(err, APP_EINVALID, "VOLUNTEERD_APP_ROLE", "%s",
		        PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
		                ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
		                : PQresultErrorMessage(res));
	PQclear(res);
	if (ok)
		log_msg(LOG_INFO, "app_role_granted", "role=%s", role);
	return ok ? 0 : -1;
}

int migrate_run(const struct config *cfg, struct err *err)
{
	int own_url = cfg->migrate_database_url[0] != '\0';
	PGconn *pg = connect_db(own_url ? cfg->migrate_database_url : cfg->database_url,
	                        own_url ? "VOLUNTEERD_MIGRATE_DATABASE_URL" : "DATABASE_URL", err);
	int rc = -1, applied_max = 0;
	if (!pg)
		return -1;
	if (exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, "lock") < 0 ||
	    exec_ok(pg, Q_MIGRATIONS_CREATE, err, "schema_migrations") < 0 ||
	    verify_applied(pg, &applied_max, err) < 0)
		goto out;
	for (const struct migration *m = migrations_embedded; m->version; m++) {
		if (m->version <= applied_max)
			continue;
		char sum[65], version[16];
		checksum(m->sql, sum);
		snprintf(version, sizeof version, "%d", m->version);
		if (exec_ok(pg, "BEGIN", err, "begin") < 0)
			goto out;
		if (exec_ok(pg, m->sql, err, m->name) < 0) {
			PQclear(PQexec(pg, "ROLLBACK"));
			goto out;
		}
		const char *params[] = {version, m->name, sum};
		PGresult *res =
		        PQexecParams(pg, Q_MIGRATIONS_RECORD, 3, NULL, params, NULL, NULL, 0);
		int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
		if (!ok || exec_ok(pg, "COMMIT", err, "commit") < 0) {
			if (!ok)
				err_set(err, APP_EINTERNAL, NULL, "recording migration %d failed",
				        m->version);
			PQclear(PQexec(pg, "ROLLBACK"));
			goto out;
		}
		log_msg(LOG_INFO, "migration_applied", "version=%d name=%s", m->version, m->name);
	}
	if (migrate_latest() > 0) {
		const char *tz[] = {cfg->tz};
		PGresult *res = PQexecParams(pg, Q_SETTINGS_TZ, 1, NULL, tz, NULL, NULL, 0);
		int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			err_set(err, APP_EINVALID, "VOLUNTEERD_TZ", "%s",
			        PQresultErrorMessage(res));
		PQclear(res);
		if (!ok || exec_ok(pg, Q_PARTITIONS_ENSURE, err, "ledger partitions") < 0)
			goto out;
	}
	if (cfg->app_role[0] && grant_app_role(pg, cfg->app_role, err) < 0)
		goto out;
	rc = 0;
out:
	PQclear(PQexec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
	PQfinish(pg);
	return rc;
}

/* Warn, once per setting, when the database may lose committed writes in a crash (R33):
 * fsync, synchronous_commit or full_page_writes off, or data_sync_retry on.  A warning unless
 * VOLUNTEERD_REQUIRE_DURABLE_DB is set: a test or bench cluster runs so on purpose.  Returns
 * how many are off. */
static int warn_durability(PGconn *pg)
{
	PGresult *res = PQexec(pg, Q_DURABILITY_OFF);
	int n = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : 0;
	for (int i = 0; i < n; i++)
		log_msg(LOG_WARN, "db_durability_off", "setting=%s hint=%s", PQgetvalue(res, i, 0),
		        strcmp(PQgetvalue(res, i, 0), "data_sync_retry") == 0
		                ? "a failed fsync may lose committed writes: turn it off in "
		                  "postgresql.conf"
		                : "committed writes may be lost in a crash: turn it on in "
		                  "postgresql.conf");
	PQclear(res);
	return n;
}

/* Warn when the server's role may change the schema (R31: it needs DML only): a superuser,
 * the owner of the application's tables, or a role that may create objects in its schemas.
 * Only a warning, as for durability: a development database runs as its owner. */
static void warn_role(PGconn *pg)
{
	PGresult *res = PQexec(pg, Q_ROLE_BROAD);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0))
		log_msg(LOG_WARN, "db_role_broad", "reason=%s hint=%s", PQgetvalue(res, 0, 0),
		        "the server needs only DML: see VOLUNTEERD_APP_ROLE in the README");
	PQclear(res);
}

/* The database splits hours into days and months in the zone the last migrate stored
 * (app_time_zone()); a server in another would show times in one zone and count days in the
 * other, so it does not start until migrate has stored its zone. */
static int check_time_zone(PGconn *pg, const char *tz, struct err *err)
{
	PGresult *res = PQexec(pg, "SELECT app_time_zone()");
	int rc = 0;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), tz) != 0)
		rc = err_set(
		        err, APP_ECONFLICT, "VOLUNTEERD_TZ",
		        "%s, but the database counts days and months in %s (stored by the last "
		        "`volunteerd migrate`): run migrate to change it, or set it back",
		        tz, PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

int migrate_check(const struct config *cfg, int serving, struct err *err)
{
	int applied_max = 0;
	PGconn *pg = connect_db(cfg->database_url, "DATABASE_URL", err);
	if (!pg)
		return 1;
	int rc = 0;
	PGresult *res = PQexec(pg, "SELECT to_regclass('schema_migrations') IS NOT NULL");
	int exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!exists) {
		rc = err_set(err, APP_ECONFLICT, NULL,
		             "the database has no schema yet: run `volunteerd migrate` first");
	} else if (verify_applied(pg, &applied_max, err) < 0) {
		rc = -1;
	} else if (applied_max < migrate_latest()) {
		rc = err_set(err, APP_ECONFLICT, NULL,
		             "the schema is at version %d, this build needs %d: run `volunteerd "
		             "migrate` first",
		             applied_max, migrate_latest());
	}
	if (rc == 0 && serving)
		rc = check_time_zone(pg, cfg->tz, err);
	if (rc == 0 && serving) {
		if (warn_durability(pg) > 0 && cfg->require_durable_db)
			rc = err_set(
			        err, APP_ECONFLICT, "VOLUNTEERD_REQUIRE_DURABLE_DB",
			        "the database may lose committed writes (see the db_durability_off "
			        "lines): fix its settings, or unset this");
		warn_role(pg);
	}
	PQfinish(pg);
	return rc;
}
