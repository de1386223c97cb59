/*
 * export.h: a report's JSON (the answer of api.report_*) as a table, for CSV here and for
 * XLSX in server/xlsx.c, so that every format comes from the same query as the JSON.
 *
 * A table is the report's "rows" then one totals row ("合计"), under Chinese column headers.
 * Columns are fixed per report kind, plus one star-level column per star scheme for the
 * per-volunteer report.  The table borrows the report: keep the cJSON alive while using it.
 */
#ifndef VD_EXPORT_H
#define VD_EXPORT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "csv.h"

enum export_report {
	EXPORT_MONTHLY_ORG,
	EXPORT_MONTHLY_TEAM,
	EXPORT_VOLUNTEERS,
	EXPORT_PARTY,
};

enum export_type {
	EXPORT_TEXT,     /* free text */
	EXPORT_TEXT_NUM, /* number-like text that must stay text (phones, numbers, codes) */
	EXPORT_INT,      /* an integer */
	EXPORT_HOURS,    /* hours with two decimals ("1.50") */
};

#define EXPORT_MAX_COLS 32

struct export_col {
	char key[48];     /* field of the row; "a.b" is field b of object a */
	char header[128]; /* UTF-8 */
	enum export_type type;
};

struct export_table {
	enum export_report kind;
	const char *sheet; /* a short UTF-8 sheet name */
	struct export_col cols[EXPORT_MAX_COLS];
	int ncols;
	const cJSON *rows;   /* borrowed: the report's "rows" array */
	const cJSON *totals; /* borrowed: the report's "totals" object (may be NULL) */
};

/* Build the table of report (0), or -1 when report has no "rows" array. */
int export_table_init(struct export_table *t, const cJSON *report, enum export_report kind);
/* Row i (0..nrows-1 are the rows, nrows is the totals row), or NULL. */
const cJSON *export_row(const struct export_table *t, int i, int *is_totals);
int export_nrows(const struct export_table *t);
/* The text of cell (row, col) into buf (empty when absent); for EXPORT_INT and EXPORT_HOURS
 * also its value in *num and returns 1 (0 for text or an absent value).  In the totals row
 * the first text column reads "合计". */
int export_cell(const struct export_table *t, const cJSON *row, int is_totals, int col, char *buf,
                size_t n, double *num);
/* The whole table as CSV (BOM, header line, rows, totals line).  0, or -1 out of memory. */
int export_csv(const struct export_table *t, struct csv *out);
/* An ASCII file name for Content-Disposition, e.g. "report-monthly-2025-01.csv". */
void export_filename(const cJSON *report, enum export_report kind, const char *ext, char *buf,
                     size_t n);

#endif
