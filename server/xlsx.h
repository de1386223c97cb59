/*
 * xlsx.h: an export table (common/export.h) as an .xlsx file, with libxlsxwriter in
 * constant-memory mode (rows streamed to a temporary file, never all in memory).
 *
 * Blocking file I/O: call it only from an offload thread, never on the event loop.
 */
#ifndef VD_XLSX_H
#define VD_XLSX_H

#include "err.h"
#include "export.h"

/* Write t to a new file at path: a bold header row of the Chinese headers, the rows, the
 * totals row in bold; number-like text stays text.  0, or -1 with e filled. */
int xlsx_write(const char *path, const struct export_table *t, const char *title, struct err *e);

#endif
