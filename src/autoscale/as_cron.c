/* as_cron: cron parsing and matching (see as_cron.h). */
#include "autoscale/as_cron.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct field_def {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] is value lo_names + i */
    int names_base;
} field_def;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                          "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const field_def fields[5] = {
    {"minute", 0, 59, NULL, 0},          {"hour", 0, 23, NULL, 0},
    {"day-of-month", 1, 31, NULL, 0},    {"month", 1, 12, month_names, 1},
    {"day-of-week", 0, 7, dow_names, 0},
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

/* One value (a number or a name) in s[0..n). -1 when it is neither. */
static int value(const field_def *f, const char *s, size_t n, char *err, size_t errlen)
{
    if (n == 0) return fail(err, errlen, "%s: empty value", f->name);
    if (isdigit((unsigned char)s[0])) {
        int v = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)s[i]) || v > 1000)
                return fail(err, errlen, "%s: \"%.*s\" is not a number", f->name, (int)n, s);
            v = v * 10 + (s[i] - '0');
        }
        if (v < f->lo || v > f->hi)
            return fail(err, errlen, "%s: %d is out of range %d-%d", f->name, v, f->lo, f->hi);
        return v;
    }
    if (f->names && n == 3)
        for (int i = 0; f->names[i]; i++)
            if (strncasecmp(s, f->names[i], 3) == 0) return f->names_base + i;
    return fail(err, errlen, "%s: \"%.*s\" is not a %s", f->name, (int)(n > 16 ? 16 : n), s,
                f->names ? "number or name" : "number");
}

/* One comma-separated item into *bits. */
static int item(const field_def *f, const char *s, size_t n, uint64_t *bits, char *err,
                size_t errlen)
{
    const char *slash = memchr(s, '/', n);
    size_t rn = slash ? (size_t)(slash - s) : n;
    int step = 1;
    if (slash) {
        const char *p = slash + 1;
        size_t pn = n - rn - 1;
        if (pn == 0 || pn > 3) return fail(err, errlen, "%s: bad step", f->name);
        step = 0;
        for (size_t i = 0; i < pn; i++) {
            if (!isdigit((unsigned char)p[i])) return fail(err, errlen, "%s: bad step", f->name);
            step = step * 10 + (p[i] - '0');
        }
        if (step < 1 || step > f->hi)
            return fail(err, errlen, "%s: step %d is out of range 1-%d", f->name, step, f->hi);
    }
    int a, b;
    if (rn == 1 && s[0] == '*') {
        a = f->lo;
        b = f->hi;
    } else {
        const char *dash = memchr(s, '-', rn);
        a = value(f, s, dash ? (size_t)(dash - s) : rn, err, errlen);
        if (a < 0) return -1;
        if (dash) {
            b = value(f, dash + 1, rn - (size_t)(dash - s) - 1, err, errlen);
            if (b < 0) return -1;
            if (b < a)
                return fail(err, errlen, "%s: range %.*s runs backwards", f->name, (int)rn, s);
        } else {
            b = slash ? f->hi : a; /* N/STEP: N to the maximum */
        }
    }
    for (int v = a; v <= b; v += step)
        *bits |= 1ull << v;
    return 0;
}

int as_cron_parse(const char *expr, as_cron *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!expr) return fail(err, errlen, "empty expression");
    const char *p = expr;
    uint64_t bits[5] = {0};
    int nf = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) break;
        if (nf == 5)
            return fail(err, errlen,
                        "expected 5 fields (minute hour day-of-month month "
                        "day-of-week), got more");
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        const field_def *f = &fields[nf];
        if (nf == 2) out->dom_star = start[0] == '*';
        if (nf == 4) out->dow_star = start[0] == '*';
        const char *q = start;
        for (;;) {
            const char *comma = memchr(q, ',', (size_t)(p - q));
            const char *e = comma ? comma : p;
            if (item(f, q, (size_t)(e - q), &bits[nf], err, errlen)) return -1;
            if (!comma) break;
            q = comma + 1;
        }
        nf++;
    }
    if (nf != 5)
        return fail(err, errlen,
                    "expected 5 fields (minute hour day-of-month month day-of-week), got %d", nf);
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    out->dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 = Sunday */
    return 0;
}

static bool day_match(const as_cron *c, const bx_tz_tm *tm)
{
    bool d = (c->dom >> tm->mday) & 1, w = (c->dow >> tm->wday) & 1;
    if (c->dom_star || c->dow_star) return d && w;
    return d || w;
}

bool as_cron_match(const as_cron *c, const bx_tz_tm *tm)
{
    return ((c->minute >> tm->min) & 1) && ((c->hour >> tm->hour) & 1) &&
           ((c->month >> tm->mon) & 1) && day_match(c, tm);
}

bool as_cron_active(const as_cron *c, const bx_tz *z, int64_t duration_s, int64_t now_s)
{
    if (!c || !z || duration_s < 1 || duration_s > AS_CRON_MAX_DURATION_S) return false;
    /* candidate instants: every whole UTC minute t with t <= now < t + duration,
     * newest first; a matching one at local second 0 is an occurrence. Skip a
     * non-matching local hour (or day) at once when no offset change lies in
     * between, else one minute. */
    int64_t t = now_s - (((now_s % 60) + 60) % 60);
    while (t + duration_s > now_s) {
        bx_tz_tm tm;
        bx_tz_local(z, t, &tm);
        if (tm.sec == 0 && as_cron_match(c, &tm)) return true;
        int64_t back = 60;
        if (!((c->month >> tm.mon) & 1) || !day_match(c, &tm))
            back = (int64_t)(tm.hour * 60 + tm.min + 1) * 60;
        else if (!((c->hour >> tm.hour) & 1))
            back = (int64_t)(tm.min + 1) * 60;
        if (back > 60 && bx_tz_offset(z, t - back) != tm.utoff) back = 60;
        t -= back;
    }
    return false;
}
