/*
 * auth.h: who is calling.  Resolves the session token (Bearer header or cookie), enforces
 * the route's authentication level and the CSRF rule for cookie-authenticated writes,
 * then runs the route's handler.  Authorization (scope and role) is not here: it is one
 * SQL function (authz_*) that every API function calls.
 */
#ifndef VD_AUTH_H
#define VD_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct req;
struct err;

#define AUTH_TOKEN_LEN 43 /* 32 random bytes in unpadded base64url */

/* Resolve the caller for r->route, then call its handler (or reply 401/403 itself). */
void auth_dispatch(struct req *r);
/* For a request whose session is still pending (req.h: session_pending): give answer once the
 * session is known, or 401 if it is not live (403 for a cross-site cookie).  reply_error calls
 * it; nothing else needs to. */
void auth_settle(struct req *r, const struct err *answer);
/* The step-up rule (R19): with VOLUNTEERD_ADMIN_MFA=required, a sensitive change needs the
 * session's last authentication within VOLUNTEERD_REAUTH_SECONDS.  1 after replying 401
 * (reauth-required), else 0.  For handlers, before they start the change. */
int auth_reauth_required(struct req *r);
/* A fresh session token: 32 random bytes as base64url (out: AUTH_TOKEN_LEN + 1). 0 or -1. */
int auth_new_token(char out[AUTH_TOKEN_LEN + 1]);
/* SHA-256 of a token as 64 hex digits (for the bytea parameter '\x...'): out[67]. */
void auth_token_hash_param(const char *token, char out[67]);
/* The session token the request carries (Bearer or cookie), or NULL; sets *via_cookie. */
const char *auth_request_token(struct req *r, char *buf, size_t n, int *via_cookie);
/* The Set-Cookie header for token (NULL: a cookie that clears it). */
void auth_set_cookie(struct req *r, const char *token, int max_age_s);
/* The client's address as text into out (at least 64 bytes): the socket's peer, or behind a
 * trusted proxy the client it names (r->client_ip, set by http.c). */
void auth_peer_ip(struct req *r, char *out, size_t n);
/* 1 when a browser says (Sec-Fetch-Site) that another site made the request: cross-site or
 * same-site, not same-origin and not the user's own navigation. */
int auth_fetched_from_another_site(const struct req *r);
/* The log line of a request refused as cross-site (R41). */
void auth_log_cross_site(const struct req *r);

#endif
