/*
 * master.c: start-up checks and the worker supervisor.
 *
 * The parent serves nothing itself.  It checks what would make every worker fail (ports,
 * certificate, schema), maps the shared metrics, forks N workers and then only waits for
 * signals: SIGCHLD restarts a dead worker (with a pause if it died young, so a crash loop
 * does not spin), SIGHUP is forwarded, SIGTERM/SIGINT drain the workers and exit 0; a second
 * SIGTERM/SIGINT during the drain kills them (SIGKILL) and exits at once.
 * Signals are taken synchronously with sigtimedwait, so no handler races exist here.
 *
 * Under systemd (Type=notify) it also says READY=1 once every worker listens, STOPPING=1 when
 * it starts to drain, and, with WatchdogSec=, pings the watchdog only while every worker's
 * event loop keeps turning (the workers count their turns in the shared metrics): a worker
 * stuck in a loop turn is not dead, so only the watchdog would notice it.
 */
#include "master.h"

#include <errno.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "monotime.h"
#include "privs.h"
#include "router.h"
#include "secret.h"
#include "tls.h"
#include "worker.h"

#define MAX_WORKERS 64

struct child {
	pid_t pid;
	time_t started;
	time_t restart_at; /* when > 0: start again at this time */
	uint64_t beats;    /* its loop's turns (metrics_worker_beats) when last seen to change */
	uint64_t beat_ms;  /* when they last changed, or when it was started (mono_ms) */
	int up;            /* it has listened since it was started */
	int stalled;       /* already logged as stalled */
};

/* A worker whose loop has not turned for this long is stuck (it beats every second). */
#define STALL_MIN_MS 3000

static void spawn(struct child *kid, const struct config *cfg, const struct secrets *sec, int index,
                  struct metrics *m, const sigset_t *old)
{
	kid->started = time(NULL);
	kid->beats = metrics_worker_beats(m, index);
	kid->beat_ms = mono_ms();
	kid->up = kid->stalled = 0;
	pid_t pid = fork();
	if (pid == 0) {
		/* A reload asked for before the worker listens has nothing to do (it loads the
		 * certificate as it starts), and must not end it: SIGHUP's default is to terminate.
		 * The worker's own handler replaces this once its loop is set up. */
		signal(SIGHUP, SIG_IGN);
		sigprocmask(SIG_SETMASK, old, NULL);
		_exit(worker_run(cfg, sec, index, m));
	}
	if (pid < 0)
		log_msg(LOG_ERROR, "fork_failed", "worker=%d error=%s", index, strerror(errno));
	kid->pid = pid;
}

/* Notes which workers' loops turned since the last look.  Returns whether every live worker
 * turned within stall_ms; a worker that stops turning is logged once. */
static int workers_turning(struct child *kids, int n, struct metrics *m, uint64_t now,
                           uint64_t stall_ms)
{
	int all = 1;
	for (int i = 0; i < n; i++) {
		if (kids[i].pid <= 0)
			continue;
		uint64_t b = metrics_worker_beats(m, i);
		if (b != kids[i].beats) {
			if (kids[i].stalled)
				log_msg(LOG_WARN, "worker_turning_again", "worker=%d pid=%d", i,
				        (int)kids[i].pid);
			kids[i].beats = b;
			kids[i].beat_ms = now;
			kids[i].up = 1;
			kids[i].stalled = 0;
		} else if (now - kids[i].beat_ms > stall_ms) {
			if (!kids[i].stalled)
				log_msg(LOG_ERROR, "worker_stalled", "worker=%d pid=%d ms=%lld", i,
				        (int)kids[i].pid, (long long)(now - kids[i].beat_ms));
			kids[i].stalled = 1;
			all = 0;
		}
	}
	return all;
}

static int workers_all_up(const struct child *kids, int n)
{
	for (int i = 0; i < n; i++)
		if (kids[i].pid <= 0 || !kids[i].up)
			return 0;
	return 1;
}

static int check_setup(const struct config *cfg, struct secrets *sec)
{
	struct err e;
	if (router_check(&e) < 0)
		goto fail;
	if (secret_load(sec, cfg->secret_file, cfg->secret_file_previous, &e) < 0)
		goto fail;
	/* Before any port or certificate: the workers bind and read them as this user. */
	if (privs_drop(cfg->user, &e) < 0)
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
	int rc = migrate_check(cfg, 1, &e);
	if (rc < 0)
		goto fail;
	if (rc > 0) /* unreachable now: start anyway, /readyz says so, the pool reconnects */
		log_msg(LOG_WARN, "db_unreachable_at_start", "reason=%s", e.detail);
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
	for (int i = 0; i < n; i++)
		spawn(&kids[i], cfg, &sec, i, m, &old);

	/* systemd's watchdog, when WatchdogSec= is set: pinged at half its interval. */
	uint64_t watchdog_us = 0;
	if (sd_watchdog_enabled(0, &watchdog_us) <= 0)
		watchdog_us = 0;
	uint64_t watchdog_ms = watchdog_us / 1000, pinged_ms = 0;
	uint64_t stall_ms = watchdog_ms / 2 > STALL_MIN_MS ? watchdog_ms / 2 : STALL_MIN_MS;
	int ready = 0;

	int stopping = 0, rc = 0, alive = n;
	time_t kill_at = 0;
	while (alive > 0) {
		siginfo_t info;
		struct timespec tick = {0, 250000000};
		int sig = sigtimedwait(&set, &info, &tick);
		time_t now = time(NULL);

		if ((sig == SIGTERM || sig == SIGINT) && stopping) {
			/* A second one: the operator will not wait for the drain. */
			log_msg(LOG_WARN, "serve_stop_now", "signal=%d", sig);
			for (int i = 0; i < n; i++)
				if (kids[i].pid > 0)
					kill(kids[i].pid, SIGKILL);
			kill_at = 0;
		} else if (sig == SIGTERM || sig == SIGINT) {
			log_msg(LOG_INFO, "serve_stop", "signal=%d", sig);
			sd_notify(0, "STOPPING=1\nSTATUS=draining");
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
				spawn(&kids[i], cfg, &sec, i, m, &old);
			}
			if (kids[i].pid > 0 || (!stopping && kids[i].restart_at))
				alive++;
		}
		uint64_t now_ms = mono_ms();
		int turning = workers_turning(kids, n, m, now_ms, stall_ms);
		if (!ready && !stopping && workers_all_up(kids, n)) {
			ready = 1;
			log_msg(LOG_INFO, "serve_ready", "workers=%d", n);
			sd_notifyf(0, "READY=1\nSTATUS=serving: %d workers, http %d, https %d", n,
			           cfg->http_port, cfg->https_port);
		}
		if (watchdog_ms && turning && now_ms - pinged_ms >= watchdog_ms / 2) {
			sd_notify(0, "WATCHDOG=1");
			pinged_ms = now_ms;
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
