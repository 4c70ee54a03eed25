/* bx_err: the one way brix writes an error message into a caller's buffer.
 * Most fallible functions take (char *err, size_t errlen) and return a
 * negative code with a message in err; bx_errf writes that message
 * (printf-style, cut to errlen, always NUL-terminated) so that no module
 * carries its own copy of the same few lines.
 *
 * err may be NULL or errlen 0: nothing is written. The return value is -1,
 * for `return bx_errf(err, errlen, "...")`. */
#ifndef BX_ERR_H
#define BX_ERR_H

#include <stddef.h>

int bx_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
