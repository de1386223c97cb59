/*
 * fuzz_framing.c: the request pre-parser on arbitrary bytes, fed whole and again in pieces
 * (of a size the first byte picks): both scans must agree on every count, offset and verdict,
 * as a connection's bytes arrive cut anywhere.  The limits are small, so that inputs reach
 * them; a route's body limit depends on its path's length, so that the look-up is exercised.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t body_limit(const char *method, const char *path, size_t len, uint64_t max_body)
{
	(void)path;
	if (!method || !strcmp(method, "HEAD"))
		abort(); /* only for a method with a body */
	return len % 2 ? 16 : max_body;
}

static const struct framing_limits limits = {
        .max_head = 256,
        .max_fields = 6,
        .max_target = 64,
        .max_body = 64,
        .min_body = 16,
        .body_limit = body_limit,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	size_t step = (size_t)data[0] % 16 + 1;
	data++;
	size--;
	struct framing whole, cut;
	framing_init(&whole, &limits);
	framing_init(&cut, &limits);
	int a = framing_feed(&whole, data, size), b = 0;
	for (size_t at = 0; at < size; at += step)
		b = framing_feed(&cut, data + at, size - at < step ? size - at : step);
	if (a != b || whole.bad != cut.bad || whole.bad_at != cut.bad_at ||
	    whole.requests != cut.requests || whole.heads != cut.heads ||
	    whole.head_end != cut.head_end || (a < 0) != (whole.bad != 0) ||
	    (a < 0 && (!whole.field || !whole.why || whole.field != cut.field ||
	               whole.status != cut.status || whole.limit != cut.limit)))
		abort();
	return 0;
}
