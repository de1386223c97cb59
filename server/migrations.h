/*
 * migrations.h: the SQL migrations compiled into the binary (build/sql_embed.c, generated
 * from sql/NNNN_name.sql by scripts/embed-sql.sh).
 */
#ifndef VD_MIGRATIONS_H
#define VD_MIGRATIONS_H

struct migration {
	int version; /* NNNN; 0 ends the table */
	const char *name;
	const char *sql;
};

extern const struct migration migrations_embedded[];

#endif
