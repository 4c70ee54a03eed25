/* bx_prom: writing the Prometheus text exposition format (0.0.4), shared by
 * every brix program that serves /metrics. The caller pre-renders a label
 * set once (bx_prom_escape for values) and appends families to a bx_buf:
 * one # HELP and # TYPE per family, then its samples, so the output parses
 * with Go's expfmt and promtool. Histograms are fixed arrays of per-bucket
 * counts, cumulated at write time. Nothing here allocates except buffer
 * growth. */
#ifndef BX_PROM_H
#define BX_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "common/bx_buf.h"

#define BX_PROM_HIST_MAX 48

typedef struct bx_prom_hist {
    const double *bounds; /* ascending upper bounds, not owned; +Inf implied */
    int n;
    uint64_t counts[BX_PROM_HIST_MAX]; /* per bucket, not cumulative */
    uint64_t count;
    double sum;
} bx_prom_hist;

/* n is capped at BX_PROM_HIST_MAX. */
void bx_prom_hist_init(bx_prom_hist *h, const double *bounds, int n);
void bx_prom_hist_observe(bx_prom_hist *h, double v);

/* Shortest text that parses back to v; integers as "3.0", +Inf, -Inf, NaN. */
void bx_prom_fmt_num(char *out, size_t cap, double v);
/* Escapes a label value (\\, \", \n) into out, truncating to fit. */
void bx_prom_escape(char *out, size_t cap, const char *in);
/* Prometheus' 1-2-5 series up to max inclusive (vLLM's build_1_2_5_buckets).
 * Returns how many were written to out (at most cap). */
int bx_prom_buckets_125(double *out, int cap, double max);

/* Appenders; labels is a rendered label list without braces ("" for none).
 * Each returns 0 or -1 when out of memory. */
int bx_prom_head(bx_buf *b, const char *name, const char *type, const char *help);
int bx_prom_value(bx_buf *b, const char *name, const char *labels, double v);
int bx_prom_hist_write(bx_buf *b, const char *name, const char *labels, const bx_prom_hist *h);

#endif
