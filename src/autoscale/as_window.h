/* as_window: a time-bucketed sliding window of metric samples, the input side
 * of the autoscaler (one window per PodAutoscaler and metric, fed with the
 * fleet total at each reconcile).
 *
 * Time is cut into buckets of `granularity_ms`. A bucket holds the samples
 * added during its interval (their mean and their max). Reads cover the
 * buckets of the last `span_ms` up to `now_ms` and skip buckets that hold no
 * sample: a missed scrape is missing data, never a zero (AIBrix and Knative
 * behave the same on reads). The mean is the unweighted mean of the bucket
 * means, so a burst of samples in one second weighs as much as one sample.
 * Samples that are older than the window's capacity before the newest one,
 * or that are not finite, are refused.
 *
 * Ownership: as_window_init allocates the bucket ring; as_window_close frees
 * it. The struct may be moved by value between init and close. Not thread
 * safe; one owner. */
#ifndef AS_WINDOW_H
#define AS_WINDOW_H

#include <stddef.h>
#include <stdint.h>

/* Upper bound on buckets per window (1 h at 1 s granularity is 3600). */
#define AS_WINDOW_MAX_BUCKETS 86400

typedef struct as_window_bucket {
    int64_t idx; /* t_ms / granularity of the samples it holds; -1 when empty */
    double sum;
    double max;
    uint32_t n;
} as_window_bucket;

typedef struct as_window {
    int64_t gran_ms;
    size_t nb;      /* ring size: span_ms / gran_ms rounded up */
    int64_t newest; /* largest bucket index written, -1 when none */
    as_window_bucket *b;
} as_window;

/* span_ms > 0, 0 < granularity_ms <= span_ms. 0, or -1 (bad arguments,
 * too many buckets, out of memory). */
int as_window_init(as_window *w, int64_t span_ms, int64_t granularity_ms);
void as_window_close(as_window *w);
/* Forget every sample; the capacity stays. */
void as_window_reset(as_window *w);
/* t_ms >= 0. 0, or -1 when the value is not finite or t_ms is negative or
 * older than the ring holds relative to the newest sample. */
int as_window_add(as_window *w, int64_t t_ms, double value);
/* Mean (or max) over the buckets in (now_ms - last_ms, now_ms], at most the
 * window's span. Returns the number of buckets that held samples; when 0,
 * *out is left untouched. Samples stamped after now_ms are not counted. */
size_t as_window_average(const as_window *w, int64_t now_ms, int64_t last_ms, double *out);
size_t as_window_max(const as_window *w, int64_t now_ms, int64_t last_ms, double *out);

#endif
