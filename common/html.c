/*
 * html.c: the page buffer and the escaper (see html.h).  The buffer doubles as it grows; a
 * failed allocation freezes it (failed = 1) so that callers check once at the end.
 */
#include "html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void html_init(struct html *h)
{
	memset(h, 0, sizeof *h);
}

void html_free(struct html *h)
{
	free(h->buf);
	memset(h, 0, sizeof *h);
}

int html_failed(const struct html *h)
{
	return h->failed;
}

/* Room for n more bytes and a NUL; 0 or -1 (then failed is set). */
static int reserve(struct html *h, size_t n)
{
	if (h->failed)
		return -1;
	if (h->len + n + 1 <= h->cap)
		return 0;
	size_t cap = h->cap ? h->cap : 4096;
	while (cap < h->len + n + 1) {
		if (cap > ((size_t)-1) / 2) {
			h->failed = 1;
			return -1;
		}
		cap *= 2;
	}
	char *b = realloc(h->buf, cap);
	if (!b) {
		h->failed = 1;
		return -1;
	}
	h->buf = b;
	h->cap = cap;
	return 0;
}

void html_rawn(struct html *h, const char *s, size_t n)
{
	if (!s || reserve(h, n) < 0)
		return;
	memcpy(h->buf + h->len, s, n);
	h->len += n;
	h->buf[h->len] = '\0';
}

void html_raw(struct html *h, const char *s)
{
	if (s)
		html_rawn(h, s, strlen(s));
}

void html_rawf(struct html *h, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(h, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(h->buf + h->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	h->len += (size_t)n;
}

static const char *entity(char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		return NULL;
	}
}

size_t html_escape(char *out, size_t n, const char *s)
{
	size_t need = 0, written = 0;
	int full = 0;
	for (const char *p = s ? s : ""; *p; p++) {
		const char *ent = entity(*p);
		size_t k = ent ? strlen(ent) : 1;
		if (!full && need + k < n) {
			memcpy(out + need, ent ? ent : p, k);
			written = need + k;
		} else {
			full = 1; /* stop writing at a whole character; keep measuring */
		}
		need += k;
	}
	if (n)
		out[written] = '\0';
	return need;
}

void html_text(struct html *h, const char *s)
{
	if (!s)
		return;
	const char *run = s;
	for (const char *p = s;; p++) {
		const char *ent = *p ? entity(*p) : NULL;
		if (*p && !ent)
			continue;
		html_rawn(h, run, (size_t)(p - run));
		if (!*p)
			break;
		html_raw(h, ent);
		run = p + 1;
	}
}

void html_url_component(struct html *h, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			html_rawn(h, (const char *)p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			html_rawn(h, e, 3);
		}
	}
}
