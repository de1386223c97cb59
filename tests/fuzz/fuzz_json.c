/*
 * fuzz_json.c: the request-body parser and the typed getters on arbitrary bytes.
 * Every body the server accepts passes through these first.
 */
#include <stddef.h>
#include <stdint.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e;
	cJSON *o = json_parse_object((const char *)data, size, &e);
	if (!o)
		return 0;
	static const char *const keys[] = {"name", "phone", "org_unit_id", "skills", NULL};
	const char *s;
	long long n;
	int b, present;
	const cJSON *sub;
	json_check_keys(o, keys, &e);
	json_get_str(o, "name", 1, 50, &s, &e);
	json_get_int(o, "org_unit_id", 0, 1, 1000000, &n, &present, &e);
	json_get_bool(o, "party_member", 0, &b, &present, &e);
	json_get_array(o, "skills", 0, 20, &sub, &e);
	json_get_object(o, "recurrence", 0, &sub, &e);
	char *text = json_print(o);
	cJSON_free(text);
	cJSON_Delete(o);
	return 0;
}
