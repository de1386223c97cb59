/*
 * test_qrsvg.c: a check-in URL becomes one <svg> with a viewBox of the code's width plus the
 * quiet zone, an escaped accessible name, only presentation attributes (no style, which the
 * pages' CSP would block), and as many dark modules in the path as libqrencode's matrix has.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <qrencode.h>

#include "qrsvg.h"

#define URL "https://v.example.org/checkin/AAAAAAAAAAMCYNWPpkdBxuFOAj-StPcH"

/* The dark modules a path draws: the sum of its horizontal runs "h<n>". */
static int path_modules(const char *svg)
{
	int total = 0;
	for (const char *s = strstr(svg, " d=\""); s && (s = strchr(s + 1, 'h'));)
		total += s[1] == '-' ? 0 : atoi(s + 1); /* "h-n" goes back */
	return total;
}

static void test_url_renders_as_svg(void **state)
{
	(void)state;
	struct html h;
	html_init(&h);
	assert_int_equal(qrsvg_render(&h, URL, "签到<二维码>"), 0);
	assert_false(html_failed(&h));
	QRcode *qr = QRcode_encodeString(URL, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	assert_non_null(qr);
	int dark = 0;
	for (int i = 0; i < qr->width * qr->width; i++)
		dark += qr->data[i] & 1;
	char view[64];
	snprintf(view, sizeof view, "viewBox=\"0 0 %d %d\"", qr->width + 8, qr->width + 8);
	assert_non_null(strstr(h.buf, view));
	assert_int_equal(strncmp(h.buf, "<svg ", 5), 0);
	assert_non_null(strstr(h.buf, "</svg>"));
	assert_non_null(strstr(h.buf, "aria-label=\"签到&lt;二维码&gt;\""));
	assert_null(strstr(h.buf, "style"));
	assert_int_equal(path_modules(h.buf), dark);
	QRcode_free(qr);
	html_free(&h);
}

static void test_too_long_is_refused(void **state)
{
	(void)state;
	struct html h;
	size_t n = 8000;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = '\0';
	html_init(&h);
	assert_int_equal(qrsvg_render(&h, big, NULL), -1);
	assert_int_equal(h.len, 0);
	html_free(&h);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_url_renders_as_svg),
	        cmocka_unit_test(test_too_long_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
