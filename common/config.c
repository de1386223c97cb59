/*
 * config.c: one table of settings, and the three ways to fill it (defaults, file, environment).
 *
 * Owns config_keys: each row is {name, type, offset, min, max, default}, so a new setting is
 * one line here plus its field in struct config.  Everything goes through config_set, which
 * parses before it stores, so a bad value never leaves a half-written field.  Integers are
 * parsed strictly (decimal, full string, in range) because "80x" silently becoming 80 is how a
 * typo turns into an outage.  The file parser reads lines of any length (getline).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "netaddr.h"

enum config_type {
	CONFIG_STR,   /* char array; max = its size - 1 */
	CONFIG_INT,   /* int within [min, max] */
	CONFIG_LEVEL, /* char array holding a log level name */
};

struct config_key {
	const char *name;
	enum config_type type;
	size_t offset;
	long min, max;
	const char *def;
};

/* Shorthand for the table only: a field's offset, and the longest string it holds. */
#define OFF(member)    offsetof(struct config, member)
#define STRMAX(member) ((long)sizeof(((struct config *)0)->member) - 1)

static const struct config_key config_keys[] = {
        {"DATABASE_URL", CONFIG_STR, OFF(database_url), 0, STRMAX(database_url), ""},
        {"VOLUNTEERD_MIGRATE_DATABASE_URL", CONFIG_STR, OFF(migrate_database_url), 0,
         STRMAX(migrate_database_url), ""},
        {"VOLUNTEERD_APP_ROLE", CONFIG_STR, OFF(app_role), 0, STRMAX(app_role), ""},
        {"VOLUNTEERD_BIND", CONFIG_STR, OFF(bind), 0, STRMAX(bind), "0.0.0.0"},
        {"VOLUNTEERD_HTTP_PORT", CONFIG_INT, OFF(http_port), 1, 65535, "8080"},
        {"VOLUNTEERD_HTTPS_PORT", CONFIG_INT, OFF(https_port), 0, 65535, "8443"},
        {"VOLUNTEERD_TLS_CERT", CONFIG_STR, OFF(tls_cert), 0, STRMAX(tls_cert), ""},
        {"VOLUNTEERD_TLS_KEY", CONFIG_STR, OFF(tls_key), 0, STRMAX(tls_key), ""},
        {"VOLUNTEERD_WORKERS", CONFIG_INT, OFF(workers), 0, 64, "0"},
        {"VOLUNTEERD_HASH_THREADS", CONFIG_INT, OFF(hash_threads), 0, 64, "0"},
        {"VOLUNTEERD_HASH_QUEUE", CONFIG_INT, OFF(hash_queue_max), 1, 100000, "256"},
        {"VOLUNTEERD_TZ", CONFIG_STR, OFF(tz), 0, STRMAX(tz), "Asia/Shanghai"},
        {"VOLUNTEERD_SECRET_FILE", CONFIG_STR, OFF(secret_file), 0, STRMAX(secret_file), ""},
        {"VOLUNTEERD_PASSWORD_DENYLIST", CONFIG_STR, OFF(password_denylist), 0,
         STRMAX(password_denylist), ""},
        {"VOLUNTEERD_SECRET_FILE_PREVIOUS", CONFIG_STR, OFF(secret_file_previous), 0,
         STRMAX(secret_file_previous), ""},
        {"VOLUNTEERD_DB_POOL", CONFIG_INT, OFF(db_pool_size), 1, 64, "4"},
        {"VOLUNTEERD_DB_QUEUE", CONFIG_INT, OFF(db_queue_max), 1, 1000000, "1024"},
        {"VOLUNTEERD_DB_QUEUE_WAIT_MS", CONFIG_INT, OFF(db_queue_wait_ms), 1, 600000, "1000"},
        {"VOLUNTEERD_DB_STATEMENT_TIMEOUT_MS", CONFIG_INT, OFF(db_statement_timeout_ms), 0, 3600000,
         "5000"},
        {"VOLUNTEERD_DB_LOCK_TIMEOUT_MS", CONFIG_INT, OFF(db_lock_timeout_ms), 0, 3600000, "1000"},
        {"VOLUNTEERD_REQUIRE_DURABLE_DB", CONFIG_INT, OFF(require_durable_db), 0, 1, "0"},
        {"VOLUNTEERD_DB_PREPARE", CONFIG_INT, OFF(db_prepare), 0, 1, "1"},
        {"VOLUNTEERD_MAX_BODY", CONFIG_INT, OFF(max_body_bytes), 1024, 1073741824, "1048576"},
        {"VOLUNTEERD_MAX_HEADERS", CONFIG_INT, OFF(max_header_bytes), 1024, 1048576, "8192"},
        {"VOLUNTEERD_HTTP_TIMEOUT", CONFIG_INT, OFF(http_timeout_s), 1, 3600, "30"},
        {"VOLUNTEERD_MAX_CONNECTIONS", CONFIG_INT, OFF(max_connections), 1, 1000000, "10000"},
        {"VOLUNTEERD_MAX_CONNECTIONS_PER_IP", CONFIG_INT, OFF(max_connections_per_ip), 0, 1000000,
         "1000"},
        {"VOLUNTEERD_HEADER_TIMEOUT", CONFIG_INT, OFF(header_timeout_s), 1, 3600, "10"},
        {"VOLUNTEERD_BODY_TIMEOUT", CONFIG_INT, OFF(body_timeout_s), 1, 3600, "30"},
        {"VOLUNTEERD_MAX_REQUESTS_PER_CONN", CONFIG_INT, OFF(max_requests_per_conn), 0, 100000000,
         "1000"},
        {"VOLUNTEERD_TRUSTED_PROXIES", CONFIG_STR, OFF(trusted_proxies), 0, STRMAX(trusted_proxies),
         ""},
        {"VOLUNTEERD_USER", CONFIG_STR, OFF(user), 0, STRMAX(user), ""},
        {"VOLUNTEERD_SHUTDOWN_GRACE", CONFIG_INT, OFF(shutdown_grace_s), 0, 3600, "10"},
        {"VOLUNTEERD_SESSION_IDLE_MIN", CONFIG_INT, OFF(session_idle_min), 1, 10080, "30"},
        {"VOLUNTEERD_SESSION_MAX_HOURS", CONFIG_INT, OFF(session_max_hours), 1, 8760, "12"},
        {"VOLUNTEERD_ADMIN_MFA", CONFIG_STR, OFF(admin_mfa), 0, STRMAX(admin_mfa), "optional"},
        {"VOLUNTEERD_REAUTH_SECONDS", CONFIG_INT, OFF(reauth_s), 1, 86400, "300"},
        {"VOLUNTEERD_LOG_LEVEL", CONFIG_LEVEL, OFF(log_level), 0, STRMAX(log_level), "info"},
        {"VOLUNTEERD_PUBLIC_URL", CONFIG_STR, OFF(public_url), 0, STRMAX(public_url), ""},
        {"VOLUNTEERD_JOB_INTERVAL", CONFIG_INT, OFF(job_interval_s), 1, 86400, "60"},
        {"VOLUNTEERD_CODE_TRIES", CONFIG_INT, OFF(code_tries), 1, 1000, "10"},
        {"VOLUNTEERD_CODE_WINDOW", CONFIG_INT, OFF(code_window_s), 1, 86400, "600"},
        {"VOLUNTEERD_REGISTER_TRIES", CONFIG_INT, OFF(register_tries), 1, 1000000, "100"},
        {"VOLUNTEERD_REGISTER_WINDOW", CONFIG_INT, OFF(register_window_s), 1, 86400, "600"},
};

#define CONFIG_NKEYS (sizeof config_keys / sizeof config_keys[0])

static const struct config_key *config_find(const char *name)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

/* Decimal only: an optional '-' then digits to the end; 0 or -1. */
static int config_parse_int(const char *s, long min, long max, long *out)
{
	const char *p = s[0] == '-' ? s + 1 : s;
	if (*p < '0' || *p > '9')
		return -1;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno == ERANGE || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int config_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int config_set(struct config *cfg, const char *key, const char *value, struct err *err)
{
	const struct config_key *k = key ? config_find(key) : NULL;
	if (!k)
		return err_set(err, APP_EINVALID, key ? key : "", "%.64s: unknown key",
		               key ? key : "(null)");
	if (!value)
		return err_set(err, APP_EINVALID, k->name, "%s: missing value", k->name);
	char *field = (char *)cfg + k->offset;
	long v;
	enum log_level level;
	switch (k->type) {
	case CONFIG_INT:
		if (config_parse_int(value, k->min, k->max, &v) < 0)
			return err_set(err, APP_EINVALID, k->name,
			               "%s: must be an integer in %ld..%ld (got \"%.40s\")",
			               k->name, k->min, k->max, value);
		*(int *)(void *)field = (int)v;
		return 0;
	case CONFIG_LEVEL:
		if (log_level_parse(value, &level) < 0)
			return err_set(err, APP_EINVALID, k->name,
			               "%s: must be debug, info, warn or error", k->name);
		value = log_level_name(level);
		break;
	case CONFIG_STR:
		break;
	}
	/* Strings: refuse rather than truncate, since a cut path or URL fails far from here. */
	if (strlen(value) > (size_t)k->max)
		return err_set(err, APP_EINVALID, k->name, "%s: longer than %ld bytes", k->name,
		               k->max);
	if (config_has_control(value))
		return err_set(err, APP_EINVALID, k->name,
		               "%s: must not contain control characters", k->name);
	memcpy(field, value, strlen(value) + 1);
	return 0;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		config_set(cfg, config_keys[i].name, config_keys[i].def, NULL);
}

static char *config_ltrim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static void config_rtrim(char *s)
{
	size_t n = strlen(s);
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
}

/* Parse one line in place: 0 with *key NULL for a blank or comment line, 0 with key and value,
 * or -1 with a message in *why. */
static int config_parse_line(char *line, char **key, char **value, const char **why)
{
	*key = NULL;
	config_rtrim(line);
	char *p = config_ltrim(line);
	if (!*p || *p == '#')
		return 0;
	if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t'))
		p = config_ltrim(p + 6);
	char *eq = strchr(p, '=');
	if (!eq || eq == p) {
		*why = "expected KEY = value";
		return -1;
	}
	*eq = '\0';
	config_rtrim(p);
	char *v = config_ltrim(eq + 1);
	if (*v == '"' || *v == '\'') {
		char *close = strchr(v + 1, *v);
		if (!close) {
			*why = "unterminated quote";
			return -1;
		}
		char *rest = config_ltrim(close + 1);
		if (*rest && *rest != '#') {
			*why = "unexpected text after the closing quote";
			return -1;
		}
		*close = '\0';
		v++;
	} else {
		/* A comment needs a blank before it, so that '#' may appear inside a value. */
		for (char *c = v; *c; c++) {
			if (*c == '#' && c > v && (c[-1] == ' ' || c[-1] == '\t')) {
				*c = '\0';
				break;
			}
		}
		config_rtrim(v);
	}
	*key = p;
	*value = v;
	return 0;
}

int config_load_file(struct config *cfg, const char *path, struct err *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return err_set(err, APP_EINVALID, "", "%s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, rc = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *key, *value;
		const char *why = NULL;
		struct err e;
		lineno++;
		if (memchr(line, '\0', (size_t)n)) {
			rc = err_set(err, APP_EINVALID, "", "%s:%d: NUL byte in line", path,
			             lineno);
			goto out;
		}
		if (config_parse_line(line, &key, &value, &why) < 0) {
			rc = err_set(err, APP_EINVALID, "", "%s:%d: %s", path, lineno, why);
			goto out;
		}
		if (key && config_set(cfg, key, value, &e) < 0) {
			rc = err_set(err, e.code, e.field, "%s:%d: %s", path, lineno, e.detail);
			goto out;
		}
	}
	if (ferror(f))
		rc = err_set(err, APP_EINVALID, "", "%s: %s", path, strerror(errno));
out:
	free(line);
	fclose(f);
	return rc;
}

int config_load_env(struct config *cfg, struct err *err)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		const char *v = getenv(config_keys[i].name);
		if (v && config_set(cfg, config_keys[i].name, v, err) < 0)
			return -1;
	}
	return 0;
}

/* Printable ASCII without blanks, quotes or backslashes: safe to pass to SET TIME ZONE. */
static int config_tz_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == '\'' || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

int config_validate(const struct config *cfg, struct err *err)
{
	/* Re-check ranges too, for a struct filled by hand rather than by config_set. */
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		const char *field = (const char *)cfg + k->offset;
		if (k->type == CONFIG_INT) {
			int v = *(const int *)(const void *)field;
			if (v < k->min || v > k->max)
				return err_set(err, APP_EINVALID, k->name,
				               "%s: must be an integer in %ld..%ld", k->name,
				               k->min, k->max);
		} else if (!memchr(field, '\0', (size_t)k->max + 1)) {
			return err_set(err, APP_EINVALID, k->name, "%s: not terminated", k->name);
		}
	}
	enum log_level level;
	if (log_level_parse(cfg->log_level, &level) < 0)
		return err_set(err, APP_EINVALID, "VOLUNTEERD_LOG_LEVEL",
		               "VOLUNTEERD_LOG_LEVEL: must be debug, info, warn or error");
	if (!cfg->bind[0])
		return err_set(err, APP_EINVALID, "VOLUNTEERD_BIND", "VOLUNTEERD_BIND: is empty");
	if (!config_tz_ok(cfg->tz))
		return err_set(err, APP_EINVALID, "VOLUNTEERD_TZ",
		               "VOLUNTEERD_TZ: must be a time zone name such as Asia/Shanghai");
	if (cfg->https_port != 0) {
		if (cfg->https_port == cfg->http_port)
			return err_set(err, APP_EINVALID, "VOLUNTEERD_HTTPS_PORT",
			               "VOLUNTEERD_HTTPS_PORT: same as VOLUNTEERD_HTTP_PORT (%d)",
			               cfg->http_port);
	}
	if (cfg->session_idle_min > cfg->session_max_hours * 60)
		return err_set(
		        err, APP_EINVALID, "VOLUNTEERD_SESSION_IDLE_MIN",
		        "VOLUNTEERD_SESSION_IDLE_MIN: longer than VOLUNTEERD_SESSION_MAX_HOURS");
	struct netranges proxies;
	if (netranges_parse(cfg->trusted_proxies, "VOLUNTEERD_TRUSTED_PROXIES", &proxies, err) < 0)
		return -1;
	if (strcmp(cfg->admin_mfa, "optional") != 0 && strcmp(cfg->admin_mfa, "required") != 0)
		return err_set(err, APP_EINVALID, "VOLUNTEERD_ADMIN_MFA",
		               "VOLUNTEERD_ADMIN_MFA: must be optional or required");
	const char *u = cfg->public_url;
	size_t ulen = strlen(u);
	if (ulen && strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
		return err_set(err, APP_EINVALID, "VOLUNTEERD_PUBLIC_URL",
		               "VOLUNTEERD_PUBLIC_URL: must start with http:// or https://");
	if (ulen && (u[ulen - 1] == '/' || strpbrk(u, " \"'<>?#")))
		return err_set(err, APP_EINVALID, "VOLUNTEERD_PUBLIC_URL",
		               "VOLUNTEERD_PUBLIC_URL: must be a base URL without a trailing /, "
		               "query or fragment (e.g. https://v.example.org)");
	return 0;
}

int config_admin_mfa_required(const struct config *cfg)
{
	return !strcmp(cfg->admin_mfa, "required");
}

int config_validate_tls(const struct config *cfg, struct err *err)
{
	if (cfg->https_port == 0)
		return 0;
	if (!cfg->tls_cert[0])
		return err_set(err, APP_EINVALID, "VOLUNTEERD_TLS_CERT",
		               "VOLUNTEERD_TLS_CERT: required when VOLUNTEERD_HTTPS_PORT is "
		               "not 0 (set VOLUNTEERD_HTTPS_PORT=0 to turn HTTPS off)");
	if (!cfg->tls_key[0])
		return err_set(err, APP_EINVALID, "VOLUNTEERD_TLS_KEY",
		               "VOLUNTEERD_TLS_KEY: required when VOLUNTEERD_HTTPS_PORT is "
		               "not 0 (set VOLUNTEERD_HTTPS_PORT=0 to turn HTTPS off)");
	return 0;
}

int config_load(struct config *cfg, const char *path, struct err *err)
{
	config_defaults(cfg);
	if (path && config_load_file(cfg, path, err) < 0)
		return -1;
	if (config_load_env(cfg, err) < 0)
		return -1;
	return config_validate(cfg, err);
}

static int online_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

int config_workers(const struct config *cfg)
{
	return cfg->workers > 0 ? cfg->workers : online_cores();
}

int config_hash_threads(const struct config *cfg)
{
	if (cfg->hash_threads > 0)
		return cfg->hash_threads;
	int share = online_cores() / config_workers(cfg);
	return share < 1 ? 1 : share;
}

void config_dump(const struct config *cfg, FILE *f)
{
	char q[1100];
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		const char *field = (const char *)cfg + k->offset;
		if (k->type == CONFIG_INT) {
			fprintf(f, "%s=%d\n", k->name, *(const int *)(const void *)field);
		} else if ((k->offset == offsetof(struct config, database_url) ||
		            k->offset == offsetof(struct config, migrate_database_url)) &&
		           field[0]) {
			/* It may hold a password, in any of libpq's two syntaxes. */
			fprintf(f, "%s=***\n", k->name);
		} else {
			fprintf(f, "%s=%s\n", k->name, log_quote(q, sizeof q, field));
		}
	}
}
