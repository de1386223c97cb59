/*
 * h_volunteers.c: placeholder handlers until the module lands; each says so plainly.
 */
#include "handlers.h"
#include "reply.h"

void h_volunteers_create(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_volunteers_list(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_volunteers_get(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_volunteers_update(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}
