/*
 * xlsx.c: one export table -> one worksheet.  Runs on an offload thread (it writes files);
 * owns nothing beyond the call: the workbook is closed (and freed) before returning.
 *
 * Constant-memory mode writes each row to disk as soon as the next row starts, so rows are
 * written strictly in order: the title, the header, the data, the totals.
 */
#include "xlsx.h"

#include <xlsxwriter.h>

int xlsx_write(const char *path, const struct export_table *t, const char *title, struct err *e)
{
	lxw_workbook_options opts = {.constant_memory = LXW_TRUE, .tmpdir = NULL, .use_zip64 = 0};
	lxw_workbook *wb = workbook_new_opt(path, &opts);
	if (!wb)
		return err_set(e, APP_EUNAVAILABLE, NULL, "cannot create the workbook");
	lxw_worksheet *ws = workbook_add_worksheet(wb, t->sheet);
	lxw_format *bold = workbook_add_format(wb);
	lxw_format *hours = workbook_add_format(wb);
	lxw_format *bold_hours = workbook_add_format(wb);
	if (!ws || !bold || !hours || !bold_hours) {
		workbook_close(wb);
		return err_set(e, APP_EUNAVAILABLE, NULL, "out of memory");
	}
	format_set_bold(bold);
	format_set_num_format(hours, "0.00");
	format_set_bold(bold_hours);
	format_set_num_format(bold_hours, "0.00");
	worksheet_set_column(ws, 0, (lxw_col_t)(t->ncols - 1), 16, NULL);

	lxw_row_t row = 0;
	if (title && *title)
		worksheet_write_string(ws, row++, 0, title, bold);
	for (int c = 0; c < t->ncols; c++)
		worksheet_write_string(ws, row, (lxw_col_t)c, t->cols[c].header, bold);
	row++;
	char buf[1024];
	int n = export_nrows(t) + (t->totals ? 1 : 0);
	for (int i = 0; i < n; i++, row++) {
		int tot;
		const cJSON *r = export_row(t, i, &tot);
		for (int c = 0; c < t->ncols; c++) {
			double num = 0;
			int isnum = export_cell(t, r, tot, c, buf, sizeof buf, &num);
			if (isnum) {
				lxw_format *f = t->cols[c].type == EXPORT_HOURS
				                        ? (tot ? bold_hours : hours)
				                        : (tot ? bold : NULL);
				worksheet_write_number(ws, row, (lxw_col_t)c, num, f);
			} else if (buf[0]) {
				/* a string cell is never evaluated: no formula defusing needed here
				 */
				worksheet_write_string(ws, row, (lxw_col_t)c, buf,
				                       tot ? bold : NULL);
			}
		}
	}
	lxw_error rc = workbook_close(wb);
	if (rc != LXW_NO_ERROR)
		return err_set(e, APP_EUNAVAILABLE, NULL, "writing the workbook failed: %s",
		               lxw_strerror(rc));
	return 0;
}
