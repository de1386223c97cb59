/*
 * log.h: one logfmt line per event on stderr.
 *
 *   ts=2026-11-24T00:00:00.123Z level=info pid=123 event=http.listen port=8080
 *
 * Each line is built in a bounded buffer and written with one write(2), so lines from several
 * worker processes (and threads) never interleave.  Every %s value goes through log_quote
 * inside log_msg, so a value with spaces, quotes or user text cannot break the line: write
 * reason=%s, never reason=\"%s\" (`make check` refuses that).  Never log a password, token or
 * ID number.
 */
#ifndef VD_LOG_H
#define VD_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* The longest line written, newline included; longer lines end in "...". */
#define LOG_LINE_MAX 2048

/* Drop messages below level from now on (default LOG_INFO); safe from any thread. */
void log_set_level(enum log_level level);
/* "debug", "info", "warn" or "error" (any case) -> *out; 0, or -1 leaving *out alone. */
int log_level_parse(const char *s, enum log_level *out);
/* The lower-case name of level ("info"); static storage. */
const char *log_level_name(enum log_level level);
/* 1 when a message at level would be written (to skip building expensive arguments). */
int log_enabled(enum log_level level);
/* ts=<RFC3339 UTC ms> level=info pid=123 event=<event> <fmt...>\n.  fmt may be NULL for an
 * event without fields.  fmt takes printf's conversions without '*' or %n; each %s argument is
 * written as log_quote makes it (bare when it can be, else quoted and escaped; NULL as "").
 * Control characters left in the text become spaces so that a line is always one line; errno
 * is preserved and errors writing are ignored. */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Quote src for logfmt into dst (n bytes): wrapped in "" with \" \\ \n \r \t and \u00XX escapes
 * when it is empty or has a space, quote, '=' or control character, else copied.  Always
 * NUL-terminated when n > 0; truncated to fit (never inside an escape or a UTF-8 sequence, and
 * a quoted value keeps its closing quote).  NULL src counts as "".  Returns dst. */
char *log_quote(char *dst, size_t n, const char *src);

#endif
