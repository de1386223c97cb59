/*
 * main.c: start-up only.  Parses the command line, loads the configuration and hands
 * over to the subcommand.  Exit codes: 0 ok, 1 failure, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "err.h"
#include "gendata.h"
#include "log.h"
#include "master.h"
#include "version.h"
#include "weak_password.h"

static void usage(FILE *to)
{
	fprintf(to, "usage: volunteerd [--config FILE] COMMAND [OPTIONS]\n"
	            "\n"
	            "commands:\n"
	            "  serve                      run the HTTP/HTTPS server (parent + workers)\n"
	            "  migrate                    apply the database migrations\n"
	            "  create-admin --login NAME  create a system administrator; prints the\n"
	            "                             generated password as the last line\n"
	            "      [--password-stdin]     read the password from standard input instead\n"
	            "      [--if-missing]         do nothing (exit 0) when the login exists\n"
	            "  gen-data                   generate a city district's data (superuser;\n"
	            "                             the database must hold no district yet)\n"
	            "      [--scale N]            1 = 146,000 volunteers (default 1)\n"
	            "      [--seed S]             0..999999999: same seed, same rows (default 1)\n"
	            "      [--months M]           whole months generated, 1..36 (default 12)\n"
	            "      [--end-month YYYY-MM]  the month after them (default: the current)\n"
	            "      [--via-triggers]       write the ledger through the triggers (slow)\n"
	            "      [--verify]             recompute the per-day ledger and rollups\n"
	            "  seed-demo                  load the small demo district (gen-data --scale\n"
	            "                             0.002 --seed 1) into an empty database\n"
	            "      [--if-empty]           do nothing (exit 0) when it holds data\n"
	            "      gen-data and seed-demo also take [--database-url URL]\n"
	            "  rekey-ids                  re-encrypt every ID number under the current\n"
	            "                             key (after a rotation, see README)\n"
	            "      [--batch N]            rows per committed transaction, 1..10000\n"
	            "                             (default 500)\n"
	            "\n"
	            "options:\n"
	            "  --config FILE              read `KEY = value` settings (environment wins)\n"
	            "  --help                     show this help\n"
	            "  --version                  show the version\n"
	            "\n"
	            "Settings come from the environment: DATABASE_URL, VOLUNTEERD_HTTP_PORT,\n"
	            "VOLUNTEERD_HTTPS_PORT, VOLUNTEERD_BIND, VOLUNTEERD_WORKERS, VOLUNTEERD_TZ,\n"
	            "VOLUNTEERD_TLS_CERT, VOLUNTEERD_TLS_KEY, VOLUNTEERD_SECRET_FILE, ... (see "
	            "README).\n");
}

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "volunteerd: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *config_file = NULL, *command = NULL, *login = NULL;
	int password_stdin = 0, if_missing = 0, batch = 0, r;
	struct gendata_opts gen;
	char msg[128];
	gendata_opts_init(&gen);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("volunteerd %s\n", version_string());
			return 0;
		} else if (!strcmp(a, "--config")) {
			if (++i >= argc)
				return bad_usage("%s needs a file", a);
			config_file = argv[i];
		} else if (!strcmp(a, "--login")) {
			if (++i >= argc)
				return bad_usage("%s needs a name", a);
			login = argv[i];
		} else if (!strcmp(a, "--password-stdin")) {
			password_stdin = 1;
		} else if (!strcmp(a, "--if-missing")) {
			if_missing = 1;
		} else if (!strcmp(a, "--batch")) {
			char *end = NULL;
			long n = ++i < argc ? strtol(argv[i], &end, 10) : 0;
			if (!end || *end || n < 1 || n > 10000)
				return bad_usage("%s needs a number from 1 to 10000", a);
			batch = (int)n;
		} else if ((r = gendata_option(&gen, argc, argv, &i, msg, sizeof msg)) != 0) {
			if (r < 0)
				return bad_usage("%s", msg);
		} else if (a[0] == '-') {
			return bad_usage("unknown option %s", a);
		} else if (!command) {
			command = a;
		} else {
			return bad_usage("unexpected argument %s", a);
		}
	}
	if (!command)
		return bad_usage("%s", "no command given");
	int is_serve = !strcmp(command, "serve"), is_migrate = !strcmp(command, "migrate");
	int is_admin = !strcmp(command, "create-admin");
	int is_gen = !strcmp(command, "gen-data"), is_demo = !strcmp(command, "seed-demo");
	int is_rekey = !strcmp(command, "rekey-ids");
	if (!is_serve && !is_migrate && !is_admin && !is_gen && !is_demo && !is_rekey)
		return bad_usage("unknown command %s", command);
	if ((login || password_stdin || if_missing) && !is_admin)
		return bad_usage("%s takes no such option", command);
	if (batch && !is_rekey)
		return bad_usage("%s takes no such option", command);
	if (gen.given & ~(is_gen ? GENDATA_OPTS_GEN_DATA : is_demo ? GENDATA_OPTS_SEED_DEMO : 0u))
		return bad_usage("%s takes no such option", command);
	if (is_admin && !login)
		return bad_usage("%s", "create-admin needs --login NAME");

	static struct config cfg; /* lives for the whole process; workers inherit it */
	struct err e;
	err_clear(&e);
	if (config_load(&cfg, config_file, &e) < 0) {
		fprintf(stderr, "volunteerd: %s%s%s\n",
		        e.field[0] && !strstr(e.detail, e.field) ? e.field : "",
		        e.field[0] && !strstr(e.detail, e.field) ? ": " : "", e.detail);
		return 1;
	}
	enum log_level lvl;
	if (log_level_parse(cfg.log_level, &lvl) == 0)
		log_set_level(lvl);

	if (gen.database_url) /* fits: gendata_option checked its length */
		snprintf(cfg.database_url, sizeof cfg.database_url, "%s", gen.database_url);

	if (is_migrate)
		return cli_migrate(&cfg);
	if (is_gen)
		return gendata_run(&cfg, &gen);
	if (is_demo)
		return gendata_seed_demo(&cfg, &gen);
	/* the passwords refused, read before the workers are forked (weak_password.h) */
	if (weak_password_load(cfg.password_denylist, &e) < 0) {
		fprintf(stderr, "volunteerd: %s\n", e.detail);
		return 1;
	}
	if (cfg.password_denylist[0])
		log_msg(LOG_INFO, "password_denylist", "passwords=%ld", weak_password_listed());
	if (is_admin)
		return cli_create_admin(&cfg, login, password_stdin, if_missing);
	if (is_rekey)
		return cli_rekey_ids(&cfg, batch ? batch : 500);
	return master_run(&cfg);
}
