/* bx_log: leveled logging to stderr for every brix program.
 * Owns one module struct (level and program tag); messages are single lines
 * prefixed with an ISO time, the level and the tag, so logs of several
 * processes interleave readably. */
#ifndef BX_LOG_H
#define BX_LOG_H

enum bx_log_level { BX_LOG_DEBUG = 0, BX_LOG_INFO, BX_LOG_WARN, BX_LOG_ERROR, BX_LOG_OFF };

void bx_log_init(const char *tag, enum bx_log_level level);
/* Parses "debug|info|warn|error|off"; returns -1 on an unknown name. */
int bx_log_parse_level(const char *name, enum bx_log_level *out);
enum bx_log_level bx_log_get_level(void);
void bx_log_write(enum bx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define bx_debug(...)                                                                              \
    do {                                                                                           \
        if (bx_log_get_level() <= BX_LOG_DEBUG) bx_log_write(BX_LOG_DEBUG, __VA_ARGS__);           \
    } while (0)
#define bx_info(...) bx_log_write(BX_LOG_INFO, __VA_ARGS__)
#define bx_warn(...) bx_log_write(BX_LOG_WARN, __VA_ARGS__)
#define bx_error(...) bx_log_write(BX_LOG_ERROR, __VA_ARGS__)

#endif
