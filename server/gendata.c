/*
 * gendata.c: `volunteerd gen-data` and `volunteerd seed-demo`, the district generator.
 *
 * Everything is computed inside PostgreSQL by the SQL of sql/gen/ (compiled in as
 * gen_sql_<file>, apart from the migrations, which live in sql/ itself): one file per phase,
 * set-based INSERT ... SELECT over generate_series, every random number a pure function of
 * (seed, what, which), so that a seed gives the same rows in any plan order.  This file
 * validates the arguments, picks each phase's variant (the fast path, or --via-triggers),
 * runs the phases in order, each in one transaction, and prints their timings.
 *
 * The shape: scale 1 is the district of DESIGN §1: 10 subdistricts, 110 communities, 2,644
 * grids, the practice-centre tree (1 centre, 15 所, 85 站, 5 点), 101 teams, 409 activities,
 * ~53,000 events over twelve months, 146,000 volunteers, ~11 M sign-ups and ~10 M
 * attendances with their ledger entries.  Fractions scale every count (at least a few of
 * each); 0.002 is the demo and test size.  The data covers the --months whole calendar months
 * before --end-month (default: the current month, in the deployment's time zone), so that the
 * current month is left to live check-ins.  Ids are explicit and the identity sequences are
 * moved past them afterwards.  The small tables go through their triggers; the ledger
 * (attendances, sign-ups, hour_entries, hour_entry_days) is written in the final state the
 * triggers and the API would have produced, with triggers off, the big tables' secondary
 * indexes dropped and rebuilt inside the loading transaction, and the rollups rebuilt
 * set-wise.  --via-triggers writes the ledger through the triggers instead (slow, ~150 µs an
 * entry: for comparing at small scale); --verify recomputes the per-day split and the
 * rollups and fails on any difference.
 *
 * A phase is one multi-statement query string (the file, wrapped by BEGIN ... COMMIT) sent
 * with PQsendQuery; the result of every statement in it comes back separately and the rows
 * are printed after the phase's time, as `psql -At` would.  The first error ends the
 * string, the transaction is left aborted and the command exits 1.  In the fast path two
 * pairs of phases run at once, on two connections (the machine's two cores): attendances
 * beside signups, then hour_entries beside hour_entry_days.  The replica role
 * (session_replication_role = replica: per-row triggers and foreign-key triggers off, for
 * that transaction only) skips the foreign keys between them; finish.sql checks them
 * set-wise afterwards.  The replica role needs a superuser, which is checked first.
 *
 * Blocking libpq and poll() are fine here: a one-shot command, never beside an event loop.
 */
#include "gendata.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "migrate.h"
#include "monotime.h"

/* sql/gen/NAME.sql (build/gen_sql_embed.c, made by scripts/embed-text.sh). */
extern const char gen_sql_check[], gen_sql_params[], gen_sql_setup[], gen_sql_org_units[],
        gen_sql_volunteers[], gen_sql_draw[], gen_sql_att_plan[], gen_sql_entries_plan[],
        gen_sql_attendances[], gen_sql_signups[], gen_sql_signup_counts[], gen_sql_hour_entries[],
        gen_sql_hour_entry_days[], gen_sql_ledger_via_triggers[], gen_sql_finish[],
        gen_sql_rollups[], gen_sql_vacuum[], gen_sql_verify[], gen_sql_cleanup[];

/* The demo district of `make run` (DESIGN §7): a test-sized district, 12 months. */
#define DEMO_SCALE "0.002"
#define DEMO_SEED  "1"

struct phase {
	const char *name;
	const char *sql[3]; /* the files, run in this order; NULL ends */
	const char *defer;  /* gen.defer_indexes(table) before the files, restore_indexes after */
	int replica;        /* session_replication_role = replica for the transaction */
	int no_tx;          /* outside a transaction block (VACUUM) */
	int params;         /* params.sql first, with the command line's values (setup) */
};

static const struct phase P_SETUP = {"setup", {gen_sql_setup}, NULL, 0, 0, 1};
static const struct phase P_ORG_UNITS = {"org-units", {gen_sql_org_units}, NULL, 0, 0, 0};
static const struct phase P_VOLUNTEERS = {"volunteers", {gen_sql_volunteers}, NULL, 0, 0, 0};
static const struct phase P_DRAW = {"draw", {gen_sql_draw}, NULL, 0, 0, 0};
static const struct phase P_ATT_PLAN = {"att-plan", {gen_sql_att_plan}, NULL, 0, 0, 0};
static const struct phase P_ENTRIES_PLAN = {"entries-plan", {gen_sql_entries_plan}, NULL, 0, 0, 0};
/* the fast path: the big tables with their indexes deferred, the ledger with triggers off */
static const struct phase P_ATTENDANCES_FAST = {
        "attendances", {gen_sql_attendances}, "attendances", 1, 0, 0};
static const struct phase P_SIGNUPS_FAST = {
        "signups", {gen_sql_signups, gen_sql_signup_counts}, "signups", 0, 0, 0};
static const struct phase P_HOUR_ENTRIES = {
        "hour_entries", {gen_sql_hour_entries}, "hour_entries", 1, 0, 0};
static const struct phase P_HOUR_ENTRY_DAYS = {
        "hour_entry_days", {gen_sql_hour_entry_days}, NULL, 1, 0, 0};
static const struct phase P_ROLLUPS = {"rollups", {gen_sql_rollups}, NULL, 0, 0, 0};
/* --via-triggers: the same rows through the triggers */
static const struct phase P_ATTENDANCES_VIA = {"attendances", {gen_sql_attendances}, NULL, 0, 0, 0};
static const struct phase P_SIGNUPS_VIA = {"signups", {gen_sql_signups}, NULL, 0, 0, 0};
static const struct phase P_LEDGER_VIA = {
        "ledger-via-triggers", {gen_sql_ledger_via_triggers}, NULL, 0, 0, 0};
static const struct phase P_FINISH = {"finish", {gen_sql_finish}, NULL, 0, 0, 0};
static const struct phase P_VACUUM = {"vacuum-analyze", {gen_sql_vacuum}, NULL, 0, 1, 0};
static const struct phase P_VERIFY = {"verify", {gen_sql_verify}, NULL, 0, 0, 0};
static const struct phase P_CLEANUP = {"cleanup", {gen_sql_cleanup}, NULL, 0, 0, 0};

/* One connection running one phase at a time. */
struct stream {
	PGconn *pg;
	const char *prog; /* "gen-data" or "seed-demo", the prefix of every line */
	const struct phase *ph;
	uint64_t t0;    /* mono_us() at the phase's start */
	char *text;     /* the phase's query string (owned) */
	char *error;    /* the phase's first error (owned), or NULL */
	char out[2048]; /* the rows it returned, `psql -At` style, one space apart */
	size_t out_len;
};

/* ---- arguments ----------------------------------------------------------------------- */

void gendata_opts_init(struct gendata_opts *o)
{
	memset(o, 0, sizeof *o);
	strcpy(o->scale, "1");
	strcpy(o->seed, "1");
	strcpy(o->months, "12");
}

static int digits(const char *s)
{
	return (int)strspn(s, "0123456789");
}

/* digits[.digits], as scripts/gen-data.sh accepted it */
static int valid_scale(const char *s)
{
	int a = digits(s);
	if (a == 0)
		return 0;
	if (s[a] == '\0')
		return 1;
	return s[a] == '.' && digits(s + a + 1) > 0 && s[a + 1 + digits(s + a + 1)] == '\0';
}

static int valid_end_month(const char *s)
{
	return strlen(s) == 7 && digits(s) == 4 && s[4] == '-' && digits(s + 5) == 2 &&
	       atoi(s + 5) >= 1 && atoi(s + 5) <= 12;
}

static int bad(char *msg, size_t n, const char *text)
{
	snprintf(msg, n, "%s", text);
	return -1;
}

int gendata_option(struct gendata_opts *o, int argc, char **argv, int *i, char *msg, size_t msg_len)
{
	static const struct {
		const char *name;
		unsigned bit;
		int takes_value;
	} opts[] = {
	        {"--scale", GENDATA_OPT_SCALE, 1},       {"--seed", GENDATA_OPT_SEED, 1},
	        {"--months", GENDATA_OPT_MONTHS, 1},     {"--end-month", GENDATA_OPT_END_MONTH, 1},
	        {"--via-triggers", GENDATA_OPT_VIA, 0},  {"--verify", GENDATA_OPT_VERIFY, 0},
	        {"--if-empty", GENDATA_OPT_IF_EMPTY, 0}, {"--database-url", GENDATA_OPT_URL, 1},
	};
	const char *a = argv[*i], *v = NULL;
	size_t k = 0, nopts = sizeof opts / sizeof opts[0];
	while (k < nopts && strcmp(a, opts[k].name) != 0)
		k++;
	if (k == nopts)
		return 0;
	if (opts[k].takes_value) {
		if (*i + 1 >= argc) {
			snprintf(msg, msg_len, "%s needs a value", a);
			return -1;
		}
		v = argv[++*i];
	}
	o->given |= opts[k].bit;
	switch (opts[k].bit) {
	case GENDATA_OPT_SCALE:
		if (!valid_scale(v) || strlen(v) >= sizeof o->scale)
			return bad(msg, msg_len, "--scale wants a positive number");
		strcpy(o->scale, v);
		break;
	case GENDATA_OPT_SEED:
		if (digits(v) < 1 || digits(v) > 9 || v[digits(v)] != '\0')
			return bad(msg, msg_len, "--seed wants an integer 0..999999999");
		strcpy(o->seed, v);
		break;
	case GENDATA_OPT_MONTHS:
		if (digits(v) < 1 || digits(v) > 2 || v[digits(v)] != '\0' || atoi(v) < 1 ||
		    atoi(v) > 36)
			return bad(msg, msg_len, "--months wants 1..36");
		strcpy(o->months, v);
		break;
	case GENDATA_OPT_END_MONTH:
		if (!valid_end_month(v))
			return bad(msg, msg_len, "--end-month wants YYYY-MM");
		strcpy(o->end_month, v);
		break;
	case GENDATA_OPT_VIA:
		o->via_triggers = 1;
		break;
	case GENDATA_OPT_VERIFY:
		o->verify = 1;
		break;
	case GENDATA_OPT_IF_EMPTY:
		o->if_empty = 1;
		break;
	case GENDATA_OPT_URL:
		if (strlen(v) >= sizeof((struct config *)0)->database_url)
			return bad(msg, msg_len, "--database-url is too long");
		o->database_url = v;
		break;
	}
	return 1;
}

/* ---- one phase on one connection ----------------------------------------------------- */

static void stream_fail(struct stream *s, const char *message)
{
	if (!s->error)
		s->error = strdup(message && message[0] ? message : "unknown error\n");
}

/* The phase's query string: BEGIN is sent before (after it, params.sql), the rest here. */
static char *compose(const struct phase *ph)
{
	char head[160] = "", tail[160] = "";
	size_t len = 1;
	if (ph->defer) {
		snprintf(head, sizeof head, "SELECT gen.defer_indexes('%s');\n", ph->defer);
		snprintf(tail, sizeof tail, "SELECT gen.restore_indexes('%s');\n", ph->defer);
	}
	if (ph->replica)
		strcat(head, "SET LOCAL session_replication_role = replica;\n");
	if (!ph->no_tx)
		strcat(tail, "COMMIT;\n");
	len += strlen(head) + strlen(tail);
	for (int i = 0; i < 3 && ph->sql[i]; i++)
		len += strlen(ph->sql[i]) + 1;
	char *text = malloc(len), *p = text;
	if (!text)
		return NULL;
	p = stpcpy(p, head);
	for (int i = 0; i < 3 && ph->sql[i]; i++)
		p = stpcpy(stpcpy(p, ph->sql[i]), "\n");
	stpcpy(p, tail);
	return text;
}

static void stream_start(struct stream *s, const struct phase *ph, const struct gendata_opts *o)
{
	s->ph = ph;
	s->t0 = mono_us();
	s->out_len = 0;
	s->out[0] = '\0';
	if (!ph->no_tx) {
		PGresult *res = PQexec(s->pg, "BEGIN");
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			stream_fail(s, PQerrorMessage(s->pg));
		PQclear(res);
	}
	if (!s->error && ph->params) {
		const char *values[] = {o->scale, o->seed, o->months, o->end_month};
		PGresult *res = PQexecParams(s->pg, gen_sql_params, 4, NULL, values, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			stream_fail(s, PQresultErrorMessage(res));
		PQclear(res);
	}
	if (s->error)
		return;
	s->text = compose(ph);
	if (!s->text)
		stream_fail(s, "out of memory\n");
	else if (!PQsendQuery(s->pg, s->text))
		stream_fail(s, PQerrorMessage(s->pg));
}

/* Appends as much of text as fits (buf keeps its terminating NUL). */
static void append(char *buf, size_t cap, size_t *len, const char *text)
{
	size_t n = strlen(text);
	if (n > cap - 1 - *len)
		n = cap - 1 - *len;
	memcpy(buf + *len, text, n);
	*len += n;
	buf[*len] = '\0';
}

/* A result of one of the phase's statements: rows are kept for printing, as psql -At
 * would print them (fields joined by '|', empty lines left out), one space apart. */
static void stream_result(struct stream *s, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY)
		return;
	if (st != PGRES_TUPLES_OK) {
		stream_fail(s, PQresultErrorMessage(res));
		return;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		size_t start = s->out_len;
		if (s->out_len)
			append(s->out, sizeof s->out, &s->out_len, " ");
		size_t row = s->out_len;
		for (int c = 0; c < PQnfields(res); c++) {
			if (c)
				append(s->out, sizeof s->out, &s->out_len, "|");
			append(s->out, sizeof s->out, &s->out_len, PQgetvalue(res, r, c));
		}
		if (s->out_len == row) { /* an empty line (a function returning void) */
			s->out_len = start;
			s->out[start] = '\0';
		}
	}
}

/* Reads what has arrived; 1 when the phase's last result is in (or the connection broke). */
static int stream_read(struct stream *s)
{
	PGresult *res;
	if (!PQconsumeInput(s->pg)) {
		stream_fail(s, PQerrorMessage(s->pg));
		while ((res = PQgetResult(s->pg)) != NULL)
			PQclear(res);
		return 1;
	}
	while (!PQisBusy(s->pg)) {
		res = PQgetResult(s->pg);
		if (!res)
			return 1;
		stream_result(s, res);
		PQclear(res);
	}
	return 0;
}

/* The phase's line: its time and rows on stdout, or its error on stderr. */
static void stream_report(struct stream *s)
{
	double secs = (double)(mono_us() - s->t0) / 1e6;
	free(s->text);
	s->text = NULL;
	if (s->error) {
		size_t n = strlen(s->error);
		fprintf(stderr, "%s: phase %s failed: %s%s", s->prog, s->ph->name, s->error,
		        n && s->error[n - 1] == '\n' ? "" : "\n");
	} else {
		printf("%s: %-22s %8.1f s%s%s\n", s->prog, s->ph->name, secs,
		       s->out_len ? "  " : "", s->out);
	}
	fflush(stdout);
}

/* Runs phases[k] on streams[k], all at once, and waits for all of them.  0, or -1 when one
 * failed (each failure is reported). */
static int run_group(struct stream *streams, const struct phase *const *phases, int n,
                     const struct gendata_opts *o)
{
	int running[2] = {0, 0}, left = 0, failed = 0;
	for (int k = 0; k < n; k++) {
		stream_start(&streams[k], phases[k], o);
		if (streams[k].error) {
			stream_report(&streams[k]);
			failed = 1;
		} else {
			running[k] = 1;
			left++;
		}
	}
	while (left > 0) {
		struct pollfd pfd[2];
		int which[2], m = 0;
		for (int k = 0; k < n; k++)
			if (running[k]) {
				pfd[m].fd = PQsocket(streams[k].pg);
				pfd[m].events = POLLIN;
				pfd[m].revents = 0;
				which[m++] = k;
			}
		if (poll(pfd, (nfds_t)m, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			failed = 1;
			break;
		}
		for (int j = 0; j < m; j++) {
			struct stream *s = &streams[which[j]];
			if (!pfd[j].revents || !stream_read(s))
				continue;
			running[which[j]] = 0;
			left--;
			failed |= s->error != NULL;
			stream_report(s);
		}
	}
	for (int k = 0; k < n; k++) { /* a phase left running when poll failed is reported here */
		free(streams[k].text);
		streams[k].text = NULL;
		free(streams[k].error);
		streams[k].error = NULL;
	}
	return failed ? -1 : 0;
}

static int run_phase(struct stream *s, const struct phase *ph, const struct gendata_opts *o)
{
	return run_group(s, &ph, 1, o);
}

/* ---- the commands -------------------------------------------------------------------- */

static void notice(void *arg, const char *message)
{
	fprintf(stderr, "%s: %s", (const char *)arg, message);
}

static PGconn *connect_db(const struct config *cfg, const char *prog)
{
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *vals[] = {cfg->database_url, "volunteerd-gen-data", "10", NULL};
	PGconn *pg = PQconnectdbParams(keys, vals, 1);
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "volunteerd %s: cannot connect: %s", prog,
		        pg ? PQerrorMessage(pg) : "out of memory\n");
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg, notice, (void *)(uintptr_t)prog);
	PGresult *res = PQexec(pg, "SET client_min_messages = warning");
	PQclear(res);
	return pg;
}

/* Exit code: 0 generated (or nothing to do for seed-demo --if-empty), 1 refused or failed. */
static int generate(const struct config *cfg, const struct gendata_opts *o, const char *prog,
                    int demo)
{
	struct err e;
	struct stream s[2];
	int rc = 1;
	memset(s, 0, sizeof s);
	s[0].prog = s[1].prog = prog;
	err_clear(&e);
	if (migrate_check(cfg, 0, &e) != 0) {
		fprintf(stderr, "volunteerd %s: %s\n", prog, e.detail);
		return 1;
	}
	s[0].pg = connect_db(cfg, prog);
	if (!s[0].pg)
		return 1;

	/* Never onto data that is there: the ids are explicit and the shape assumes a tree of
	 * its own. */
	PGresult *res = PQexec(s[0].pg, gen_sql_check);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		fprintf(stderr, "volunteerd %s: %s", prog, PQresultErrorMessage(res));
		PQclear(res);
		goto out;
	}
	int holds_data = PQgetvalue(res, 0, 0)[0] == 't';
	int superuser = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	if (holds_data) {
		if (demo && o->if_empty)
			rc = 0;
		else if (demo)
			fprintf(stderr,
			        "volunteerd seed-demo: the database already holds org units, "
			        "volunteers or events; the demo district is loaded only into an "
			        "empty one (--if-empty: do nothing then)\n");
		else
			fprintf(stderr,
			        "volunteerd gen-data: the database already holds org units, "
			        "volunteers or events; gen-data fills only a migrated database "
			        "without them\n");
		goto out;
	}
	if (!superuser) {
		fprintf(stderr,
		        "volunteerd %s: needs a superuser connection: it loads the ledger with "
		        "session_replication_role = replica (triggers and foreign-key checks off "
		        "for the bulk load), which only a superuser may set; connect as the "
		        "cluster's superuser (e.g. postgres) through DATABASE_URL%s\n",
		        prog, demo ? "" : " or --database-url");
		goto out;
	}

	uint64_t t0 = mono_us();
	printf("%s: scale %s, seed %s, %s months before %s%s\n", prog, o->scale, o->seed, o->months,
	       o->end_month[0] ? o->end_month : "the current month",
	       o->via_triggers ? ", ledger through the triggers" : "");
	fflush(stdout);
	static const struct phase *const plan[] = {&P_SETUP, &P_ORG_UNITS, &P_VOLUNTEERS,
	                                           &P_DRAW,  &P_ATT_PLAN,  &P_ENTRIES_PLAN};
	for (size_t k = 0; k < sizeof plan / sizeof plan[0]; k++)
		if (run_phase(&s[0], plan[k], o) < 0)
			goto out;
	if (o->via_triggers) {
		if (run_phase(&s[0], &P_ATTENDANCES_VIA, o) < 0 ||
		    run_phase(&s[0], &P_SIGNUPS_VIA, o) < 0 ||
		    run_phase(&s[0], &P_LEDGER_VIA, o) < 0)
			goto out;
	} else {
		/* Two streams on the two cores: attendances then hour_entries, and sign-ups then
		 * hour_entry_days. */
		static const struct phase *const first[] = {&P_ATTENDANCES_FAST, &P_SIGNUPS_FAST};
		static const struct phase *const second[] = {&P_HOUR_ENTRIES, &P_HOUR_ENTRY_DAYS};
		s[1].pg = connect_db(cfg, prog);
		if (!s[1].pg || run_group(s, first, 2, o) < 0 || run_group(s, second, 2, o) < 0)
			goto out;
	}
	if (run_phase(&s[0], &P_FINISH, o) < 0 ||
	    (!o->via_triggers && run_phase(&s[0], &P_ROLLUPS, o) < 0) ||
	    run_phase(&s[0], &P_VACUUM, o) < 0 ||
	    (o->verify && run_phase(&s[0], &P_VERIFY, o) < 0) ||
	    run_phase(&s[0], &P_CLEANUP, o) < 0)
		goto out;
	printf("%s: %-22s %8.1f s\n", prog, "total", (double)(mono_us() - t0) / 1e6);
	rc = 0;
out:
	PQfinish(s[0].pg);
	PQfinish(s[1].pg);
	return rc;
}

int gendata_run(const struct config *cfg, const struct gendata_opts *o)
{
	return generate(cfg, o, "gen-data", 0);
}

int gendata_seed_demo(const struct config *cfg, const struct gendata_opts *o)
{
	struct gendata_opts demo;
	gendata_opts_init(&demo);
	strcpy(demo.scale, DEMO_SCALE);
	strcpy(demo.seed, DEMO_SEED);
	demo.if_empty = o->if_empty;
	return generate(cfg, &demo, "seed-demo", 1);
}
