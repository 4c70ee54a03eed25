/* bx_err: see bx_err.h. */
#include "common/bx_err.h"

#include <stdarg.h>
#include <stdio.h>

int bx_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}
