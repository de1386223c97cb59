/*
 * urlform.c: see urlform.h.  Each pair's name is decoded into one scratch buffer, its value
 * into the room after it (decoding never lengthens), and the names are then sorted so that
 * one given twice sits next to itself.
 */
#include "urlform.h"

#include <stdlib.h>
#include <string.h>

#include "validate.h"

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the LEN bytes at S into OUT, NUL-terminated, and sets *N to the decoded length
 * (which may count NUL bytes).  -1 for a '%' not followed by two hex digits. */
static int decode(const char *s, size_t len, char *out, size_t *n)
{
	size_t k = 0;
	for (size_t i = 0; i < len;) {
		if (s[i] == '%') {
			if (len - i < 3 || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0)
				return -1;
			out[k++] = (char)(hex_value(s[i + 1]) << 4 | hex_value(s[i + 2]));
			i += 3;
		} else {
			out[k++] = s[i] == '+' ? ' ' : s[i];
			i++;
		}
	}
	out[k] = '\0';
	*n = k;
	return 0;
}

/* Sets *OUT (the name cut to fit on a character's boundary, so that it stays UTF-8) and
 * returns -1. */
static int refuse(struct urlform_refusal *out, const char *name, const char *why)
{
	size_t n = name ? strlen(name) : 0;
	if (n >= sizeof out->field) {
		n = sizeof out->field - 1;
		/* n < strlen(name) here; the analyzer loses that length through decode(). */
		/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
		while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out->field, name ? name : "", n);
	out->field[n] = '\0';
	out->why = why;
	return -1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_repeatable(const char *name, const char *const *repeatable)
{
	for (; repeatable && *repeatable; repeatable++)
		if (!strcmp(name, *repeatable))
			return 1;
	return 0;
}

/* Decodes and checks one pair (TEXT[0..LEN), LEN > 0) into *W: its name stays there, NUL-
 * terminated, and *W moves past it.  0, or -1 with *OUT set. */
static int check_pair(const char *text, size_t len, char **w, struct urlform_refusal *out)
{
	const char *eq = memchr(text, '=', len);
	size_t name_raw = eq ? (size_t)(eq - text) : len, nl, vl;
	char *name = *w;
	if (decode(text, name_raw, name, &nl) < 0)
		return refuse(out, NULL, "a field's name has a '%' that begins no %XX escape");
	if (memchr(name, '\0', nl) || !valid_utf8(name, nl))
		return refuse(out, NULL, "a field's name is not UTF-8 text");
	char *value = name + nl + 1; /* scratch: only checked */
	size_t value_raw = eq ? len - name_raw - 1 : 0;
	if (decode(eq ? eq + 1 : text + len, value_raw, value, &vl) < 0)
		return refuse(out, name, "a '%' that begins no %XX escape");
	if (memchr(value, '\0', vl))
		return refuse(out, name, "a NUL byte (%00)");
	if (!valid_utf8(value, vl))
		return refuse(out, name, "not UTF-8 text");
	*w = value;
	return 0;
}

int urlform_check(const char *text, size_t len, const char *const *repeatable,
                  struct urlform_refusal *out)
{
	size_t pairs = 1;
	for (size_t i = 0; i < len; i++)
		pairs += text[i] == '&';
	/* the names with their NULs, and room after the last for a value */
	char *buf = malloc(2 * len + pairs + 1);
	const char **names = malloc(pairs * sizeof *names);
	int rc = 0;
	size_t n = 0;
	if (!buf || !names) {
		rc = -2;
		goto done;
	}
	char *w = buf;
	for (size_t i = 0; i <= len && rc == 0;) {
		const char *amp = memchr(text + i, '&', len - i);
		size_t j = amp ? (size_t)(amp - text) : len;
		if (j > i) { /* an empty pair ("a=1&&b=2") is the parser's to judge */
			names[n] = w;
			rc = check_pair(text + i, j - i, &w, out);
			n += rc == 0;
		}
		i = j + 1;
	}
	if (rc == 0) {
		qsort(names, n, sizeof *names, cmp_names);
		for (size_t k = 1; k < n && rc == 0; k++)
			if (!strcmp(names[k - 1], names[k]) && !is_repeatable(names[k], repeatable))
				rc = refuse(out, names[k], "this field is given more than once");
	}
done:
	free(buf);
	free(names);
	return rc;
}
