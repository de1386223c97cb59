/*
 * privs.c: the rights `volunteerd serve` gives up at start-up (R6).
 *
 * systemd's User= and NoNewPrivileges= do this for the packaged service.  Started by hand as
 * root, the server does it itself with VOLUNTEERD_USER: the parent reads the secret file
 * first (which may then be root's alone: the workers inherit the keys in memory), gives up
 * root, and only then binds its ports and reads the certificate, as every worker will again
 * (a restarted one, and SIGHUP's reload).  So with VOLUNTEERD_USER the ports must be 1024 or
 * above and the certificate and key readable by that user, and a mistake in either stops
 * the start, not a worker later.
 */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

static int become(const struct passwd *pw, struct err *err)
{
	/* Groups first: once the user id is not 0, they can no longer be changed. */
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return err_set(err, APP_EINTERNAL, "VOLUNTEERD_USER", "cannot become %s: %s",
		               pw->pw_name, strerror(errno));
	if (pw->pw_uid != 0 && setuid(0) == 0)
		return err_set(err, APP_EINTERNAL, "VOLUNTEERD_USER", "root could be taken back");
	log_msg(LOG_INFO, "privileges_dropped", "user=%s uid=%u gid=%u", pw->pw_name,
	        (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	return 0;
}

int privs_drop(const char *user, struct err *err)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set(err, APP_EINTERNAL, NULL, "PR_SET_NO_NEW_PRIVS: %s",
		               strerror(errno));
	if (!user[0]) {
		if (geteuid() == 0)
			log_msg(LOG_WARN, "running_as_root", "hint=%s",
			        "set VOLUNTEERD_USER, or User= under systemd");
		return 0;
	}
	errno = 0;
	/* The master calls this once, before any thread or worker exists: getpwnam is safe here. */
	/* cppcheck-suppress getpwnamCalled */
	const struct passwd *pw = getpwnam(user);
	if (!pw)
		return err_set(err, APP_EINVALID, "VOLUNTEERD_USER", "no such user: %s",
		               errno ? strerror(errno) : user);
	if (geteuid() == 0)
		return become(pw, err);
	if (geteuid() != pw->pw_uid || getuid() != pw->pw_uid)
		return err_set(err, APP_EINVALID, "VOLUNTEERD_USER",
		               "running as uid %u, neither root nor %s", (unsigned)geteuid(), user);
	return 0;
}
