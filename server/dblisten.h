/*
 * dblisten.h: one dedicated PostgreSQL connection that runs a LISTEN statement and reports
 * the notifications that arrive, reconnecting (with backoff) when it is lost.
 *
 * Ownership: the caller owns the dblisten and frees it with dblisten_free (no callback runs
 * after that).  Callbacks run from the event loop only, never inside dblisten_new.  The
 * channel and payload strings are borrowed for the call.  state(1) means "listening: from
 * now on every notification on the channel reaches us"; state(0) means "not listening:
 * notifications may have been missed" and is reported whenever the connection is lost.
 */
#ifndef VD_DBLISTEN_H
#define VD_DBLISTEN_H

struct event_base;
struct config;
struct dblisten;

typedef void (*dblisten_notify_fn)(const char *channel, const char *payload, void *arg);
typedef void (*dblisten_state_fn)(int listening, void *arg);

/* Start connecting; listen_sql is static text from queries.c.  NULL on OOM.  cfg must
 * outlive the dblisten. */
struct dblisten *dblisten_new(struct event_base *base, const struct config *cfg,
                              const char *listen_sql, dblisten_notify_fn notify,
                              dblisten_state_fn state, void *arg);
void dblisten_free(struct dblisten *l);
int dblisten_listening(const struct dblisten *l);

#endif
