/*
 * weak_password.c: the checks of weak_password.h.  The operator's list is a sorted array of
 * lower-cased lines searched by bsearch; it is read once at start-up and never changes.
 */
#include "weak_password.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "validate.h"

/* Among the most used passwords of ten characters or more in published leaks, Chinese sites'
 * included (5201314 sounds like "I love you for ever"; 1472583690 and the like are walks on a
 * keypad or a keyboard), in lower case. */
static const char *const best_known[] = {
        "0000000000",    "0123456789",   "0987654321",    "1111111111",   "1122334455",
        "1231231234",    "1234512345",   "1234554321",    "1234567890",   "12345678910",
        "1234567890a",   "123456789a",   "123qweasdzxc",  "1314520520",   "1357924680",
        "1472583690",    "147258369a",   "1597534560",    "1q2w3e4r5t",   "1q2w3e4r5t6y",
        "1qaz2wsx3edc",  "1qazxsw23edc", "5201314520",    "5201314521",   "5211314521",
        "7894561230",    "9876543210",   "a123456789",    "a1234567890",  "a1b2c3d4e5",
        "aa123456789",   "abc1234567",   "abcd123456",    "abcd1234567",  "abcdefghij",
        "administrator", "iloveyou12",   "iloveyou123",   "passw0rd12",   "passw0rd123",
        "password01",    "password12",   "password123",   "password1234", "password12345",
        "password2024",  "password2025", "password2026",  "q1w2e3r4t5",   "q1w2e3r4t5y6",
        "qazwsxedc123",  "qq123456789",  "qwe123qwe123",  "qweasdzxc123", "qwer123456",
        "qwerty1234",    "qwerty12345",  "qwerty123456",  "qwertyuiop",   "qwertyuiop123",
        "woaini1314",    "woaini13145",  "woaini5201314", "zaq12wsxcde3", "zxcvbnm123",
        "zxcvbnm1234",   "zhiyuan123",   "zhiyuanzhe",
};

static char **listed; /* the operator's list, sorted */
static long listed_len;

static int compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ascii_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

int weak_password_load(const char *path, struct err *e)
{
	if (!path || !path[0])
		return 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return err_set(e, APP_EINVALID, "VOLUNTEERD_PASSWORD_DENYLIST",
		               "VOLUNTEERD_PASSWORD_DENYLIST: cannot read %s: %s", path,
		               strerror(errno));
	char line[PASSWORD_BUF + 2];
	long cap = 0;
	int rc = 0;
	while (fgets(line, sizeof line, f)) {
		if (!strchr(line, '\n') && !feof(f)) { /* longer than any password: skip it */
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (!password_acceptable(line))
			continue;
		ascii_lower(line);
		if (listed_len == cap) {
			long more = cap ? 2 * cap : 1024;
			char **grown = realloc(listed, (size_t)more * sizeof *grown);
			if (!grown) {
				rc = -1;
				break;
			}
			listed = grown, cap = more;
		}
		if (!(listed[listed_len] = strdup(line))) {
			rc = -1;
			break;
		}
		listed_len++;
	}
	fclose(f);
	if (rc < 0)
		return err_set(e, APP_EINVALID, "VOLUNTEERD_PASSWORD_DENYLIST",
		               "VOLUNTEERD_PASSWORD_DENYLIST: out of memory reading %s", path);
	qsort(listed, (size_t)listed_len, sizeof *listed, compare);
	return 0;
}

long weak_password_listed(void)
{
	return listed_len;
}

static int best_known_password(const char *lower)
{
	for (size_t i = 0; i < sizeof best_known / sizeof best_known[0]; i++)
		if (!strcmp(lower, best_known[i]))
			return 1;
	return listed_len > 0 &&
	       bsearch(&lower, listed, (size_t)listed_len, sizeof *listed, compare) != NULL;
}

/* The login, in any ASCII case, with fewer than six characters (code points) around it. */
static int built_on_login(const char *lower, const char *login)
{
	size_t m = login ? strlen(login) : 0;
	if (m < 4 || m > PASSWORD_MAX_CHARS)
		return 0;
	char l[PASSWORD_MAX_CHARS + 1];
	memcpy(l, login, m + 1);
	ascii_lower(l);
	return strstr(lower, l) && utf8_chars(lower) < utf8_chars(l) + 6;
}

const char *password_weakness(const char *pw, const char *login)
{
	char lower[PASSWORD_BUF];
	if (!pw || strlen(pw) >= sizeof lower)
		return NULL; /* the length limit's to refuse */
	memcpy(lower, pw, strlen(pw) + 1);
	ascii_lower(lower);
	if (built_on_login(lower, login))
		return "is too easy to guess: the login or phone number with little added";
	if (best_known_password(lower))
		return "is too easy to guess: one of the best-known leaked passwords";
	return NULL;
}

int password_check_new(const char *pw, const char *login, const char *field, struct err *e)
{
	if (!password_acceptable(pw))
		return err_set(e, APP_EINVALID, field, "must be 10-128 characters");
	const char *weak = password_weakness(pw, login);
	if (weak)
		return err_set(e, APP_EINVALID, field, "%s", weak);
	err_clear(e);
	return 0;
}
