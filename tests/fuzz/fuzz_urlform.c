/*
 * fuzz_urlform.c: the strict check of query strings and form bodies on arbitrary bytes: it
 * must read only the bytes it is given, and what it says must hold: accepted text has no
 * %00, and a refusal names its field in UTF-8 that fits (it goes into a JSON answer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "urlform.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const repeatable[] = {"id", NULL};
	char *text = malloc(size ? size : 1); /* exactly size bytes: no NUL after them */
	if (!text)
		return 0;
	memcpy(text, data, size);
	struct urlform_refusal r;
	int rc = urlform_check(text, size, repeatable, &r);
	if (rc == 0 && memmem(text, size, "%00", 3))
		abort();
	if (rc == -1 && (!r.why || strlen(r.field) >= sizeof r.field ||
	                 !valid_utf8(r.field, strlen(r.field))))
		abort();
	free(text);
	return 0;
}
