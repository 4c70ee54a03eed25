/* bx_prom: see bx_prom.h. Lines are assembled with bx_buf_append from
 * pieces formatted on the stack (no printf on the hot path except for
 * non-integral numbers), so a scrape of a few hundred lines costs
 * microseconds and allocates only when the buffer grows. */
#include "common/bx_prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double bx_prom_buckets_ttft[BX_PROM_BUCKETS_TTFT_N] = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
    1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const double bx_prom_buckets_itl[BX_PROM_BUCKETS_ITL_N] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
                                                           0.3,  0.4,   0.5,  0.75,  1.0, 2.5,  5.0,
                                                           7.5,  10.0,  20.0, 40.0,  80.0};
const double bx_prom_buckets_latency[BX_PROM_BUCKETS_LATENCY_N] = {
    0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
    30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
const double bx_prom_buckets_iter_tokens[BX_PROM_BUCKETS_ITER_TOKENS_N] = {
    1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
const double bx_prom_buckets_n[BX_PROM_BUCKETS_N_N] = {1, 2, 5, 10, 20};

const char *bx_prom_type_name(bx_prom_type t)
{
    switch (t) {
    case BX_PROM_COUNTER:
        return "counter";
    case BX_PROM_GAUGE:
        return "gauge";
    case BX_PROM_HISTOGRAM:
        return "histogram";
    case BX_PROM_SUMMARY:
        return "summary";
    default:
        return "untyped";
    }
}

int bx_prom_buckets_125(double *out, int cap, double max)
{
    static const double f[3] = {1, 2, 5};
    int n = 0;
    for (double mag = 1; n < cap; mag *= 10) {
        for (int k = 0; k < 3; k++) {
            double v = f[k] * mag;
            if (!(v <= max) || n == cap) return n; /* also stops on NaN */
            out[n++] = v;
        }
    }
    return n;
}

void bx_prom_hist_init(bx_prom_hist *h, const double *bounds, int n)
{
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->n = n > BX_PROM_HIST_MAX ? BX_PROM_HIST_MAX : (n < 0 ? 0 : n);
}

void bx_prom_hist_observe(bx_prom_hist *h, double v)
{
    h->count++;
    h->sum += v;
    if (isnan(v)) return;
    int lo = 0, hi = h->n; /* first bound >= v */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (h->bounds[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < h->n) h->counts[lo]++;
}

/* Decimal digits of u into end-backwards storage; returns the start. */
static char *prom_u64(char *end, uint64_t u)
{
    *--end = '\0';
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    return end;
}

/* Fast path for values like 0.025 or 12.5 (bucket bounds, most gauges):
 * the fewest fraction digits k <= 6 such that m / 10^k == v for an integer
 * m. Division is correctly rounded, so that decimal reads back as v and is
 * the shortest fixed-point form. Returns 0 when there is none (then printf
 * decides). */
static int prom_short_decimal(char *out, size_t cap, double v)
{
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    double a = fabs(v);
    if (!(a < 1e9) || a < 1e-6) return 0;
    for (int k = 1; k <= 6; k++) {
        double m = nearbyint(a * p10[k]);
        if (m / p10[k] != a) continue;
        char d[24];
        char *e = d + sizeof(d), *p = e;
        uint64_t u = (uint64_t)m;
        for (int i = 0; i < k || u; i++) { /* at least k digits, then the rest */
            *--p = (char)('0' + u % 10);
            u /= 10;
        }
        size_t nd = (size_t)(e - p), ip = nd > (size_t)k ? nd - (size_t)k : 0, o = 0;
        if (nd + 4 > cap) return 0;
        if (v < 0) out[o++] = '-';
        if (!ip) out[o++] = '0';
        memcpy(out + o, p, ip);
        o += ip;
        out[o++] = '.';
        memcpy(out + o, p + ip, (size_t)k);
        o += (size_t)k;
        out[o] = '\0';
        return 1;
    }
    return 0;
}

size_t bx_prom_fmt_num(char *out, size_t cap, double v)
{
    char tmp[BX_PROM_NUM_MAX + 8];
    const char *s = tmp;
    if (isnan(v)) {
        s = "NaN";
    } else if (isinf(v)) {
        s = v > 0 ? "+Inf" : "-Inf";
    } else if (v == trunc(v) && fabs(v) < 9.2e18) {
        char *p = tmp + sizeof(tmp);
        *--p = '\0';
        *--p = '0';
        *--p = '.';
        uint64_t u = (uint64_t)fabs(v);
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0) *--p = '-';
        s = p;
    } else if (prom_short_decimal(tmp, sizeof(tmp), v)) {
        s = tmp;
    } else {
        /* Any decimal of <= 15 significant digits survives a round trip, so
         * %.15g (which drops trailing zeros) is the shortest form whenever
         * one that short exists; otherwise 16 or 17 digits. */
        for (int p = 15; p <= 17; p++) {
            snprintf(tmp, sizeof(tmp), "%.*g", p, v);
            if (strtod(tmp, NULL) == v) break;
        }
    }
    size_t n = strlen(s);
    if (!cap) return 0;
    if (n >= cap) n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    return n;
}

void bx_prom_escape(char *out, size_t cap, const char *in)
{
    size_t o = 0;
    if (!cap) return;
    for (const char *p = in; *p; p++) {
        int esc = *p == '\\' || *p == '"' || *p == '\n';
        if (o + (esc ? 2 : 1) >= cap) break; /* keep room for the terminator */
        if (esc) {
            out[o++] = '\\';
            out[o++] = *p == '\n' ? 'n' : *p;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* Appends s escaped; help text escapes only \ and newline. */
static int prom_put_escaped(bx_buf *b, const char *s, int help)
{
    int rc = 0;
    const char *run = s;
    for (const char *p = s;; p++) {
        char c = *p;
        if (c && c != '\\' && c != '\n' && (help || c != '"')) continue;
        rc |= bx_buf_append(b, run, (size_t)(p - run));
        if (!c) break;
        char esc[2] = {'\\', c == '\n' ? 'n' : c};
        rc |= bx_buf_append(b, esc, 2);
        run = p + 1;
    }
    return rc ? -1 : 0;
}

int bx_prom_labels(bx_buf *b, const bx_prom_label *labels, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) rc |= bx_buf_append(b, ",", 1);
        rc |= bx_buf_appends(b, labels[i].name);
        rc |= bx_buf_append(b, "=\"", 2);
        rc |= prom_put_escaped(b, labels[i].value ? labels[i].value : "", 0);
        rc |= bx_buf_append(b, "\"", 1);
    }
    return rc ? -1 : 0;
}

int bx_prom_head(bx_buf *b, const char *name, const char *type, const char *help)
{
    int rc = bx_buf_append(b, "# HELP ", 7);
    rc |= bx_buf_appends(b, name);
    rc |= bx_buf_append(b, " ", 1);
    rc |= prom_put_escaped(b, help ? help : "", 1);
    rc |= bx_buf_append(b, "\n# TYPE ", 8);
    rc |= bx_buf_appends(b, name);
    rc |= bx_buf_append(b, " ", 1);
    rc |= bx_buf_appends(b, type);
    rc |= bx_buf_append(b, "\n", 1);
    return rc ? -1 : 0;
}

int bx_prom_write_family(bx_buf *b, const char *name, const char *help, bx_prom_type type)
{
    return bx_prom_head(b, name, bx_prom_type_name(type), help);
}

/* A label set in either form. */
typedef struct prom_lset {
    const char *pre;
    const bx_prom_label *arr;
    size_t n;
} prom_lset;

static int prom_lset_empty(const prom_lset *ls)
{
    return ls->arr ? ls->n == 0 : !ls->pre || !*ls->pre;
}

/* Copies n bytes at *w and advances it. */
static void prom_put(char **w, const char *s, size_t n)
{
    if (!n) return; /* s may be NULL then */
    memcpy(*w, s, n);
    *w += n;
}

/* name suffix{labels[,le="le"]} value\n. With a pre-rendered label list the
 * line is measured, reserved once and copied in place; label arrays are
 * escaped piece by piece. */
static int prom_line(bx_buf *b, const char *name, const char *suffix, const prom_lset *ls,
                     const char *le, const char *value)
{
    int has = !prom_lset_empty(ls);
    if (has && ls->arr) {
        int rc = bx_buf_appends(b, name);
        if (suffix) rc |= bx_buf_appends(b, suffix);
        rc |= bx_buf_append(b, "{", 1);
        rc |= bx_prom_labels(b, ls->arr, ls->n);
        if (le) {
            rc |= bx_buf_append(b, ",le=\"", 5);
            rc |= bx_buf_appends(b, le);
            rc |= bx_buf_append(b, "\"", 1);
        }
        rc |= bx_buf_append(b, "} ", 2);
        rc |= bx_buf_appends(b, value);
        rc |= bx_buf_append(b, "\n", 1);
        return rc ? -1 : 0;
    }
    size_t nn = strlen(name), ns = suffix ? strlen(suffix) : 0, np = has ? strlen(ls->pre) : 0;
    size_t nl = le ? strlen(le) : 0, nv = strlen(value);
    if (bx_buf_reserve(b, nn + ns + np + nl + nv + 12) != 0) return -1;
    char *w = b->data + b->len;
    prom_put(&w, name, nn);
    prom_put(&w, suffix, ns);
    if (has || le) {
        *w++ = '{';
        prom_put(&w, ls->pre, np);
        if (le) {
            if (has) *w++ = ',';
            prom_put(&w, "le=\"", 4);
            prom_put(&w, le, nl);
            *w++ = '"';
        }
        *w++ = '}';
    }
    *w++ = ' ';
    prom_put(&w, value, nv);
    *w++ = '\n';
    *w = '\0';
    b->len = (size_t)(w - b->data);
    return 0;
}

static int prom_value(bx_buf *b, const char *name, const prom_lset *ls, double v)
{
    char num[BX_PROM_NUM_MAX];
    bx_prom_fmt_num(num, sizeof(num), v);
    return prom_line(b, name, NULL, ls, NULL, num);
}

static int prom_hist(bx_buf *b, const char *name, const prom_lset *ls, const bx_prom_hist *h)
{
    char le[BX_PROM_NUM_MAX], cnt[24], num[BX_PROM_NUM_MAX];
    uint64_t cum = 0;
    int rc = 0;
    for (int i = 0; i < h->n; i++) {
        cum += h->counts[i];
        bx_prom_fmt_num(le, sizeof(le), h->bounds[i]);
        rc |= prom_line(b, name, "_bucket", ls, le, prom_u64(cnt + sizeof(cnt), cum));
    }
    const char *total = prom_u64(cnt + sizeof(cnt), h->count);
    rc |= prom_line(b, name, "_bucket", ls, "+Inf", total);
    bx_prom_fmt_num(num, sizeof(num), h->sum);
    rc |= prom_line(b, name, "_sum", ls, NULL, num);
    rc |= prom_line(b, name, "_count", ls, NULL, total);
    return rc ? -1 : 0;
}

int bx_prom_value(bx_buf *b, const char *name, const char *labels, double v)
{
    prom_lset ls = {labels, NULL, 0};
    return prom_value(b, name, &ls, v);
}

int bx_prom_write_sample(bx_buf *b, const char *name, const bx_prom_label *labels, size_t n,
                         double v)
{
    static const bx_prom_label none[1] = {{"", ""}};
    prom_lset ls = {NULL, labels ? labels : none, labels ? n : 0};
    return prom_value(b, name, &ls, v);
}

int bx_prom_hist_write(bx_buf *b, const char *name, const char *labels, const bx_prom_hist *h)
{
    prom_lset ls = {labels, NULL, 0};
    return prom_hist(b, name, &ls, h);
}

int bx_prom_write_hist(bx_buf *b, const char *name, const bx_prom_label *labels, size_t n,
                       const bx_prom_hist *h)
{
    static const bx_prom_label none[1] = {{"", ""}};
    prom_lset ls = {NULL, labels ? labels : none, labels ? n : 0};
    return prom_hist(b, name, &ls, h);
}
