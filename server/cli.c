/*
 * cli.c: `volunteerd migrate` and `volunteerd create-admin`.
 *
 * These run alone, before or beside the server, so they may block; they share the
 * configuration (DATABASE_URL) and the SQL of queries.c with the server.
 */
#include "cli.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "migrate.h"
#include "password.h"
#include "queries.h"
#include "validate.h"

int cli_migrate(const struct config *cfg)
{
	struct err e;
	err_clear(&e);
	if (migrate_run(cfg, &e) < 0) {
		fprintf(stderr, "volunteerd migrate: %s\n", e.detail);
		return 1;
	}
	printf("schema at version %d\n", migrate_latest());
	return 0;
}

/* One line of stdin into buf; -1 when there is none or it does not fit (never cut short). */
static int read_password(char *buf, size_t n)
{
	if (!fgets(buf, (int)n, stdin))
		return -1;
	if (!strchr(buf, '\n') && !feof(stdin))
		return -1;
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

int cli_create_admin(const struct config *cfg, const char *login, int password_stdin,
                     int if_missing)
{
	char pw[PASSWORD_BUF + 2], hash[PASSWORD_HASH_MAX]; /* + CR LF */
	struct err e;
	int rc = 1;

	if (!valid_login(login)) {
		fprintf(stderr, "volunteerd create-admin: --login must be 3-64 characters of "
		                "letters, digits and ._@-\n");
		return 2;
	}
	if (migrate_check(cfg, 0, &e) != 0) {
		fprintf(stderr, "volunteerd create-admin: %s\n", e.detail);
		return 1;
	}
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *vals[] = {cfg->database_url, "volunteerd-cli", "10", NULL};
	PGconn *pg = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "volunteerd create-admin: cannot connect: %s", PQerrorMessage(pg));
		goto out;
	}
	const char *p1[] = {login};
	PGresult *res = PQexecParams(pg, Q_ADMIN_EXISTS, 1, NULL, p1, NULL, NULL, 0);
	int exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
	PQclear(res);
	if (exists) {
		if (if_missing)
			rc = 0;
		else
			fprintf(stderr, "volunteerd create-admin: login %s already exists\n",
			        login);
		goto out;
	}
	if (password_stdin) {
		if (read_password(pw, sizeof pw) < 0 || !password_acceptable(pw)) {
			fprintf(stderr, "volunteerd create-admin: the password on stdin must be "
			                "10-128 characters\n");
			rc = 2;
			goto out;
		}
	} else if (password_generate(pw, 20) < 0) {
		fprintf(stderr, "volunteerd create-admin: no randomness\n");
		goto out;
	}
	if (password_hash(pw, hash) < 0) {
		fprintf(stderr, "volunteerd create-admin: hashing failed\n");
		goto out;
	}
	const char *p2[] = {login, hash};
	res = PQexecParams(pg, Q_ADMIN_CREATE, 2, NULL, p2, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		fprintf(stderr, "volunteerd create-admin: %s", PQresultErrorMessage(res));
		PQclear(res);
		goto out;
	}
	printf("created admin account %s (id %s) with a grant over the whole tree\n", login,
	       PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!password_stdin) {
		printf("one-time password (shown once; change it after logging in):\n");
		printf("%s\n", pw);
	}
	rc = 0;
out:
	memset(pw, 0, sizeof pw);
	PQfinish(pg);
	return rc;
}
