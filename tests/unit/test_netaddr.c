/*
 * test_netaddr.c: ranges parse from the forms an operator writes, and refuse what is no
 * range; an address is in a range by its prefix only (IPv4-mapped IPv6 counts as IPv4); the
 * client behind proxies is the rightmost X-Forwarded-For entry no trusted proxy holds, and
 * an untrusted peer's header is ignored.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "netaddr.h"

static struct netranges parsed(const char *text)
{
	struct netranges set;
	struct err e;
	assert_int_equal(netranges_parse(text, "VOLUNTEERD_TRUSTED_PROXIES", &set, &e), 0);
	return set;
}

static void test_parse(void **state)
{
	(void)state;
	assert_int_equal(parsed("").n, 0);
	assert_int_equal(parsed(" , ").n, 0);
	assert_int_equal(parsed("127.0.0.1").n, 1);
	struct netranges set = parsed("10.0.0.0/8, 192.168.1.7 fd00::/8,::1");
	assert_int_equal(set.n, 4);
	assert_int_equal(set.range[0].bits, 8);
	assert_int_equal(set.range[1].bits, 32);
	assert_int_equal(set.range[2].bits, 8);
	assert_int_equal(set.range[3].bits, 128);

	static const char *const bad[] = {"10.0.0.0/33", "::/129",       "10.0.0.0/",
	                                  "10.0.0.0/-1", "10.0.0.0/8x",  "proxy.example",
	                                  "10.0.0.256",  "1.2.3.4/0008", NULL};
	for (int i = 0; bad[i]; i++) {
		struct netranges out;
		struct err e;
		assert_int_equal(netranges_parse(bad[i], "VOLUNTEERD_TRUSTED_PROXIES", &out, &e),
		                 -1);
		assert_string_equal(e.field, "VOLUNTEERD_TRUSTED_PROXIES");
	}
	char many[64 * 12] = "";
	for (int i = 0; i <= NETADDR_MAX_RANGES; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "10.0.0.%d,", i);
	struct netranges out;
	struct err e;
	assert_int_equal(netranges_parse(many, "K", &out, &e), -1);
}

static void test_contain(void **state)
{
	(void)state;
	struct netranges set = parsed("10.0.0.0/8 192.168.1.128/25 fd00::/8 203.0.113.5");
	assert_true(netranges_contain(&set, "10.255.1.2"));
	assert_false(netranges_contain(&set, "11.0.0.1"));
	assert_true(netranges_contain(&set, "192.168.1.200"));
	assert_false(netranges_contain(&set, "192.168.1.127"));
	assert_true(netranges_contain(&set, "fdab::1"));
	assert_false(netranges_contain(&set, "fe80::1"));
	assert_true(netranges_contain(&set, "203.0.113.5"));
	assert_false(netranges_contain(&set, "203.0.113.6"));
	assert_true(netranges_contain(&set, "::ffff:10.1.2.3")); /* IPv4-mapped */
	assert_false(netranges_contain(&set, "not an address"));
	assert_false(netranges_contain(&set, ""));
	struct netranges all = parsed("0.0.0.0/0");
	assert_true(netranges_contain(&all, "8.8.8.8"));
	assert_false(netranges_contain(&all, "::1"));
}

static const char *client(const char *trusted, const char *peer, const char *forwarded)
{
	static char out[NETADDR_TEXT_MAX];
	struct netranges set = parsed(trusted);
	netranges_client(&set, peer, forwarded, out, sizeof out);
	return out;
}

static void test_client(void **state)
{
	(void)state;
	/* No proxies trusted, or a peer that is not one: the header is the client's own words. */
	assert_string_equal(client("", "127.0.0.1", "1.2.3.4"), "127.0.0.1");
	assert_string_equal(client("10.0.0.0/8", "127.0.0.1", "1.2.3.4"), "127.0.0.1");
	/* A trusted peer without the header. */
	assert_string_equal(client("127.0.0.1", "127.0.0.1", NULL), "127.0.0.1");
	/* The rightmost untrusted entry: what the client wrote before it does not count. */
	assert_string_equal(client("127.0.0.1", "127.0.0.1", "1.2.3.4"), "1.2.3.4");
	assert_string_equal(client("127.0.0.1", "127.0.0.1", "6.6.6.6, 1.2.3.4"), "1.2.3.4");
	assert_string_equal(
	        client("127.0.0.1 10.0.0.0/8", "127.0.0.1", "6.6.6.6,1.2.3.4 , 10.1.1.1"),
	        "1.2.3.4");
	assert_string_equal(client("::1", "::1", "2001:db8::7"), "2001:db8::7");
	/* Every entry trusted: the leftmost, the proxy nearest the client. */
	assert_string_equal(client("127.0.0.1 10.0.0.0/8", "127.0.0.1", "10.0.0.2, 10.0.0.1"),
	                    "10.0.0.2");
	/* Something that is no address stops the walk at the last trusted hop. */
	assert_string_equal(
	        client("127.0.0.1 10.0.0.0/8", "127.0.0.1", "1.2.3.4, unknown, 10.0.0.1"),
	        "10.0.0.1");
	assert_string_equal(client("127.0.0.1", "127.0.0.1", "garbage"), "127.0.0.1");
	assert_string_equal(client("127.0.0.1", "127.0.0.1", ""), "127.0.0.1");
	assert_string_equal(client("127.0.0.1", "127.0.0.1", " , "), "127.0.0.1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_contain),
	        cmocka_unit_test(test_client),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
