/*
 * html.h: building HTML text safely.  A growable buffer and the one escaper every page uses:
 * html_text() escapes & < > " ' so that its output is safe both as element text and inside a
 * double- or single-quoted attribute value.  Raw appends (html_raw, html_rawf) are for
 * markup the program wrote itself, never for anything a user or the database supplied.
 *
 * Ownership: struct html is embedded by the caller; html_free releases its buffer.  After an
 * allocation failure the buffer stops growing and html_failed() says so: callers build the
 * whole page, then check once (a 503, never an abort).  No libevent, no globals.
 */
#ifndef VD_HTML_H
#define VD_HTML_H

#include <stddef.h>

struct html {
	char *buf; /* NUL-terminated when len > 0 */
	size_t len;
	size_t cap;
	int failed;
};

void html_init(struct html *h);
void html_free(struct html *h);
/* 1 after an allocation failure (the text is then incomplete). */
int html_failed(const struct html *h);
/* Append markup as is. */
void html_raw(struct html *h, const char *s);
void html_rawn(struct html *h, const char *s, size_t n);
/* Append formatted markup; %s arguments are NOT escaped: use only for numbers and our own
 * constants. */
void html_rawf(struct html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s escaped (NULL appends nothing). */
void html_text(struct html *h, const char *s);
/* Append s percent-encoded as one URL query component or path segment (unreserved
 * characters kept), for hrefs built from data; the result needs no further escaping. */
void html_url_component(struct html *h, const char *s);
/* Escape s into out (at most n bytes with the NUL); returns the length it needs (without the
 * NUL), like snprintf, so that n = 0 measures. */
size_t html_escape(char *out, size_t n, const char *s);

#endif
