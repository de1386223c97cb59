/*
 * framing.c: the request pre-parser (framing.h), a state machine over raw bytes.
 *
 * States, per request: IDLE (between requests, where up to FRAMING_EMPTY_LINES CRLFs pass
 * as no request at all) -> HEAD (lines up to the empty one) -> BODY
 * (Content-Length bytes) or the chunked states (CHUNK_SIZE, its LF, CHUNK_DATA, the CR and
 * LF after the data, and after the last chunk the CR LF that must end the body at once) ->
 * IDLE.  DEAD after a defect.  A head line is gathered in pieces between calls: its length,
 * whether it ends in CR so far, and its first FRAMING_KEEP bytes, which hold everything the
 * checks read (a method and a path, a field name, a Content-Length, Transfer-Encoding or
 * Expect value); of the request line also its spaces and its last bytes (the version).
 *
 * What libevent 2.1 does, and so what this mirrors: it ends a line at LF and drops one CR
 * before it; it skips the spaces (not tabs) before a value and trims spaces and tabs after
 * it; it frames a body by Transfer-Encoding when that is `chunked` (any case), else by
 * Content-Length; it reads a body for GET, POST, PUT, PATCH, DELETE and OPTIONS, not for
 * HEAD; it reads a chunk size with strtoll (so `0x10`, `+10`, ` 10`, `-0` pass), skips empty
 * lines where a chunk size is due, and takes trailers as more headers.  It answers itself
 * (text/html) a request line it cannot split or whose version is not HTTP/0.x or 1.x, a
 * request-target its URI parser refuses, a method it does not know or that is not allowed
 * (501; here 400, as DESIGN §4 has no 5xx but 503), a header line without a colon, a head
 * past its limit (counted without line ends),
 * an Expect other than 100-continue on an HTTP/1.1 request with a body (417), a body past
 * its limit (413), and an empty line where a request line is due: each of those is refused
 * here first, at its byte or earlier (the empty lines that pass here, conns.c drops before
 * libevent reads them).  It takes a request without Host, with two, or with one whose value
 * is no host[:port], as any other.
 */
#include "framing.h"

#include <arpa/inet.h>
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

/* The methods served (http.c allows no others); all but HEAD may carry a body. */
static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
enum { METHOD_HEAD = 1 };

void framing_init(struct framing *f, const struct framing_limits *limits)
{
	memset(f, 0, sizeof *f);
	f->limits = limits;
	f->state = IDLE;
}

static int refuse(struct framing *f, int status, const char *field, const char *why)
{
	f->bad = f->requests;
	f->bad_at = f->start;
	f->status = status;
	f->field = field;
	f->why = why;
	f->state = DEAD;
	return -1;
}

static int defect(struct framing *f, const char *field, const char *why)
{
	return refuse(f, 400, field, why);
}

static int over_limit(struct framing *f, int status, uint64_t limit, const char *field,
                      const char *why)
{
	f->limit = limit;
	return refuse(f, status, field, why);
}

/* The request's first byte is at `at`: a CR seen before it (f->cr) is the start of its line. */
static void begin_request(struct framing *f, uint64_t at)
{
	f->requests++;
	f->start = at;
	f->lineno = 0;
	f->linelen = (size_t)f->cr;
	f->empty_lines = 0;
	f->left = 0;
	f->spaces = f->fields = 0;
	f->lengths = f->encodings = f->chunked = f->hosts = 0;
	f->body = f->body_max = 0;
	f->path_at = f->path_len = 0;
	f->state = HEAD;
}

/* The request line's spaces (up to one too many) and its last bytes, as they come. */
static void request_line_bytes(struct framing *f, const unsigned char *p, size_t n)
{
	const unsigned char *sp = p, *end = p + n;
	while (f->spaces < 3 && (sp = memchr(sp, ' ', (size_t)(end - sp))) != NULL) {
		f->spaces++;
		sp++;
	}
	if (n >= FRAMING_TAIL) {
		memcpy(f->tail, end - FRAMING_TAIL, FRAMING_TAIL);
	} else {
		memmove(f->tail, f->tail + n, FRAMING_TAIL - n);
		memcpy(f->tail + FRAMING_TAIL - n, p, n);
	}
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
		memcpy((f->lineno ? f->line : f->first) + f->linelen, p, n < room ? n : room);
	}
	if (!f->lineno)
		request_line_bytes(f, p, n);
	f->linelen += n;
	return 0;
}

/* The head would pass max_head at the next byte: in the request line, its target is what is
 * long (unless it has no space at all). */
static int head_too_large(struct framing *f)
{
	size_t max = f->limits->max_head;
	if (f->lineno)
		return over_limit(f, 431, max, "headers", "a head larger than the server takes");
	if (f->spaces)
		return over_limit(f, 414, max, "request-target",
		                  "a request line longer than the server takes");
	return defect(f, "request-line", "a request line without a space");
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_xdigit(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 unreserved and sub-delims: what libevent's URI parser takes in a host name. */
static int is_regname_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
	       (c && strchr("-._~!$&'()*+,;=", c));
}

/* An authority as libevent's URI parser takes it, without userinfo (RFC 9110 §4.2.4 makes
 * that an error): a reg-name or IPv4 address, or an IPv6 address in brackets, then an
 * optional `:port`. */
static int authority_ok(const char *s, size_t n)
{
	size_t host = n, i = n;
	unsigned port = 0;
	while (i > 0 && is_digit(s[i - 1]))
		i--;
	if (i > 0 && s[i - 1] == ':') {
		for (size_t k = i; k < n; k++)
			if ((port = port * 10 + (unsigned)(s[k] - '0')) > 65535)
				return 0;
		host = i - 1;
	}
	if (host >= 2 && s[0] == '[' && s[host - 1] == ']') {
		char text[64];
		struct in6_addr addr;
		if (host - 2 >= sizeof text)
			return 0;
		memcpy(text, s + 1, host - 2);
		text[host - 2] = '\0';
		return inet_pton(AF_INET6, text, &addr) == 1;
	}
	for (i = 0; i < host; i++) {
		if (s[i] == '%' && i + 2 < host && is_xdigit(s[i + 1]) && is_xdigit(s[i + 2]))
			i += 2;
		else if (!is_regname_char(s[i]))
			return 0;
	}
	return 1;
}

/* The length of an `http://` or `https://` (any case) at t's start, or 0. */
static size_t http_scheme(const char *t, size_t n)
{
	if (n >= 7 && !strncasecmp(t, "http://", 7))
		return 7;
	if (n >= 8 && !strncasecmp(t, "https://", 8))
		return 8;
	return 0;
}

/* The request-target (tlen bytes at `at` in the request line, the first of them kept):
 * origin-form, absolute-form with an http(s) scheme, or `*` (RFC 9112 §3.2); a path may not
 * start with `//` (libevent would read an authority there).  Notes where its path is. */
static int request_target(struct framing *f, size_t at, size_t tlen, size_t kept)
{
	const char *t = f->first + at;
	size_t tk = kept - at < tlen ? kept - at : tlen, path = 0;
	if (t[0] == '/' && tlen > 1 && t[1] == '/')
		return defect(f, "request-target", "a path that starts with //");
	if (t[0] != '/' && !(t[0] == '*' && tlen == 1)) {
		size_t scheme = http_scheme(t, tk), alen = scheme;
		if (!scheme)
			return defect(
			        f, "request-target",
			        "a request-target of the form /path, http(s)://host/path or *");
		while (alen < tk && t[alen] != '/' && t[alen] != '?' && t[alen] != '#')
			alen++;
		if (alen == tk && tk < tlen)
			return defect(f, "request-target",
			              "an authority longer than the server reads");
		if (!authority_ok(t + scheme, alen - scheme))
			return defect(f, "request-target",
			              "an authority of a host and a port only");
		path = alen;
	}
	size_t n = path;
	while (n < tk && t[n] != '?' && t[n] != '#')
		n++;
	f->path_at = at + path;
	f->path_len = n < tk || tk == tlen ? n - path : 0; /* 0: the path goes on past `first` */
	return 0;
}

static int method_index(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
		if (strlen(methods[i]) == n && !memcmp(s, methods[i], n))
			return (int)i;
	return -1;
}

/* The request line (len bytes, its CR left out): method SP request-target SP HTTP-version,
 * one space each (RFC 9112 §3), with a version and a method that we serve. */
static int request_line(struct framing *f, size_t len)
{
	const char *v = f->tail + FRAMING_TAIL - 10; /* " HTTP/x.y" before the CR */
	size_t kept = len < FRAMING_KEEP ? len : FRAMING_KEEP;
	const char *sp = memchr(f->first, ' ', kept);
	size_t mlen = sp ? (size_t)(sp - f->first) : kept;
	if (f->spaces != 2 || len < 12 || v[0] != ' ' || !mlen || (sp && mlen + 10 >= len))
		return defect(
		        f, "request-line",
		        "a request line of method, request-target and version, one space apart");
	if (memcmp(v + 1, "HTTP/", 5) || !is_digit(v[6]) || v[7] != '.' || !is_digit(v[8]))
		return defect(f, "request-line", "a version of the form HTTP/1.1");
	if (v[6] != '1' || (v[8] != '0' && v[8] != '1'))
		return refuse(f, 400, "HTTP-version", "HTTP/1.1 or HTTP/1.0 only");
	f->http10 = v[8] == '0';
	f->method = sp ? method_index(f->first, mlen) : -1;
	if (f->method < 0)
		return refuse(f, 400, "method",
		              "GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS: no other method is "
		              "served");
	size_t tlen = len - mlen - 10;
	if (tlen > f->limits->max_target)
		return over_limit(f, 414, f->limits->max_target, "request-target",
		                  "a request-target longer than the server takes");
	return request_target(f, mlen + 1, tlen, kept);
}

/* The request's body limit, looked up once (only for a body over min_body). */
static uint64_t body_limit(struct framing *f)
{
	const struct framing_limits *l = f->limits;
	if (!f->body_max)
		f->body_max = l->body_limit
		                      ? l->body_limit(methods[f->method], f->first + f->path_at,
		                                      f->path_len, l->max_body)
		                      : l->max_body;
	return f->body_max;
}

static int over_body_limit(struct framing *f, uint64_t size)
{
	return size > f->limits->min_body && size > body_limit(f);
}

/* A Content-Length, Transfer-Encoding or Expect value, given as libevent reads it. */
static int framing_field(struct framing *f, const char *name, const char *v, const char *end)
{
	while (v < end && *v == ' ')
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t n = (size_t)(end - v);
	if (name[0] == 'E') {
		if (n != 12 || strncasecmp(v, "100-continue", 12))
			return refuse(f, 417, "Expect", "no expectation but 100-continue");
		return 0;
	}
	if (name[0] == 'T') {
		if (f->http10)
			return defect(f, "Transfer-Encoding", "a Transfer-Encoding in HTTP/1.0");
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
		/* past 18 digits it saturates: over any body limit */
		f->left = i < 18 ? f->left * 10 + (uint64_t)(v[i] - '0') : UINT64_MAX;
	}
	return 0;
}

/* The name of a field the framing reads (or counts: Host), or NULL.  Every header line of
 * every request comes here: its length is compared first. */
static const char *framing_name(const char *s, size_t n)
{
	static const struct {
		const char *name;
		size_t len;
	} names[] = {{"Host", 4}, {"Expect", 6}, {"Content-Length", 14}, {"Transfer-Encoding", 17}};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (n == names[i].len && !strncasecmp(s, names[i].name, n))
			return names[i].name;
	return NULL;
}

/* Host = uri-host [ ":" port ] (RFC 9110 §7.2): only the characters RFC 3986 allows there
 * (a name, an IPv4 address or an IP literal in brackets; no userinfo, path or space), between
 * optional whitespace.  Empty is a value (RFC 9112 §3.2). */
static int host_value_ok(const char *v, const char *end)
{
	static const char others[] = "-._~%!$&'()*+,;=:[]";
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (; v < end; v++) {
		char c = *v;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr(others, c))))
			return 0;
	}
	return 1;
}

static int header_line(struct framing *f, size_t len)
{
	const char *s = f->line;
	size_t kept = len < FRAMING_KEEP ? len : FRAMING_KEEP;
	if (++f->fields > f->limits->max_fields)
		return over_limit(f, 431, f->limits->max_fields, "headers",
		                  "more header fields than the server takes");
	if (s[0] == ' ' || s[0] == '\t')
		return defect(f, "obs-fold", "a header line starts with whitespace (obs-fold)");
	const char *colon = memchr(s, ':', kept);
	if (!colon)
		return defect(f, "header-name", "a header line without a colon near its start");
	size_t namelen = (size_t)(colon - s);
	if (!namelen || memchr(s, ' ', namelen) || memchr(s, '\t', namelen))
		return defect(f, "header-name", "a header name empty or with whitespace");
	const char *name = namelen <= 17 ? framing_name(s, namelen) : NULL;
	if (!name)
		return 0;
	if (name[0] == 'H') {
		if (++f->hosts > 1)
			return defect(f, name, "more than one Host header");
		if (len > FRAMING_KEEP || !host_value_ok(colon + 1, s + len))
			return defect(f, name, "a Host header that is no host[:port]");
		return 0;
	}
	if (len > FRAMING_KEEP)
		return name[0] == 'E' ? refuse(f, 417, name, "no expectation but 100-continue")
		                      : defect(f, name, "a framing header too long");
	return framing_field(f, name, colon + 1, s + len);
}

/* The empty line: the body's framing is known, and must be one only, within its limit; an
 * HTTP/1.1 request must have had its Host (RFC 9112 §3.2). */
static int head_end(struct framing *f)
{
	f->heads++;
	if (f->chunked && f->lengths)
		return defect(f, "Transfer-Encoding", "Transfer-Encoding beside Content-Length");
	if (f->method == METHOD_HEAD && (f->chunked || f->left))
		return defect(f, f->chunked ? "Transfer-Encoding" : "Content-Length",
		              "a body on a method that has none");
	if (!f->hosts && !f->http10)
		return defect(f, "Host", "Host header missing");
	if (!f->chunked && over_body_limit(f, f->left))
		return over_limit(f, 413, body_limit(f), "Content-Length",
		                  "a body larger than this resource takes");
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
	if (f->lineno++ == 0)
		return request_line(f, len);
	return len ? header_line(f, len) : head_end(f);
}

/* One byte of a chunk size: hex digits, then CR; the chunks so far within the body limit. */
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
		f->body += f->left; /* < 2^61: each chunk < 2^60, the sum so far within a limit */
		if (over_body_limit(f, f->body))
			return over_limit(f, 413, body_limit(f), "body",
			                  "chunks adding up to more than this resource takes");
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

#define STR_(x) #x
#define STR(x)  STR_(x)

/* Between requests, the LF after a CR: an empty line, no request (RFC 9112 §2.2: a client
 * may send one after a body); one more than FRAMING_EMPTY_LINES in a row is refused, in the
 * request it precedes, from its CR. */
static int empty_line(struct framing *f, uint64_t at)
{
	f->cr = 0;
	if (++f->empty_lines <= FRAMING_EMPTY_LINES)
		return 0;
	begin_request(f, at - 1);
	return defect(f, "request-line",
	              "more than " STR(FRAMING_EMPTY_LINES) " empty lines before the request line");
}

/* Up to the next LF of a head (k bytes before it, lf when there is one): the head may take
 * `room` more bytes; the byte that would pass that is refused, after any earlier fault. */
static int head_bytes(struct framing *f, const unsigned char *p, size_t k, int lf, size_t room)
{
	if (k + (size_t)lf > room)
		return line_bytes(f, p, room) < 0 ? -1 : head_too_large(f);
	if (line_bytes(f, p, k) < 0 || (lf && line_end(f) < 0))
		return -1;
	return 0;
}

int framing_feed(struct framing *f, const unsigned char *p, size_t n)
{
	const unsigned char *begin = p, *end = p + n;
	while (p < end && f->state != DEAD) {
		uint64_t at = f->fed + (uint64_t)(p - begin);
		if (f->state == IDLE) {
			if (*p == '\r' && !f->cr) {
				f->cr = 1;
				p++;
			} else if (*p == '\n' && f->cr) {
				if (empty_line(f, at) < 0)
					break;
				p++;
			} else { /* a lone CR or LF begins a request, and is its line-end fault */
				begin_request(f, at - (uint64_t)f->cr);
			}
		} else if (f->state == HEAD) {
			const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
			size_t k = (size_t)((lf ? lf : end) - p);
			if (head_bytes(f, p, k, lf != NULL, f->limits->max_head - (at - f->start)) <
			    0)
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
