/*
 * qrsvg.c: QR code -> SVG.  libqrencode gives a width x width matrix (bit 0 of each byte: a
 * dark module); each horizontal run of dark modules becomes one "M x y h n v1 h -n z" path
 * segment, which keeps a version-4 code (the check-in URL) to a few KB.  The SVG scales to
 * its container (viewBox only); shape-rendering="crispEdges" keeps the modules sharp.
 */
#include "qrsvg.h"

#include <qrencode.h>

#define QUIET 4 /* modules of white border the QR standard asks for */

int qrsvg_render(struct html *h, const char *text, const char *label)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!qr)
		return -1;
	int w = qr->width, size = w + 2 * QUIET;
	html_rawf(h,
	          "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" role=\"img\" "
	          "shape-rendering=\"crispEdges\" class=\"qr\"",
	          size, size);
	if (label) {
		html_raw(h, " aria-label=\"");
		html_text(h, label);
		html_raw(h, "\"");
	}
	html_rawf(h, "><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
	          size, size);
	for (int y = 0; y < w; y++) {
		for (int x = 0; x < w;) {
			if (!(qr->data[y * w + x] & 1)) {
				x++;
				continue;
			}
			int run = 0;
			while (x + run < w && (qr->data[y * w + x + run] & 1))
				run++;
			html_rawf(h, "M%d %dh%dv1h-%dz", x + QUIET, y + QUIET, run, run);
			x += run;
		}
	}
	html_raw(h, "\"/></svg>");
	QRcode_free(qr);
	return 0;
}
