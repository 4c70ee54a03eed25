/* bx_err: see bx_err.h. */
#include "common/bx_err.h"

#include <stdio.h>
#include <string.h>

int bx_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void bx_vcatf(char *buf, size_t size, const char *sep, const char *fmt, va_list ap)
{
    if (!buf || size == 0) return;
    size_t used = strlen(buf), sl = strlen(sep);
    if (used + sl + 1 >= size) return;
    if (used) {
        memcpy(buf + used, sep, sl + 1);
        used += sl;
    }
    vsnprintf(buf + used, size - used, fmt, ap);
}

void bx_catf(char *buf, size_t size, const char *sep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bx_vcatf(buf, size, sep, fmt, ap);
    va_end(ap);
}
