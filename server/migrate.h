/*
 * migrate.h: `volunteerd migrate` and the schema check of `serve`.  These run before any
 * event loop exists and use blocking libpq calls, which is fine there and only there.
 */
#ifndef VD_MIGRATE_H
#define VD_MIGRATE_H

struct config;
struct err;

/* Apply the embedded migrations that are missing, each in its own transaction, under an
 * advisory lock.  Refuses (-1) when an applied migration's checksum differs. */
int migrate_run(const struct config *cfg, struct err *err);
/* 0: schema current; -1: outdated or tampered (err says how); 1: database unreachable.
 * When current and serving (`serve`, not the other subcommands, whose output scripts read),
 * also logs db_durability_off for each of fsync, synchronous_commit and full_page_writes that
 * is off, and db_role_broad when the role may change the schema. */
int migrate_check(const struct config *cfg, int serving, struct err *err);
/* The highest embedded version. */
int migrate_latest(void);

#endif
