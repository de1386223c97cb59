/*
 * h_reports.c: the reports of issue 6 (monthly, per volunteer, party members) and the month
 * close.  The figures are computed by the database (sql/0007_reports.sql: api.report_*,
 * scope included); this file only picks the format:
 *
 *   json  the function's answer as is;
 *   csv   common/export.c on the same answer, built in memory on the export pool (a
 *         district's per-volunteer report is tens of thousands of lines: not on the loop);
 *   xlsx  server/xlsx.c on the same answer, on the export pool (file I/O), into a temporary
 *         file that is unlinked at once and sent from its descriptor (reply_file).
 *
 * State per request (struct report_req, hung on r->hstate): the format, the kind of table,
 * and for an export the parsed answer; for csv the text built, for xlsx the temporary path
 * and descriptor, until they are handed on.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "csv.h"
#include "export.h"
#include "handlers.h"
#include "log.h"
#include "offload.h"
#include "reply.h"
#include "req.h"
#include "router.h"
#include "worker.h"
#include "xlsx.h"

enum report_format { FMT_JSON, FMT_CSV, FMT_XLSX };

struct report_req {
	struct offload_task task;
	struct req *r;
	enum report_format format;
	enum export_report kind; /* for the monthly report, decided by the answer's "by" */
	cJSON *report;           /* csv, xlsx: the answer, owned */
	struct csv csv;          /* csv: the text, built off the loop */
	char path[256];          /* xlsx: the temporary file, "" once unlinked */
	int fd;                  /* xlsx: the finished file, -1 once handed to reply_file */
	size_t size;
	char title[200];
	struct err e;
	int failed;
};

static void report_req_free(void *p)
{
	struct report_req *s = p;
	if (s->fd >= 0)
		close(s->fd);
	if (s->path[0])
		unlink(s->path);
	cJSON_Delete(s->report);
	csv_cleanup(&s->csv);
	free(s);
}

static void disposition(struct req *r, const cJSON *report, enum export_report kind,
                        const char *ext)
{
	char name[128], value[200];
	export_filename(report, kind, ext, name, sizeof name);
	snprintf(value, sizeof value, "attachment; filename=\"%s\"", name);
	reply_header(r, "Content-Disposition", value);
}

static void xlsx_work(struct offload_task *t)
{
	struct report_req *s = t->arg;
	struct export_table table;
	const char *dir = getenv("TMPDIR");
	snprintf(s->path, sizeof s->path, "%s/volunteerd-export-XXXXXX",
	         dir && *dir ? dir : "/tmp");
	int tmp = mkstemp(s->path);
	if (tmp < 0) {
		s->path[0] = '\0';
		s->failed =
		        err_set(&s->e, APP_EUNAVAILABLE, NULL, "cannot create a temporary file");
		return;
	}
	close(tmp);
	if (export_table_init(&table, s->report, s->kind) < 0) {
		s->failed = err_set(&s->e, APP_EINTERNAL, NULL, "the report has no rows");
		return;
	}
	if (xlsx_write(s->path, &table, s->title, &s->e) < 0) {
		s->failed = 1;
		return;
	}
	struct stat st;
	s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0 || fstat(s->fd, &st) < 0) {
		s->failed = err_set(&s->e, APP_EUNAVAILABLE, NULL, "cannot read the workbook back");
		return;
	}
	s->size = (size_t)st.st_size;
	unlink(s->path); /* the descriptor keeps the data until it is sent */
	s->path[0] = '\0';
}

static void csv_work(struct offload_task *t)
{
	struct report_req *s = t->arg;
	struct export_table table;
	if (export_table_init(&table, s->report, s->kind) < 0 || export_csv(&table, &s->csv) < 0)
		s->failed = err_set(&s->e, APP_EUNAVAILABLE, NULL, "cannot build the CSV");
}

/* An export built off the loop (or refused: the pool was full), back on the loop: send it. */
static void export_done(struct offload_task *t, int ran)
{
	struct report_req *s = t->arg;
	struct req *r = s->r;
	if (!ran) {
		reply_problem(r, APP_EUNAVAILABLE, NULL, "busy writing exports; try again");
		return;
	}
	if (s->failed) {
		reply_error(r, &s->e);
		return;
	}
	log_msg(LOG_INFO, "export", "rid=%s ip=%s account=%lld route=%s format=%s", r->rid,
	        r->client_ip, r->account_id, r->route->pattern,
	        s->format == FMT_CSV ? "csv" : "xlsx");
	if (s->format == FMT_CSV) {
		disposition(r, s->report, s->kind, "csv");
		reply_raw(r, 200, "text/csv; charset=utf-8", s->csv.data, s->csv.len);
		return;
	}
	disposition(r, s->report, s->kind, "xlsx");
	int fd = s->fd;
	s->fd = -1;
	reply_file(r, 200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", fd,
	           s->size);
}

/* The answer is in: reply it in the format asked for. */
static int report_post(struct req *r, cJSON **result)
{
	struct report_req *s = r->hstate;
	if (s->format == FMT_JSON)
		return 0;
	if (s->kind == EXPORT_MONTHLY_ORG) {
		const char *by =
		        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(*result, "by"));
		if (by && !strcmp(by, "team"))
			s->kind = EXPORT_MONTHLY_TEAM;
	}
	s->report = *result; /* taken: freed with the state */
	*result = NULL;
	s->task.arg = s;
	s->task.done = export_done;
	if (s->format == FMT_CSV) {
		s->task.work = csv_work;
		offload_submit(r->w->exports, &s->task);
		return -1;
	}
	const char *period =
	        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s->report, "month"));
	if (!period)
		period = cJSON_GetStringValue(
		        cJSON_GetObjectItemCaseSensitive(s->report, "quarter"));
	const char *under =
	        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s->report, "under_name"));
	static const char *const what[] = {"志愿服务时长月报（按区域）",
	                                   "志愿服务时长月报（按服务队）", "志愿者服务时长",
	                                   "在职党员双报到服务统计"};
	snprintf(s->title, sizeof s->title, "%s %s %s", under ? under : "", period ? period : "",
	         what[s->kind]);
	s->task.work = xlsx_work;
	offload_submit(r->w->exports, &s->task);
	return -1;
}

/* Shared by the three GET reports: the query arguments, the format, the call. */
static void report_get(struct req *r, const char *fn, enum export_report kind,
                       const char *const keys[])
{
	const char *format = req_query(r, "format");
	enum report_format f = FMT_JSON;
	if (format && !strcmp(format, "csv"))
		f = FMT_CSV;
	else if (format && !strcmp(format, "xlsx"))
		f = FMT_XLSX;
	else if (format && strcmp(format, "json")) {
		reply_problem(r, APP_EINVALID, "format", "format must be json, csv or xlsx");
		return;
	}
	struct report_req *s = calloc(1, sizeof *s);
	cJSON *args = cJSON_CreateObject();
	if (!s || !args) {
		free(s);
		cJSON_Delete(args);
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	s->r = r;
	s->format = f;
	s->kind = kind;
	s->fd = -1;
	csv_init(&s->csv);
	r->hstate = s;
	r->hstate_free = report_req_free;
	api_query_args(r, args, keys);
	api_call_post(r, fn, args, 200, report_post);
}

void h_reports_monthly(struct req *r)
{
	static const char *const keys[] = {"month", "by", "under", "dimension", NULL};
	report_get(r, "report_monthly", EXPORT_MONTHLY_ORG, keys);
}

void h_reports_volunteers(struct req *r)
{
	static const char *const keys[] = {"month", "under", "team_id", NULL};
	report_get(r, "report_volunteers", EXPORT_VOLUNTEERS, keys);
}

void h_reports_party_members(struct req *r)
{
	static const char *const keys[] = {"quarter", "under", NULL};
	report_get(r, "report_party_members", EXPORT_PARTY, keys);
}

void h_reports_close(struct req *r)
{
	static const char *const keys[] = {"under", NULL};
	cJSON *args = cJSON_CreateObject();
	if (!args || !cJSON_AddStringToObject(args, "month", r->params[0])) {
		cJSON_Delete(args);
		reply_problem(r, APP_EUNAVAILABLE, NULL, "out of memory");
		return;
	}
	api_query_args(r, args, keys);
	api_call(r, "report_close", args, 201);
}
