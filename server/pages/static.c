/*
 * static.c: the pages' static files (CSS, the offline-queue script, the icon), compiled into
 * the binary from server/pages/static/ (the Makefile's PAGE_STATIC, through
 * scripts/embed-text.sh) and served from GET /static/{name}.
 *
 * URLs carry a content hash (?v=...), so a file is cached for a year as immutable and a new
 * build is fetched at once.  The hash is recomputed per use: the files are a few KB and a
 * cache would be a global.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "html.h"
#include "page.h"
#include "reply.h"
#include "req.h"

extern const char page_static_app_css[];
extern const char page_static_app_js[];
extern const char page_static_icon_svg[];
extern const char page_static_staff_css[];
extern const char page_static_console_js[];
extern const char page_static_admin_js[];
extern const char page_static_uplot_min_js[];
extern const char page_static_uplot_min_css[];

static const struct {
	const char *name;
	const char *ctype;
	const char *body;
} files[] = {
        {"app.css", "text/css; charset=utf-8", page_static_app_css},
        {"app.js", "text/javascript; charset=utf-8", page_static_app_js},
        {"icon.svg", "image/svg+xml; charset=utf-8", page_static_icon_svg},
        {"staff.css", "text/css; charset=utf-8", page_static_staff_css},
        {"console.js", "text/javascript; charset=utf-8", page_static_console_js},
        {"admin.js", "text/javascript; charset=utf-8", page_static_admin_js},
        {"uplot.min.js", "text/javascript; charset=utf-8", page_static_uplot_min_js},
        {"uplot.min.css", "text/css; charset=utf-8", page_static_uplot_min_css},
};

static int find(const char *name)
{
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if (!strcmp(files[i].name, name))
			return (int)i;
	return -1;
}

void page_static_url(struct html *h, const char *name)
{
	int i = find(name);
	uint32_t v = 2166136261u; /* FNV-1a */
	for (const char *s = i >= 0 ? files[i].body : ""; *s; s++)
		v = (v ^ (uint8_t)*s) * 16777619u;
	html_rawf(h, "/static/%s?v=%08x", name, (unsigned)v);
}

void h_page_static(struct req *r)
{
	int i = find(r->params[0]);
	if (i < 0) {
		reply_problem(r, APP_ENOTFOUND, NULL, "no such file");
		return;
	}
	reply_static(r, files[i].ctype, files[i].body, strlen(files[i].body));
}

/* GET /: the volunteer's page (staff pages link from there). */
void h_page_root(struct req *r)
{
	reply_redirect(r, "/me");
}
