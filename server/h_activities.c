/*
 * h_activities.c: placeholder handlers until the module lands; each says so plainly.
 */
#include "handlers.h"
#include "reply.h"

void h_activities_create(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_activities_get(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_activity_events(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_events_list(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_events_get(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_events_update(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_signups_create(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_signups_cancel(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}
