/*
 * tls.c: TLS for the HTTPS port, after Mozilla's "intermediate" profile.
 *
 * Invariants: the bevcb never returns NULL (evhttp would then serve plaintext on the TLS
 * port), so a failed SSL_new aborts the worker, which the parent replaces.  Unexpected
 * EOFs from clients are not errors (SSL_OP_IGNORE_UNEXPECTED_EOF plus dirty shutdown).
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

static void openssl_reason(char *buf, size_t n)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, n);
	else
		snprintf(buf, n, "unknown error");
	ERR_clear_error();
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
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, 4096);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1) {
		openssl_reason(why, sizeof why);
		err_set(err, APP_EINTERNAL, NULL, "cipher list: %s", why);
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
