/*
 * handlers.h: every route handler.  A handler either replies at once (reply.h) or starts
 * one database job whose done callback replies; it never calls libpq.
 */
#ifndef VD_HANDLERS_H
#define VD_HANDLERS_H

struct req;

/* h_health.c */
void h_livez(struct req *r);
void h_readyz(struct req *r);
void h_metrics(struct req *r);
void h_openapi(struct req *r);

/* h_session.c */
void h_session_create(struct req *r);
void h_session_delete(struct req *r);
void h_me(struct req *r);

/* h_registry.c */
void h_org_units_create(struct req *r);
void h_org_units_list(struct req *r);
void h_org_units_get(struct req *r);
void h_org_units_update(struct req *r);
void h_teams_create(struct req *r);
void h_teams_list(struct req *r);
void h_teams_get(struct req *r);
void h_teams_update(struct req *r);
void h_team_members_add(struct req *r);
void h_team_members_remove(struct req *r);

/* h_volunteers.c */
void h_volunteers_create(struct req *r);
void h_volunteers_list(struct req *r);
void h_volunteers_get(struct req *r);
void h_volunteers_update(struct req *r);

/* h_accounts.c */
void h_accounts_create(struct req *r);
void h_roles_grant(struct req *r);
void h_roles_revoke(struct req *r);
void h_audit_list(struct req *r);

/* h_activities.c */
void h_activities_create(struct req *r);
void h_activities_get(struct req *r);
void h_activity_events(struct req *r);
void h_events_list(struct req *r);
void h_events_get(struct req *r);
void h_events_update(struct req *r);
void h_signups_create(struct req *r);
void h_signups_cancel(struct req *r);

/* h_attendance.c */
void h_checkin(struct req *r);
void h_checkout(struct req *r);
void h_event_attendance(struct req *r);
void h_attendance_correct(struct req *r);
void h_hours_report(struct req *r);
void h_hours_approve_bulk(struct req *r);
void h_hours_approve(struct req *r);
void h_hours_reject(struct req *r);
void h_volunteer_hours(struct req *r);

#endif
