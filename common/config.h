/*
 * config.h: the server's settings, read once at start-up from an optional `key = value` file
 * and the environment (the environment wins), then passed down as one const struct config *.
 *
 * Keys are the environment variables' names in both places.  Every error is an APP_EINVALID
 * whose field is the key and whose detail names the key (and FILE:LINE for the file).
 */
#ifndef VD_CONFIG_H
#define VD_CONFIG_H

#include <stdio.h>

#include "err.h"

struct config {
	char database_url[1024];         /* DATABASE_URL, verbatim to libpq; "" = libpq defaults */
	char migrate_database_url[1024]; /* VOLUNTEERD_MIGRATE_DATABASE_URL: migrate's, when the
	                                    server's role may not change the schema; "" = the above
	                                  */
	char app_role[64]; /* VOLUNTEERD_APP_ROLE: the role migrate grants the server's rights to */
	char bind[64];     /* VOLUNTEERD_BIND, default "0.0.0.0" */
	int http_port;     /* VOLUNTEERD_HTTP_PORT, default 8080, 1..65535 */
	int https_port;    /* VOLUNTEERD_HTTPS_PORT, default 8443, 0 = off */
	char tls_cert[512];    /* VOLUNTEERD_TLS_CERT, PEM path; required when https_port != 0 */
	char tls_key[512];     /* VOLUNTEERD_TLS_KEY */
	int workers;           /* VOLUNTEERD_WORKERS, default 0 = number of online cores; 0..64 */
	int hash_threads;      /* VOLUNTEERD_HASH_THREADS, per worker, default 0 = the online cores
	                          shared among the workers (config_hash_threads); 0..64 */
	int hash_queue_max;    /* VOLUNTEERD_HASH_QUEUE, default 256: log-ins waiting per worker */
	char tz[64];           /* VOLUNTEERD_TZ, default "Asia/Shanghai" */
	char secret_file[512]; /* VOLUNTEERD_SECRET_FILE */
	char password_denylist[512]; /* VOLUNTEERD_PASSWORD_DENYLIST: passwords refused, one a line
	                              */
	int db_pool_size;     /* VOLUNTEERD_DB_POOL, default 4, 1..64 (connections per worker) */
	int db_queue_max;     /* VOLUNTEERD_DB_QUEUE, default 1024 */
	int db_queue_wait_ms; /* VOLUNTEERD_DB_QUEUE_WAIT_MS, default 1000 */
	int db_statement_timeout_ms; /* VOLUNTEERD_DB_STATEMENT_TIMEOUT_MS, default 5000 */
	int db_lock_timeout_ms;      /* VOLUNTEERD_DB_LOCK_TIMEOUT_MS, default 1000 */
	int db_prepare;              /* VOLUNTEERD_DB_PREPARE, default 1 (prepared statements) */
	int max_body_bytes;          /* VOLUNTEERD_MAX_BODY, default 1048576 */
	int max_header_bytes;        /* VOLUNTEERD_MAX_HEADERS, default 8192 */
	int http_timeout_s;          /* VOLUNTEERD_HTTP_TIMEOUT, default 30: a connection's wait
	                                for a request, and a slow reader's for each write */
	int max_connections;         /* VOLUNTEERD_MAX_CONNECTIONS, per worker, default 10000 */
	int max_connections_per_ip;  /* VOLUNTEERD_MAX_CONNECTIONS_PER_IP, per worker, default
	                                1000, 0 = no cap (an IPv6 client counts by its /64) */
	int header_timeout_s;        /* VOLUNTEERD_HEADER_TIMEOUT, default 10: a request's headers,
	                                from its first byte */
	int body_timeout_s;          /* VOLUNTEERD_BODY_TIMEOUT, default 30: its body, from the end
	                                of its headers */
	int max_requests_per_conn;   /* VOLUNTEERD_MAX_REQUESTS_PER_CONN, default 1000, 0 = none */
	int shutdown_grace_s;        /* VOLUNTEERD_SHUTDOWN_GRACE, default 10 */
	int session_idle_min;        /* VOLUNTEERD_SESSION_IDLE_MIN, default 30 */
	int session_max_hours;       /* VOLUNTEERD_SESSION_MAX_HOURS, default 12 */
	char admin_mfa[16];          /* VOLUNTEERD_ADMIN_MFA: optional|required, default optional */
	int reauth_s;                /* VOLUNTEERD_REAUTH_SECONDS, default 300: with admin MFA
	                                required, how recent an authentication sensitive changes
	                                need */
	char log_level[16];          /* VOLUNTEERD_LOG_LEVEL: debug|info|warn|error, default info */
	char public_url[256]; /* VOLUNTEERD_PUBLIC_URL, default "" (used to build checkin_url) */
	int job_interval_s;   /* VOLUNTEERD_JOB_INTERVAL, default 60 (forgotten check-outs) */
	int code_tries;       /* VOLUNTEERD_CODE_TRIES, default 10: wrong check-in codes ... */
	int code_window_s;    /* VOLUNTEERD_CODE_WINDOW, default 600: ... an account may send in
	                         this many seconds before its check-ins with a code get 429 */
	/* VOLUNTEERD_SECRET_FILE_PREVIOUS, default "": during a key rotation only, the secret
	 * file used before VOLUNTEERD_SECRET_FILE (server/secret.h) */
	char secret_file_previous[512];
	/* VOLUNTEERD_REGISTER_TRIES (default 100) anonymous registrations from one client address
	 * in VOLUNTEERD_REGISTER_WINDOW seconds (default 600); the next gets 429 until then */
	int register_tries;
	int register_window_s;
	/* VOLUNTEERD_USER, default "": the user `serve` becomes when started as root
	 * (server/privs.h) */
	char user[64];
	/* VOLUNTEERD_REQUIRE_DURABLE_DB, default 0: 1 = `serve` refuses to start on a database
	 * that may lose committed writes (0: it warns) */
	int require_durable_db;
	/* VOLUNTEERD_TRUSTED_PROXIES, default "": addresses and ranges of reverse proxies whose
	 * X-Forwarded-For and X-Forwarded-Proto are believed (common/netaddr.h) */
	char trusted_proxies[512];
};

/* Fill cfg with the defaults above; cannot fail. */
void config_defaults(struct config *cfg);
/* Set one key (the environment variable's name) from text; unknown key or bad value -> -1 with
 * err naming the key.  Integers are decimal only (no blanks, no '+', no hex); a string longer
 * than its field is refused rather than cut.  cfg is unchanged on failure. */
int config_set(struct config *cfg, const char *key, const char *value, struct err *err);
/* Read a `key = value` file: # comments on their own line or after a blank in an unquoted
 * value, blank lines, an optional "export " prefix, values optionally in "" or '' (taken
 * verbatim, no escapes).  Errors as "FILE:LINE: message" in err->detail; stops at the first. */
int config_load_file(struct config *cfg, const char *path, struct err *err);
/* Apply every known variable present in the environment (getenv).  Bad value -> -1, detail
 * names the variable.  Not thread-safe (getenv); call during start-up only. */
int config_load_env(struct config *cfg, struct err *err);
/* Cross-field checks (e.g. https_port != 0 needs cert and key). */
int config_validate(const struct config *cfg, struct err *err);
/* defaults, then file (if path != NULL), then environment, then validate. */
/* Serving HTTPS needs a certificate and a key (checked by `serve` only: the other commands
 * do not use them). */
/* VOLUNTEERD_ADMIN_MFA=required: administrators need a second factor (R19). */
int config_admin_mfa_required(const struct config *cfg);
int config_validate_tls(const struct config *cfg, struct err *err);
int config_load(struct config *cfg, const char *path, struct err *err);

/* The number of workers to start: cfg->workers, or the online cores (1..64) when it is 0. */
int config_workers(const struct config *cfg);
/* Password hashing threads per worker: cfg->hash_threads, or when it is 0 the online cores
 * divided among config_workers() (at least 1), so that the server hashes at most one password
 * per core at a time (R18: each Argon2id hash holds a core and 19 MiB). */
int config_hash_threads(const struct config *cfg);
/* Write every setting as `KEY=value` lines to f for `--print-config` and start-up logs; the
 * password in DATABASE_URL and secret values are masked. */
void config_dump(const struct config *cfg, FILE *f);

#endif
