/*
 * validate.c: the syntax of every scalar the API accepts (phones, ID numbers, dates, times,
 * logins) and the calendar arithmetic behind them.
 *
 * Owns nothing: no state, no allocation.  Parsers are exact-length and byte-by-byte rather
 * than sscanf/strptime, because those accept leading blanks, signs and short fields, and
 * depend on the locale.  Calendar maths uses Howard Hinnant's days-from-civil so that no
 * time zone (TZ, timegm) is involved: an RFC 3339 string carries its own offset.
 */
#include "validate.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define YEAR_MIN 1900
#define YEAR_MAX 2999

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 1 when s starts with n decimal digits; never reads past a NUL. */
static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return 0;
	return 1;
}

/* The value of n (<= 9) decimal digits at s, or -1; never reads past a NUL. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int is_leap(long long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int validate_days_in_month(long long y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12)
		return 0;
	return dim[m - 1] + (m == 2 && is_leap(y));
}

long long validate_days_from_civil(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;                                   /* 0..399 */
	long long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */
	return era * 146097 + doe - 719468;
}

void validate_civil_from_days(long long days, long long *y, int *m, int *d)
{
	days += 719468;
	long long era = (days >= 0 ? days : days - 146096) / 146097;
	long long doe = days - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Shared by parse_date and the ID number's birth date: digits already split. */
static int date_ok(int y, int m, int d)
{
	return y >= YEAR_MIN && y <= YEAR_MAX && d >= 1 && d <= validate_days_in_month(y, m);
}

int valid_phone(const char *s)
{
	if (!s || strlen(s) != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9')
		return 0;
	return all_digits(s, 11);
}

int valid_id_number(const char *s)
{
	static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	static const char check[] = "10X98765432";
	if (!s || strlen(s) != 18)
		return 0;
	if (!all_digits(s, 17))
		return 0;
	int sum = 0;
	for (int i = 0; i < 17; i++)
		sum += (s[i] - '0') * weight[i];
	char c = s[17] == 'x' ? 'X' : s[17];
	if (c != check[sum % 11])
		return 0;
	int y = digits(s + 6, 4), m = digits(s + 10, 2), d = digits(s + 12, 2);
	if (!date_ok(y, m, d))
		return 0;
	/* "Today" in the easternmost zone (UTC+14), so that no one born today anywhere is
	 * refused because the server's clock or zone is behind theirs. */
	long long today = ((long long)time(NULL) + 14 * 3600) / 86400;
	return validate_days_from_civil(y, m, d) <= today;
}

void mask_id_number(const char *id, char out[19])
{
	size_t len = id ? strlen(id) : 0;
	memset(out, '*', 18);
	out[18] = '\0';
	if (len < 8)
		return;
	memcpy(out, id, 4);
	memcpy(out + 14, id + len - 4, 4);
}

int valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	if (!s)
		return len == 0;
	size_t i = 0;
	while (i < len) {
		unsigned c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		unsigned cp, min;
		if (c >= 0xc2 && c <= 0xdf) { /* c0, c1 would only encode overlongs */
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (len - i - 1 < n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

size_t utf8_chars(const char *s)
{
	size_t n = 0;
	if (!s)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += (*p & 0xc0) != 0x80;
	return n;
}

int parse_date(const char *s, int *y, int *m, int *d)
{
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	int yy = digits(s, 4), mm = digits(s + 5, 2), dd = digits(s + 8, 2);
	if (!date_ok(yy, mm, dd))
		return -1;
	*y = yy, *m = mm, *d = dd;
	return 0;
}

int parse_month(const char *s, int *y, int *m)
{
	if (!s || strlen(s) != 7 || s[4] != '-')
		return -1;
	int yy = digits(s, 4), mm = digits(s + 5, 2);
	if (yy < YEAR_MIN || yy > YEAR_MAX || mm < 1 || mm > 12)
		return -1;
	*y = yy, *m = mm;
	return 0;
}

int parse_quarter(const char *s, int *y, int *q)
{
	if (!s || strlen(s) != 7 || s[4] != '-' || (s[5] != 'Q' && s[5] != 'q'))
		return -1;
	int yy = digits(s, 4), qq = digits(s + 6, 1);
	if (yy < YEAR_MIN || yy > YEAR_MAX || qq < 1 || qq > 4)
		return -1;
	*y = yy, *q = qq;
	return 0;
}

int parse_hhmm(const char *s, int *minutes)
{
	if (!s || strlen(s) != 5 || s[2] != ':')
		return -1;
	int h = digits(s, 2), mi = digits(s + 3, 2);
	if (h < 0 || h > 23 || mi < 0 || mi > 59)
		return -1;
	*minutes = h * 60 + mi;
	return 0;
}

int parse_rfc3339(const char *s, long long *epoch_s)
{
	int y, mo, d;
	char date[11];
	/* 19 = "YYYY-MM-DDTHH:MM:SS"; the shortest valid string adds "Z". */
	if (!s || strnlen(s, 20) < 20)
		return -1;
	memcpy(date, s, 10);
	date[10] = '\0';
	if (parse_date(date, &y, &mo, &d) < 0)
		return -1;
	if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
		return -1;
	if (s[13] != ':' || s[16] != ':')
		return -1;
	int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
	if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return -1;
	const char *p = s + 19;
	if (*p == '.') {
		if (!is_digit(*++p))
			return -1;
		while (is_digit(*p))
			p++;
	}
	long long off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int oh = digits(p + 1, 2), om = p[1] && p[2] && p[3] == ':' ? digits(p + 4, 2) : -1;
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -1;
		off = sign * (oh * 3600LL + om * 60LL);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	*epoch_s = validate_days_from_civil(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + sec - off;
	return 0;
}

void format_rfc3339(long long epoch_s, int offset_minutes, char out[32])
{
	/* 0000-01-01 .. 9999-12-31 keep every field at its fixed width. */
	const long long lo = validate_days_from_civil(0, 1, 1) * 86400;
	const long long hi = validate_days_from_civil(10000, 1, 1) * 86400 - 1;
	if (offset_minutes > 23 * 60 + 59)
		offset_minutes = 23 * 60 + 59;
	if (offset_minutes < -(23 * 60 + 59))
		offset_minutes = -(23 * 60 + 59);
	long long t = epoch_s + offset_minutes * 60LL;
	if (t < lo)
		t = lo;
	if (t > hi)
		t = hi;
	long long days = t / 86400, secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	long long y;
	int m, d;
	validate_civil_from_days(days, &y, &m, &d);
	int n = snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d", (int)y, m, d, (int)(secs / 3600),
	                 (int)(secs / 60 % 60), (int)(secs % 60));
	if (n < 0 || n >= 32)
		return;
	if (offset_minutes == 0) {
		snprintf(out + n, 32 - (size_t)n, "Z");
	} else {
		int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
		snprintf(out + n, 32 - (size_t)n, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+',
		         a / 60, a % 60);
	}
}

int valid_login(const char *s)
{
	if (!s)
		return 0;
	size_t n = strlen(s);
	if (n < 3 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
		      c == '_' || c == '@' || c == '-'))
			return 0;
	}
	return 1;
}

int valid_org_kind(const char *s)
{
	static const char *const kinds[] = {"district", "subdistrict", "community", "grid",
	                                    "center",   "station",     "point"};
	if (!s)
		return 0;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(s, kinds[i]) == 0)
			return 1;
	return 0;
}

int valid_weekday(const char *s)
{
	static const char days[] = "MOTUWETHFRSASU";
	if (!s || strlen(s) != 2)
		return 0;
	for (int i = 0; i < 7; i++)
		if (s[0] == days[2 * i] && s[1] == days[2 * i + 1])
			return i + 1;
	return 0;
}

int password_acceptable(const char *s)
{
	if (!s)
		return 0;
	size_t len = strlen(s);
	/* Skip the scan of anything too long to be PASSWORD_MAX_CHARS code points. */
	if (len < PASSWORD_MIN_CHARS || len > PASSWORD_MAX_BYTES || !valid_utf8(s, len))
		return 0;
	size_t n = utf8_chars(s);
	return n >= PASSWORD_MIN_CHARS && n <= PASSWORD_MAX_CHARS;
}
