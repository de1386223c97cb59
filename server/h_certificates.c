/*
 * h_certificates.c: certificates of a volunteer's service record (sql/0017_certificates.sql).
 *
 *   POST /api/v1/me/certificates {from?, to?}                 201 the certificate
 *   GET  /api/v1/me/certificates                              200 {"items": [...]}
 *   POST /api/v1/volunteers/{id}/certificates {from?, to?}    201 (coordinator, admin)
 *   POST /api/v1/certificates/{id}/revoke {reason}            200 (admin over the volunteer)
 *
 * The shape of the body is checked here, the dates and everything else in the database.
 * Each certificate goes out with `url`, the link that checks it (GET /certificates/{number}
 * ?c=code, server/pages/p_certificate.c), which its QR code also holds.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "handlers.h"
#include "json.h"
#include "reply.h"
#include "req.h"
#include "worker.h"

int certificate_path(const char *number, const char *code, char *out, size_t n)
{
	int w = snprintf(out, n, "/certificates/%s?c=%s", number ? number : "", code ? code : "");
	return w > 0 && (size_t)w < n ? 0 : -1;
}

int certificate_url(struct req *r, const char *number, const char *code, char *out, size_t n)
{
	char path[128];
	if (certificate_path(number, code, path, sizeof path) < 0)
		return -1;
	return req_public_link(r, path, out, n);
}

/* `url` added to one certificate; -1 when it does not fit. */
static int add_url(struct req *r, cJSON *cert)
{
	char url[sizeof r->w->cfg->public_url + 128];
	const char *number = json_str(cert, "number"), *code = json_str(cert, "code");
	if (!number || !code || certificate_url(r, number, code, url, sizeof url) < 0)
		return -1;
	return cJSON_AddStringToObject(cert, "url", url) ? 0 : -1;
}

static int one_post(struct req *r, cJSON **result)
{
	if (add_url(r, *result) < 0) {
		api_oom(r);
		return -1;
	}
	return 0;
}

static int list_post(struct req *r, cJSON **result)
{
	cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(*result, "items"))
	{
		if (add_url(r, c) < 0) {
			api_oom(r);
			return -1;
		}
	}
	return 0;
}

/* {from?, to?}, both strings (dates, checked by the database); -1 after replying. */
static int check_period(struct req *r, cJSON *body)
{
	static const char *const keys[] = {"from", "to", NULL};
	struct err e;
	const char *s;
	if (json_check_keys(body, keys, &e) < 0 || json_get_str(body, "from", 0, 10, &s, &e) < 0 ||
	    json_get_str(body, "to", 0, 10, &s, &e) < 0) {
		cJSON_Delete(body);
		reply_error(r, &e);
		return -1;
	}
	return 0;
}

void certificates_create_body(struct req *r, cJSON *body)
{
	if (check_period(r, body) < 0)
		return;
	api_call_post(r, "me_certificate_create", body, 201, one_post);
}

void h_me_certificates_create(struct req *r)
{
	cJSON *body = api_body(r);
	if (body)
		certificates_create_body(r, body);
}

void h_me_certificates_list(struct req *r)
{
	api_call_post(r, "me_certificates", cJSON_CreateObject(), 200, list_post);
}

void h_volunteer_certificates_create(struct req *r)
{
	cJSON *body = api_body(r);
	if (!body)
		return;
	if (check_period(r, body) < 0 || api_path_id(r, body, 0, "volunteer_id") < 0)
		return;
	api_call_post(r, "volunteer_certificate_create", body, 201, one_post);
}

void h_certificates_revoke(struct req *r)
{
	api_call_reason(r, "certificate_revoke", "id", 500, 200, one_post);
}
