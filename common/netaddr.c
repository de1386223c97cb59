/*
 * netaddr.c: address ranges, and the client behind proxies (netaddr.h).
 *
 * X-Forwarded-For is read from the right: each proxy appends the address it was connected
 * from, so only the entries added by proxies we trust are true, and the first entry from the
 * right that no trusted proxy holds is the client (anything left of it the client may have
 * written itself).
 */
#include "netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Numeric text to family and bytes, an IPv4-mapped IPv6 address as IPv4; 0 or -1. */
static int parse_addr(const char *text, int *family, unsigned char addr[16])
{
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, addr) != 1)
		return -1;
	*family = AF_INET6;
	if (memcmp(addr, v4_mapped, sizeof v4_mapped) == 0) {
		memmove(addr, addr + 12, 4);
		*family = AF_INET;
	}
	return 0;
}

static int parse_range(const char *text, struct netrange *out)
{
	char addr[NETADDR_TEXT_MAX + 4];
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	if (len == 0 || len >= sizeof addr)
		return -1;
	memcpy(addr, text, len);
	addr[len] = '\0';
	if (parse_addr(addr, &out->family, out->addr) < 0)
		return -1;
	int max = out->family == AF_INET ? 32 : 128;
	out->bits = max;
	if (slash) {
		const char *digits = slash + 1;
		char *end;
		if (!isdigit((unsigned char)digits[0]) || strlen(digits) > 3)
			return -1;
		long bits = strtol(digits, &end, 10);
		if (*end || bits > max)
			return -1;
		out->bits = (int)bits;
	}
	return 0;
}

int netranges_parse(const char *text, const char *key, struct netranges *out, struct err *err)
{
	out->n = 0;
	const char *p = text;
	while (*p) {
		size_t skip = strspn(p, ", \t");
		p += skip;
		size_t len = strcspn(p, ", \t");
		if (len == 0)
			break;
		char item[NETADDR_TEXT_MAX + 8];
		if (len >= sizeof item)
			return err_set(err, APP_EINVALID, key, "%s: not an address or range", key);
		memcpy(item, p, len);
		item[len] = '\0';
		if (out->n == NETADDR_MAX_RANGES)
			return err_set(err, APP_EINVALID, key, "%s: more than %d ranges", key,
			               NETADDR_MAX_RANGES);
		if (parse_range(item, &out->range[out->n]) < 0)
			return err_set(err, APP_EINVALID, key, "%s: not an address or range: %s",
			               key, item);
		out->n++;
		p += len;
	}
	return 0;
}

static int in_range(const struct netrange *r, int family, const unsigned char *addr)
{
	if (r->family != family)
		return 0;
	int whole = r->bits / 8, rest = r->bits % 8;
	if (memcmp(r->addr, addr, (size_t)whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (r->addr[whole] & mask) == (addr[whole] & mask);
}

int netranges_contain(const struct netranges *set, const char *addr)
{
	int family;
	unsigned char bytes[16];
	if (parse_addr(addr, &family, bytes) < 0)
		return 0;
	for (int i = 0; i < set->n; i++)
		if (in_range(&set->range[i], family, bytes))
			return 1;
	return 0;
}

void netranges_client(const struct netranges *trusted, const char *peer, const char *forwarded,
                      char *out, size_t n)
{
	snprintf(out, n, "%s", peer);
	if (!forwarded || !netranges_contain(trusted, peer))
		return;
	/* From the right: each entry between commas, blanks trimmed. */
	const char *end = forwarded + strlen(forwarded);
	while (end > forwarded) {
		const char *start = end;
		while (start > forwarded && start[-1] != ',')
			start--;
		const char *a = start, *b = end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		char entry[NETADDR_TEXT_MAX];
		int family;
		unsigned char bytes[16];
		if ((size_t)(b - a) >= sizeof entry)
			return;
		memcpy(entry, a, (size_t)(b - a));
		entry[b - a] = '\0';
		if (parse_addr(entry, &family, bytes) < 0)
			return; /* not an address: stop at the last trusted one */
		snprintf(out, n, "%s", entry);
		if (!netranges_contain(trusted, entry))
			return;
		end = start > forwarded ? start - 1 : forwarded;
	}
}
