/*
 * tls.c: TLS for the HTTPS port, after Mozilla's "intermediate" profile.
 *
 * Invariants: the bevcb never returns NULL (evhttp would then serve plaintext on the TLS
 * port), so a failed SSL_new aborts the worker, which the parent replaces.  Unexpected
 * EOFs from clients are not errors (SSL_OP_IGNORE_UNEXPECTED_EOF plus dirty shutdown).
 * Sessions are resumable from a cache per worker, bounded in count and age, and outlive a
 * connection closed without a close_notify.  tests/integration/test_tls.py checks R2-R5.
 */
#include "tls.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "worker.h"

static const char tls12_ciphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/* Key exchange: Mozilla intermediate's groups, fixed so that a library default cannot widen
 * them (R3). */
static const char tls_groups[] = "X25519:P-256:P-384";

/* Resumption bounds (R5): at most this many sessions per worker, each for two hours. */
enum { TLS_CACHE_SESSIONS = 4096, TLS_SESSION_SECONDS = 2 * 60 * 60 };

static void openssl_reason(char *buf, size_t n)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, n);
	else
		snprintf(buf, n, "unknown error");
	ERR_clear_error();
}

/* Resumption spares a phone on a weak signal a full handshake, so it stays on, bounded.  Two
 * hours (OpenSSL's own default, now explicit) spans a check-in rush's reconnects without
 * keeping a master secret for the day R5 allows.  Under SSL_OP_NO_TICKET, TLS 1.3 tickets are
 * stateful: they live in this capped cache and no ticket key needs rotating.  Weakness: the
 * cache is per worker, so a reconnect that lands on another worker makes a full handshake. */
static void bound_resumption(SSL_CTX *ctx)
{
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, TLS_CACHE_SESSIONS);
	SSL_CTX_set_timeout(ctx, TLS_SESSION_SECONDS);
}

/* OpenSSL drops a connection's session from the cache when the SSL is freed before a
 * close_notify was sent, and evhttp frees connections without sending one: no session would
 * ever be resumed.  This runs for every SSL freed, just before that check, and marks the
 * close_notify as sent.  Sessions that ended in a fatal alert are gone already (OpenSSL drops
 * them when it sends or reads the alert); an unclean close does not forbid resumption since
 * TLS 1.1 (RFC 5246 7.2.1). */
static void keep_session_on_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                                 void *argp)
{
	SSL *ssl = parent;
	(void)ptr, (void)ad, (void)idx, (void)argl, (void)argp;
	if (SSL_is_server(ssl)) /* the hook is process-wide; libpq's client SSLs are not ours */
		SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_SENT_SHUTDOWN);
}

/* The free hook's ex_data index: OpenSSL's table is process-wide, so it is taken once (each
 * context and reload would otherwise add one more). */
static int keep_sessions(void)
{
	static int index = -1;
	if (index < 0)
		index = SSL_get_ex_new_index(0, NULL, NULL, NULL, keep_session_on_free);
	return index < 0 ? -1 : 0;
}

SSL_CTX *tls_ctx_new(const struct config *cfg, struct err *err)
{
	char why[256];
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		openssl_reason(why, sizeof why);
		err_set(err, APP_EINTERNAL, NULL, "SSL_CTX_new: %s", why);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                                 SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
	bound_resumption(ctx);
	if (keep_sessions() < 0) {
		openssl_reason(why, sizeof why);
		err_set(err, APP_EINTERNAL, NULL, "session free hook: %s", why);
		goto fail;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1) {
		openssl_reason(why, sizeof why);
		err_set(err, APP_EINTERNAL, NULL, "cipher list: %s", why);
		goto fail;
	}
	if (SSL_CTX_set1_groups_list(ctx, tls_groups) != 1) {
		openssl_reason(why, sizeof why);
		err_set(err, APP_EINTERNAL, NULL, "groups %s: %s", tls_groups, why);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		openssl_reason(why, sizeof why);
		err_set(err, APP_EINVALID, "VOLUNTEERD_TLS_CERT", "cannot load %s: %s",
		        cfg->tls_cert, why);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		openssl_reason(why, sizeof why);
		err_set(err, APP_EINVALID, "VOLUNTEERD_TLS_KEY", "cannot use %s: %s", cfg->tls_key,
		        why);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct bufferevent *tls_bevcb(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	ERR_clear_error();
	SSL *ssl = SSL_new(w->tls);
	struct bufferevent *bev =
	        ssl ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                             BEV_OPT_CLOSE_ON_FREE)
	            : NULL;
	if (!bev) {
		/* Returning NULL would make evhttp serve this connection in plaintext. */
		log_msg(LOG_ERROR, "tls_abort", "worker=%d reason=\"cannot create TLS session\"",
		        w->index);
		abort();
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}
