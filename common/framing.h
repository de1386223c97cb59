/*
 * framing.h: a pre-parser of HTTP/1.1 request framing over the raw bytes of one connection
 * (R11, RFC 9112 §2.2, §5, §6, §7.1).  It follows the requests as they arrive, pipelined or
 * not, and finds where each one's head and body end exactly as libevent 2.1 would, so that it
 * can refuse what a proxy in front could frame otherwise (request smuggling):
 *   - a line end other than CRLF (a bare LF, or a CR not before an LF), a NUL in a head;
 *   - an obs-fold (a header line starting with a space or a tab), whitespace in a field name
 *     or before its colon, a header line without a colon, a name not in its first
 *     FRAMING_KEEP bytes;
 *   - two Transfer-Encodings, one other than exactly `chunked`, a Transfer-Encoding beside a
 *     Content-Length;
 *   - two Content-Lengths, one not of decimal digits only;
 *   - a body on a method libevent reads none for (HEAD, TRACE...): it would read it as the
 *     next request;
 *   - a chunk size not of 1 to 15 hex digits right before its CRLF (no `0x`, sign, space or
 *     chunk extension), chunk data not followed by CRLF, and trailers after the last chunk.
 * The first defect ends the scan: the connection is not to be read further.
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

struct framing {
	unsigned requests; /* requests begun (their first byte seen) */
	unsigned heads;    /* requests whose head has ended */
	uint64_t head_end; /* where in the stream the latest of them ended (after its empty line) */
	unsigned bad;      /* the request (1 for the first) with a defect; 0: none yet */
	uint64_t bad_at;   /* with bad: where that request's first byte is in the stream */
	const char *field; /* with bad: the element at fault ("Transfer-Encoding", "chunk-size") */
	const char *why;   /* with bad: what is wrong, for a problem's detail */
	/* the scan's state, private */
	uint64_t fed;   /* bytes fed before the current call */
	uint64_t start; /* where the current request's first byte is in the stream */
	int state;
	int cr;          /* the line so far ends with a CR */
	unsigned lineno; /* in a head: 0 for the request line */
	size_t linelen;  /* the current line's length so far (its CR included) */
	uint64_t left;   /* body or chunk bytes still to skip; chunk-size digits so far */
	int digits;      /* of the chunk size */
	int body_ok;     /* the method has a body for libevent */
	int lengths, encodings, chunked;
	char line[FRAMING_KEEP];
};

/* Starts f on a new connection's byte stream. */
void framing_init(struct framing *f);
/* Scans the next n bytes of the stream; 0, or -1 once a defect is found (f->bad, f->field and
 * f->why say which and where; later calls return -1 at once). */
int framing_feed(struct framing *f, const unsigned char *p, size_t n);

#endif
