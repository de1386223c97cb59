/*
 * err.h: the application's error codes and the one table that maps them to
 * HTTP statuses and RFC 9457 problem types.
 *
 * Plumbing returns 0 or -1 and fills a caller's struct err; domain code
 * returns an enum app_err.  Nothing else in the program decides a status.
 */
#ifndef VD_ERR_H
#define VD_ERR_H

#include <stdarg.h>

enum app_err {
	APP_OK = 0,
	APP_EMALFORMED,   /* 400: the request cannot be parsed */
	APP_EUNAUTH,      /* 401: not logged in */
	APP_EFORBIDDEN,   /* 403: in scope, but the role does not allow it */
	APP_ENOTFOUND,    /* 404: absent, or outside the caller's scope */
	APP_EMETHOD,      /* 405: the path exists, the method does not */
	APP_ECONFLICT,    /* 409: conflicts with the current state */
	APP_ETOOLARGE,    /* 413: body over the route's limit */
	APP_EINVALID,     /* 422: well-formed but invalid (names a field) */
	APP_ETHROTTLED,   /* 429: too many attempts */
	APP_EUNAVAILABLE, /* 503: overloaded, draining or database down */
	APP_EINTERNAL,    /* 500: a bug */
	APP_EMEDIATYPE,   /* 415: a body whose Content-Type is not the one expected */
	/* Refinements of 401 and 403 with a type of their own, so that a client can tell what
	 * to do next (R19); app_err_from_status never returns them. */
	APP_ETOTP,   /* 401: the account needs a TOTP code (missing, wrong or used) */
	APP_EMFA,    /* 403: an administrator's session without a second factor */
	APP_EREAUTH, /* 401: log-in too long ago for a sensitive change */
	/* What conns.c refuses before a request is read (framing.h), and its deadlines. */
	APP_ETIMEOUT, /* 408: the request's head or body did not arrive in time */
	APP_ETARGET,  /* 414: a request-target over the limit */
	APP_EEXPECT,  /* 417: an Expect other than 100-continue */
	APP_EHEADERS, /* 431: too many header fields, or a head over the limit */
	APP_ERR_COUNT
};

#define ERR_MORE_MAX 7

/* An error with its detail; field is "" when no single field is at fault.  A 422 about a
 * request's body may name further fields at fault in more[] (err_more), each with its own
 * message, so that a client hears of every bad field at once. */
struct err {
	enum app_err code;
	char field[64];
	char detail[256];
	int n_more;
	struct {
		char field[64];
		char detail[192];
	} more[ERR_MORE_MAX];
};

/* The HTTP status of code (500 for an unknown code). */
int app_err_status(enum app_err code);
/* A short human title, e.g. "Conflict"; static storage. */
const char *app_err_title(enum app_err code);
/* The problem type URI, e.g. "urn:volunteerd:problem:conflict"; static storage. */
const char *app_err_type(enum app_err code);
/* The enum for an HTTP status (APP_EINTERNAL when none matches). */
enum app_err app_err_from_status(int status);

/* Fill e (if not NULL) and return -1, so that plumbing can `return err_set(...)`. */
int err_set(struct err *e, enum app_err code, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Reset e to APP_OK with empty field and detail. */
void err_clear(struct err *e);
/* Name one more field at fault in e, with its message: ignored when e already names that field
 * or has ERR_MORE_MAX more. */
void err_more(struct err *e, const char *field, const char *detail);

#endif
