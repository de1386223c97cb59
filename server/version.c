/* version.c: compiled with -DVD_VERSION by the Makefile. */
#include "version.h"

#ifndef VD_VERSION
#define VD_VERSION "unknown"
#endif

const char *version_string(void)
{
	return VD_VERSION;
}
