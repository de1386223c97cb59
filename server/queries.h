/*
 * queries.h: every SQL statement the program sends, by name.  No SQL text lives
 * anywhere else (migrations aside, in sql/).
 */
#ifndef VD_QUERIES_H
#define VD_QUERIES_H

extern const char Q_MIGRATIONS_CREATE[];
extern const char Q_MIGRATIONS_APPLIED[];
extern const char Q_MIGRATIONS_RECORD[];
extern const char Q_SCHEMA_VERSION[];
extern const char Q_AUTO_CHECKOUT[];
extern const char Q_ROLLUPS_COMPACT[];
extern const char Q_RETENTION_PURGE[];
extern const char Q_SETTINGS_TZ[];
extern const char Q_DURABILITY_OFF[];
extern const char Q_ROLE_BROAD[];
extern const char Q_APP_ROLE_GRANT[];
extern const char Q_PARTITIONS_ENSURE[];
extern const char Q_ADMIN_EXISTS[];
extern const char Q_ADMIN_CREATE[];
extern const char Q_SESSION_RESOLVE[];
extern const char Q_LOGIN_SUCCEED_TOTP[];
extern const char Q_TOTP_STATE[];
extern const char Q_SESSION_REAUTH[];
extern const char Q_SESSION_DELETE[];
extern const char Q_LOGIN_LOOKUP[];
extern const char Q_LOGIN_SUCCEED[];
extern const char Q_LOGIN_FAIL[];
extern const char Q_PASSWORD_REHASH[];
extern const char Q_LOGIN_FAIL_ACCOUNT[];
extern const char Q_PASSWORD_LOOKUP[];
extern const char Q_PASSWORD_CHANGE[];
extern const char Q_ME_ERASE[];
extern const char Q_SESSIONS_JSON[];
extern const char Q_SESSIONS_END_OTHERS[];
extern const char Q_API_CALL[];
extern const char Q_API_CALL_BATCH[];
extern const char Q_SESSION_RESOLVE_MANY[];
extern const char Q_SESSIONS_LISTEN[];
extern const char Q_ID_NUMBER_PREPARE[];
extern const char Q_REKEY_PENDING[];
extern const char Q_REKEY_WRITE[];
extern const char Q_REKEY_AUDIT[];
extern const char Q_REKEY_LEFT[];

/* The request field a constraint protects (e.g. "phone" for volunteers_phone_key), or
 * NULL when the constraint is not about one field. */
const char *queries_constraint_field(const char *constraint);

#endif
