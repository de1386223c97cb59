/*
 * json.c: strict request-body parsing and typed getters on top of cJSON.
 *
 * Owns nothing past a call: the copy made for cJSON (which needs a NUL-terminated buffer) is
 * freed before json_parse_object returns.  cJSON itself is lenient in ways that matter for an
 * API (it accepts invalid UTF-8, stops a string at \u0000 and keeps duplicate keys, of which
 * a lookup sees only the first), so those are refused here, before any handler looks.
 * Known weakness: cJSON reports running out of memory as a parse error, so a body that hits
 * OOM inside cJSON is answered as malformed.
 */
#include "json.h"

#include <openssl/crypto.h>

#include <stdlib.h>
#include <string.h>

#include "validate.h"

#define JSON_NOT_OBJECT "body must be a JSON object"

/* 1 when the raw text holds the escape \u0000, which cJSON would decode to a string cut short. */
static int json_has_nul_escape(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\\')
			continue;
		if (buf[i + 1] == 'u' && len - i >= 6 && memcmp(buf + i + 2, "0000", 4) == 0)
			return 1;
		i++; /* skip the escaped character, so "\\u0000" is not mistaken for one */
	}
	return 0;
}

/* 1 when arrays and objects nest deeper than JSON_MAX_DEPTH in the raw text (brackets inside
 * strings do not count).  No body of the API goes past 4; cJSON itself allows 1,000, each a
 * frame of its recursive parser, and every deeper walk of the tree costs the same again. */
static int json_too_deep(const char *buf, size_t len)
{
	int depth = 0, in_string = 0;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if (c == '{' || c == '[') {
			if (++depth > JSON_MAX_DEPTH)
				return 1;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return 0;
}

static int json_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 0, or -1 with err set for the first duplicate key in item or anything inside it. */
static int json_check_dups(const cJSON *item, struct err *err)
{
	if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
		return 0;
	size_t n = 0;
	for (const cJSON *c = item->child; c; c = c->next) {
		if (json_check_dups(c, err) < 0)
			return -1;
		n++;
	}
	if (!cJSON_IsObject(item) || n < 2)
		return 0;
	/* Sorting keeps a body with many keys at n log n instead of n^2. */
	const char **keys = malloc(n * sizeof *keys);
	if (!keys)
		return err_set(err, APP_EUNAVAILABLE, "", "out of memory");
	size_t i = 0;
	for (const cJSON *c = item->child; c; c = c->next)
		keys[i++] = c->string ? c->string : "";
	qsort(keys, n, sizeof *keys, json_cmp_str);
	int rc = 0;
	for (i = 1; i < n; i++) {
		if (strcmp(keys[i - 1], keys[i]) == 0) {
			rc = err_set(err, APP_EMALFORMED, keys[i], "duplicate key \"%.64s\"",
			             keys[i]);
			break;
		}
	}
	free(keys);
	return rc;
}

cJSON *json_parse_object(const char *buf, size_t len, struct err *err)
{
	if (!buf || len == 0) {
		err_set(err, APP_EMALFORMED, "", JSON_NOT_OBJECT);
		return NULL;
	}
	if (memchr(buf, '\0', len)) {
		err_set(err, APP_EMALFORMED, "", "body must not contain NUL bytes");
		return NULL;
	}
	if (!valid_utf8(buf, len)) {
		err_set(err, APP_EMALFORMED, "", "body must be valid UTF-8");
		return NULL;
	}
	if (json_has_nul_escape(buf, len)) {
		err_set(err, APP_EMALFORMED, "", "strings must not contain \\u0000");
		return NULL;
	}
	if (json_too_deep(buf, len)) {
		err_set(err, APP_EMALFORMED, "", "arrays and objects nest more than %d deep",
		        JSON_MAX_DEPTH);
		return NULL;
	}
	char *copy = malloc(len + 1);
	if (!copy) {
		err_set(err, APP_EUNAVAILABLE, "", "out of memory");
		return NULL;
	}
	memcpy(copy, buf, len);
	copy[len] = '\0';
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithOpts(copy, &end, 1);
	free(copy);
	if (!root || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		err_set(err, APP_EMALFORMED, "", JSON_NOT_OBJECT);
		return NULL;
	}
	if (json_check_dups(root, err) < 0) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* The item for key, or NULL when absent or JSON null (both mean "not given"). */
static const cJSON *json_find(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsNull(item) ? NULL : item;
}

/* For a missing item: -1 with "is required", or 0. */
static int json_missing(const char *key, int required, struct err *err)
{
	if (required)
		return err_set(err, APP_EINVALID, key, "is required");
	return 0;
}

/* 1 for a code point that makes a string look empty. */
static int json_blank_at(const unsigned char *p, size_t *len)
{
	if (*p == ' ') {
		*len = 1;
		return 1;
	}
	if (p[0] == 0xc2 && p[1] == 0xa0) { /* U+00A0 no-break space */
		*len = 2;
		return 1;
	}
	if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80) { /* U+3000 ideographic space */
		*len = 3;
		return 1;
	}
	return 0;
}

static int json_blank(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len;
	while (*p) {
		if (!json_blank_at(p, &len))
			return 0;
		p += len;
	}
	return 1;
}

/* 1 when s (valid UTF-8) has a C0 control, DEL or a C1 control (U+0080..U+009F). */
static int json_has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 1;
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 1;
	}
	return 0;
}

int json_get_str(const cJSON *obj, const char *key, int required, size_t max_chars,
                 const char **out, struct err *err)
{
	const cJSON *item = json_find(obj, key);
	*out = NULL;
	if (!item)
		return json_missing(key, required, err);
	if (!cJSON_IsString(item) || !item->valuestring)
		return err_set(err, APP_EINVALID, key, "must be a string");
	const char *s = item->valuestring;
	if (!valid_utf8(s, strlen(s)))
		return err_set(err, APP_EINVALID, key, "must be valid UTF-8");
	if (json_has_control(s))
		return err_set(err, APP_EINVALID, key, "must not contain control characters");
	if (utf8_chars(s) > max_chars)
		return err_set(err, APP_EINVALID, key, "must be at most %zu characters", max_chars);
	if (required && json_blank(s))
		return err_set(err, APP_EINVALID, key, "must not be empty");
	*out = s;
	return 0;
}

int json_get_int(const cJSON *obj, const char *key, int required, long long min, long long max,
                 long long *out, int *present, struct err *err)
{
	/* From 2^53 on a double no longer holds every integer, so the value may not be the one
	 * the client sent (2^53 + 1 arrives as 2^53). */
	const double exact = 9007199254740992.0;
	const cJSON *item = json_find(obj, key);
	if (present)
		*present = item != NULL;
	if (!item)
		return json_missing(key, required, err);
	if (!cJSON_IsNumber(item))
		return err_set(err, APP_EINVALID, key, "must be an integer");
	double v = item->valuedouble;
	if (v != v || v <= -exact || v >= exact || v != (double)(long long)v)
		return err_set(err, APP_EINVALID, key, "must be an integer");
	long long iv = (long long)v;
	if (iv < min || iv > max)
		return err_set(err, APP_EINVALID, key, "must be between %lld and %lld", min, max);
	*out = iv;
	return 0;
}

int json_get_bool(const cJSON *obj, const char *key, int required, int *out, int *present,
                  struct err *err)
{
	const cJSON *item = json_find(obj, key);
	if (present)
		*present = item != NULL;
	if (!item)
		return json_missing(key, required, err);
	if (!cJSON_IsBool(item))
		return err_set(err, APP_EINVALID, key, "must be true or false");
	*out = cJSON_IsTrue(item);
	return 0;
}

int json_get_object(const cJSON *obj, const char *key, int required, const cJSON **out,
                    struct err *err)
{
	const cJSON *item = json_find(obj, key);
	*out = NULL;
	if (!item)
		return json_missing(key, required, err);
	if (!cJSON_IsObject(item))
		return err_set(err, APP_EINVALID, key, "must be an object");
	*out = item;
	return 0;
}

int json_get_array(const cJSON *obj, const char *key, int required, size_t max_items,
                   const cJSON **out, struct err *err)
{
	const cJSON *item = json_find(obj, key);
	*out = NULL;
	if (!item)
		return json_missing(key, required, err);
	if (!cJSON_IsArray(item))
		return err_set(err, APP_EINVALID, key, "must be an array");
	size_t n = 0;
	for (const cJSON *c = item->child; c; c = c->next)
		if (++n > max_items)
			return err_set(err, APP_EINVALID, key, "must have at most %zu items",
			               max_items);
	*out = item;
	return 0;
}

int json_check_keys(const cJSON *obj, const char *const allowed[], struct err *err)
{
	for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next) {
		const char *key = c->string ? c->string : "";
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], key) != 0)
			i++;
		if (!allowed[i])
			return err_set(err, APP_EINVALID, key, "unknown field");
	}
	return 0;
}

char *json_print(const cJSON *item)
{
	return item ? cJSON_PrintUnformatted(item) : NULL;
}

const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

long long json_num(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

void json_wipe_str(cJSON *obj, const char *key)
{
	cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsString(it) && it->valuestring)
		OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
}
