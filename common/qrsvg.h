/*
 * qrsvg.h: a QR code as inline SVG (libqrencode), for the printable check-in poster.
 *
 * The SVG is drawn with presentation attributes only (no style attribute), so that the
 * pages' CSP (style-src 'self') lets it through.  No libevent, no globals.
 */
#ifndef VD_QRSVG_H
#define VD_QRSVG_H

#include "html.h"

/* Append to h an <svg> of text's QR code (error correction M, byte mode, 4-module quiet
 * zone) with role="img" and label as its accessible name (escaped; may be NULL).  0, or -1
 * when the text cannot be encoded (too long, no memory); h is unchanged then. */
int qrsvg_render(struct html *h, const char *text, const char *label);

#endif
