/*
 * err.c: the single error -> status -> problem-type table.
 */
#include "err.h"

#include <stdio.h>
#include <string.h>

static const struct {
	int status;
	const char *title;
	const char *type;
} err_table[APP_ERR_COUNT] = {
        [APP_OK] = {200, "OK", "about:blank"},
        [APP_EMALFORMED] = {400, "Bad Request", "urn:volunteerd:problem:malformed"},
        [APP_EUNAUTH] = {401, "Unauthorized", "urn:volunteerd:problem:unauthenticated"},
        [APP_EFORBIDDEN] = {403, "Forbidden", "urn:volunteerd:problem:forbidden"},
        [APP_ENOTFOUND] = {404, "Not Found", "urn:volunteerd:problem:not-found"},
        [APP_EMETHOD] = {405, "Method Not Allowed", "urn:volunteerd:problem:method-not-allowed"},
        [APP_ECONFLICT] = {409, "Conflict", "urn:volunteerd:problem:conflict"},
        [APP_ETOOLARGE] = {413, "Content Too Large", "urn:volunteerd:problem:too-large"},
        [APP_EINVALID] = {422, "Unprocessable Content", "urn:volunteerd:problem:validation"},
        [APP_ETHROTTLED] = {429, "Too Many Requests", "urn:volunteerd:problem:throttled"},
        [APP_EUNAVAILABLE] = {503, "Service Unavailable", "urn:volunteerd:problem:unavailable"},
        [APP_EINTERNAL] = {500, "Internal Server Error", "urn:volunteerd:problem:internal"},
        [APP_EMEDIATYPE] = {415, "Unsupported Media Type",
                            "urn:volunteerd:problem:unsupported-media-type"},
        [APP_ETOTP] = {401, "Unauthorized", "urn:volunteerd:problem:totp-required"},
        [APP_EMFA] = {403, "Forbidden", "urn:volunteerd:problem:mfa-required"},
        [APP_EREAUTH] = {401, "Unauthorized", "urn:volunteerd:problem:reauth-required"},
        [APP_ETIMEOUT] = {408, "Request Timeout", "urn:volunteerd:problem:request-timeout"},
        [APP_ETARGET] = {414, "URI Too Long", "urn:volunteerd:problem:target-too-long"},
        [APP_EEXPECT] = {417, "Expectation Failed", "urn:volunteerd:problem:expectation-failed"},
        [APP_EHEADERS] = {431, "Request Header Fields Too Large",
                          "urn:volunteerd:problem:headers-too-large"},
};

static int valid_code(enum app_err code)
{
	return (int)code >= 0 && code < APP_ERR_COUNT;
}

int app_err_status(enum app_err code)
{
	return valid_code(code) ? err_table[code].status : 500;
}

const char *app_err_title(enum app_err code)
{
	return err_table[valid_code(code) ? code : APP_EINTERNAL].title;
}

const char *app_err_type(enum app_err code)
{
	return err_table[valid_code(code) ? code : APP_EINTERNAL].type;
}

enum app_err app_err_from_status(int status)
{
	for (int i = 0; i < APP_ERR_COUNT; i++)
		if (err_table[i].status == status)
			return (enum app_err)i;
	return APP_EINTERNAL;
}

int err_set(struct err *e, enum app_err code, const char *field, const char *fmt, ...)
{
	if (!e)
		return -1;
	e->code = code;
	snprintf(e->field, sizeof e->field, "%s", field ? field : "");
	e->n_more = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof e->detail, fmt, ap);
	va_end(ap);
	return -1;
}

void err_clear(struct err *e)
{
	e->code = APP_OK;
	e->field[0] = '\0';
	e->detail[0] = '\0';
	e->n_more = 0;
}

void err_more(struct err *e, const char *field, const char *detail)
{
	if (!strcmp(e->field, field) || e->n_more >= ERR_MORE_MAX)
		return;
	for (int i = 0; i < e->n_more; i++)
		if (!strcmp(e->more[i].field, field))
			return;
	snprintf(e->more[e->n_more].field, sizeof e->more[0].field, "%s", field);
	snprintf(e->more[e->n_more].detail, sizeof e->more[0].detail, "%s", detail);
	e->n_more++;
}
