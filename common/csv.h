/*
 * csv.h: RFC 4180 CSV text that Excel opens as intended: UTF-8 with a BOM, CRLF line ends,
 * fields quoted when they hold a comma, quote, CR or LF (quotes doubled).
 *
 * Two Excel hazards are handled per field:
 *   * formula injection: a text cell starting with = + - @ TAB or CR is prefixed with a
 *     single quote, so that Excel shows it as text instead of evaluating it (OWASP);
 *   * number-like text (phone numbers, volunteer numbers, codes, ID numbers): written as
 *     ="..." (quoted as a CSV field), an Excel formula of a string constant, so that Excel
 *     keeps leading zeros and all digits instead of turning 13912345678 into 1.39E+10.  Only
 *     values made of digits, letters, + - and spaces qualify, so the formula cannot carry
 *     anything but that constant.
 *
 * A struct csv owns one growing buffer; every append returns 0 or -1 (out of memory, after
 * which the buffer is unusable until csv_cleanup).
 */
#ifndef VD_CSV_H
#define VD_CSV_H

#include <stddef.h>

struct csv {
	char *data; /* owned; NUL-terminated while len > 0 */
	size_t len;
	size_t cap;
	int row_open; /* a field was written on the current line */
	int failed;
};

enum csv_kind {
	CSV_TEXT,     /* free text: quoted as needed, formulas defused */
	CSV_TEXT_NUM, /* number-like text that must stay text: ="..." */
	CSV_NUMBER,   /* a number as text, written as is (must be a plain number) */
};

void csv_init(struct csv *c);
void csv_cleanup(struct csv *c);
/* The UTF-8 byte order mark, so that Excel reads the file as UTF-8. */
int csv_bom(struct csv *c);
/* One field of kind; value NULL is an empty field. */
int csv_field(struct csv *c, const char *value, enum csv_kind kind);
/* End the current line with CRLF. */
int csv_end_row(struct csv *c);
/* Would value be written as ="..." under CSV_TEXT_NUM (else as CSV_TEXT)? */
int csv_text_num_ok(const char *value);

#endif
