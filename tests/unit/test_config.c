/*
 * test_config.c: defaults, strict integers, strings, the `key = value` file (with FILE:LINE
 * errors), the environment overriding the file, and the cross-field checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

/* Every variable config reads, so that each test starts from a clean environment. */
static const char *const all_vars[] = {
        "DATABASE_URL",
        "VOLUNTEERD_BIND",
        "VOLUNTEERD_HTTP_PORT",
        "VOLUNTEERD_HTTPS_PORT",
        "VOLUNTEERD_TLS_CERT",
        "VOLUNTEERD_TLS_KEY",
        "VOLUNTEERD_WORKERS",
        "VOLUNTEERD_HASH_THREADS",
        "VOLUNTEERD_HASH_QUEUE",
        "VOLUNTEERD_TZ",
        "VOLUNTEERD_SECRET_FILE",
        "VOLUNTEERD_DB_POOL",
        "VOLUNTEERD_DB_QUEUE",
        "VOLUNTEERD_DB_QUEUE_WAIT_MS",
        "VOLUNTEERD_DB_STATEMENT_TIMEOUT_MS",
        "VOLUNTEERD_DB_LOCK_TIMEOUT_MS",
        "VOLUNTEERD_DB_PREPARE",
        "VOLUNTEERD_MAX_BODY",
        "VOLUNTEERD_MAX_HEADERS",
        "VOLUNTEERD_HTTP_TIMEOUT",
        "VOLUNTEERD_MAX_CONNECTIONS",
        "VOLUNTEERD_MAX_CONNECTIONS_PER_IP",
        "VOLUNTEERD_HEADER_TIMEOUT",
        "VOLUNTEERD_BODY_TIMEOUT",
        "VOLUNTEERD_MAX_REQUESTS_PER_CONN",
        "VOLUNTEERD_SHUTDOWN_GRACE",
        "VOLUNTEERD_SESSION_IDLE_MIN",
        "VOLUNTEERD_SESSION_MAX_HOURS",
        "VOLUNTEERD_LOG_LEVEL",
        "VOLUNTEERD_PUBLIC_URL",
        "VOLUNTEERD_ADMIN_MFA",
        "VOLUNTEERD_REAUTH_SECONDS",
};

static int clean_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof all_vars / sizeof all_vars[0]; i++)
		unsetenv(all_vars[i]);
	return 0;
}

/* Write text to a fresh temporary file; its path goes into path (PATH_MAX-free: 64 bytes). */
static void write_tmp(char path[64], const char *text)
{
	snprintf(path, 64, "/tmp/test_config_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* The cfg with HTTPS off, so that validation does not need a certificate. */
static void defaults_no_tls(struct config *cfg)
{
	config_defaults(cfg);
	cfg->https_port = 0;
}

static void test_defaults(void **state)
{
	(void)state;
	struct config c;
	struct err e;
	config_defaults(&c);
	assert_string_equal(c.database_url, "");
	assert_string_equal(c.bind, "0.0.0.0");
	assert_int_equal(c.http_port, 8080);
	assert_int_equal(c.https_port, 8443);
	assert_string_equal(c.tls_cert, "");
	assert_string_equal(c.tls_key, "");
	assert_int_equal(c.workers, 0);
	assert_string_equal(c.tz, "Asia/Shanghai");
	assert_string_equal(c.secret_file, "");
	assert_string_equal(c.secret_file_previous, "");
	assert_int_equal(c.db_pool_size, 4);
	assert_int_equal(c.db_queue_max, 1024);
	assert_int_equal(c.db_queue_wait_ms, 1000);
	assert_int_equal(c.db_statement_timeout_ms, 5000);
	assert_int_equal(c.db_lock_timeout_ms, 1000);
	assert_int_equal(c.max_body_bytes, 1048576);
	assert_int_equal(c.max_header_bytes, 8192);
	assert_int_equal(c.http_timeout_s, 30);
	assert_int_equal(c.max_connections, 10000);
	assert_int_equal(c.max_connections_per_ip, 1000);
	assert_int_equal(c.header_timeout_s, 10);
	assert_int_equal(c.body_timeout_s, 30);
	assert_int_equal(c.max_requests_per_conn, 1000);
	assert_int_equal(c.shutdown_grace_s, 10);
	assert_int_equal(c.session_idle_min, 30);
	assert_int_equal(c.session_max_hours, 12);
	assert_string_equal(c.log_level, "info");
	assert_string_equal(c.public_url, "");

	/* The defaults are valid, but serving HTTPS with them needs a certificate. */
	assert_int_equal(config_validate(&c, &e), 0);
	assert_int_equal(config_validate_tls(&c, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_TLS_CERT");
	assert_true(config_workers(&c) >= 1 && config_workers(&c) <= 64);
	c.workers = 3;
	assert_int_equal(config_workers(&c), 3);
}

/* One hash at a time per core, server-wide (R18): the cores shared among the workers, at
 * least one thread each, unless VOLUNTEERD_HASH_THREADS says otherwise. */
static void test_hash_threads(void **state)
{
	(void)state;
	struct config c;
	struct err e;
	config_defaults(&c);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	assert_int_equal(c.hash_threads, 0);
	c.workers = 1;
	assert_int_equal(config_hash_threads(&c), cores > 64 ? 64 : cores);
	c.workers = 0; /* one worker per core: one hash thread each */
	assert_int_equal(config_hash_threads(&c), 1);
	c.workers = 64; /* more workers than cores: still one each */
	assert_int_equal(config_hash_threads(&c), 1);
	assert_int_equal(config_set(&c, "VOLUNTEERD_HASH_THREADS", "3", &e), 0);
	assert_int_equal(config_hash_threads(&c), 3);
	assert_int_equal(config_set(&c, "VOLUNTEERD_HASH_THREADS", "65", &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_HASH_THREADS");
	assert_int_equal(config_set(&c, "VOLUNTEERD_HASH_THREADS", "-1", &e), -1);
	assert_int_equal(c.hash_queue_max, 256);
	assert_int_equal(config_set(&c, "VOLUNTEERD_HASH_QUEUE", "2", &e), 0);
	assert_int_equal(c.hash_queue_max, 2);
	assert_int_equal(config_set(&c, "VOLUNTEERD_HASH_QUEUE", "0", &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_HASH_QUEUE");
}

static void test_set_integers(void **state)
{
	(void)state;
	struct config c;
	struct err e;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "VOLUNTEERD_HTTP_PORT", "9090", &e), 0);
	assert_int_equal(c.http_port, 9090);
	assert_int_equal(config_set(&c, "VOLUNTEERD_HTTP_PORT", "1", &e), 0);
	assert_int_equal(config_set(&c, "VOLUNTEERD_HTTP_PORT", "65535", &e), 0);
	assert_int_equal(config_set(&c, "VOLUNTEERD_HTTPS_PORT", "0", &e), 0);
	assert_int_equal(c.https_port, 0);
	assert_int_equal(config_set(&c, "VOLUNTEERD_WORKERS", "64", &e), 0);

	const char *bad[] = {"80x",
	                     "",
	                     "x80",
	                     " 80",
	                     "80 ",
	                     "+80",
	                     "0x50",
	                     "8.0",
	                     "0",
	                     "-1",
	                     "65536",
	                     "-",
	                     "99999999999999999999",
	                     "1e3"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c.http_port = 1234;
		err_clear(&e);
		assert_int_equal(config_set(&c, "VOLUNTEERD_HTTP_PORT", bad[i], &e), -1);
		assert_int_equal(e.code, APP_EINVALID);
		assert_string_equal(e.field, "VOLUNTEERD_HTTP_PORT");
		assert_non_null(strstr(e.detail, "VOLUNTEERD_HTTP_PORT"));
		assert_int_equal(c.http_port, 1234); /* unchanged */
	}
	assert_int_equal(config_set(&c, "VOLUNTEERD_HTTP_PORT", "80x", &e), -1);
	assert_string_equal(e.detail,
	                    "VOLUNTEERD_HTTP_PORT: must be an integer in 1..65535 (got \"80x\")");
	assert_int_equal(config_set(&c, "VOLUNTEERD_WORKERS", "65", &e), -1);
	/* 0 turns the caps off; a deadline cannot be 0. */
	assert_int_equal(config_set(&c, "VOLUNTEERD_MAX_CONNECTIONS_PER_IP", "0", &e), 0);
	assert_int_equal(c.max_connections_per_ip, 0);
	assert_int_equal(config_set(&c, "VOLUNTEERD_MAX_REQUESTS_PER_CONN", "0", &e), 0);
	assert_int_equal(c.max_requests_per_conn, 0);
	assert_int_equal(config_set(&c, "VOLUNTEERD_HEADER_TIMEOUT", "0", &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_HEADER_TIMEOUT");
	assert_int_equal(config_set(&c, "VOLUNTEERD_DB_POOL", "0", &e), -1);
	assert_int_equal(config_set(&c, "VOLUNTEERD_DB_POOL", "65", &e), -1);
	assert_int_equal(config_set(&c, "VOLUNTEERD_HTTPS_PORT", "-1", &e), -1);
	assert_int_equal(c.db_prepare, 1); /* the default */
	assert_int_equal(config_set(&c, "VOLUNTEERD_DB_PREPARE", "2", &e), -1);
	assert_int_equal(config_set(&c, "VOLUNTEERD_DB_PREPARE", "0", &e), 0);
	assert_int_equal(c.db_prepare, 0);
}

static void test_set_strings_and_keys(void **state)
{
	(void)state;
	struct config c;
	struct err e;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "DATABASE_URL", "postgresql://u:p@h/db", &e), 0);
	assert_string_equal(c.database_url, "postgresql://u:p@h/db");
	assert_int_equal(config_set(&c, "DATABASE_URL", "", &e), 0);
	assert_string_equal(c.database_url, "");

	/* Too long for the field: refused, not truncated. */
	char big[600];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(config_set(&c, "VOLUNTEERD_TLS_CERT", big, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_TLS_CERT");
	assert_string_equal(c.tls_cert, "");
	big[511] = '\0';
	assert_int_equal(config_set(&c, "VOLUNTEERD_TLS_CERT", big, &e), 0);
	assert_int_equal(strlen(c.tls_cert), 511);
	assert_int_equal(config_set(&c, "VOLUNTEERD_TZ", "Asia/\nShanghai", &e), -1);

	assert_int_equal(config_set(&c, "VOLUNTEERD_LOG_LEVEL", "DEBUG", &e), 0);
	assert_string_equal(c.log_level, "debug");
	assert_int_equal(config_set(&c, "VOLUNTEERD_LOG_LEVEL", "loud", &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_LOG_LEVEL");
	assert_string_equal(c.log_level, "debug");

	assert_int_equal(config_set(&c, "VOLUNTEERD_HTTP_PROT", "80", &e), -1);
	assert_int_equal(e.code, APP_EINVALID);
	assert_string_equal(e.field, "VOLUNTEERD_HTTP_PROT");
	assert_non_null(strstr(e.detail, "VOLUNTEERD_HTTP_PROT"));
	assert_int_equal(config_set(&c, "volunteerd_http_port", "80", &e), -1); /* case matters */
	assert_int_equal(config_set(&c, "VOLUNTEERD_HTTP_PORT", NULL, &e), -1);
	assert_int_equal(config_set(&c, NULL, "1", &e), -1);
}

static void test_file(void **state)
{
	(void)state;
	char path[64];
	struct config c;
	struct err e;
	write_tmp(path, "# volunteerd settings\n"
	                "\n"
	                "   # indented comment\n"
	                "VOLUNTEERD_HTTP_PORT = 9000\n"
	                "VOLUNTEERD_HTTPS_PORT=0   # no TLS in development\n"
	                "export VOLUNTEERD_BIND=127.0.0.1\r\n"
	                "\tVOLUNTEERD_TZ\t=\t\"UTC\"  \n"
	                "DATABASE_URL = 'host=/tmp dbname=v password=a#b c'\n"
	                "VOLUNTEERD_SECRET_FILE = /srv/v#1/secret\n"
	                "VOLUNTEERD_TLS_KEY = \"\"\n"
	                "VOLUNTEERD_LOG_LEVEL = warn");
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, path, &e), 0);
	assert_int_equal(c.http_port, 9000);
	assert_int_equal(c.https_port, 0);
	assert_string_equal(c.bind, "127.0.0.1");
	assert_string_equal(c.tz, "UTC");
	assert_string_equal(c.database_url, "host=/tmp dbname=v password=a#b c");
	/* '#' without a blank before it belongs to the value. */
	assert_string_equal(c.secret_file, "/srv/v#1/secret");
	assert_string_equal(c.tls_key, "");
	assert_string_equal(c.log_level, "warn");
	unlink(path);
}

/* Load text as a file and expect a failure whose detail starts with "PATH:LINE: ". */
static void expect_file_error(const char *text, int line, const char *message_part)
{
	char path[64], prefix[96];
	struct config c;
	struct err e;
	write_tmp(path, text);
	config_defaults(&c);
	err_clear(&e);
	assert_int_equal(config_load_file(&c, path, &e), -1);
	assert_int_equal(e.code, APP_EINVALID);
	snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
	if (strncmp(e.detail, prefix, strlen(prefix)) != 0)
		fail_msg("detail \"%s\" does not start with \"%s\"", e.detail, prefix);
	if (!strstr(e.detail, message_part))
		fail_msg("detail \"%s\" lacks \"%s\"", e.detail, message_part);
	unlink(path);
}

static void test_file_errors(void **state)
{
	(void)state;
	expect_file_error("# ok\nVOLUNTEERD_HTTP_PORT = 80x\n", 2,
	                  "VOLUNTEERD_HTTP_PORT: must be an integer");
	expect_file_error("\n\n\nVOLUNTEERD_HTTP_PORT = \n", 4, "VOLUNTEERD_HTTP_PORT");
	expect_file_error("VOLUNTEERD_HTTP_PORT = 70000\n", 1, "1..65535");
	expect_file_error("VOLUNTEERD_BIND = ::1\nNO_SUCH_KEY = 1\n", 2,
	                  "NO_SUCH_KEY: unknown key");
	expect_file_error("VOLUNTEERD_BIND\n", 1, "expected KEY = value");
	expect_file_error("= 8080\n", 1, "expected KEY = value");
	expect_file_error("VOLUNTEERD_TZ = \"UTC\n", 1, "unterminated quote");
	expect_file_error("VOLUNTEERD_TZ = \"UTC\" x\n", 1, "after the closing quote");
	expect_file_error("VOLUNTEERD_LOG_LEVEL = chatty\n", 1, "VOLUNTEERD_LOG_LEVEL");

	/* A file that cannot be opened: "PATH: reason". */
	struct config c;
	struct err e;
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, "/nonexistent/volunteerd.conf", &e), -1);
	assert_non_null(strstr(e.detail, "/nonexistent/volunteerd.conf: "));
	assert_int_equal(config_load(&c, "/nonexistent/volunteerd.conf", &e), -1);
	/* A directory opens but cannot be read. */
	assert_int_equal(config_load_file(&c, "/tmp", &e), -1);
	assert_non_null(strstr(e.detail, "/tmp: "));
}

static void test_env_overrides_file(void **state)
{
	(void)state;
	char path[64];
	struct config c;
	struct err e;
	write_tmp(path, "VOLUNTEERD_HTTP_PORT = 9000\n"
	                "VOLUNTEERD_HTTPS_PORT = 0\n"
	                "VOLUNTEERD_WORKERS = 2\n");
	setenv("VOLUNTEERD_HTTP_PORT", "9100", 1);
	setenv("DATABASE_URL", "postgresql:///volunteerd", 1);
	assert_int_equal(config_load(&c, path, &e), 0);
	assert_int_equal(c.http_port, 9100); /* environment wins */
	assert_int_equal(c.workers, 2);      /* file beats default */
	assert_int_equal(c.db_pool_size, 4); /* default */
	assert_string_equal(c.database_url, "postgresql:///volunteerd");

	/* An empty DATABASE_URL is meaningful (libpq defaults); an empty port is an error. */
	setenv("DATABASE_URL", "", 1);
	assert_int_equal(config_load(&c, path, &e), 0);
	assert_string_equal(c.database_url, "");
	setenv("VOLUNTEERD_HTTP_PORT", "", 1);
	assert_int_equal(config_load(&c, path, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_HTTP_PORT");
	setenv("VOLUNTEERD_HTTP_PORT", "80x", 1);
	assert_int_equal(config_load(&c, path, &e), -1);
	assert_non_null(strstr(e.detail, "VOLUNTEERD_HTTP_PORT"));
	unsetenv("VOLUNTEERD_HTTP_PORT");

	/* Without a file: defaults plus environment. */
	setenv("VOLUNTEERD_HTTPS_PORT", "0", 1);
	setenv("VOLUNTEERD_DB_POOL", "8", 1);
	assert_int_equal(config_load(&c, NULL, &e), 0);
	assert_int_equal(c.db_pool_size, 8);
	assert_int_equal(c.http_port, 8080);
	setenv("VOLUNTEERD_DB_POOL", "65", 1);
	assert_int_equal(config_load_env(&c, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_DB_POOL");
	unlink(path);
	clean_env(NULL);
}

static void test_validate_https(void **state)
{
	(void)state;
	struct config c;
	struct err e;
	config_defaults(&c);
	assert_int_equal(config_validate(&c, &e), 0); /* migrate and friends need no certificate */
	assert_int_equal(config_validate_tls(&c, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_TLS_CERT");
	assert_non_null(strstr(e.detail, "VOLUNTEERD_TLS_CERT"));
	strcpy(c.tls_cert, "/etc/v/cert.pem");
	assert_int_equal(config_validate_tls(&c, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_TLS_KEY");
	strcpy(c.tls_key, "/etc/v/key.pem");
	assert_int_equal(config_validate_tls(&c, &e), 0);
	c.https_port = 0;
	strcpy(c.tls_cert, "");
	assert_int_equal(config_validate_tls(&c, &e), 0);
	c.https_port = 8443;
	c.https_port = c.http_port;
	assert_int_equal(config_validate(&c, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_HTTPS_PORT");

	/* Through the environment, as at start-up. */
	setenv("VOLUNTEERD_HTTPS_PORT", "8443", 1);
	assert_int_equal(config_load(&c, NULL, &e), 0);
	assert_int_equal(config_validate_tls(&c, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_TLS_CERT");
	setenv("VOLUNTEERD_TLS_CERT", "/c.pem", 1);
	setenv("VOLUNTEERD_TLS_KEY", "/k.pem", 1);
	assert_int_equal(config_load(&c, NULL, &e), 0);
	assert_int_equal(config_validate_tls(&c, &e), 0);
	clean_env(NULL);
}

static void test_validate_other(void **state)
{
	(void)state;
	struct config c;
	struct err e;
	defaults_no_tls(&c);
	c.http_port = 0; /* filled by hand: ranges are checked again */
	assert_int_equal(config_validate(&c, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_HTTP_PORT");

	defaults_no_tls(&c);
	strcpy(c.log_level, "loud");
	assert_int_equal(config_validate(&c, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_LOG_LEVEL");

	defaults_no_tls(&c);
	c.bind[0] = '\0';
	assert_int_equal(config_validate(&c, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_BIND");

	defaults_no_tls(&c);
	strcpy(c.tz, "UTC'; DROP TABLE x; --");
	assert_int_equal(config_validate(&c, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_TZ");
	c.tz[0] = '\0';
	assert_int_equal(config_validate(&c, &e), -1);

	defaults_no_tls(&c);
	assert_false(config_admin_mfa_required(&c)); /* the default keeps every flow as it was */
	assert_int_equal(c.reauth_s, 300);
	assert_int_equal(config_set(&c, "VOLUNTEERD_ADMIN_MFA", "required", &e), 0);
	assert_int_equal(config_validate(&c, &e), 0);
	assert_true(config_admin_mfa_required(&c));
	assert_int_equal(config_set(&c, "VOLUNTEERD_ADMIN_MFA", "yes", &e), 0);
	assert_int_equal(config_validate(&c, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_ADMIN_MFA");
	assert_int_equal(config_set(&c, "VOLUNTEERD_REAUTH_SECONDS", "0", &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_REAUTH_SECONDS");

	defaults_no_tls(&c);
	c.session_idle_min = 13 * 60;
	assert_int_equal(config_validate(&c, &e), -1);
	assert_string_equal(e.field, "VOLUNTEERD_SESSION_IDLE_MIN");

	const char *good_urls[] = {"", "https://v.example.org", "http://localhost:8080",
	                           "https://example.org/volunteer"};
	const char *bad_urls[] = {"v.example.org", "https://v.example.org/", "ftp://x",
	                          "https://x?y=1"};
	for (size_t i = 0; i < sizeof good_urls / sizeof good_urls[0]; i++) {
		defaults_no_tls(&c);
		strcpy(c.public_url, good_urls[i]);
		assert_int_equal(config_validate(&c, &e), 0);
	}
	for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
		defaults_no_tls(&c);
		strcpy(c.public_url, bad_urls[i]);
		assert_int_equal(config_validate(&c, &e), -1);
		assert_string_equal(e.field, "VOLUNTEERD_PUBLIC_URL");
	}
}

static void test_dump_masks_database_url(void **state)
{
	(void)state;
	struct config c;
	struct err e;
	char buf[8192];
	config_defaults(&c);
	assert_int_equal(config_set(&c, "DATABASE_URL", "postgresql://u:secret@h/db", &e), 0);
	assert_int_equal(config_set(&c, "VOLUNTEERD_MIGRATE_DATABASE_URL",
	                            "host=/tmp user=owner password=hidden", &e),
	                 0);
	assert_int_equal(config_set(&c, "VOLUNTEERD_TZ", "Asia/Shanghai", &e), 0);
	FILE *f = fmemopen(buf, sizeof buf, "w");
	assert_non_null(f);
	config_dump(&c, f);
	fclose(f);
	assert_null(strstr(buf, "secret"));
	assert_null(strstr(buf, "hidden"));
	assert_int_equal(strncmp(buf, "DATABASE_URL=***\n", 17), 0); /* the first key */
	assert_non_null(strstr(buf, "VOLUNTEERD_MIGRATE_DATABASE_URL=***\n"));
	assert_non_null(strstr(buf, "VOLUNTEERD_HTTP_PORT=8080\n"));
	assert_non_null(strstr(buf, "VOLUNTEERD_TZ=Asia/Shanghai\n"));
	assert_non_null(strstr(buf, "VOLUNTEERD_PUBLIC_URL=\"\"\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_defaults, clean_env),
	        cmocka_unit_test_setup(test_hash_threads, clean_env),
	        cmocka_unit_test_setup(test_set_integers, clean_env),
	        cmocka_unit_test_setup(test_set_strings_and_keys, clean_env),
	        cmocka_unit_test_setup(test_file, clean_env),
	        cmocka_unit_test_setup(test_file_errors, clean_env),
	        cmocka_unit_test_setup(test_env_overrides_file, clean_env),
	        cmocka_unit_test_setup(test_validate_https, clean_env),
	        cmocka_unit_test_setup(test_validate_other, clean_env),
	        cmocka_unit_test_setup(test_dump_masks_database_url, clean_env),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
