/* Shared by the HPA, KPA and APA unit tests: a PodAutoscaler spec for
 * Deployment "llm" with one pod metric, every other field at its default.
 * Header-only, static: each test file gets its own copy. */
#ifndef AUTOSCALE_FIXTURE_H
#define AUTOSCALE_FIXTURE_H

#include <stdio.h>

#include "autoscale/as_spec.h"

static inline as_spec as_test_spec(as_strategy strategy, const char *name, const char *metric,
                                   int32_t min, int32_t max, double target)
{
    as_spec s;
    as_spec_default(&s);
    snprintf(s.name, sizeof(s.name), "%s", name);
    snprintf(s.target.kind, sizeof(s.target.kind), "Deployment");
    snprintf(s.target.name, sizeof(s.target.name), "llm");
    s.strategy = strategy;
    s.min_replicas = min;
    s.max_replicas = max;
    s.n_metrics = 1;
    s.metrics[0].source = AS_SOURCE_POD;
    snprintf(s.metrics[0].protocol, sizeof(s.metrics[0].protocol), "http");
    snprintf(s.metrics[0].port, sizeof(s.metrics[0].port), "8000");
    snprintf(s.metrics[0].path, sizeof(s.metrics[0].path), "/metrics");
    snprintf(s.metrics[0].target_metric, sizeof(s.metrics[0].target_metric), "%s", metric);
    s.metrics[0].target_value = target;
    return s;
}

#endif
