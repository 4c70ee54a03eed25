/* bx_prom: see bx_prom.h. */
#include "common/bx_prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bx_prom_hist_init(bx_prom_hist *h, const double *bounds, int n)
{
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->n = n > BX_PROM_HIST_MAX ? BX_PROM_HIST_MAX : (n < 0 ? 0 : n);
}

void bx_prom_hist_observe(bx_prom_hist *h, double v)
{
    int i = 0;
    while (i < h->n && v > h->bounds[i])
        i++;
    if (i < h->n) h->counts[i]++;
    h->count++;
    h->sum += v;
}

void bx_prom_fmt_num(char *out, size_t cap, double v)
{
    if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    } else if (isnan(v)) {
        snprintf(out, cap, "NaN");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, cap, "%.1f", v);
    } else {
        for (int p = 6; p <= 17; p++) {
            snprintf(out, cap, "%.*g", p, v);
            if (strtod(out, NULL) == v) return;
        }
    }
}

void bx_prom_escape(char *out, size_t cap, const char *in)
{
    size_t o = 0;
    if (!cap) return;
    for (const char *p = in; *p && o + 3 < cap; p++) {
        if (*p == '\\' || *p == '"') {
            out[o++] = '\\';
            out[o++] = *p;
        } else if (*p == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

int bx_prom_buckets_125(double *out, int cap, double max)
{
    static const double f[3] = {1, 2, 5};
    int n = 0;
    for (double mag = 1; n < cap; mag *= 10) {
        for (int k = 0; k < 3; k++) {
            double v = f[k] * mag;
            if (v > max || n == cap) return n;
            out[n++] = v;
        }
    }
    return n;
}

int bx_prom_head(bx_buf *b, const char *name, const char *type, const char *help)
{
    return bx_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int bx_prom_value(bx_buf *b, const char *name, const char *labels, double v)
{
    char n[40];
    bx_prom_fmt_num(n, sizeof(n), v);
    if (!labels || !*labels) return bx_buf_printf(b, "%s %s\n", name, n);
    return bx_buf_printf(b, "%s{%s} %s\n", name, labels, n);
}

int bx_prom_hist_write(bx_buf *b, const char *name, const char *labels, const bx_prom_hist *h)
{
    const char *sep = labels && *labels ? "," : "";
    const char *l = labels ? labels : "";
    uint64_t cum = 0;
    char le[40];
    int rc = 0;
    for (int i = 0; i < h->n; i++) {
        cum += h->counts[i];
        bx_prom_fmt_num(le, sizeof(le), h->bounds[i]);
        rc |= bx_buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, l, sep, le,
                            (unsigned long long)cum);
    }
    rc |= bx_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, l, sep,
                        (unsigned long long)h->count);
    char sum[40];
    bx_prom_fmt_num(sum, sizeof(sum), h->sum);
    if (*l)
        rc |= bx_buf_printf(b, "%s_sum{%s} %s\n%s_count{%s} %llu\n", name, l, sum, name, l,
                            (unsigned long long)h->count);
    else
        rc |= bx_buf_printf(b, "%s_sum %s\n%s_count %llu\n", name, sum, name,
                            (unsigned long long)h->count);
    return rc ? -1 : 0;
}
