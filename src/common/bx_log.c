/* bx_log: see bx_log.h. One line per message, written with a single fputs so
 * lines from one process never interleave mid-line. */
#include "common/bx_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static struct {
    char tag[32];
    enum bx_log_level level;
} bx_log_state = {"brix", BX_LOG_INFO};

void bx_log_init(const char *tag, enum bx_log_level level)
{
    snprintf(bx_log_state.tag, sizeof(bx_log_state.tag), "%s", tag ? tag : "brix");
    bx_log_state.level = level;
}

int bx_log_parse_level(const char *name, enum bx_log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            *out = (enum bx_log_level)i;
            return 0;
        }
    }
    return -1;
}

enum bx_log_level bx_log_get_level(void)
{
    return bx_log_state.level;
}

void bx_log_write(enum bx_log_level level, const char *fmt, ...)
{
    static const char *lv[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};
    if (level < bx_log_state.level) return;
    char line[2048];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), lv[level], bx_log_state.tag);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line)) vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strnlen(line, sizeof(line) - 2);
    line[len] = '\n';
    line[len + 1] = '\0';
    fputs(line, stderr);
}
