/*
 * framing.h: a pre-parser of HTTP/1.1 requests over the raw bytes of one connection (R7, R8,
 * R11; RFC 9112 §2.2, §3, §5, §6, §7.1).  It follows the requests as they arrive, pipelined
 * or not, and finds where each one's head and body end exactly as libevent 2.1 would.  It
 * stops at the first request that libevent would frame otherwise than a proxy in front might
 * (request smuggling), that libevent would refuse itself (with its own text/html page), or
 * that is over a limit, and says which status the refusal takes:
 *   400 a request line not of `method SP request-target SP HTTP/x.y`, a request-target not
 *       of the form `/path`, `http(s)://authority/path` or `*`;
 *       a line end other than CRLF (a bare LF, or a CR not before an LF), a NUL in a head;
 *       an obs-fold (a header line starting with a space or a tab), whitespace in a field
 *       name or before its colon, a header line without a colon, a name not in its first
 *       FRAMING_KEEP bytes;
 *       two Transfer-Encodings, one other than exactly `chunked`, a Transfer-Encoding beside a
 *       Content-Length or in an HTTP/1.0 request; two Content-Lengths, one not of decimal
 *       digits only; a body on HEAD (libevent would read it as the next request);
 *       a chunk size not of 1 to 15 hex digits right before its CRLF (no `0x`, sign, space or
 *       chunk extension), chunk data not followed by CRLF, and trailers after the last chunk;
 *   413 a Content-Length, or chunk sizes adding up, over the request's body limit;
 *   414 a request-target over max_target bytes (or a request line past max_head);
 *   417 an Expect other than `100-continue`;
 *   431 more than max_fields header fields, or a head over max_head bytes;
 *   400 also a method other than GET, HEAD, POST, PUT, DELETE, PATCH and OPTIONS, and a
 *       version other than HTTP/1.0 and HTTP/1.1 (RFC 9110 has 501 and 505 for these, but
 *       DESIGN §4 makes every 5xx but 503 a fault of the server);
 *       an HTTP/1.1 request without a Host header, and any with two, or with one whose value
 *       is no host[:port] (characters RFC 3986 does not allow there, or a line over
 *       FRAMING_KEEP bytes) (RFC 9112 §3.2);
 *       more than FRAMING_EMPTY_LINES empty lines (CRLF) before a request line: up to that
 *       many are no request at all (RFC 9112 §2.2), and the caller drops them before
 *       libevent, which would refuse them, sees them.
 * Every limit is checked at the byte that passes it, before libevent could act on it (its
 * own header limit counts fewer bytes: no line ends).  The first defect ends the scan: the
 * connection is not to be read further.
 *
 * No allocation, no I/O: the caller feeds the bytes in order, in pieces of any size.  Heads
 * are scanned a line at a time with memchr, and bodies skipped by their length, so the cost
 * is a few operations per header line and per chunk, not per byte.
 */
#ifndef VD_FRAMING_H
#define VD_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#define FRAMING_KEEP 128 /* the first bytes of a line kept to read its field name and value */
#define FRAMING_TAIL 16  /* the last bytes of a request line kept to read its version */

/* Empty lines (CRLF) let pass before each request line (RFC 9112 §2.2). */
#define FRAMING_EMPTY_LINES 4

/* The limits of one server, shared by its connections (borrowed for their lifetime). */
struct framing_limits {
	size_t max_head;     /* bytes of a request's head, its line ends included */
	unsigned max_fields; /* header fields in a head */
	size_t max_target;   /* bytes of a request-target */
	uint64_t max_body;   /* bytes of any request's body */
	uint64_t min_body;   /* no request's body limit is smaller: a body up to it passes */
	/* The body limit of a request to method (a static name, "POST") and path (len bytes; len
	 * 0 when the path is longer than the bytes kept), at most max_body; called only for a
	 * body over min_body.  NULL: max_body for every request. */
	uint64_t (*body_limit)(const char *method, const char *path, size_t len, uint64_t max_body);
};

struct framing {
	unsigned requests; /* requests begun (their first byte seen: an empty line is none) */
	unsigned heads;    /* requests whose head has ended */
	uint64_t head_end; /* where in the stream the latest of them ended (after its empty line) */
	unsigned bad;      /* the request (1 for the first) with a defect; 0: none yet */
	uint64_t bad_at;   /* with bad: where that request's first byte is in the stream */
	int status;        /* with bad: the status of its refusal (400, 413, 414, 417, 431...) */
	const char *field; /* with bad: the element at fault ("Transfer-Encoding", "chunk-size") */
	const char *why;   /* with bad: what is wrong, for a problem's detail */
	uint64_t limit;    /* with a 413, 414 or 431: the limit passed */
	/* the scan's state, private */
	const struct framing_limits *limits;
	uint64_t fed;   /* bytes fed before the current call */
	uint64_t start; /* where the current request's first byte is in the stream */
	int state;
	int cr;          /* the line so far ends with a CR (between requests: a CR came) */
	unsigned lineno; /* in a head: 0 for the request line */
	size_t linelen;  /* the current line's length so far (its CR included) */
	uint64_t left;   /* body or chunk bytes still to skip; chunk-size digits so far */
	int digits;      /* of the chunk size */
	int method;      /* index in framing.c's table of methods */
	int http10;      /* the request is HTTP/1.0 */
	unsigned spaces; /* in the request line */
	unsigned fields; /* header fields so far */
	int lengths, encodings, chunked, hosts;
	unsigned empty_lines;     /* between requests: the empty lines since the last one */
	uint64_t body;            /* chunk sizes so far */
	uint64_t body_max;        /* the request's body limit once looked up; 0: not yet */
	size_t path_at, path_len; /* the request's path in `first` (path_len 0: not all kept) */
	char first[FRAMING_KEEP]; /* the request line's first bytes */
	char tail[FRAMING_TAIL];  /* its last bytes so far, right-aligned */
	char line[FRAMING_KEEP];  /* the current header line's first bytes */
};

/* Starts f on a new connection's byte stream, under limits (borrowed). */
void framing_init(struct framing *f, const struct framing_limits *limits);
/* Scans the next n bytes of the stream; 0, or -1 once a defect is found (f->bad, f->status,
 * f->field and f->why say which and where; later calls return -1 at once). */
int framing_feed(struct framing *f, const unsigned char *p, size_t n);

#endif
