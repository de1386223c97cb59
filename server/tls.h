/*
 * tls.h: the server's TLS context (TLS 1.2 and 1.3, AEAD suites only, certificate and key
 * from the configuration) and the evhttp bufferevent callback for the HTTPS port.
 */
#ifndef VD_TLS_H
#define VD_TLS_H

struct config;
struct err;
struct event_base;
struct bufferevent;
typedef struct ssl_ctx_st SSL_CTX;

/* A new context from cfg's certificate and key; NULL with err on failure. */
SSL_CTX *tls_ctx_new(const struct config *cfg, struct err *err);
/* evhttp bevcb: a server-side TLS bufferevent for a new connection (arg: struct worker). */
struct bufferevent *tls_bevcb(struct event_base *base, void *arg);

#endif
