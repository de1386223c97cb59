/*
 * privs.h: the rights `volunteerd serve` gives up at start-up (R6).
 */
#ifndef VD_PRIVS_H
#define VD_PRIVS_H

struct err;

/* No new privileges for this process and its children, ever (PR_SET_NO_NEW_PRIVS): nothing
 * it runs can gain rights through a set-user-id file.  Then, when user is not empty:
 *   - as root: take that user's supplementary groups, group id and user id, for good (a
 *     later setuid(0) is checked to fail);
 *   - as that user already: nothing more;
 *   - as anyone else: -1.
 * Running as root with no user to become is allowed, and logged as a warning. */
int privs_drop(const char *user, struct err *err);

#endif
