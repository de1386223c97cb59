/*
 * export.c: report JSON -> table (headers, cells, totals row) -> CSV.  Pure: cJSON only.
 *
 * The column lists below are the export contract of each report; a JSON field not listed
 * (e.g. "adjustments", "own") is in the JSON answer only.
 */
#include "export.h"

#include <stdio.h>
#include <string.h>

struct col_def {
	const char *key;
	const char *header;
	enum export_type type;
};

static const struct col_def monthly_org[] = {
        {"id", "编号", EXPORT_INT},
        {"code", "区划代码", EXPORT_TEXT_NUM},
        {"name", "名称", EXPORT_TEXT},
        {"kind", "类型", EXPORT_TEXT},
        {"volunteers", "志愿者人数", EXPORT_INT},
        {"approved_minutes", "已审核时长（分钟）", EXPORT_INT},
        {"pending_minutes", "待审核时长（分钟）", EXPORT_INT},
        {"approved_hours", "已审核时长（小时）", EXPORT_HOURS},
        {"events", "活动场次", EXPORT_INT},
        {"new_volunteers", "新注册志愿者", EXPORT_INT},
        {NULL, NULL, EXPORT_TEXT},
};

static const struct col_def monthly_team[] = {
        {"id", "编号", EXPORT_INT},
        {"name", "志愿服务队", EXPORT_TEXT},
        {"kind", "类型", EXPORT_TEXT},
        {"volunteers", "志愿者人数", EXPORT_INT},
        {"approved_minutes", "已审核时长（分钟）", EXPORT_INT},
        {"pending_minutes", "待审核时长（分钟）", EXPORT_INT},
        {"approved_hours", "已审核时长（小时）", EXPORT_HOURS},
        {"events", "活动场次", EXPORT_INT},
        {"new_volunteers", "新加入队员", EXPORT_INT},
        {NULL, NULL, EXPORT_TEXT},
};

static const struct col_def volunteers[] = {
        {"volunteer_no", "志愿者编号", EXPORT_TEXT_NUM},
        {"name", "姓名", EXPORT_TEXT},
        {"phone", "手机号", EXPORT_TEXT_NUM},
        {"org_unit_name", "所属区域", EXPORT_TEXT},
        {"approved_minutes", "已审核时长（分钟）", EXPORT_INT},
        {"pending_minutes", "待审核时长（分钟）", EXPORT_INT},
        {"approved_hours", "已审核时长（小时）", EXPORT_HOURS},
        {"events", "参与活动场次", EXPORT_INT},
        {"total_approved_hours", "累计已审核时长（小时）", EXPORT_HOURS},
        {NULL, NULL, EXPORT_TEXT},
};

static const struct col_def party[] = {
        {"work_unit", "工作单位", EXPORT_TEXT},
        {"members", "党员人数", EXPORT_INT},
        {"active_members", "回社区服务人数", EXPORT_INT},
        {"approved_minutes", "已审核时长（分钟）", EXPORT_INT},
        {"pending_minutes", "待审核时长（分钟）", EXPORT_INT},
        {"approved_hours", "已审核时长（小时）", EXPORT_HOURS},
        {NULL, NULL, EXPORT_TEXT},
};

static void add_col(struct export_table *t, const char *key, const char *header,
                    enum export_type type)
{
	if (t->ncols >= EXPORT_MAX_COLS)
		return;
	struct export_col *c = &t->cols[t->ncols++];
	snprintf(c->key, sizeof c->key, "%s", key);
	snprintf(c->header, sizeof c->header, "%s", header);
	c->type = type;
}

int export_table_init(struct export_table *t, const cJSON *report, enum export_report kind)
{
	memset(t, 0, sizeof *t);
	t->kind = kind;
	t->rows = cJSON_GetObjectItemCaseSensitive(report, "rows");
	if (!cJSON_IsArray(t->rows))
		return -1;
	t->totals = cJSON_GetObjectItemCaseSensitive(report, "totals");
	if (!cJSON_IsObject(t->totals))
		t->totals = NULL;
	const struct col_def *defs = monthly_org;
	t->sheet = "月度统计";
	switch (kind) {
	case EXPORT_MONTHLY_ORG:
		break;
	case EXPORT_MONTHLY_TEAM:
		defs = monthly_team;
		break;
	case EXPORT_VOLUNTEERS:
		defs = volunteers;
		t->sheet = "志愿者时长";
		break;
	case EXPORT_PARTY:
		defs = party;
		t->sheet = "党员双报到";
		break;
	}
	for (; defs->key; defs++)
		add_col(t, defs->key, defs->header, defs->type);
	if (kind == EXPORT_VOLUNTEERS) {
		const cJSON *s;
		cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(report, "schemes"))
		{
			const char *code =
			        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "code"));
			const char *name =
			        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "name"));
			if (!code || strlen(code) > 32)
				continue;
			char key[48], header[128];
			snprintf(key, sizeof key, "stars.%s", code);
			snprintf(header, sizeof header, "星级（%.100s）", name ? name : code);
			add_col(t, key, header, EXPORT_INT);
		}
	}
	return 0;
}

int export_nrows(const struct export_table *t)
{
	return cJSON_GetArraySize(t->rows);
}

const cJSON *export_row(const struct export_table *t, int i, int *is_totals)
{
	int n = export_nrows(t);
	*is_totals = i == n;
	if (i < n)
		return cJSON_GetArrayItem(t->rows, i);
	return i == n ? t->totals : NULL;
}

/* Field key of row, where "a.b" reaches into object a. */
static const cJSON *field(const cJSON *row, const char *key)
{
	const char *dot = strchr(key, '.');
	if (!dot)
		return cJSON_GetObjectItemCaseSensitive(row, key);
	char head[48];
	size_t n = (size_t)(dot - key);
	if (n >= sizeof head)
		return NULL;
	memcpy(head, key, n);
	head[n] = '\0';
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(row, head),
	                                        dot + 1);
}

int export_cell(const struct export_table *t, const cJSON *row, int is_totals, int col, char *buf,
                size_t n, double *num)
{
	const struct export_col *c = &t->cols[col];
	buf[0] = '\0';
	if (is_totals) {
		/* the label goes into the first text column; totals have no id of their own */
		int first_text = 0;
		while (first_text < t->ncols && t->cols[first_text].type != EXPORT_TEXT)
			first_text++;
		if (col == first_text) {
			snprintf(buf, n, "合计");
			return 0;
		}
		if (c->type == EXPORT_TEXT || c->type == EXPORT_TEXT_NUM || !strcmp(c->key, "id"))
			return 0;
	}
	const cJSON *v = row ? field(row, c->key) : NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (c->type == EXPORT_INT || c->type == EXPORT_HOURS) {
		double d;
		if (cJSON_IsNumber(v))
			d = v->valuedouble;
		else if (cJSON_IsString(v) && sscanf(v->valuestring, "%lf", &d) == 1)
			;
		else
			return 0;
		if (c->type == EXPORT_INT)
			snprintf(buf, n, "%.0f", d);
		else
			snprintf(buf, n, "%.2f", d);
		*num = d;
		return 1;
	}
	if (cJSON_IsString(v))
		snprintf(buf, n, "%s", v->valuestring);
	else if (cJSON_IsNumber(v))
		snprintf(buf, n, "%.0f", v->valuedouble);
	else if (cJSON_IsBool(v))
		snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "是" : "否");
	return 0;
}

int export_csv(const struct export_table *t, struct csv *out)
{
	char buf[1024];
	double num;
	if (csv_bom(out) < 0)
		return -1;
	for (int c = 0; c < t->ncols; c++)
		if (csv_field(out, t->cols[c].header, CSV_TEXT) < 0)
			return -1;
	if (csv_end_row(out) < 0)
		return -1;
	int n = export_nrows(t) + (t->totals ? 1 : 0);
	for (int i = 0; i < n; i++) {
		int tot;
		const cJSON *row = export_row(t, i, &tot);
		for (int c = 0; c < t->ncols; c++) {
			int isnum = export_cell(t, row, tot, c, buf, sizeof buf, &num);
			enum csv_kind k = isnum                                ? CSV_NUMBER
			                  : t->cols[c].type == EXPORT_TEXT_NUM ? CSV_TEXT_NUM
			                                                       : CSV_TEXT;
			if (csv_field(out, buf, k) < 0)
				return -1;
		}
		if (csv_end_row(out) < 0)
			return -1;
	}
	return 0;
}

void export_filename(const cJSON *report, enum export_report kind, const char *ext, char *buf,
                     size_t n)
{
	static const char *const names[] = {"monthly-by-org-unit", "monthly-by-team", "volunteers",
	                                    "party-members"};
	const char *period =
	        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(report, "month"));
	if (!period)
		period = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(report, "quarter"));
	char safe[16] = "";
	for (size_t i = 0; period && period[i] && i + 1 < sizeof safe; i++) {
		char ch = period[i];
		safe[i] = (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || ch == '-' ? ch
		                                                                            : '_';
		safe[i + 1] = '\0';
	}
	const cJSON *under = cJSON_GetObjectItemCaseSensitive(report, "under");
	snprintf(buf, n, "%s-%s-%.0f.%s", names[kind], safe[0] ? safe : "report",
	         cJSON_IsNumber(under) ? under->valuedouble : 0.0, ext);
}
