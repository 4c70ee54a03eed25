/* bx_log: leveled logging to stderr for every brix program.
 * Owns one module struct (level and program tag); messages are single lines
 * prefixed with an ISO time, the level and the tag, so logs of several
 * processes interleave readably. A message stays one line whatever its
 * arguments hold: control bytes left in it are written as \xNN. Strings
 * from outside (clients, engines, files) go through bx_log_escape first,
 * which also makes quotes, backslashes and high bytes unambiguous. */
#ifndef BX_LOG_H
#define BX_LOG_H

#include <stddef.h>

enum bx_log_level { BX_LOG_DEBUG = 0, BX_LOG_INFO, BX_LOG_WARN, BX_LOG_ERROR, BX_LOG_OFF };

void bx_log_init(const char *tag, enum bx_log_level level);
/* Parses "debug|info|warn|error|off"; returns -1 on an unknown name. */
int bx_log_parse_level(const char *name, enum bx_log_level *out);
enum bx_log_level bx_log_get_level(void);
void bx_log_write(enum bx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Escapes the len bytes at src (len BX_LOG_CSTR: up to its NUL; src NULL:
 * "-") into dst, NUL-terminated, for a log line: \n \r \t, other control
 * bytes, DEL and every byte >= 0x80 (so invalid UTF-8 and terminal escapes
 * alike) as \xNN, a quote as \" and a backslash as two, the rest as is.
 * What does not fit in cap - 1 bytes is cut at a whole escape and ends in
 * "...".
 * Returns dst (cap 0: a static ""), so the call can be a printf argument:
 *   char m[BX_LOG_ESC_MAX];
 *   bx_warn("bad user '%s'", bx_log_escape(m, sizeof(m), user, BX_LOG_CSTR)); */
#define BX_LOG_CSTR ((size_t)-1)
#define BX_LOG_ESC_MAX 256 /* a fitting dst size for a name in a message */
const char *bx_log_escape(char *dst, size_t cap, const char *src, size_t len);
/* bx_log_escape's work, writing at most cap bytes (no NUL); returns the
 * count written. For building lines in a buffer of one's own. */
size_t bx_log_escape_into(char *dst, size_t cap, const char *src, size_t len);

#define bx_debug(...)                                                                              \
    do {                                                                                           \
        if (bx_log_get_level() <= BX_LOG_DEBUG) bx_log_write(BX_LOG_DEBUG, __VA_ARGS__);           \
    } while (0)
#define bx_info(...) bx_log_write(BX_LOG_INFO, __VA_ARGS__)
#define bx_warn(...) bx_log_write(BX_LOG_WARN, __VA_ARGS__)
#define bx_error(...) bx_log_write(BX_LOG_ERROR, __VA_ARGS__)

#endif
