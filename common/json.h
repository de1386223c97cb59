/*
 * json.h: cJSON helpers for request bodies: one strict parser and typed getters whose errors
 * name the offending field, so that a handler can turn any failure into a 400 or a 422 with
 * `errors: [{field, message}]` without writing its own checks.
 *
 * All getters return 0 or -1 and fill err (field = the key) on -1.  Strings handed out are
 * borrowed from the cJSON tree and live until cJSON_Delete of its root.
 */
#ifndef VD_JSON_H
#define VD_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "err.h"

/* Parse a request body (len bytes, not NUL-terminated) into an object; the caller frees it
 * with cJSON_Delete.  Empty, not an object, bad JSON or trailing bytes -> NULL with
 * APP_EMALFORMED "body must be a JSON object"; a NUL byte, invalid UTF-8, a \u0000 escape,
 * arrays and objects nested more than JSON_MAX_DEPTH deep (R28) or a duplicate key in any
 * object -> NULL with APP_EMALFORMED and a specific detail; no memory -> NULL with
 * APP_EUNAVAILABLE. */
#define JSON_MAX_DEPTH 8
cJSON *json_parse_object(const char *buf, size_t len, struct err *err);

/* A string of at most max_chars code points, valid UTF-8, without control characters (C0, DEL
 * or C1); when required it must be present, not null and not blank (spaces, U+00A0, U+3000).
 * An absent or null optional key gives *out = NULL and 0.  *out is borrowed from obj. */
int json_get_str(const cJSON *obj, const char *key, int required, size_t max_chars,
                 const char **out, struct err *err);
/* An integral number (1, 1.0 and 1e2 all count) within min..max and strictly within +-2^53,
 * where a double is exact.  present (may be NULL) is 1 when the key exists and is not null; *out is
 * untouched when it is absent. */
int json_get_int(const cJSON *obj, const char *key, int required, long long min, long long max,
                 long long *out, int *present, struct err *err);
/* true or false; present as for json_get_int. */
int json_get_bool(const cJSON *obj, const char *key, int required, int *out, int *present,
                  struct err *err);
/* A nested object; an absent or null optional key gives *out = NULL.  *out is borrowed. */
int json_get_object(const cJSON *obj, const char *key, int required, const cJSON **out,
                    struct err *err);
/* An array of at most max_items elements (elements are not checked); absent or null optional
 * gives *out = NULL.  *out is borrowed. */
int json_get_array(const cJSON *obj, const char *key, int required, size_t max_items,
                   const cJSON **out, struct err *err);
/* Every key of obj must be in allowed (a NULL-terminated list); otherwise APP_EINVALID naming
 * the first unknown key, so that a misspelt optional field is not silently ignored. */
int json_check_keys(const cJSON *obj, const char *const allowed[], struct err *err);

/* Readers for results the server made itself (not for requests): the string at key, or NULL;
 * the number at key as an integer, or 0. */
const char *json_str(const cJSON *obj, const char *key);
long long json_num(const cJSON *obj, const char *key);

/* Serialize without formatting; the caller frees the result with free() (valid as long as
 * nobody installs other cJSON hooks).  NULL on OOM. */
char *json_print(const cJSON *item);

/* Overwrite the string value of key, if any, before the object is freed (a password, an ID
 * number: nothing readable is left in freed memory). */
void json_wipe_str(cJSON *obj, const char *key);

#endif
