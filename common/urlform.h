/*
 * urlform.h: strict intake of application/x-www-form-urlencoded text, a form's body or a
 * URL's query (R29).
 *
 * libevent's parser decodes such text leniently: a field given twice is kept twice (and the
 * server's look-ups see only the first), a %00 cuts the value short where C reads it, a bad
 * %-escape passes through as it is, and the bytes need not be UTF-8.  urlform_check refuses
 * each of those before the text is parsed, naming the field, so that what a handler reads is
 * exactly what the client sent.  No globals; it allocates only for the check.
 */
#ifndef VD_URLFORM_H
#define VD_URLFORM_H

#include <stddef.h>

struct urlform_refusal {
	char field[64]; /* the field's decoded name, cut to fit; "" when the name is the fault */
	const char *why;
};

/* 0 when every name and value of TEXT (LEN bytes; '&' between pairs, '+' a space) decodes to
 * valid UTF-8 without a NUL, every '%' begins a %XX escape, and no name appears twice except
 * those listed in REPEATABLE (NULL-terminated, or NULL: none), such as a list of checkboxes.
 * Otherwise -1 and *OUT says which field and why; -2 when out of memory. */
int urlform_check(const char *text, size_t len, const char *const *repeatable,
                  struct urlform_refusal *out);

#endif
