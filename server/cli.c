/*
 * cli.c: `volunteerd migrate`, `volunteerd create-admin` and `volunteerd rekey-ids`.
 *
 * These run alone, before or beside the server, so they may block; they share the
 * configuration (DATABASE_URL, the secret files) and the SQL of queries.c with the server.
 */
#include "cli.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "idnum.h"
#include "migrate.h"
#include "password.h"
#include "queries.h"
#include "secret.h"
#include "validate.h"
#include "weak_password.h"

/* A blocking connection to DATABASE_URL, or NULL after saying why on stderr. */
static PGconn *cli_connect(const struct config *cfg, const char *command)
{
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *vals[] = {cfg->database_url, "volunteerd-cli", "10", NULL};
	PGconn *pg = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(pg) == CONNECTION_OK)
		return pg;
	fprintf(stderr, "volunteerd %s: cannot connect: %s", command, PQerrorMessage(pg));
	PQfinish(pg);
	return NULL;
}

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
	PGconn *pg = cli_connect(cfg, "create-admin");
	if (!pg)
		goto out;
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
		struct err weak;
		if (read_password(pw, sizeof pw) < 0)
			pw[0] = '\0'; /* none, or too long: the length limit's message */
		if (password_check_new(pw, login, "password", &weak) < 0) {
			fprintf(stderr, "volunteerd create-admin: the password on stdin %s\n",
			        weak.detail);
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

/* `rekey-ids`: one run. */
struct rekey {
	PGconn *pg;
	const struct idnum_keyring *ring;
	char key_hex[2 * IDNUM_KEY_ID_LEN + 1];
	char prefix_hex[2 * IDNUM_PREFIX_LEN + 1];
	long long rewritten, unreadable, taken;
};

/* A statement without parameters or rows (BEGIN, COMMIT); 0, or -1 after saying why. */
static int rekey_exec(struct rekey *k, const char *sql)
{
	PGresult *res = PQexec(k->pg, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "volunteerd rekey-ids: %s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : -1;
}

/* Rewrite volunteer vid's stored form (hex) under the current key, with the blind index of
 * the current key.  A form that does not decrypt is counted and left.  0, or -1 when the
 * database or OpenSSL fails (the caller rolls the batch back). */
static int rekey_one(struct rekey *k, long long vid, const char *stored_hex)
{
	uint8_t old[IDNUM_ENC_LEN], enc[IDNUM_ENC_LEN], mac[IDNUM_HMAC_LEN];
	char id[IDNUM_LEN + 1], enc_hex[2 * IDNUM_ENC_LEN + 1], mac_hex[2 * IDNUM_HMAC_LEN + 1];
	char vid_s[24];
	int len = secret_unhex(stored_hex, old, sizeof old);
	if (len < 0 || idnum_decrypt(k->ring, vid, old, (size_t)len, id) < 0) {
		fprintf(stderr,
		        "volunteerd rekey-ids: volunteer %lld: the ID number does not decrypt "
		        "(altered, another volunteer's, or made by a key not configured); left as "
		        "it is\n",
		        vid);
		k->unreadable++;
		return 0;
	}
	int made = idnum_encrypt(&k->ring->current, vid, id, enc) == 0 &&
	           idnum_blind(k->ring->current.index, id, mac) == 0;
	idnum_wipe(id, sizeof id);
	if (!made) {
		fprintf(stderr, "volunteerd rekey-ids: cannot encrypt (OpenSSL)\n");
		return -1;
	}
	secret_hex(enc, sizeof enc, enc_hex);
	secret_hex(mac, sizeof mac, mac_hex);
	snprintf(vid_s, sizeof vid_s, "%lld", vid);
	const char *params[] = {vid_s, enc_hex, mac_hex};
	PGresult *res = PQexecParams(k->pg, Q_REKEY_WRITE, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		fprintf(stderr, "volunteerd rekey-ids: %s", PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	if (PQgetvalue(res, 0, 0)[0] == 't') {
		k->rewritten++;
	} else {
		fprintf(stderr,
		        "volunteerd rekey-ids: volunteer %lld: another volunteer holds the same ID "
		        "number; left as it is\n",
		        vid);
		k->taken++;
	}
	PQclear(res);
	return 0;
}

/* The rows of one batch after *last (in id order, locked), rewritten in one transaction with
 * an audit row when any was.  The number of rows seen (0: none left), or -1 (rolled back). */
static int rekey_batch(struct rekey *k, int size, long long *last)
{
	char last_s[24], size_s[16], audit[256];
	long long before = k->rewritten, first = 0;
	snprintf(last_s, sizeof last_s, "%lld", *last);
	snprintf(size_s, sizeof size_s, "%d", size);
	const char *params[] = {last_s, k->prefix_hex, size_s};
	if (rekey_exec(k, "BEGIN") < 0)
		return -1;
	PGresult *res = PQexecParams(k->pg, Q_REKEY_PENDING, 3, NULL, params, NULL, NULL, 0);
	int rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
	if (rows < 0)
		fprintf(stderr, "volunteerd rekey-ids: %s", PQresultErrorMessage(res));
	for (int i = 0; i < rows; i++) {
		long long vid = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		if (rekey_one(k, vid, PQgetvalue(res, i, 1)) < 0) {
			rows = -1;
			break;
		}
		first = first ? first : vid;
		*last = vid;
	}
	PQclear(res);
	if (rows > 0 && k->rewritten > before) {
		snprintf(audit, sizeof audit,
		         "{\"key_id\": \"%s\", \"from_volunteer\": %lld, \"to_volunteer\": %lld, "
		         "\"rewritten\": %lld}",
		         k->key_hex, first, *last, k->rewritten - before);
		const char *a[] = {audit};
		res = PQexecParams(k->pg, Q_REKEY_AUDIT, 1, NULL, a, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			fprintf(stderr, "volunteerd rekey-ids: %s", PQresultErrorMessage(res));
			rows = -1;
		}
		PQclear(res);
	}
	if (rows < 0 || rekey_exec(k, "COMMIT") < 0) {
		PQclear(PQexec(k->pg, "ROLLBACK"));
		return -1;
	}
	if (rows > 0)
		printf("rekey-ids: volunteers %lld to %lld: %lld rewritten\n", first, *last,
		       k->rewritten - before);
	return rows;
}

/* The closing count: 0 when every stored ID number is in the current form under the current
 * key, 1 when some are not (or the count fails). */
static int rekey_report(struct rekey *k)
{
	const char *params[] = {k->prefix_hex};
	PGresult *res = PQexecParams(k->pg, Q_REKEY_LEFT, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		fprintf(stderr, "volunteerd rekey-ids: %s", PQresultErrorMessage(res));
		PQclear(res);
		return 1;
	}
	long long total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	long long left = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	printf("rekey-ids: %lld rewritten, %lld not decrypted, %lld held by another volunteer\n",
	       k->rewritten, k->unreadable, k->taken);
	if (left) {
		printf("rekey-ids: %lld of %lld ID numbers are not under key %s yet: keep the "
		       "previous key\n",
		       left, total, k->key_hex);
		return 1;
	}
	printf("rekey-ids: all %lld ID numbers are under key %s: the previous key may be "
	       "removed\n",
	       total, k->key_hex);
	return 0;
}

int cli_rekey_ids(const struct config *cfg, int batch)
{
	struct secrets sec;
	struct rekey k = {.ring = &sec.id};
	uint8_t prefix[IDNUM_PREFIX_LEN];
	struct err e;
	int rc = 1;
	if (secret_load(&sec, cfg->secret_file, cfg->secret_file_previous, &e) < 0 ||
	    migrate_check(cfg, 0, &e) != 0) {
		fprintf(stderr, "volunteerd rekey-ids: %s%s%s\n", e.field[0] ? e.field : "",
		        e.field[0] ? ": " : "", e.detail);
		goto out;
	}
	k.pg = cli_connect(cfg, "rekey-ids");
	if (!k.pg)
		goto out;
	idnum_prefix(&sec.id.current, prefix);
	secret_hex(prefix, sizeof prefix, k.prefix_hex);
	secret_hex(sec.id.current.id, IDNUM_KEY_ID_LEN, k.key_hex);
	long long last = 0;
	int rows;
	while ((rows = rekey_batch(&k, batch, &last)) > 0)
		;
	rc = rows < 0 ? 1 : rekey_report(&k);
out:
	PQfinish(k.pg);
	OPENSSL_cleanse(&sec, sizeof sec);
	return rc;
}
