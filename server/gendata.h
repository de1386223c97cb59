/*
 * gendata.h: `volunteerd gen-data` (a generated city district, DESIGN §1 and §8) and
 * `volunteerd seed-demo` (the small demo district of `make run`).  One-shot commands: they
 * block on libpq and never run beside an event loop.
 */
#ifndef VD_GENDATA_H
#define VD_GENDATA_H

#include <stddef.h>

struct config;

/* The options, as bits of gendata_opts.given. */
#define GENDATA_OPT_SCALE     0x01u
#define GENDATA_OPT_SEED      0x02u
#define GENDATA_OPT_MONTHS    0x04u
#define GENDATA_OPT_END_MONTH 0x08u
#define GENDATA_OPT_VIA       0x10u
#define GENDATA_OPT_VERIFY    0x20u
#define GENDATA_OPT_IF_EMPTY  0x40u
#define GENDATA_OPT_URL       0x80u
/* Which of them each command takes. */
#define GENDATA_OPTS_GEN_DATA  (0x3fu | GENDATA_OPT_URL)
#define GENDATA_OPTS_SEED_DEMO (GENDATA_OPT_IF_EMPTY | GENDATA_OPT_URL)

struct gendata_opts {
	char scale[24];    /* digits[.digits], as given (default "1") */
	char seed[10];     /* 1-9 digits (default "1") */
	char months[3];    /* 1..36 (default "12") */
	char end_month[8]; /* YYYY-MM, or "" for the current month */
	int via_triggers;  /* write the ledger through the triggers (slow; for comparing) */
	int verify;        /* recompute the per-day split and the rollups, fail on a difference */
	int if_empty;      /* seed-demo: on a database that holds data, do nothing and exit 0 */
	const char *database_url; /* --database-url (borrowed from argv), or NULL */
	unsigned given;           /* GENDATA_OPT_* of the options seen */
};

/* The defaults of gen-data (scale 1, seed 1, 12 months before the current one). */
void gendata_opts_init(struct gendata_opts *o);
/* argv[*i] is looked at: one of the options above is stored (its value too, *i then points at
 * the value) and 1 returned; anything else returns 0 untouched; a missing or bad value
 * returns -1 with a one-line message in msg. */
int gendata_option(struct gendata_opts *o, int argc, char **argv, int *i, char *msg,
                   size_t msg_len);
/* `gen-data`: fills a migrated database that holds no org units, volunteers or events.
 * Prints the phases' timings on stdout, errors on stderr; returns the exit code (0 or 1). */
int gendata_run(const struct config *cfg, const struct gendata_opts *o);
/* `seed-demo`: gen-data at scale 0.002, seed 1 (o: only if_empty is read).  On a database
 * that already holds data: exit code 1 with a message, or with if_empty 0 and no output. */
int gendata_seed_demo(const struct config *cfg, const struct gendata_opts *o);

#endif
