/*
 * log.c: logfmt lines on stderr, one write(2) each.
 *
 * Owns one global, the minimum level (atomic, since the thread pool logs too).  Everything
 * else lives on the caller's stack: a line is at most LOG_LINE_MAX bytes, which is below
 * PIPE_BUF, so a single write to a pipe is atomic and O_APPEND files keep lines whole.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_min = LOG_INFO;

static const char *const log_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
	atomic_store_explicit(&log_min, (int)level, memory_order_relaxed);
}

int log_level_parse(const char *s, enum log_level *out)
{
	if (!s)
		return -1;
	for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
		if (strcasecmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *log_level_name(enum log_level level)
{
	if ((int)level < LOG_DEBUG || level > LOG_ERROR)
		return "error";
	return log_names[level];
}

int log_enabled(enum log_level level)
{
	return (int)level >= atomic_load_explicit(&log_min, memory_order_relaxed);
}

static int log_needs_quote(const unsigned char *s)
{
	if (!*s)
		return 1;
	for (; *s; s++)
		if (*s <= ' ' || *s == 0x7f || *s == '"' || *s == '=')
			return 1;
	return 0;
}

/* Length of the UTF-8 sequence starting with byte c (1 for ASCII or a stray byte). */
static size_t log_seq_len(unsigned char c)
{
	if (c >= 0xf0 && c <= 0xf7)
		return 4;
	if (c >= 0xe0)
		return c <= 0xef ? 3 : 1;
	if (c >= 0xc0)
		return 2;
	return 1;
}

/* Whole sequence of len bytes at s, i.e. no NUL inside it. */
static int log_seq_whole(const unsigned char *s, size_t len)
{
	for (size_t i = 1; i < len; i++)
		if (!s[i])
			return 0;
	return 1;
}

char *log_quote(char *dst, size_t n, const char *src)
{
	const unsigned char *s = (const unsigned char *)(src ? src : "");
	size_t o = 0;
	if (n == 0)
		return dst;
	if (!log_needs_quote(s)) {
		while (*s) {
			size_t len = log_seq_len(*s);
			if (!log_seq_whole(s, len))
				len = 1;
			if (o + len + 1 > n)
				break;
			memcpy(dst + o, s, len);
			o += len, s += len;
		}
		dst[o] = '\0';
		return dst;
	}
	if (n < 3) { /* no room for "" */
		dst[0] = '\0';
		return dst;
	}
	dst[o++] = '"';
	while (*s) {
		char esc[8];
		size_t len;
		const char *piece = esc;
		switch (*s) {
		case '"':
		case '\\':
			esc[0] = '\\', esc[1] = (char)*s, len = 2;
			break;
		case '\n':
			memcpy(esc, "\\n", 2), len = 2;
			break;
		case '\r':
			memcpy(esc, "\\r", 2), len = 2;
			break;
		case '\t':
			memcpy(esc, "\\t", 2), len = 2;
			break;
		default:
			if (*s < 0x20 || *s == 0x7f) {
				snprintf(esc, sizeof esc, "\\u%04x", *s);
				len = 6;
			} else {
				piece = (const char *)s;
				len = log_seq_len(*s);
				if (!log_seq_whole(s, len))
					len = 1;
			}
		}
		if (o + len + 2 > n) /* room for the closing quote and the NUL */
			break;
		memcpy(dst + o, piece, len);
		o += len;
		s += piece == esc ? 1 : len;
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

/* Write all of buf; a line below PIPE_BUF goes out in one call unless a signal interrupts. */
static void log_write(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += w, len -= (size_t)w;
	}
}

/* Append the text of one conversion (spec, e.g. "%lld", with the value taken from ap) to out at
 * *o, bounded by cap; *o may go past cap, like vsnprintf's return, to tell of truncation.  Every
 * %s value goes through log_quote, so no value can break the logfmt line whatever its text. */
static void log_one(char *out, size_t cap, size_t *o, const char *spec, char conv, const char *len,
                    va_list *ap)
{
	char tmp[1], q[LOG_LINE_MAX];
	int n = 0;
	size_t room = *o < cap ? cap - *o : 0;
	char *dst = room ? out + *o : tmp;
	size_t dn = room ? room : 1;
	switch (conv) {
	case 's': {
		log_quote(q, sizeof q, va_arg(*ap, const char *));
		n = snprintf(dst, dn, "%s", q);
		break;
	}
	case 'd':
	case 'i':
		if (!strcmp(len, "ll"))
			n = snprintf(dst, dn, spec, va_arg(*ap, long long));
		else if (!strcmp(len, "l"))
			n = snprintf(dst, dn, spec, va_arg(*ap, long));
		else if (!strcmp(len, "z"))
			n = snprintf(dst, dn, spec, va_arg(*ap, ssize_t));
		else if (!strcmp(len, "j"))
			n = snprintf(dst, dn, spec, va_arg(*ap, intmax_t));
		else if (!strcmp(len, "t"))
			n = snprintf(dst, dn, spec, va_arg(*ap, ptrdiff_t));
		else
			n = snprintf(dst, dn, spec, va_arg(*ap, int));
		break;
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		if (!strcmp(len, "ll"))
			n = snprintf(dst, dn, spec, va_arg(*ap, unsigned long long));
		else if (!strcmp(len, "l"))
			n = snprintf(dst, dn, spec, va_arg(*ap, unsigned long));
		else if (!strcmp(len, "z"))
			n = snprintf(dst, dn, spec, va_arg(*ap, size_t));
		else if (!strcmp(len, "j"))
			n = snprintf(dst, dn, spec, va_arg(*ap, uintmax_t));
		else if (!strcmp(len, "t"))
			n = snprintf(dst, dn, spec, va_arg(*ap, ptrdiff_t));
		else
			n = snprintf(dst, dn, spec, va_arg(*ap, unsigned));
		break;
	case 'c':
		n = snprintf(dst, dn, spec, va_arg(*ap, int));
		break;
	case 'e':
	case 'E':
	case 'f':
	case 'F':
	case 'g':
	case 'G':
	case 'a':
	case 'A':
		if (!strcmp(len, "L"))
			n = snprintf(dst, dn, spec, va_arg(*ap, long double));
		else
			n = snprintf(dst, dn, spec, va_arg(*ap, double));
		break;
	case 'p':
		n = snprintf(dst, dn, spec, va_arg(*ap, void *));
		break;
	default: /* '%' and anything unknown: the spec's own text */
		n = snprintf(dst, dn, "%s", conv == '%' ? "%" : spec);
	}
	if (n > 0)
		*o += (size_t)n;
}

/* vsnprintf for log lines: the printf conversions the compiler has checked (no '*', no %n),
 * with every %s quoted by log_quote.  Returns the length the whole text would have. */
static size_t log_format(char *out, size_t cap, const char *fmt, va_list ap)
{
	va_list args;
	size_t o = 0;
	va_copy(args, ap);
	for (const char *f = fmt; *f;) {
		if (*f != '%') {
			if (o + 1 < cap)
				out[o] = *f;
			o++, f++;
			continue;
		}
		char spec[32], len[3] = "";
		size_t k = 0;
		spec[k++] = *f++;
		while (*f && strchr("-+ #0123456789.", *f) && k < sizeof spec - 4)
			spec[k++] = *f++;
		while (*f && strchr("hlLqjzt", *f) && strlen(len) < 2) {
			len[strlen(len)] = *f;
			spec[k++] = *f++;
		}
		char conv = *f ? *f++ : '%';
		spec[k++] = conv;
		spec[k] = '\0';
		log_one(out, cap, &o, spec, conv, len, &args);
	}
	va_end(args);
	if (cap)
		out[o < cap ? o : cap - 1] = '\0';
	return o;
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
	char line[LOG_LINE_MAX], ev[128], ts[32];
	if (!log_enabled(level))
		return;
	int saved_errno = errno; /* callers often log and then look at errno */

	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);

	/* The last byte is kept for the newline. */
	const size_t cap = sizeof line - 1;
	int n = snprintf(line, cap, "ts=%s.%03dZ level=%s pid=%ld event=%s", ts,
	                 (int)(now.tv_nsec / 1000000), log_level_name(level), (long)getpid(),
	                 log_quote(ev, sizeof ev, event));
	size_t len = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
	int truncated = n >= 0 && (size_t)n >= cap;
	if (fmt && *fmt && !truncated && len + 1 < cap) {
		line[len++] = ' ';
		size_t start = len;
		va_list ap;
		va_start(ap, fmt);
		size_t m = log_format(line + len, cap - len, fmt, ap);
		va_end(ap);
		truncated = m >= cap - len;
		len += truncated ? cap - len - 1 : m;
		for (size_t i = start; i < len; i++)
			if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
				line[i] = ' ';
	}
	if (truncated) {
		/* Replace the tail with "...".  Known weakness: the cut may split a UTF-8
		 * character or leave a quoted value unterminated; only the last field suffers. */
		if (len > 3)
			len -= 3;
		memcpy(line + len, "...", 3);
		len += 3;
	}
	line[len++] = '\n';
	log_write(line, len);
	errno = saved_errno;
}
