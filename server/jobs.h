/*
 * jobs.h: the server's own periodic work, run from worker 0 of each server: closing
 * forgotten check-outs and purging expired rows (every VOLUNTEERD_JOB_INTERVAL seconds) and
 * adding the ledger's monthly partitions (daily).  The database makes each safe with several
 * servers.
 */
#ifndef VD_JOBS_H
#define VD_JOBS_H

struct worker;
struct jobs;

/* Start the timers for w (only worker 0 runs them); NULL when there is nothing to run. */
struct jobs *jobs_start(struct worker *w);
/* Stop the timers.  A job still running in the database finishes there on its own. */
void jobs_stop(struct jobs *j);

#endif
