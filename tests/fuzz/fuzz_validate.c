/*
 * fuzz_validate.c: every text validator on arbitrary strings (NUL-terminated copies).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	int y, m, d, q, minutes;
	long long t;
	char out[32], masked[19];
	valid_phone(s);
	if (valid_id_number(s))
		mask_id_number(s, masked);
	if (valid_utf8(s, size))
		utf8_chars(s);
	parse_date(s, &y, &m, &d);
	parse_month(s, &y, &m);
	parse_quarter(s, &y, &q);
	parse_hhmm(s, &minutes);
	if (parse_rfc3339(s, &t) == 0)
		format_rfc3339(t, 480, out);
	valid_login(s);
	valid_org_kind(s);
	valid_weekday(s);
	password_acceptable(s);
	free(s);
	return 0;
}
