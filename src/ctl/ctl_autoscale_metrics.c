/* ctl_autoscale_metrics: the autoscaler's pure helpers (no I/O; fuzzed by
 * fuzz/fuzz_ctl_autoscale.c): AIBrix's metric registry (the raw name of a
 * registry key per engine type) and the value of a metric in a Prometheus
 * text body (see ctl_autoscale.h). */
#include "ctl/ctl_autoscale_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ctl_as_fmt(char *out, size_t len, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(out, len, f, ap);
    va_end(ap);
}

typedef struct ctl_as_reg_entry {
    const char *key;
    const char *vllm, *sglang, *trtllm, *xllm;
    int mean; /* a fraction per engine: average the samples */
} ctl_as_reg_entry;

/* AIBrix's registry (pkg/metrics/metrics.go), the LLM keys. */
static const ctl_as_reg_entry ctl_as_registry[] = {
    {"gpu_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage", NULL,
     "kv_cache_utilization", 1},
    {"kv_cache_usage_perc", "vllm:kv_cache_usage_perc", "sglang:token_usage",
     "trtllm_kv_cache_utilization", NULL, 1},
    {"num_requests_running", "vllm:num_requests_running", "sglang:num_running_reqs", NULL, NULL, 0},
    {"num_requests_waiting", "vllm:num_requests_waiting", "sglang:num_queue_reqs", NULL, NULL, 0},
};

static const ctl_as_reg_entry *ctl_as_reg_find(const char *key)
{
    for (size_t i = 0; i < sizeof(ctl_as_registry) / sizeof(ctl_as_registry[0]); i++)
        if (strcmp(ctl_as_registry[i].key, key) == 0) return &ctl_as_registry[i];
    return NULL;
}

const char *ctl_as_metric_name(const char *target_metric, const char *engine)
{
    if (!target_metric) return "";
    const ctl_as_reg_entry *r = ctl_as_reg_find(target_metric);
    if (!r) return target_metric;
    const char *n = NULL;
    if (engine && strcmp(engine, "sglang") == 0)
        n = r->sglang;
    else if (engine && strcmp(engine, "trtllm") == 0)
        n = r->trtllm;
    else if (engine && strcmp(engine, "xllm") == 0)
        n = r->xllm;
    return n ? n : r->vllm;
}

int ctl_as_doc_metric(const bx_prom_doc *doc, const char *name, int mean, double *out)
{
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < doc->nsamples; i++) {
        const bx_prom_sample *s = &doc->samples[i];
        if (strcmp(s->name, name) != 0) continue;
        if (!isfinite(s->value)) return -1;
        sum += s->value;
        n++;
    }
    if (n == 0 || !isfinite(sum)) return -1;
    *out = mean ? sum / (double)n : sum;
    return 0;
}

int ctl_as_doc_value(const bx_prom_doc *doc, const char *target, const char *engine, double *out,
                     char *err, size_t errlen)
{
    const ctl_as_reg_entry *r = ctl_as_reg_find(target);
    const char *name = ctl_as_metric_name(target, engine);
    int mean = r ? r->mean : 0;
    if (ctl_as_doc_metric(doc, name, mean, out) == 0) return 0;
    /* vLLM V1 renamed gpu_cache_usage_perc to kv_cache_usage_perc. */
    if (strcmp(name, "vllm:gpu_cache_usage_perc") == 0 &&
        ctl_as_doc_metric(doc, "vllm:kv_cache_usage_perc", 1, out) == 0)
        return 0;
    if (strcmp(name, "vllm:kv_cache_usage_perc") == 0 &&
        ctl_as_doc_metric(doc, "vllm:gpu_cache_usage_perc", 1, out) == 0)
        return 0;
    ctl_as_fmt(err, errlen, "metric %s not found", name);
    return -1;
}

void ctl_as_prom_limits(bx_prom_limits *l)
{
    bx_prom_limits_default(l);
    l->max_bytes = CTL_AS_METRICS_MAX_BYTES;
}

int ctl_as_metric_value(const char *body, size_t len, const char *target_metric, const char *engine,
                        double *out, char *err, size_t errlen)
{
    if (!body || !target_metric || !out) {
        ctl_as_fmt(err, errlen, "bad arguments");
        return -1;
    }
    bx_prom_limits lim;
    ctl_as_prom_limits(&lim);
    bx_prom_doc doc;
    char perr[128];
    if (bx_prom_parse(body, len, &lim, &doc, perr, sizeof(perr)) != 0) {
        ctl_as_fmt(err, errlen, "metrics: %s", perr);
        return -1;
    }
    int rc = ctl_as_doc_value(&doc, target_metric, engine, out, err, errlen);
    bx_prom_doc_free(&doc);
    return rc;
}
