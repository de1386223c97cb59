/*
 * netaddr.h: address ranges in numeric text (VOLUNTEERD_TRUSTED_PROXIES), and the client
 * behind a chain of proxies.  Pure C: no libevent, no libpq.
 */
#ifndef VD_NETADDR_H
#define VD_NETADDR_H

#include <stddef.h>

struct err;

#define NETADDR_MAX_RANGES 32
#define NETADDR_TEXT_MAX   46 /* INET6_ADDRSTRLEN */

struct netrange {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int bits;
};

struct netranges {
	int n;
	struct netrange range[NETADDR_MAX_RANGES];
};

/* "127.0.0.1, 10.0.0.0/8 fd00::/8": ranges separated by commas or blanks; an address alone
 * is one address.  Empty text is no range.  -1 with err naming key on a bad range, a prefix
 * length too long for its family, or more than NETADDR_MAX_RANGES ranges. */
int netranges_parse(const char *text, const char *key, struct netranges *out, struct err *err);

/* Whether the numeric address lies in one of the ranges (an IPv4-mapped IPv6 address as its
 * IPv4 address).  0 for text that is no address. */
int netranges_contain(const struct netranges *set, const char *addr);

/* The client of a request that came from peer, given what X-Forwarded-For said (its headers'
 * values joined by commas, or NULL): peer itself unless peer is trusted; else the rightmost
 * address of the list that is not trusted, or, when the list runs out or holds something
 * that is no address first, the last trusted one met.  Written to out (NUL-terminated). */
void netranges_client(const struct netranges *trusted, const char *peer, const char *forwarded,
                      char *out, size_t n);

#endif
