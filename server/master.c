/*
 * master.c: start-up checks and the worker supervisor.
 *
 * The parent serves nothing itself.  It checks what would make every worker fail (ports,
 * certificate, schema), maps the shared metrics, forks N workers and then only waits for
 * signals: SIGCHLD restarts a dead worker (with a pause if it died young, so a crash loop
 * does not spin), SIGHUP is forwarded, SIGTERM/SIGINT drain the workers and exit 0.
 * Signals are taken synchronously with sigtimedwait, so no handler races exist here.
 */
#include "master.h"

#include <errno.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "secret.h"
#include "tls.h"
#include "worker.h"

#define MAX_WORKERS 64

struct child {
	pid_t pid;
	time_t started;
	time_t restart_at; /* when > 0: start again at this time */
};

static pid_t spawn(const struct config *cfg, const struct secrets *sec, int index,
                   struct metrics *m, const sigset_t *old)
{
	pid_t pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, old, NULL);
		_exit(worker_run(cfg, sec, index, m));
	}
	if (pid < 0)
		log_msg(LOG_ERROR, "fork_failed", "worker=%d error=\"%s\"", index, strerror(errno));
	return pid;
}

static int check_setup(const struct config *cfg, struct secrets *sec)
{
	struct err e;
	if (secret_load(sec, cfg->secret_file, &e) < 0)
		goto fail;
	int fd = http_bind_socket(cfg->bind, cfg->http_port, 0, &e);
	if (fd < 0)
		goto fail;
	close(fd);
	if (cfg->https_port) {
		if (config_validate_tls(cfg, &e) < 0)
			goto fail;
		if ((fd = http_bind_socket(cfg->bind, cfg->https_port, 0, &e)) < 0)
			goto fail;
		close(fd);
		SSL_CTX *ctx = tls_ctx_new(cfg, &e);
		if (!ctx)
			goto fail;
		SSL_CTX_free(ctx);
	}
	int rc = migrate_check(cfg, &e);
	if (rc < 0)
		goto fail;
	if (rc > 0) /* unreachable now: start anyway, /readyz says so, the pool reconnects */
		log_msg(LOG_WARN, "db_unreachable_at_start", "reason=\"%s\"", e.detail);
	return 0;
fail:
	fprintf(stderr, "volunteerd: %s%s%s\n", e.field[0] ? e.field : "", e.field[0] ? ": " : "",
	        e.detail);
	return -1;
}

int master_run(const struct config *cfg)
{
	struct child kids[MAX_WORKERS];
	int n = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > MAX_WORKERS)
		n = MAX_WORKERS;
	static struct secrets sec; /* inherited by the workers */
	if (check_setup(cfg, &sec) < 0)
		return 1;
	struct metrics *m = metrics_new(n);
	if (!m) {
		fprintf(stderr, "volunteerd: cannot map shared metrics\n");
		return 1;
	}

	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);

	log_msg(LOG_INFO, "serve_start", "workers=%d http=%s:%d https=%d", n, cfg->bind,
	        cfg->http_port, cfg->https_port);
	memset(kids, 0, sizeof kids);
	for (int i = 0; i < n; i++) {
		kids[i].pid = spawn(cfg, &sec, i, m, &old);
		kids[i].started = time(NULL);
	}

	int stopping = 0, rc = 0, alive = n;
	time_t kill_at = 0;
	while (alive > 0) {
		siginfo_t info;
		struct timespec tick = {0, 250000000};
		int sig = sigtimedwait(&set, &info, &tick);
		time_t now = time(NULL);

		if (sig == SIGTERM || sig == SIGINT) {
			if (!stopping)
				log_msg(LOG_INFO, "serve_stop", "signal=%d", sig);
			stopping = 1;
			kill_at = now + cfg->shutdown_grace_s + 5;
			for (int i = 0; i < n; i++)
				if (kids[i].pid > 0)
					kill(kids[i].pid, SIGTERM);
		} else if (sig == SIGHUP) {
			for (int i = 0; i < n; i++)
				if (kids[i].pid > 0)
					kill(kids[i].pid, SIGHUP);
		}

		pid_t pid;
		int status;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (int i = 0; i < n; i++) {
				if (kids[i].pid != pid)
					continue;
				kids[i].pid = 0;
				int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
				int by = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
				log_msg(stopping ? LOG_INFO : LOG_WARN, "worker_exit",
				        "worker=%d pid=%d code=%d signal=%d", i, (int)pid, code,
				        by);
				if (code == 3 && !stopping) {
					/* The worker could not start at all: retrying will not
					 * help. */
					log_msg(LOG_ERROR, "serve_abort", "worker=%d", i);
					stopping = 1;
					rc = 1;
					kill_at = now + cfg->shutdown_grace_s + 5;
					for (int k = 0; k < n; k++)
						if (kids[k].pid > 0)
							kill(kids[k].pid, SIGTERM);
				}
				if (!stopping)
					kids[i].restart_at =
					        now - kids[i].started < 1 ? now + 1 : now;
			}
		}

		alive = 0;
		for (int i = 0; i < n; i++) {
			if (!stopping && kids[i].pid == 0 && kids[i].restart_at &&
			    now >= kids[i].restart_at) {
				kids[i].restart_at = 0;
				kids[i].started = now;
				kids[i].pid = spawn(cfg, &sec, i, m, &old);
			}
			if (kids[i].pid > 0 || (!stopping && kids[i].restart_at))
				alive++;
		}
		if (stopping && kill_at && now >= kill_at) {
			for (int i = 0; i < n; i++)
				if (kids[i].pid > 0)
					kill(kids[i].pid, SIGKILL);
			kill_at = 0;
		}
	}
	log_msg(LOG_INFO, "serve_exit", "code=%d", rc);
	return rc;
}
