/*
 * handlers.h: every route handler.  A handler either replies at once (reply.h) or starts
 * one database job whose done callback replies; it never calls libpq.
 */
#ifndef VD_HANDLERS_H
#define VD_HANDLERS_H

#include <stdint.h>

#include "totp.h"

struct req;
struct err;
struct db_result;
typedef struct cJSON cJSON;

/* h_health.c */
void h_livez(struct req *r);
void h_readyz(struct req *r);
void h_metrics(struct req *r);
void h_openapi(struct req *r);

/* h_session.c */
/* The log-in flow of POST /session, shared with the pages: throttle, Argon2id on the hashing
 * pool, a new session.  On success ok(r, token, account_json) runs (both borrowed for the
 * call) and must reply or continue; every failure is replied with reply_error (a page sees
 * it through r->api_then).  Returns 0 with *state set to the flow's state (no callback has
 * run yet; the caller owns it, hangs it on r->hstate or its own state, and frees it with
 * session_login_free when the request ends), or -1 after replying.  The password is copied
 * and wiped as soon as it is verified.  totp: the code typed (NULL or "" when none), needed
 * when the account has two-step verification on (else 401 totp-required naming `totp`). */
struct session_login;
typedef void (*session_login_fn)(struct req *r, const char *token, const char *account_json);
int session_login(struct req *r, const char *login, const char *password, const char *totp,
                  session_login_fn ok, struct session_login **state);
void session_login_free(struct session_login *s);
/* 429 with Retry-After: the log-in throttle holds this login or address for retry_after s. */
void login_throttled(struct req *r, long long retry_after);
/* DELETE /session's flow: end the caller's session (everywhere, caches included) and clear
 * the cookie; then 204, or r->api_then(r, NULL, ok) for a page. */
void session_logout(struct req *r);
void h_session_create(struct req *r);
void h_session_delete(struct req *r);
void h_me(struct req *r);
void h_session_reauth(struct req *r);

/* h_password.c */
/* POST /me/password's flow, shared with the /me page: check the new password, verify the
 * current one (a wrong one counts as a failed log-in), store the new hash and end the
 * account's other sessions; replies {"sessions_ended": n} or an error, through r->api_then
 * for a page.  Returns -1 after replying at once, 0 when the flow is under way.  Both strings
 * are copied (and wiped once hashed). */
int password_change_start(struct req *r, const char *current, const char *fresh);
/* POST /me/erase's flow, shared with the /me page: verify the password (a wrong one counts as
 * a failed log-in), then erase the caller's personal data and end every session of the
 * account; replies {"volunteer_no", "erased": true} with the cookie cleared, or an error,
 * through r->api_then for a page.  -1 after replying at once, 0 when under way. */
int me_erase_start(struct req *r, const char *current);
/* Verify the caller's password (a wrong one counts as a failed log-in and is a 422 naming
 * field), then ok(r, arg) runs and must reply or continue.  arg is the caller's, freed with
 * arg_free (may be NULL) when the request ends, also when this returns -1 after replying; 0
 * when under way.  The password is copied and wiped once verified. */
typedef void (*password_ok_fn)(struct req *r, void *arg);
int password_check_start(struct req *r, const char *password, const char *field, password_ok_fn ok,
                         void *arg, void (*arg_free)(void *));
/* DELETE /me/sessions' flow: every session of the caller's account but this one ends;
 * replies {"sessions_ended": n}, through r->api_then for a page. */
void sessions_end_others(struct req *r);
void h_password_change(struct req *r);
void h_sessions_list(struct req *r);
void h_sessions_end_others(struct req *r);
void h_me_data(struct req *r);
void h_me_erase(struct req *r);

/* h_certificates.c */
/* The path of the page that checks a certificate, /certificates/{number}?c={code}, into out;
 * -1 when it does not fit. */
int certificate_path(const char *number, const char *code, char *out, size_t n);
/* The same as a link: after public_url, or the scheme and Host of r; -1 when it does not fit. */
int certificate_url(struct req *r, const char *number, const char *code, char *out, size_t n);
/* POST /me/certificates with a parsed body (taken), shared with the /me/certificates page:
 * replies the new certificate with its url, or through r->api_then. */
void certificates_create_body(struct req *r, cJSON *body);
void h_me_certificates_create(struct req *r);
void h_me_certificates_list(struct req *r);
void h_volunteer_certificates_create(struct req *r);
void h_certificates_revoke(struct req *r);

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
/* The version of the notice that a volunteer registering with an ID number agrees to (the
 * pages' MSG_ID_CONSENT and MSG_ID_CONSENT_NOTICE, and consent_id_number in openapi.json):
 * raise it when their words change.  sql/0027_consent.sql keeps it with the consent. */
#define VOLUNTEERS_ID_CONSENT_NOTICE "1"
/* The checks of a self-registration's POST /volunteers body, without side effects: 0, or -1
 * with e naming the first field at fault and, for a 422, every other one in e->more. */
int volunteers_check(const cJSON *body, struct err *e);
/* Free such a body (taken), wiping its ID number and password first. */
void volunteers_discard_body(cJSON *body);
/* POST /volunteers with an already-parsed body (taken): the same checks, ID-number
 * protection, password hashing and api.volunteer_create; replies like the API, or through
 * r->api_then. */
void volunteers_create_body(struct req *r, cJSON *body);
void h_volunteers_create(struct req *r);
void h_volunteers_list(struct req *r);
void h_volunteers_get(struct req *r);
void h_volunteers_update(struct req *r);
void h_volunteers_erase(struct req *r);

/* h_accounts.c */
void h_accounts_create(struct req *r);
void h_roles_grant(struct req *r);
void h_roles_revoke(struct req *r);
void h_audit_list(struct req *r);

/* h_totp.c: two-step verification (R19) */
/* Q_TOTP_STATE's answer about one account, the secret opened. */
struct totp_state {
	int exists, confirmed;
	long long last_step;
	uint8_t secret[TOTP_SECRET_LEN];
};
/* Read Q_TOTP_STATE's answer (res, or the error e) for account into st: 0, or -1 after
 * replying e, or 503 when the sealed secret does not open (made under another secret file). */
int totp_state_read(struct req *r, const struct db_result *res, const struct err *e,
                    long long account, struct totp_state *st);
/* The step code matches now (later than st's last step), else -1; wipes st's secret. */
long long totp_state_verify(struct totp_state *st, const char *code);
void totp_state_wipe(struct totp_state *st);
/* POST /me/totp's flow, shared with the /me page: a new secret, sealed and stored unconfirmed;
 * replies 201 {"secret", "otpauth_uri", "qr_svg", "confirmed"} (not cached), or hands that
 * to r->api_then.  -1 after replying at once. */
int totp_enroll_start(struct req *r);
/* POST /me/totp/confirm's flow, shared with the /me page: check code against the caller's
 * unconfirmed enrollment; on success it is on and this session counts as made with a second
 * factor.  Replies (or r->api_then); -1 after replying at once.  code is copied. */
int totp_confirm_start(struct req *r, const char *code);
/* DELETE /me/totp's flow, shared with the /me page: the password, then the code; 204 (or
 * r->api_then).  -1 after replying at once.  Both strings are copied. */
int totp_disable_start(struct req *r, const char *current_password, const char *code);
void h_totp_enroll(struct req *r);
void h_totp_confirm(struct req *r);
void h_totp_disable(struct req *r);
void h_account_totp_clear(struct req *r);

/* h_activities.c */
/* POST /activities with an already-parsed body (taken): the same checks and
 * api.activity_create; replies like the API, or through r->api_then. */
void activities_create_body(struct req *r, cJSON *body);
/* PATCH /activities/{id} for activity id with an already-parsed body (taken): the same checks
 * and api.activity_update; replies like the API, or through r->api_then. */
void activities_update_body(struct req *r, long long id, cJSON *body);
/* Replace an event's `_checkin` marker (from the database, for staff in scope) with its
 * current checkin_code and checkin_url; 0 (also when there is no marker) or -1 (no memory). */
int activities_add_checkin(struct req *r, cJSON *ev);
void h_activities_create(struct req *r);
void h_activities_get(struct req *r);
void h_activities_update(struct req *r);
void h_activity_events(struct req *r);
void h_events_list(struct req *r);
void h_events_get(struct req *r);
void h_events_update(struct req *r);
void h_signups_create(struct req *r);
void h_signups_cancel(struct req *r);

/* h_attendance.c */
/* The body of POST /events/{id}/check-ins or check-outs ({volunteer_id?, code?}, taken),
 * checked and sent to api.<fn> ("checkin" or "checkout") exactly as the API does; the code's
 * genuineness is decided here with the check-in key.  vouched = 1 only when the caller (a
 * page) holds its own signed proof that this code was genuine when the volunteer opened the
 * page (see server/pages/page.h).  at = 0: the check-in or check-out happens now; else the
 * unix time of a tap queued offline, which the caller has checked lies between its proof and
 * now (the database re-checks every rule at that time).  A check-in with a code is refused
 * with 429 while the account has sent VOLUNTEERD_CODE_TRIES wrong codes within
 * VOLUNTEERD_CODE_WINDOW (counted for the whole server); a check-out's code is dropped
 * unchecked (it needs none).  Replies like the API, or through r->api_then. */
void attendance_submit(struct req *r, long long event_id, const char *fn, int status, cJSON *body,
                       int vouched, long long at);
void h_checkin(struct req *r);
void h_checkout(struct req *r);
void h_event_attendance(struct req *r);
void h_attendance_correct(struct req *r);
void h_hours_report(struct req *r);
void h_hours_approve_bulk(struct req *r);
void h_hours_approve(struct req *r);
void h_hours_reject(struct req *r);
void h_volunteer_hours(struct req *r);

/* h_reports.c */
void h_reports_monthly(struct req *r);
void h_reports_volunteers(struct req *r);
void h_reports_party_members(struct req *r);
void h_reports_close(struct req *r);

/* h_corrections.c */
/* POST /correction-requests with an already-parsed body {entry_id?, event_id?, message}
 * (taken); replies like the API, or through r->api_then. */
void corrections_create_body(struct req *r, cJSON *body);
void h_correction_requests_create(struct req *r);
void h_correction_requests_list(struct req *r);
void h_correction_requests_resolve(struct req *r);
/* p_console.c: /console/entries/{id}, one entry for a coordinator (reject it, correct its
 * attendance's times, resolve the requests about it) */
void h_page_entry(struct req *r);
void h_page_entry_post(struct req *r);

/* h_policies.c */
void h_hour_policies_list(struct req *r);
void h_hour_policies_create(struct req *r);
void h_hour_policies_get(struct req *r);
void h_hour_policies_update(struct req *r);

/* pages (server/pages/; the infrastructure is described in server/pages/page.h) */
void h_page_root(struct req *r);
void h_page_static(struct req *r);
void h_page_checkin(struct req *r);
void h_page_checkin_post(struct req *r);
void h_page_register(struct req *r);
void h_page_register_post(struct req *r);
void h_page_me(struct req *r);
void h_page_me_post(struct req *r);
/* staff pages: p_console.c, p_admin.c */
void h_page_console(struct req *r);
void h_page_console_post(struct req *r);
void h_page_roster(struct req *r);
void h_page_roster_post(struct req *r);
void h_page_activity(struct req *r);
void h_page_activity_post(struct req *r);
void h_page_poster(struct req *r);
void h_page_my_certificates(struct req *r);
void h_page_my_certificates_post(struct req *r);
void h_page_certificate(struct req *r);
void h_page_admin(struct req *r);

#endif
