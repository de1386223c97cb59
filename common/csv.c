/*
 * csv.c: CSV fields for Excel (see csv.h for the two hazards and how each is handled).
 *
 * Owns: the struct csv buffer.  Invariant: data[len] == '\0' whenever data is not NULL.
 */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

void csv_init(struct csv *c)
{
	memset(c, 0, sizeof *c);
}

void csv_cleanup(struct csv *c)
{
	free(c->data);
	memset(c, 0, sizeof *c);
}

static int put(struct csv *c, const char *s, size_t n)
{
	if (c->failed)
		return -1;
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 1024;
		while (c->len + n + 1 > cap)
			cap *= 2;
		char *p = realloc(c->data, cap);
		if (!p) {
			c->failed = 1;
			return -1;
		}
		c->data = p;
		c->cap = cap;
	}
	memcpy(c->data + c->len, s, n);
	c->len += n;
	c->data[c->len] = '\0';
	return 0;
}

int csv_bom(struct csv *c)
{
	return put(c, "\xEF\xBB\xBF", 3);
}

int csv_text_num_ok(const char *v)
{
	if (!v || !*v)
		return 0;
	int digits = 0;
	for (const char *p = v; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch >= '0' && ch <= '9')
			digits++;
		else if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '+' ||
		           ch == '-' || ch == ' '))
			return 0;
	}
	return digits > 0;
}

/* Append v as one quoted-if-needed field (prefix, if any, is part of the field). */
static int put_field(struct csv *c, const char *prefix, const char *v, const char *suffix)
{
	size_t n = strlen(v);
	int quote = strpbrk(v, ",\"\r\n") != NULL || (prefix && strchr(prefix, '"')) ||
	            (suffix && strchr(suffix, '"'));
	if (!quote) {
		if (prefix && put(c, prefix, strlen(prefix)) < 0)
			return -1;
		if (put(c, v, n) < 0)
			return -1;
		return suffix ? put(c, suffix, strlen(suffix)) : 0;
	}
	if (put(c, "\"", 1) < 0)
		return -1;
	const char *parts[3] = {prefix, v, suffix};
	for (int i = 0; i < 3; i++) {
		const char *s = parts[i];
		if (!s)
			continue;
		for (const char *q; (q = strchr(s, '"')); s = q + 1) {
			if (put(c, s, (size_t)(q - s) + 1) < 0 || put(c, "\"", 1) < 0)
				return -1;
		}
		if (put(c, s, strlen(s)) < 0)
			return -1;
	}
	return put(c, "\"", 1);
}

int csv_field(struct csv *c, const char *value, enum csv_kind kind)
{
	if (c->row_open && put(c, ",", 1) < 0)
		return -1;
	c->row_open = 1;
	if (!value || !*value)
		return c->failed ? -1 : 0;
	if (kind == CSV_NUMBER)
		return put_field(c, NULL, value, NULL);
	if (kind == CSV_TEXT_NUM && csv_text_num_ok(value))
		return put_field(c, "=\"", value, "\"");
	/* free text, or number-like text that is not safe inside ="...": defused text */
	if (strchr("=+-@\t\r", value[0]))
		return put_field(c, "'", value, NULL);
	return put_field(c, NULL, value, NULL);
}

int csv_end_row(struct csv *c)
{
	c->row_open = 0;
	return put(c, "\r\n", 2);
}
