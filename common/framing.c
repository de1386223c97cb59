/*
 * framing.c: the request-framing pre-parser (framing.h), a state machine over raw bytes.
 *
 * States, per request: IDLE (between requests) -> HEAD (lines up to the empty one) -> BODY
 * (Content-Length bytes) or the chunked states (CHUNK_SIZE, its LF, CHUNK_DATA, the CR and
 * LF after the data, and after the last chunk the CR LF that must end the body at once) ->
 * IDLE.  DEAD after a defect.  A head line is gathered in pieces between calls: its length,
 * whether it ends in CR so far, and its first FRAMING_KEEP bytes, which hold everything the
 * checks read (a method, a field name, a Content-Length or Transfer-Encoding value).
 *
 * What libevent 2.1 does, and so what this mirrors: it ends a line at LF and drops one CR
 * before it; it skips the spaces (not tabs) before a value and trims spaces and tabs after
 * it; it frames a body by Transfer-Encoding when that is `chunked` (any case), else by
 * Content-Length; it reads a body only for GET, POST, PUT, PATCH, DELETE, OPTIONS and
 * CONNECT; it reads a chunk size with strtoll (so `0x10`, `+10`, ` 10`, `-0` pass), skips
 * empty lines where a chunk size is due, and takes trailers as more headers.
 */
#include "framing.h"

#include <string.h>
#include <strings.h>

enum {
	IDLE,
	HEAD,
	BODY,
	CHUNK_SIZE,
	CHUNK_SIZE_LF,
	CHUNK_DATA,
	CHUNK_CR,
	CHUNK_LF,
	LAST_CR,
	LAST_LF,
	DEAD
};

void framing_init(struct framing *f)
{
	memset(f, 0, sizeof *f);
	f->state = IDLE;
}

static int defect(struct framing *f, const char *field, const char *why)
{
	f->bad = f->requests;
	f->bad_at = f->start;
	f->field = field;
	f->why = why;
	f->state = DEAD;
	return -1;
}

static void begin_request(struct framing *f, uint64_t at)
{
	f->requests++;
	f->start = at;
	f->lineno = 0;
	f->linelen = 0;
	f->cr = 0;
	f->left = 0;
	f->lengths = f->encodings = f->chunked = 0;
	f->state = HEAD;
}

/* n bytes of a head line, none of them its LF: a CR may only be its last byte, NUL none (the
 * first fault in the stream is the one named, however the bytes were cut). */
static int line_bytes(struct framing *f, const unsigned char *p, size_t n)
{
	if (!n)
		return 0;
	const unsigned char *cr = memchr(p, '\r', n), *nul = memchr(p, '\0', n);
	if (f->cr || (cr && cr != p + n - 1 && (!nul || cr < nul)))
		return defect(f, "line-end", "a CR that does not end a line");
	if (nul)
		return defect(f, "head", "a NUL byte in the request head");
	f->cr = cr != NULL;
	if (f->linelen < FRAMING_KEEP) {
		size_t room = FRAMING_KEEP - f->linelen;
		memcpy(f->line + f->linelen, p, n < room ? n : room);
	}
	f->linelen += n;
	return 0;
}

/* Whether libevent reads a body for the request line's method (the rest it reads as the next
 * request, so a body announced there is refused). */
static int method_has_body(const char *line, size_t kept)
{
	static const char *const with_body[] = {"GET",    "POST",    "PUT",    "PATCH",
	                                        "DELETE", "OPTIONS", "CONNECT"};
	const char *sp = memchr(line, ' ', kept);
	size_t n = sp ? (size_t)(sp - line) : kept;
	for (size_t i = 0; i < sizeof with_body / sizeof *with_body; i++)
		if (strlen(with_body[i]) == n && !memcmp(line, with_body[i], n))
			return 1;
	return 0;
}

/* A Content-Length or Transfer-Encoding value, given as libevent reads it. */
static int framing_field(struct framing *f, int is_length, const char *v, const char *end)
{
	while (v < end && *v == ' ')
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t n = (size_t)(end - v);
	if (!is_length) {
		if (++f->encodings > 1 || n != 7 || strncasecmp(v, "chunked", 7))
			return defect(f, "Transfer-Encoding",
			              "one Transfer-Encoding, exactly chunked, or none");
		f->chunked = 1;
		return 0;
	}
	if (++f->lengths > 1 || !n)
		return defect(f, "Content-Length", "one Content-Length, of digits only, or none");
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return defect(f, "Content-Length",
			              "one Content-Length, of digits only, or none");
		/* past 18 digits it saturates: libevent refuses such a body as too large */
		f->left = i < 18 ? f->left * 10 + (uint64_t)(v[i] - '0') : UINT64_MAX;
	}
	return 0;
}

static int header_line(struct framing *f, size_t len)
{
	const char *s = f->line;
	size_t kept = len < FRAMING_KEEP ? len : FRAMING_KEEP;
	if (s[0] == ' ' || s[0] == '\t')
		return defect(f, "obs-fold", "a header line starts with whitespace (obs-fold)");
	const char *colon = memchr(s, ':', kept);
	if (!colon)
		return defect(f, "header-name", "a header line without a colon near its start");
	size_t name = (size_t)(colon - s);
	if (!name || memchr(s, ' ', name) || memchr(s, '\t', name))
		return defect(f, "header-name", "a header name empty or with whitespace");
	int is_length = name == 14 && !strncasecmp(s, "Content-Length", 14);
	if (!is_length && (name != 17 || strncasecmp(s, "Transfer-Encoding", 17)))
		return 0;
	if (len > FRAMING_KEEP)
		return defect(f, is_length ? "Content-Length" : "Transfer-Encoding",
		              "a framing header too long");
	return framing_field(f, is_length, colon + 1, s + len);
}

/* The empty line: the body's framing is known, and must be one only. */
static int head_end(struct framing *f)
{
	f->heads++;
	if (f->chunked && f->lengths)
		return defect(f, "Transfer-Encoding", "Transfer-Encoding beside Content-Length");
	if (!f->body_ok && (f->chunked || f->left))
		return defect(f, f->chunked ? "Transfer-Encoding" : "Content-Length",
		              "a body on a method that has none");
	f->digits = 0;
	f->state = f->chunked ? CHUNK_SIZE : f->left ? BODY : IDLE;
	return 0;
}

/* A head line's LF: it must end in CR; the line (without its CR) is then read whole. */
static int line_end(struct framing *f)
{
	if (!f->cr)
		return defect(f, "line-end", "a line ended by LF without CR");
	size_t len = f->linelen - 1;
	f->cr = 0;
	f->linelen = 0;
	if (f->lineno++ == 0) {
		if (!len)
			return defect(f, "request-line", "an empty line before the request line");
		f->body_ok = method_has_body(f->line, len < FRAMING_KEEP ? len : FRAMING_KEEP);
		return 0;
	}
	return len ? header_line(f, len) : head_end(f);
}

/* One byte of a chunk size: hex digits, then CR. */
static int chunk_size(struct framing *f, unsigned char c)
{
	int v = c >= '0' && c <= '9'   ? c - '0'
	        : c >= 'a' && c <= 'f' ? c - 'a' + 10
	        : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                               : -1;
	if (v >= 0 && f->digits < 15) {
		f->digits++;
		f->left = f->left * 16 + (uint64_t)v;
		return 0;
	}
	if (c == '\r' && f->digits) {
		f->state = CHUNK_SIZE_LF;
		return 0;
	}
	return defect(f, "chunk-size", "a chunk size of 1 to 15 hex digits, then CRLF");
}

/* The byte that state expects next (a CR or an LF), and what follows it. */
static int expect(struct framing *f, unsigned char c, unsigned char want, int next)
{
	if (c != want) {
		if (f->state == LAST_CR)
			return defect(f, "trailer", "trailer fields after the last chunk");
		if (f->state == CHUNK_SIZE_LF)
			return defect(f, "chunk-size",
			              "a chunk size of 1 to 15 hex digits, then CRLF");
		return defect(f, "chunk-data", "chunk data not followed by CRLF");
	}
	f->state = next;
	return 0;
}

static int chunk_byte(struct framing *f, unsigned char c)
{
	switch (f->state) {
	case CHUNK_SIZE:
		return chunk_size(f, c);
	case CHUNK_SIZE_LF:
		return expect(f, c, '\n', f->left ? CHUNK_DATA : LAST_CR);
	case CHUNK_CR:
		return expect(f, c, '\r', CHUNK_LF);
	case CHUNK_LF:
		f->digits = 0;
		return expect(f, c, '\n', CHUNK_SIZE);
	case LAST_CR:
		return expect(f, c, '\r', LAST_LF);
	default: /* LAST_LF */
		return expect(f, c, '\n', IDLE);
	}
}

int framing_feed(struct framing *f, const unsigned char *p, size_t n)
{
	const unsigned char *begin = p, *end = p + n;
	while (p < end && f->state != DEAD) {
		if (f->state == IDLE) {
			begin_request(f, f->fed + (uint64_t)(p - begin));
		} else if (f->state == HEAD) {
			const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
			size_t k = (size_t)((lf ? lf : end) - p);
			if (line_bytes(f, p, k) < 0 || (lf && line_end(f) < 0))
				break;
			p += k + (lf != NULL);
			if (f->state != HEAD)
				f->head_end = f->fed + (uint64_t)(p - begin);
		} else if (f->state == BODY || f->state == CHUNK_DATA) {
			size_t k =
			        f->left < (uint64_t)(end - p) ? (size_t)f->left : (size_t)(end - p);
			p += k;
			f->left -= k;
			if (!f->left)
				f->state = f->state == BODY ? IDLE : CHUNK_CR;
		} else if (chunk_byte(f, *p++) < 0) {
			break;
		}
	}
	f->fed += n;
	return f->state == DEAD ? -1 : 0;
}
