/*
 * weak_password.h: passwords that meet the length limit and are still poor ones.
 *
 * ASVS 2.1.7 and NIST SP 800-63B 5.1.1.2 ask a verifier to refuse passwords known from
 * breaches and passwords built on words of the context, and no composition rules.  Refused,
 * wherever a password is set (registration, staff accounts, a change, create-admin), never at
 * log-in:
 *   - the best-known leaked passwords of PASSWORD_MIN_CHARS or more (a list built in), and
 *     those of a list the operator names (VOLUNTEERD_PASSWORD_DENYLIST: one a line, such as a
 *     top-10,000 list of breached passwords), compared without regard to ASCII case;
 *   - the login (a volunteer's is the phone number) with fewer than six characters added.
 */
#ifndef VD_WEAK_PASSWORD_H
#define VD_WEAK_PASSWORD_H

#include "err.h"

/* Read the operator's list from path ("" = none), once, before the workers are forked (they
 * share it); lines shorter than PASSWORD_MIN_CHARS characters are skipped, since no such
 * password can be set.  0, or -1 with e naming VOLUNTEERD_PASSWORD_DENYLIST. */
int weak_password_load(const char *path, struct err *e);
/* How many passwords the operator's list holds (for the start-up log). */
long weak_password_listed(void);

/* NULL when pw (already within the length limit) is acceptable, else why not, as the end of a
 * problem detail ("is too easy to guess: ...").  login: the account's login, or NULL. */
const char *password_weakness(const char *pw, const char *login);

/* The check of a password being set: the length limit (password_acceptable), then
 * password_weakness.  0 with e cleared, or -1 with e filled (422, naming field). */
int password_check_new(const char *pw, const char *login, const char *field, struct err *e);

#endif
