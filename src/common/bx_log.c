/* bx_log: see bx_log.h. One line per message, written with a single fputs so
 * lines from one process never interleave mid-line; a control byte that
 * reached the message (an argument nobody escaped) is written as \xNN, so
 * no argument can end the line and forge the next one. */
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

static const char bx_hex[] = "0123456789abcdef";

/* The escape of byte b into e (1, 2 or 4 bytes); returns its length. */
static size_t bx_log_esc1(unsigned char b, char e[4])
{
    if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\') {
        e[0] = (char)b;
        return 1;
    }
    e[0] = '\\';
    switch (b) {
    case '"':
    case '\\':
        e[1] = (char)b;
        return 2;
    case '\n':
        e[1] = 'n';
        return 2;
    case '\r':
        e[1] = 'r';
        return 2;
    case '\t':
        e[1] = 't';
        return 2;
    }
    e[1] = 'x';
    e[2] = bx_hex[b >> 4];
    e[3] = bx_hex[b & 15];
    return 4;
}

size_t bx_log_escape_into(char *dst, size_t cap, const char *src, size_t len)
{
    if (!src) {
        src = "-";
        len = 1;
    } else if (len == BX_LOG_CSTR) {
        len = strlen(src);
    }
    size_t out = 0, safe = 0; /* safe: the end of the last escape with room for "..." after */
    for (size_t i = 0; i < len; i++) {
        char e[4];
        size_t el = bx_log_esc1((unsigned char)src[i], e);
        if (out + el > cap) { /* cut: as much as leaves room for the mark */
            out = safe;
            for (size_t k = 0; k < 3 && out < cap; k++)
                dst[out++] = '.';
            return out;
        }
        memcpy(dst + out, e, el);
        out += el;
        if (out + 3 <= cap) safe = out;
    }
    return out;
}

const char *bx_log_escape(char *dst, size_t cap, const char *src, size_t len)
{
    if (cap == 0) return "";
    size_t n = bx_log_escape_into(dst, cap - 1, src, len);
    dst[n] = '\0';
    return dst;
}

/* Rewrites control bytes and DEL in line[from..len) as \xNN (the message
 * part of a formatted line) into out (cap bytes, NUL-terminated); returns
 * the length. */
static size_t bx_log_ctl_escape(const char *line, size_t len, size_t from, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char b = (unsigned char)line[i];
        if (i >= from && (b < 0x20 || b == 0x7f)) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = bx_hex[b >> 4];
            out[o++] = bx_hex[b & 15];
        } else {
            out[o++] = (char)b;
        }
    }
    out[o] = '\0';
    return o;
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
    size_t from = n > 0 && (size_t)n < len ? (size_t)n : len;
    int clean = 1;
    for (size_t i = from; i < len && clean; i++)
        clean = (unsigned char)line[i] >= 0x20 && line[i] != 0x7f;
    if (!clean) { /* rare: an unescaped argument held a control byte */
        char esc[sizeof(line)];
        len = bx_log_ctl_escape(line, len, from, esc, sizeof(esc) - 1);
        memcpy(line, esc, len);
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    fputs(line, stderr);
}
