/* loadgen_stats: see loadgen_stats.h. Percentiles are exact: every sample is
 * kept and sorted, no sketches, so the numbers match a numpy recomputation
 * over the JSONL output. */
#include "loadgen/loadgen_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void loadgen_result_free(loadgen_result *r)
{
    free(r->itl_ms);
    free(r->error);
    r->itl_ms = NULL;
    r->error = NULL;
    r->n_itl = r->cap_itl = 0;
}

int loadgen_result_add_itl(loadgen_result *r, double ms)
{
    if (r->n_itl == r->cap_itl) {
        size_t nc = r->cap_itl ? r->cap_itl * 2 : 64;
        double *n = realloc(r->itl_ms, nc * sizeof(*n));
        if (!n) return -1;
        r->itl_ms = n;
        r->cap_itl = nc;
    }
    r->itl_ms[r->n_itl++] = ms;
    return 0;
}

double loadgen_result_tpot(const loadgen_result *r)
{
    if (!r->ok || r->ttft_ms < 0 || r->e2e_ms < 0 || r->completion_tokens < 2) return -1;
    /* A whole (non-streamed) answer has no time between its tokens to measure. */
    if (!(r->e2e_ms > r->ttft_ms)) return -1;
    return (r->e2e_ms - r->ttft_ms) / (double)(r->completion_tokens - 1);
}

double loadgen_percentile(const double *sorted, size_t n, double p)
{
    if (n == 0) return 0;
    if (p <= 0) return sorted[0];
    if (p >= 100) return sorted[n - 1];
    double rank = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(rank);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    double frac = rank - (double)lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void loadgen_dist_compute(loadgen_dist *d, double *samples, size_t n)
{
    memset(d, 0, sizeof(*d));
    d->n = n;
    if (n == 0) return;
    qsort(samples, n, sizeof(*samples), cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += samples[i];
    d->mean = sum / (double)n;
    d->p50 = loadgen_percentile(samples, n, 50);
    d->p90 = loadgen_percentile(samples, n, 90);
    d->p99 = loadgen_percentile(samples, n, 99);
    d->max = samples[n - 1];
}

static void count_failure(loadgen_summary *s, long status)
{
    for (size_t i = 0; i < s->n_fail_kinds; i++)
        if (s->fail_by_status[i].status == status) {
            s->fail_by_status[i].n++;
            return;
        }
    size_t i = s->n_fail_kinds;
    if (i == LOADGEN_MAX_STATUS_KINDS) {
        s->fail_by_status[i - 1].status = -1; /* "other" */
        s->fail_by_status[i - 1].n++;
        return;
    }
    s->fail_by_status[i].status = status;
    s->fail_by_status[i].n = 1;
    s->n_fail_kinds++;
}

int loadgen_summary_compute(loadgen_summary *s, const loadgen_result *res, size_t n,
                            double duration_s)
{
    memset(s, 0, sizeof(*s));
    s->count = n;
    s->duration_s = duration_s;
    size_t n_itl = 0;
    for (size_t i = 0; i < n; i++)
        if (res[i].ok) n_itl += res[i].n_itl;
    double *ttft = malloc((n ? n : 1) * sizeof(double));
    double *tpot = malloc((n ? n : 1) * sizeof(double));
    double *e2e = malloc((n ? n : 1) * sizeof(double));
    double *itl = malloc((n_itl ? n_itl : 1) * sizeof(double));
    int rc = -1;
    if (!ttft || !tpot || !e2e || !itl) goto out;
    size_t nt = 0, np = 0, ne = 0, ni = 0;
    for (size_t i = 0; i < n; i++) {
        const loadgen_result *r = &res[i];
        if (!r->ok) {
            s->failed++;
            count_failure(s, r->status);
            continue;
        }
        s->ok++;
        if (r->prompt_tokens > 0) s->total_input_tokens += r->prompt_tokens;
        if (r->completion_tokens > 0) s->total_output_tokens += r->completion_tokens;
        if (r->ttft_ms >= 0) ttft[nt++] = r->ttft_ms;
        if (r->e2e_ms >= 0) e2e[ne++] = r->e2e_ms;
        double tp = loadgen_result_tpot(r);
        if (tp >= 0) tpot[np++] = tp;
        if (r->n_itl) memcpy(itl + ni, r->itl_ms, r->n_itl * sizeof(double));
        ni += r->n_itl;
    }
    loadgen_dist_compute(&s->ttft, ttft, nt);
    loadgen_dist_compute(&s->tpot, tpot, np);
    loadgen_dist_compute(&s->e2e, e2e, ne);
    loadgen_dist_compute(&s->itl, itl, ni);
    if (duration_s > 0) {
        s->request_throughput = (double)s->ok / duration_s;
        s->output_throughput = (double)s->total_output_tokens / duration_s;
        s->total_token_throughput =
            (double)(s->total_input_tokens + s->total_output_tokens) / duration_s;
    }
    rc = 0;
out:
    free(ttft);
    free(tpot);
    free(e2e);
    free(itl);
    return rc;
}

static void status_label(char *b, size_t n, long status)
{
    if (status == 0)
        snprintf(b, n, "no response");
    else if (status < 0)
        snprintf(b, n, "other");
    else
        snprintf(b, n, "HTTP %ld", status);
}

static void print_dist(FILE *f, const char *name, const loadgen_dist *d)
{
    fprintf(f, "%-10s %8zu %10.2f %10.2f %10.2f %10.2f %10.2f\n", name, d->n, d->mean, d->p50,
            d->p90, d->p99, d->max);
}

void loadgen_summary_print(const loadgen_summary *s, FILE *f)
{
    fprintf(f, "============ brix bench summary ============\n");
    fprintf(f, "%-34s %zu\n", "requests", s->count);
    fprintf(f, "%-34s %zu\n", "successful", s->ok);
    fprintf(f, "%-34s %zu\n", "failed", s->failed);
    for (size_t i = 0; i < s->n_fail_kinds; i++) {
        char lab[40], line[64];
        status_label(lab, sizeof(lab), s->fail_by_status[i].status);
        snprintf(line, sizeof(line), "  %s", lab);
        fprintf(f, "%-34s %zu\n", line, s->fail_by_status[i].n);
    }
    fprintf(f, "%-34s %.3f\n", "duration (s)", s->duration_s);
    fprintf(f, "%-34s %ld\n", "total input tokens", s->total_input_tokens);
    fprintf(f, "%-34s %ld\n", "total output tokens", s->total_output_tokens);
    fprintf(f, "%-34s %.3f\n", "request throughput (req/s)", s->request_throughput);
    fprintf(f, "%-34s %.2f\n", "output token throughput (tok/s)", s->output_throughput);
    fprintf(f, "%-34s %.2f\n", "total token throughput (tok/s)", s->total_token_throughput);
    fprintf(f, "%-10s %8s %10s %10s %10s %10s %10s\n", "(ms)", "samples", "mean", "p50", "p90",
            "p99", "max");
    print_dist(f, "TTFT", &s->ttft);
    print_dist(f, "TPOT", &s->tpot);
    print_dist(f, "ITL", &s->itl);
    print_dist(f, "E2E", &s->e2e);
    fprintf(f, "============================================\n");
}

static json_t *dist_json(const loadgen_dist *d)
{
    return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}", "samples", (json_int_t)d->n, "mean", d->mean,
                     "p50", d->p50, "p90", d->p90, "p99", d->p99, "max", d->max);
}

json_t *loadgen_summary_json(const loadgen_summary *s)
{
    json_t *fails = json_object();
    if (!fails) return NULL;
    for (size_t i = 0; i < s->n_fail_kinds; i++) {
        char lab[40];
        if (s->fail_by_status[i].status > 0)
            snprintf(lab, sizeof(lab), "%ld", s->fail_by_status[i].status);
        else
            status_label(lab, sizeof(lab), s->fail_by_status[i].status);
        if (json_object_set_new(fails, lab, json_integer((json_int_t)s->fail_by_status[i].n))) {
            json_decref(fails);
            return NULL;
        }
    }
    return json_pack("{s:I, s:I, s:I, s:o, s:f, s:I, s:I, s:f, s:f, s:f, s:o, s:o, s:o, s:o}",
                     "requests", (json_int_t)s->count, "successful", (json_int_t)s->ok, "failed",
                     (json_int_t)s->failed, "failed_by_status", fails, "duration_s", s->duration_s,
                     "total_input_tokens", (json_int_t)s->total_input_tokens, "total_output_tokens",
                     (json_int_t)s->total_output_tokens, "request_throughput",
                     s->request_throughput, "output_throughput", s->output_throughput,
                     "total_token_throughput", s->total_token_throughput, "ttft_ms",
                     dist_json(&s->ttft), "tpot_ms", dist_json(&s->tpot), "itl_ms",
                     dist_json(&s->itl), "e2e_ms", dist_json(&s->e2e));
}

static json_t *num_or_null(double v)
{
    return v >= 0 ? json_real(v) : json_null();
}

json_t *loadgen_result_json(const loadgen_result *r)
{
    json_t *itl = json_array();
    if (!itl) return NULL;
    for (size_t i = 0; i < r->n_itl; i++)
        if (json_array_append_new(itl, json_real(r->itl_ms[i])) != 0) {
            json_decref(itl);
            return NULL;
        }
    return json_pack(
        "{s:I, s:o, s:o, s:i, s:i, s:f, s:f, s:o, s:o, s:o, s:o, s:o, s:o, s:b, "
        "s:I, s:b, s:o}",
        "id", (json_int_t)r->id, "session",
        r->session >= 0 ? json_integer(r->session) : json_null(), "turn",
        r->session >= 0 ? json_integer(r->turn) : json_null(), "input_len", r->input_len,
        "output_len", r->output_len, "scheduled_s", r->scheduled_s, "send_s", r->send_s, "ttft_ms",
        num_or_null(r->ttft_ms), "tpot_ms", num_or_null(loadgen_result_tpot(r)), "e2e_ms",
        num_or_null(r->e2e_ms), "itl_ms", itl, "prompt_tokens",
        r->prompt_tokens >= 0 ? json_integer(r->prompt_tokens) : json_null(), "completion_tokens",
        r->completion_tokens >= 0 ? json_integer(r->completion_tokens) : json_null(),
        "usage_reported", r->usage_reported, "status", (json_int_t)r->status, "ok", r->ok, "error",
        r->error ? json_string(r->error) : json_null());
}
