/*
 * fuzz_checkin.c: the QR token verifier on arbitrary strings: it must refuse without
 * reading past the input, whatever arrives in /checkin/{code}.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkin_code.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[32] = {1, 2, 3};
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	long long event, slot;
	checkin_token_verify(key, s, 1790000000, &event, &slot);
	checkin_code_verify(key, 42, 1790000000, s);
	free(s);
	return 0;
}
