/*
 * fuzz_framing.c: the request-framing pre-parser on arbitrary bytes, fed whole and again in
 * pieces (of a size the first byte picks): both scans must agree on every count and offset,
 * as a connection's bytes arrive cut anywhere.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	size_t step = (size_t)data[0] % 16 + 1;
	data++;
	size--;
	struct framing whole, cut;
	framing_init(&whole);
	framing_init(&cut);
	int a = framing_feed(&whole, data, size), b = 0;
	for (size_t at = 0; at < size; at += step)
		b = framing_feed(&cut, data + at, size - at < step ? size - at : step);
	if (a != b || whole.bad != cut.bad || whole.bad_at != cut.bad_at ||
	    whole.requests != cut.requests || whole.heads != cut.heads ||
	    whole.head_end != cut.head_end || (a < 0) != (whole.bad != 0) ||
	    (a < 0 && (!whole.field || !whole.why || whole.field != cut.field)))
		abort();
	return 0;
}
