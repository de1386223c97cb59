/*
 * h_registry.c: placeholder handlers until the module lands; each says so plainly.
 */
#include "handlers.h"
#include "reply.h"

void h_org_units_create(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_org_units_list(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_org_units_get(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_org_units_update(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_teams_create(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_teams_list(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_teams_get(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_teams_update(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_team_members_add(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}

void h_team_members_remove(struct req *r)
{
	reply_problem(r, APP_EINTERNAL, NULL, "not implemented yet");
}
