/*
 * master.h: the parent of the worker processes (`volunteerd serve`).
 */
#ifndef VD_MASTER_H
#define VD_MASTER_H

struct config;

/* Check the set-up, fork the workers, restart those that die, forward SIGHUP, and on
 * SIGTERM/SIGINT stop them all.  Returns the process exit code. */
int master_run(const struct config *cfg);

#endif
