/*
 * lang.h: the two catalogues of msg.h and the choice between them.
 */
#ifndef VD_PAGES_LANG_H
#define VD_PAGES_LANG_H

#include "msg.h"

extern const char *const lang_zh[MSG_COUNT];
extern const char *const lang_en[MSG_COUNT];

#endif
