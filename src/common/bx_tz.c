/* bx_tz: TZif files and POSIX TZ rules (see bx_tz.h). Every count read
 * from a file is checked against the bytes that remain before use. */
#include "common/bx_tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_MAX_TIMES 100000 /* transitions; real zones have a few hundred */
#define TZ_MAX_TYPES 256
#define TZ_MAX_OFFSET (26 * 3600) /* RFC 8536: -89999..93599 */

/* A date of a POSIX rule: Jn (1..365, no Feb 29), n (0..365) or Mm.w.d. */
typedef struct tz_date {
    char kind; /* 'J', 'N' or 'M' */
    int a, b, c;
    int32_t time; /* seconds after local midnight, -167h..167h */
} tz_date;

typedef struct tz_rule {
    int32_t std_off; /* east of UTC */
    int32_t dst_off;
    bool has_dst;
    tz_date start, end;
} tz_rule;

struct bx_tz {
    size_t ntrans;
    int64_t *trans; /* ascending */
    uint8_t *idx;   /* type of each transition */
    size_t ntypes;
    int32_t utoff[TZ_MAX_TYPES];
    uint8_t isdst[TZ_MAX_TYPES];
    bool has_rule;
    tz_rule rule;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---------------------------------------------------------------- calendar */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Days since the epoch of the rule date in year y. */
static int64_t rule_day(const tz_date *r, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    if (r->kind == 'J') /* 1..365, Feb 29 never counted */
        return jan1 + r->a - 1 + (is_leap(y) && r->a >= 60 ? 1 : 0);
    if (r->kind == 'N') return jan1 + r->a;
    /* Mm.w.d: day d (0 = Sunday) of week w (5 = last) of month m */
    int64_t first = days_from_civil(y, r->a, 1);
    int wd_first = (int)((first % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    int day = 1 + (r->c - wd_first + 7) % 7 + (r->b - 1) * 7;
    while (day > month_days(y, r->a))
        day -= 7;
    return first + day - 1;
}

/* ---------------------------------------------------------------- POSIX TZ */

static const char *parse_name(const char *s)
{
    if (*s == '<') {
        const char *e = strchr(s, '>');
        if (!e || e - s < 4) return NULL; /* at least 3 characters inside */
        for (const char *p = s + 1; p < e; p++)
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
                return NULL;
        return e + 1;
    }
    const char *p = s;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

static const char *parse_num(const char *s, int lo, int hi, int *out)
{
    if (*s < '0' || *s > '9') return NULL;
    int v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        if (v > hi) return NULL;
    }
    if (v < lo) return NULL;
    *out = v;
    return s;
}

/* [+-]hh[:mm[:ss]] with hh <= max_h -> seconds. */
static const char *parse_hms(const char *s, int max_h, int32_t *out)
{
    int sign = 1, h = 0, m = 0, sec = 0;
    if (*s == '+' || *s == '-') sign = *s++ == '-' ? -1 : 1;
    if (!(s = parse_num(s, 0, max_h, &h))) return NULL;
    if (*s == ':') {
        if (!(s = parse_num(s + 1, 0, 59, &m))) return NULL;
        if (*s == ':' && !(s = parse_num(s + 1, 0, 59, &sec))) return NULL;
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return s;
}

static const char *parse_date(const char *s, tz_date *d)
{
    memset(d, 0, sizeof(*d));
    if (*s == 'J') {
        d->kind = 'J';
        s = parse_num(s + 1, 1, 365, &d->a);
    } else if (*s == 'M') {
        d->kind = 'M';
        if (!(s = parse_num(s + 1, 1, 12, &d->a)) || *s != '.') return NULL;
        if (!(s = parse_num(s + 1, 1, 5, &d->b)) || *s != '.') return NULL;
        s = parse_num(s + 1, 0, 6, &d->c);
    } else {
        d->kind = 'N';
        s = parse_num(s, 0, 365, &d->a);
    }
    if (!s) return NULL;
    d->time = 2 * 3600;
    if (*s == '/') s = parse_hms(s + 1, 167, &d->time);
    return s;
}

static int parse_rule(const char *s, tz_rule *r)
{
    memset(r, 0, sizeof(*r));
    int32_t off;
    if (!(s = parse_name(s)) || !(s = parse_hms(s, 24, &off))) return -1;
    r->std_off = -off; /* POSIX offsets are west of UTC */
    if (*s == '\0') return 0;
    if (!(s = parse_name(s))) return -1;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*s && *s != ',') {
        if (!(s = parse_hms(s, 24, &off))) return -1;
        r->dst_off = -off;
    }
    if (*s == '\0') { /* no rule: the US one (what glibc assumes) */
        r->start = (tz_date){'M', 3, 2, 0, 7200};
        r->end = (tz_date){'M', 11, 1, 0, 7200};
        return 0;
    }
    if (*s != ',' || !(s = parse_date(s + 1, &r->start))) return -1;
    if (*s != ',' || !(s = parse_date(s + 1, &r->end))) return -1;
    return *s == '\0' ? 0 : -1;
}

/* 1 when unix_s is in DST under the rule. */
static int rule_isdst(const tz_rule *r, int64_t t)
{
    if (!r->has_dst) return 0;
    int64_t y;
    int m, d;
    civil_from_days(floor_div(t + r->std_off, 86400), &y, &m, &d);
    /* the start is given in standard time, the end in daylight time */
    int64_t start = rule_day(&r->start, y) * 86400 + r->start.time - r->std_off;
    int64_t end = rule_day(&r->end, y) * 86400 + r->end.time - r->dst_off;
    if (start < end) return t >= start && t < end;
    return !(t >= end && t < start); /* southern hemisphere: DST spans the new year */
}

/* ---------------------------------------------------------------- TZif */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_hdr {
    int version; /* 0, 2, 3, 4 */
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_hdr;

static int read_hdr(const unsigned char *b, size_t len, tzif_hdr *h, char *err, size_t errlen)
{
    if (len < 44 || memcmp(b, "TZif", 4) != 0) return fail(err, errlen, "not a TZif file");
    h->version = b[4] == 0 ? 0 : b[4] - '0';
    if (h->version != 0 && (h->version < 2 || h->version > 9))
        return fail(err, errlen, "TZif: unknown version byte 0x%02x", b[4]);
    h->isutcnt = be32(b + 20);
    h->isstdcnt = be32(b + 24);
    h->leapcnt = be32(b + 28);
    h->timecnt = be32(b + 32);
    h->typecnt = be32(b + 36);
    h->charcnt = be32(b + 40);
    if (h->typecnt == 0 || h->typecnt > TZ_MAX_TYPES)
        return fail(err, errlen, "TZif: %u time types", h->typecnt);
    if (h->timecnt > TZ_MAX_TIMES) return fail(err, errlen, "TZif: %u transitions", h->timecnt);
    if ((h->isutcnt && h->isutcnt != h->typecnt) || (h->isstdcnt && h->isstdcnt != h->typecnt))
        return fail(err, errlen, "TZif: indicator counts differ from the type count");
    if (h->leapcnt > TZ_MAX_TIMES || h->charcnt > 65536)
        return fail(err, errlen, "TZif: counts out of range");
    return 0;
}

static uint64_t block_len(const tzif_hdr *h, unsigned tsize)
{
    return (uint64_t)h->timecnt * tsize + h->timecnt + (uint64_t)h->typecnt * 6 + h->charcnt +
           (uint64_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* Reads the data block at b (len bytes, header already checked). */
static int read_block(bx_tz *z, const tzif_hdr *h, const unsigned char *b, size_t len,
                      unsigned tsize, char *err, size_t errlen)
{
    if (block_len(h, tsize) > len) return fail(err, errlen, "TZif: truncated data block");
    z->ntrans = h->timecnt;
    z->ntypes = h->typecnt;
    if (z->ntrans) {
        z->trans = malloc(z->ntrans * sizeof(*z->trans));
        z->idx = malloc(z->ntrans);
        if (!z->trans || !z->idx) return fail(err, errlen, "out of memory");
    }
    const unsigned char *p = b;
    for (size_t i = 0; i < z->ntrans; i++, p += tsize) {
        z->trans[i] = tsize == 8 ? be64(p) : (int64_t)(int32_t)be32(p);
        if (i > 0 && z->trans[i] <= z->trans[i - 1])
            return fail(err, errlen, "TZif: transition times not ascending");
    }
    for (size_t i = 0; i < z->ntrans; i++, p++) {
        if (*p >= z->ntypes) return fail(err, errlen, "TZif: transition type out of range");
        z->idx[i] = *p;
    }
    for (size_t i = 0; i < z->ntypes; i++, p += 6) {
        int32_t off = (int32_t)be32(p);
        if (off < -TZ_MAX_OFFSET || off > TZ_MAX_OFFSET)
            return fail(err, errlen, "TZif: UT offset %d out of range", off);
        if (p[4] > 1) return fail(err, errlen, "TZif: bad isdst");
        if (p[5] >= h->charcnt) return fail(err, errlen, "TZif: bad designation index");
        z->utoff[i] = off;
        z->isdst[i] = p[4];
    }
    return 0;
}

void bx_tz_free(bx_tz *z)
{
    if (!z) return;
    free(z->trans);
    free(z->idx);
    free(z);
}

int bx_tz_parse(const unsigned char *buf, size_t len, bx_tz **out, char *err, size_t errlen)
{
    if (!buf || !out) return fail(err, errlen, "bx_tz_parse: no input");
    *out = NULL;
    tzif_hdr h;
    if (read_hdr(buf, len, &h, err, errlen)) return -1;
    bx_tz *z = calloc(1, sizeof(*z));
    if (!z) return fail(err, errlen, "out of memory");
    const unsigned char *b = buf + 44;
    size_t left = len - 44;
    if (h.version >= 2) { /* skip the 32-bit block, use the 64-bit one */
        uint64_t v1 = block_len(&h, 4);
        if (v1 > left) {
            bx_tz_free(z);
            return fail(err, errlen, "TZif: truncated version 1 block");
        }
        b += v1;
        left -= (size_t)v1;
        if (read_hdr(b, left, &h, err, errlen)) {
            bx_tz_free(z);
            return -1;
        }
        b += 44;
        left -= 44;
    }
    unsigned tsize = h.version >= 2 ? 8 : 4;
    if (read_block(z, &h, b, left, tsize, err, errlen)) {
        bx_tz_free(z);
        return -1;
    }
    if (h.version >= 2) { /* the footer: "\n" POSIX-TZ "\n" */
        uint64_t bl = block_len(&h, tsize);
        b += bl;
        left -= (size_t)bl;
        const unsigned char *nl = left > 1 && b[0] == '\n' ? memchr(b + 1, '\n', left - 1) : NULL;
        if (!nl) {
            bx_tz_free(z);
            return fail(err, errlen, "TZif: missing footer");
        }
        size_t n = (size_t)(nl - b - 1);
        if (n > 0) {
            char rule[128];
            if (n >= sizeof(rule) || memchr(b + 1, '\0', n)) {
                bx_tz_free(z);
                return fail(err, errlen, "TZif: bad footer");
            }
            memcpy(rule, b + 1, n);
            rule[n] = '\0';
            if (parse_rule(rule, &z->rule) != 0) {
                bx_tz_free(z);
                return fail(err, errlen, "TZif: bad footer rule \"%s\"", rule);
            }
            z->has_rule = true;
        }
    }
    *out = z;
    return 0;
}

int bx_tz_posix(const char *rule, bx_tz **out, char *err, size_t errlen)
{
    if (!rule || !out) return fail(err, errlen, "bx_tz_posix: no input");
    *out = NULL;
    bx_tz *z = calloc(1, sizeof(*z));
    if (!z) return fail(err, errlen, "out of memory");
    if (strlen(rule) > 128 || parse_rule(rule, &z->rule) != 0) {
        bx_tz_free(z);
        return fail(err, errlen, "bad POSIX TZ rule \"%.128s\"", rule);
    }
    z->has_rule = true;
    z->ntypes = 1;
    z->utoff[0] = z->rule.std_off;
    *out = z;
    return 0;
}

int bx_tz_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > BX_TZ_NAME_MAX || name[0] == '/') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '+' || c == '-' || c == '.'))
            return 0;
    }
    /* no empty, "." or ".." component */
    const char *p = name;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.')) return 0;
        p += l;
        if (*p == '/') p++;
        if (e && !*p) return 0; /* trailing slash */
    }
    return 1;
}

int bx_tz_load_dir(const char *dir, const char *name, bx_tz **out, char *err, size_t errlen)
{
    if (!out) return fail(err, errlen, "bx_tz_load: no output");
    *out = NULL;
    if (!bx_tz_name_ok(name))
        return fail(err, errlen, "\"%.64s\": not a time zone name", name ? name : "");
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir ? dir : BX_TZ_DIR, name) >= (int)sizeof(path))
        return fail(err, errlen, "%s: path too long", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = fd < 0 ? errno : EISDIR;
        if (fd >= 0) close(fd);
        if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)
            return bx_tz_posix("UTC0", out, err, errlen);
        return fail(err, errlen, "unknown time zone \"%s\" (%s: %s)", name, path, strerror(e));
    }
    if (sb.st_size <= 0 || (uint64_t)sb.st_size > BX_TZ_MAX_FILE) {
        close(fd);
        return fail(err, errlen, "%s: not a TZif file (size %lld)", path, (long long)sb.st_size);
    }
    size_t len = (size_t)sb.st_size, got = 0;
    unsigned char *buf = malloc(len);
    if (!buf) {
        close(fd);
        return fail(err, errlen, "out of memory");
    }
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    char perr[160];
    int rc = got == len ? bx_tz_parse(buf, len, out, perr, sizeof(perr)) : -1;
    free(buf);
    if (rc != 0)
        return fail(err, errlen, "time zone \"%s\": %s", name, got == len ? perr : "short read");
    return 0;
}

int bx_tz_load(const char *name, bx_tz **out, char *err, size_t errlen)
{
    const char *dir = getenv("TZDIR");
    return bx_tz_load_dir(dir && *dir ? dir : BX_TZ_DIR, name, out, err, errlen);
}

/* ---------------------------------------------------------------- lookups */

#define TZ_T_LIMIT (INT64_C(1) << 40) /* +-34,000 years: no overflow below */

static void offset_at(const bx_tz *z, int64_t t, int32_t *off, int *isdst)
{
    if (z->ntrans == 0 || t >= z->trans[z->ntrans - 1]) {
        if (z->has_rule) {
            int d = rule_isdst(&z->rule, t);
            *off = d ? z->rule.dst_off : z->rule.std_off;
            *isdst = d;
            return;
        }
        size_t k = z->ntrans ? z->idx[z->ntrans - 1] : 0;
        *off = z->utoff[k];
        *isdst = z->isdst[k];
        return;
    }
    if (t < z->trans[0]) { /* before the first transition: type 0 (RFC 8536) */
        *off = z->utoff[0];
        *isdst = z->isdst[0];
        return;
    }
    size_t lo = 0, hi = z->ntrans - 1; /* trans[lo] <= t < trans[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    *off = z->utoff[z->idx[lo]];
    *isdst = z->isdst[z->idx[lo]];
}

int32_t bx_tz_offset(const bx_tz *z, int64_t unix_s)
{
    int32_t off = 0;
    int d = 0;
    if (unix_s > TZ_T_LIMIT) unix_s = TZ_T_LIMIT;
    if (unix_s < -TZ_T_LIMIT) unix_s = -TZ_T_LIMIT;
    if (z) offset_at(z, unix_s, &off, &d);
    return off;
}

void bx_tz_local(const bx_tz *z, int64_t unix_s, bx_tz_tm *out)
{
    int32_t off = 0;
    int d = 0;
    if (unix_s > TZ_T_LIMIT) unix_s = TZ_T_LIMIT;
    if (unix_s < -TZ_T_LIMIT) unix_s = -TZ_T_LIMIT;
    if (z) offset_at(z, unix_s, &off, &d);
    int64_t local = unix_s + off;
    int64_t days = floor_div(local, 86400);
    int64_t secs = local - days * 86400;
    memset(out, 0, sizeof(*out));
    civil_from_days(days, &out->year, &out->mon, &out->mday);
    out->wday = (int)(((days % 7) + 7 + 4) % 7);
    out->yday = (int)(days - days_from_civil(out->year, 1, 1));
    out->hour = (int)(secs / 3600);
    out->min = (int)(secs / 60 % 60);
    out->sec = (int)(secs % 60);
    out->utoff = off;
    out->isdst = d;
}
