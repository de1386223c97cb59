/*
 * validate.h: pure validators and parsers for the values the API accepts.
 *
 * No allocation, no globals, no locale: every function reads only its
 * arguments (valid_id_number also reads the clock).  Boolean validators
 * return 1 for valid and 0 for invalid; parsers return 0 or -1 and leave
 * their outputs untouched on failure.  A NULL string is always invalid.
 */
#ifndef VD_VALIDATE_H
#define VD_VALIDATE_H

#include <stddef.h>

/* Mainland mobile number: 11 digits, ^1[3-9][0-9]{9}$. */
int valid_phone(const char *s);
/* GB 11643 citizen ID: 17 digits + check char (digit, X or x); the birth date at offset 6
 * must be a real date from 1900-01-01 up to today. */
int valid_id_number(const char *s);
/* Writes "1101**********1234" (first 4, ten '*', last 4) into out, always 18 chars + NUL;
 * an id shorter than 8 chars (or NULL) gives 18 '*' so that nothing leaks. */
void mask_id_number(const char *id, char out[19]);
/* Strict UTF-8 over exactly len bytes: no overlongs, no surrogates, nothing above U+10FFFF. */
int valid_utf8(const char *s, size_t len);
/* Code points in a valid UTF-8 string (counts bytes that do not continue a sequence). */
size_t utf8_chars(const char *s);

/* "YYYY-MM-DD", a real calendar date with year 1900..2999; 0 ok / -1. */
int parse_date(const char *s, int *y, int *m, int *d);
/* "YYYY-MM", year 1900..2999; 0 / -1. */
int parse_month(const char *s, int *y, int *m);
/* "YYYY-Qn" (q or Q), n 1..4; 0 / -1. */
int parse_quarter(const char *s, int *y, int *q);
/* "HH:MM", 00:00..23:59 -> minutes since midnight; 0 / -1. */
int parse_hhmm(const char *s, int *minutes);
/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)"; 'T', 't' or ' ' between date and time, 'Z'
 * or 'z'; the offset is required; the fraction is truncated; seconds may be 60. 0 / -1. */
int parse_rfc3339(const char *s, long long *epoch_s);
/* "2026-11-24T08:00:00+08:00", or "...Z" when offset_minutes is 0.  Years are clamped to
 * 0000..9999 and the offset to +-23:59 so that the result always fits. */
void format_rfc3339(long long epoch_s, int offset_minutes, char out[32]);

/* 3..64 chars of [A-Za-z0-9._@-] (a phone number qualifies). */
int valid_login(const char *s);
/* district subdistrict community grid center station point */
int valid_org_kind(const char *s);
/* MO TU WE TH FR SA SU -> 1..7 (MO = 1); 0 when invalid. */
int valid_weekday(const char *s);
/* The one password limit: 10..PASSWORD_MAX_CHARS characters (code points) of UTF-8, so at
 * most PASSWORD_MAX_BYTES bytes.  Every path (registration, log-in, change, accounts, the CLI)
 * keeps the whole password in a PASSWORD_BUF buffer: none may cut it shorter. */
#define PASSWORD_MIN_CHARS 10
#define PASSWORD_MAX_CHARS 128
#define PASSWORD_MAX_BYTES (4 * PASSWORD_MAX_CHARS)
#define PASSWORD_BUF       (PASSWORD_MAX_BYTES + 1)
/* PASSWORD_MIN_CHARS..PASSWORD_MAX_CHARS characters (code points) of valid UTF-8. */
int password_acceptable(const char *s);

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12, d 1..31, not checked). */
long long validate_days_from_civil(long long y, int m, int d);
/* The inverse of validate_days_from_civil. */
void validate_civil_from_days(long long days, long long *y, int *m, int *d);
/* Days in month m (1..12) of year y; 0 for a bad month. */
int validate_days_in_month(long long y, int m);

#endif
