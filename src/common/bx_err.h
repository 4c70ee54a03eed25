/* bx_err: the one way brix writes a message into a caller's fixed buffer.
 * Most fallible functions take (char *err, size_t errlen) and return a
 * negative code with a message in err; bx_errf writes that message
 * (printf-style, cut to errlen, always NUL-terminated) so that no module
 * carries its own copy of the same few lines. bx_catf appends one more
 * message to a buffer that lists them (an object's notes, a decision's
 * reasons).
 *
 * err may be NULL or errlen 0: nothing is written. */
#ifndef BX_ERR_H
#define BX_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* Writes the message; returns -1, for `return bx_errf(err, errlen, ...)`. */
int bx_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Appends sep (unless buf is empty) and the message to the NUL-terminated
 * buf of size bytes, cut to fit. Nothing is appended when there is no room
 * for sep and one byte of message. */
void bx_catf(char *buf, size_t size, const char *sep, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void bx_vcatf(char *buf, size_t size, const char *sep, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif
