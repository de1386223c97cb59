/*
 * route_check.c: the checks of a route table that serve runs before it binds anything (R24,
 * deny by default), and the methods' names.  Apart from router.c, which holds the table and
 * so every handler, so that a unit test can give it tables of its own.
 */
#include <string.h>

#include "err.h"
#include "router.h"

static int one_method(int m)
{
	return m >= M_GET && m <= M_HEAD && (m & (m - 1)) == 0;
}

int route_table_check(const struct route *table, int n, struct err *e)
{
	for (int i = 0; i < n; i++) {
		const struct route *r = &table[i];
		if (!r->pattern || r->pattern[0] != '/')
			return err_set(e, APP_EINTERNAL, "route", "route %d has no path", i);
		if (r->auth == AUTH_UNSET || !r->handler || !one_method(r->method))
			return err_set(e, APP_EINTERNAL, "route",
			               "%s names no access policy, handler or single method",
			               r->pattern);
		for (int j = 0; j < i; j++)
			if (table[j].method == r->method && !strcmp(table[j].pattern, r->pattern))
				return err_set(e, APP_EINTERNAL, "route", "%s %s is listed twice",
				               router_method_name(r->method), r->pattern);
	}
	return 0;
}

const char *router_method_name(int m)
{
	switch (m) {
	case M_GET:
		return "GET";
	case M_POST:
		return "POST";
	case M_PUT:
		return "PUT";
	case M_DELETE:
		return "DELETE";
	case M_PATCH:
		return "PATCH";
	case M_OPTIONS:
		return "OPTIONS";
	default:
		return "HEAD";
	}
}
