/*
 * msg.h: the ids of every string the pages show.  The text lives in one catalogue per
 * language, lang_zh.c (the default) and lang_en.c, each an array indexed by these ids; a
 * missing entry in either is a build error (see the _Static_assert there) or, for a hole,
 * caught by tests/integration/test_pages.py, which compares the two files' keys.
 */
#ifndef VD_PAGES_MSG_H
#define VD_PAGES_MSG_H

enum msg {
	MSG_LANG_TAG,    /* the value of <html lang> */
	MSG_SITE,        /* the site's name in the header */
	MSG_SKIP,        /* skip link */
	MSG_SWITCH_LANG, /* the link to the other language */
	MSG_NAV_ME,
	MSG_NAV_REGISTER,
	MSG_LOGOUT,
	MSG_ACCOUNT,
	MSG_CURRENT_PASSWORD,
	MSG_NEW_PASSWORD,
	MSG_NEW_PASSWORD_HINT,
	MSG_CHANGE_PASSWORD,
	MSG_LOGOUT_OTHERS,
	MSG_MY_DATA,
	MSG_ERASE,          /* the section: close the account and erase the personal data */
	MSG_ERASE_HINT,     /* what goes and what stays */
	MSG_ERASE_PASSWORD, /* the password field of that form */
	MSG_ERASE_CONFIRM,  /* the checkbox */
	MSG_ERASE_BUTTON,
	MSG_CHECKIN_TITLE,
	MSG_CHECKIN, /* the big button */
	MSG_CHECKOUT,
	MSG_LOGIN_CHECKIN, /* log in and check in */
	MSG_PLACE,
	MSG_TIME,
	MSG_PHONE,
	MSG_PHONE_HINT,
	MSG_PASSWORD,
	MSG_PASSWORD_HINT,
	MSG_CODE, /* the 6-digit code field */
	MSG_CODE_HINT,
	MSG_CHECKED_IN_AT, /* followed by a time */
	MSG_CHECKED_OUT_AT,
	MSG_CREDITED, /* followed by hours */
	MSG_HOURS_UNIT,
	MSG_STATUS_PENDING,
	MSG_STATUS_APPROVED,
	MSG_STATUS_REJECTED,
	MSG_STATUS_VOID,
	MSG_EVENT_ENDED,
	MSG_EVENT_CANCELLED,
	MSG_NO_VOLUNTEER,
	MSG_NO_ACCOUNT, /* "no account?" before the register link */
	MSG_SEE_MY_HOURS,
	MSG_QUEUED,       /* JS: saved offline */
	MSG_SENT,         /* JS: the queue was sent */
	MSG_OFFLINE_TIME, /* JS/UI: a queued tap keeps its time */
	MSG_NOT_SIGNED_UP,
	MSG_LOGIN_TITLE,
	MSG_LOGIN,
	MSG_REGISTER_TITLE,
	MSG_REGISTER,
	MSG_NAME,
	MSG_UNIT,
	MSG_UNIT_CHOOSE,
	MSG_WORK_UNIT,
	MSG_PARTY_MEMBER,
	MSG_OPTIONAL,
	MSG_HAVE_ACCOUNT,
	MSG_ME_TITLE,
	MSG_HELLO,
	MSG_VOLUNTEER_NO,
	MSG_THIS_MONTH,
	MSG_THIS_YEAR,
	MSG_APPROVED_HOURS,
	MSG_PENDING_HOURS,
	MSG_STARS,
	MSG_MY_ENTRIES,
	MSG_NO_ENTRIES,
	MSG_DATE,
	MSG_ACTIVITY,
	MSG_HOURS,
	MSG_STATUS,
	MSG_REPORT_ERROR,
	MSG_ENTRY,
	MSG_REPORT_WHAT,
	MSG_REPORT_SEND,
	MSG_REQUESTED,
	MSG_MY_REQUESTS,
	MSG_REQ_OPEN,
	MSG_REQ_RESOLVED,
	MSG_REQ_REJECTED,
	MSG_UPCOMING,
	MSG_NO_UPCOMING,
	MSG_SIGN_UP,
	MSG_CANCEL_SIGNUP,
	MSG_SIGNED_UP,
	MSG_WAITLISTED,
	MSG_PLACES,
	MSG_DONE_SIGNUP,
	MSG_DONE_CANCEL,
	MSG_DONE_REQUEST,
	MSG_DONE_PASSWORD,
	MSG_DONE_OTHERS,
	MSG_DONE_ERASED, /* followed by the volunteer number */
	MSG_DONE_CHECKIN,
	MSG_DONE_CHECKOUT,
	MSG_ERR_TITLE,
	MSG_ERR_FORM,  /* the form expired or was not ours */
	MSG_ERR_LOGIN, /* wrong phone or password */
	MSG_ERR_AUTH,  /* log in first */
	MSG_ERR_THROTTLED,
	MSG_ERR_UNAVAILABLE,
	MSG_ERR_NOT_FOUND,
	MSG_ERR_BAD_CODE,
	MSG_ERR_CODE_REQUIRED,
	MSG_ERR_ALREADY_IN,
	MSG_ERR_ALREADY_IN_OTHER,
	MSG_ERR_NOT_IN,
	MSG_ERR_WINDOW_CLOSED,
	MSG_ERR_WINDOW_NOT_OPEN,
	MSG_ERR_CANCELLED,
	MSG_ERR_NO_WALKIN,
	MSG_ERR_WALKIN_UNKNOWN,
	MSG_ERR_FULL,
	MSG_ERR_PHONE,
	MSG_ERR_PHONE_TAKEN,
	MSG_ERR_PASSWORD,
	MSG_ERR_PASSWORD_WEAK, /* a best-known leaked password, or the login with little added */
	MSG_ERR_WRONG_PASSWORD,
	MSG_ERR_SAME_PASSWORD,
	MSG_ERR_PASSWORD_RACE,
	MSG_ERR_REQUIRED,
	MSG_ERR_UNIT,
	MSG_ERR_TOO_LONG,
	MSG_ERR_FORBIDDEN,
	MSG_ERR_CONFLICT,
	MSG_ERR_INVALID,
	MSG_ERR_ENDED,
	MSG_ERR_REQUEST_OPEN,
	/* staff pages (p_console.c, p_admin.c) */
	MSG_CONSOLE_TITLE,
	MSG_NAV_CONSOLE,
	MSG_NAV_ADMIN,
	MSG_EVENTS_TITLE,
	MSG_NO_EVENTS,
	MSG_TODAY,
	MSG_ROSTER,
	MSG_POSTER,
	MSG_ROSTER_TITLE,
	MSG_ST_SIGNED_UP,
	MSG_ST_ON_POST,
	MSG_ST_DONE,
	MSG_ST_MISSING,
	MSG_VOLUNTEER,
	MSG_ACTIONS,
	MSG_ROSTER_IN,
	MSG_ROSTER_OUT,
	MSG_DONE_ROSTER_IN,
	MSG_DONE_ROSTER_OUT,
	MSG_NO_ROSTER,
	MSG_NO_ROSTER_HERE, /* a filtered or later page of the roster that is empty */
	MSG_ROSTER_ALL,
	MSG_ROSTER_FIRST,
	MSG_ROSTER_NEXT,
	MSG_WALKIN,
	MSG_WALKIN_WHO,
	MSG_WALKIN_HINT,
	MSG_PENDING_TITLE,
	MSG_NO_PENDING,
	MSG_PENDING_MORE,
	MSG_SELECT_ALL,
	MSG_APPROVE_SELECTED,
	MSG_DONE_APPROVED,
	MSG_APPROVE_FAILED,
	MSG_NONE_SELECTED,
	MSG_NEW_ACTIVITY,
	MSG_TEAM,
	MSG_CATEGORY,
	MSG_CAPACITY,
	MSG_WEEKDAYS,
	MSG_DAY_MO,
	MSG_DAY_TU,
	MSG_DAY_WE,
	MSG_DAY_TH,
	MSG_DAY_FR,
	MSG_DAY_SA,
	MSG_DAY_SU,
	MSG_FROM_DATE,
	MSG_UNTIL_DATE,
	MSG_START_TIME,
	MSG_END_TIME,
	MSG_CREATE,
	MSG_DONE_CREATED,
	MSG_NO_TEAMS,
	MSG_BACK_CONSOLE,
	MSG_PRINT,
	MSG_POSTER_SCAN,
	MSG_POSTER_CODE,
	MSG_POSTER_REFRESH,
	MSG_QR_LABEL,
	MSG_ADMIN_TITLE,
	MSG_MONTH,
	MSG_BY,
	MSG_BY_AREA,
	MSG_BY_TEAM,
	MSG_SHOW,
	MSG_COL_UNIT,
	MSG_COL_VOLUNTEERS,
	MSG_COL_EVENTS,
	MSG_COL_NEW,
	MSG_TOTAL,
	MSG_NO_ROWS,
	MSG_CHART_UNITS,
	MSG_CHART_TREND,
	MSG_DOWNLOAD_CSV,
	MSG_DOWNLOAD_XLSX,
	MSG_MONTH_CLOSED,
	MSG_DRILL_UP,
	MSG_EVENTS_MORE,
	MSG_MY_TEAMS, /* the report of one's teams (grants on teams) */
	/* certificates (p_certificate.c) */
	MSG_MY_CERTS,
	MSG_CERTS_TITLE,
	MSG_CERTS_INTRO,
	MSG_CERT_FROM,
	MSG_CERT_TO,
	MSG_CERT_ISSUE,
	MSG_CERTS_ISSUED,
	MSG_CERTS_NONE,
	MSG_CERT_TITLE,
	MSG_CERT_PRINT,
	MSG_CERT_VALID,
	MSG_CERT_REVOKED,
	MSG_CERT_REVOKED_SHORT,
	MSG_CERT_REVOKE_REASON, /* followed by the reason */
	MSG_CERT_NUMBER,
	MSG_CERT_PART_VOLUNTEER,
	MSG_CERT_ID_NUMBER,
	MSG_CERT_PART_SERVICE,
	MSG_CERT_PERIOD,
	MSG_CERT_ALL_TIME,
	MSG_CERT_HOURS,
	MSG_CERT_ACTIVITY,
	MSG_CERT_TEAM,
	MSG_CERT_DAYS,
	MSG_CERT_SESSIONS,
	MSG_CERT_MORE,
	MSG_CERT_PART_ISSUER,
	MSG_CERT_ISSUER,
	MSG_CERT_HEAD,
	MSG_CERT_OFFICER,
	MSG_CERT_CONTACT,
	MSG_CERT_SEAL,
	MSG_CERT_PART_OTHER,
	MSG_CERT_ISSUED_ON,
	MSG_CERT_VERIFY,
	MSG_CERT_QR_LABEL,
	MSG_ERR_NO_HOURS,       /* no approved hours in the certificate's period */
	MSG_ERR_PERIOD,         /* the period ends before it starts */
	MSG_ERR_ERASE_STAFF,    /* closing an account that still holds staff roles */
	MSG_ERR_CODE_THROTTLED, /* too many wrong check-in codes: 429 until the window ends */
	MSG_POLICY,             /* the hour policy of a new activity (console) */
	MSG_POLICY_HINT,
	MSG_POLICY_GLOBAL,    /* a policy without an owner unit */
	MSG_POLICY_MANUAL,    /* its approval mode is manual */
	MSG_POLICY_STATIC,    /* its check-in code is fixed */
	MSG_POSTER_SCREEN,    /* a rotating code's poster: for a screen that stays on */
	MSG_POSTER_PRINTABLE, /* a fixed code's poster: may be printed */
	/* correction requests and one entry on the console (p_console.c, sql/0020) */
	MSG_REQS_TITLE, /* /console: the open correction requests */
	MSG_NO_REQS,
	MSG_REQS_MORE,
	MSG_REQ_ABOUT,
	MSG_RESOLVE,
	MSG_RESOLUTION,
	MSG_RES_CORRECTED,
	MSG_RES_DECLINED,
	MSG_NOTE,
	MSG_NOTE_HINT,
	MSG_SAVE,
	MSG_DONE_RESOLVED,
	MSG_ERR_NOTE,
	MSG_ERR_RESOLVED,
	MSG_DETAILS,     /* a link to /console/entries/{id} */
	MSG_ENTRY_TITLE, /* /console/entries/{id} */
	MSG_ENTRY_REASON,
	MSG_DECISION_REASON,
	MSG_REPLACED,
	MSG_AUTO_OUT,
	MSG_APPROVE,
	MSG_DONE_APPROVED_ONE,
	MSG_REJECT,
	MSG_REJECT_REASON,
	MSG_DONE_REJECTED,
	MSG_CORRECT_TIMES,
	MSG_CORRECT_HINT,
	MSG_FIX_IN_AT,
	MSG_FIX_OUT_AT,
	MSG_CORRECT_REASON,
	MSG_DONE_CORRECTED,
	MSG_ERR_NO_CHANGE,
	MSG_ERR_OUT_BEFORE_IN,
	MSG_ERR_FUTURE,
	MSG_ERR_DECIDED,
	MSG_REQ_NOTE, /* /me: before the note of a resolved request */
	/* The ID number's separate consent (p_register.c, p_me.c; sql/0027_consent.sql) */
	MSG_ID_NUMBER, /* /register: the optional field */
	MSG_ID_NUMBER_HINT,
	MSG_ID_CONSENT,        /* /register: the separate consent's checkbox, unticked by default */
	MSG_ID_CONSENT_NOTICE, /* what the number is for, that it is optional
	                          (VOLUNTEERS_ID_CONSENT_NOTICE) */
	MSG_ERR_ID_CONSENT,
	MSG_ERR_ID_NUMBER,
	MSG_ERR_ID_TAKEN,
	MSG_ERR_REGISTER_THROTTLED,
	MSG_MY_ID_NUMBER,     /* /me: the section on the ID number and its consent */
	MSG_ID_CONSENT_SELF,  /* followed by the time and the notice's version */
	MSG_ID_CONSENT_STAFF, /* followed by the time */
	MSG_ID_CONSENT_NONE,  /* a number stored before consents were recorded */
	MSG_ID_NOTICE_VERSION,
	MSG_ID_WITHDRAWN, /* followed by the time */
	MSG_ID_WITHDRAW,  /* the button */
	MSG_ID_WITHDRAW_HINT,
	MSG_DONE_ID_WITHDRAWN,
	/* two-step verification (R19): the /me section and the log-in forms' code field */
	MSG_TOTP,
	MSG_TOTP_ON,
	MSG_TOTP_OFF,
	MSG_TOTP_START,
	MSG_TOTP_SCAN,
	MSG_TOTP_SECRET,
	MSG_TOTP_CONFIRM,
	MSG_TOTP_CODE,
	MSG_TOTP_CODE_HINT,
	MSG_TOTP_OFF_BUTTON,
	MSG_TOTP_PASSWORD,
	MSG_ERR_TOTP_REQUIRED,
	MSG_ERR_TOTP,
	MSG_DONE_TOTP_ON,
	MSG_DONE_TOTP_OFF,
	/* /console/activities/{id} (p_console.c, sql/0031) */
	MSG_ACTIVITY_EDIT,        /* the page's title, and the roster's link to it */
	MSG_ACTIVITY_POLICY_HINT, /* what a new policy means for hours */
	MSG_DONE_ACTIVITY_SAVED,
	/* /me's "on duty" section: the open attendance and its check-out (sql/0036) */
	MSG_ON_DUTY,
	MSG_ON_DUTY_SINCE,    /* followed by the local check-in time */
	MSG_SERVED,           /* an upcoming event the volunteer has checked out of */
	MSG_DONE_CHECKED_OUT, /* followed by the credited hours and MSG_HOURS_UNIT */
	MSG_ERR_ALREADY_OUT,  /* a check-out of an attendance closed already (sql/0037) */
	MSG_COUNT
};

#endif
