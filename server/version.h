/* version.h: the build's version string (git describe at build time). */
#ifndef VD_VERSION_H
#define VD_VERSION_H

const char *version_string(void);

#endif
