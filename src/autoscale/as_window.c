/* as_window: ring of time buckets; see as_window.h for the semantics. */
#include "autoscale/as_window.h"

#include <math.h>
#include <stdlib.h>

int as_window_init(as_window *w, int64_t span_ms, int64_t granularity_ms)
{
    if (!w) return -1;
    w->b = NULL;
    w->nb = 0;
    w->newest = -1;
    w->gran_ms = 0;
    if (span_ms <= 0 || granularity_ms <= 0 || granularity_ms > span_ms) return -1;
    int64_t nb = (span_ms + granularity_ms - 1) / granularity_ms;
    if (nb > AS_WINDOW_MAX_BUCKETS) return -1;
    w->b = calloc((size_t)nb, sizeof(*w->b));
    if (!w->b) return -1;
    w->nb = (size_t)nb;
    w->gran_ms = granularity_ms;
    as_window_reset(w);
    return 0;
}

void as_window_close(as_window *w)
{
    if (!w) return;
    free(w->b);
    w->b = NULL;
    w->nb = 0;
    w->newest = -1;
}

void as_window_reset(as_window *w)
{
    if (!w || !w->b) return;
    for (size_t i = 0; i < w->nb; i++) {
        w->b[i].idx = -1;
        w->b[i].n = 0;
        w->b[i].sum = 0;
        w->b[i].max = 0;
    }
    w->newest = -1;
}

int as_window_add(as_window *w, int64_t t_ms, double value)
{
    if (!w || !w->b || t_ms < 0 || !isfinite(value)) return -1;
    int64_t idx = t_ms / w->gran_ms;
    if (w->newest >= 0 && idx <= w->newest - (int64_t)w->nb) return -1; /* fell off the ring */
    as_window_bucket *b = &w->b[(size_t)(idx % (int64_t)w->nb)];
    if (b->idx != idx) { /* the slot held an older bucket (or none): start afresh */
        b->idx = idx;
        b->n = 0;
        b->sum = 0;
        b->max = value;
    }
    b->sum += value;
    if (value > b->max) b->max = value;
    if (b->n < UINT32_MAX) b->n++;
    if (idx > w->newest) w->newest = idx;
    return 0;
}

/* Visits the non-empty buckets of (now - last, now]; mode 0 mean, 1 max. */
static size_t scan(const as_window *w, int64_t now_ms, int64_t last_ms, int mode, double *out)
{
    if (!w || !w->b || !out || now_ms < 0 || last_ms <= 0) return 0;
    int64_t cur = now_ms / w->gran_ms;
    int64_t k = (last_ms + w->gran_ms - 1) / w->gran_ms;
    if (k > (int64_t)w->nb) k = (int64_t)w->nb;
    size_t used = 0;
    double acc = 0;
    for (int64_t idx = cur - k + 1; idx <= cur; idx++) {
        if (idx < 0) continue;
        const as_window_bucket *b = &w->b[(size_t)(idx % (int64_t)w->nb)];
        if (b->idx != idx || b->n == 0) continue;
        double v = mode == 0 ? b->sum / (double)b->n : b->max;
        if (used == 0 || mode == 0)
            acc = mode == 0 ? acc + v : v;
        else if (v > acc)
            acc = v;
        used++;
    }
    if (used == 0) return 0;
    *out = mode == 0 ? acc / (double)used : acc;
    return used;
}

size_t as_window_average(const as_window *w, int64_t now_ms, int64_t last_ms, double *out)
{
    return scan(w, now_ms, last_ms, 0, out);
}

size_t as_window_max(const as_window *w, int64_t now_ms, int64_t last_ms, double *out)
{
    return scan(w, now_ms, last_ms, 1, out);
}
