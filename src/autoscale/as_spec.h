/* as_spec: the PodAutoscaler object (autoscaling.aibrix.ai/v1alpha1) in
 * AIBrix's shape, parsed and validated from the JSON tree bx_yaml produces,
 * plus the autoscaling.aibrix.ai/ annotations with AIBrix's defaults.
 *
 * Every error names the field path, e.g. "spec.maxReplicas: must be > 0" or
 * "metadata.annotations[autoscaling.aibrix.ai/panic-threshold]: not a number".
 * Where brix differs from AIBrix on purpose (unknown fields and bad
 * annotation values are errors, numeric targetValue accepted, predictive
 * refused for now, extra brix annotations) see docs/autoscaling.md.
 *
 * spec.schedules (AIBrix's pkg/utils/paschedules rules): each entry's name
 * is a unique DNS label; timezone an IANA name, the same in every entry
 * ("" = UTC); daysOfWeek Mon..Sun in any case (omitted = every day, an
 * empty list is an error); startTime inclusive and endTime exclusive, strict
 * HH:MM, start < end; minReplicas/maxReplicas at least one, the other
 * inherited from the base; effective min <= max; no two entries overlap on
 * a day. That the zone exists in the tz database is checked by the caller
 * (as_spec does no I/O: ctl_autoscale loads it with bx_tz); which schedule is
 * active when is as_sched.h's.
 *
 * spec.scheduledBounds (AIBrix's ScheduledReplicaBounds): name a unique DNS
 * label (unique across both lists); timezone an IANA name per entry ("" =
 * UTC); cron five fields (as_cron.h); duration a Go duration in (0, 168h];
 * startTime/endTime RFC 3339, start < end when both; minReplicas and/or
 * maxReplicas with the same effective-bounds rules as spec.schedules.
 *
 * Ownership: as_spec is plain data with fixed-size strings; as_spec_parse
 * copies what it needs and keeps no reference to the json_t. */
#ifndef AS_SPEC_H
#define AS_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autoscale/as_cron.h"

#define AS_API_VERSION "autoscaling.aibrix.ai/v1alpha1"
#define AS_KIND "PodAutoscaler"
#define AS_MAX_METRICS 8
#define AS_NAME_LEN 254 /* 253 + NUL, a DNS subdomain */
#define AS_STR_LEN 256

/* Annotation keys (AIBrix HEAD, pkg/controller/podautoscaler/types/annotations.go). */
#define AS_ANN_PREFIX "autoscaling.aibrix.ai/"
#define AS_ANN_UP_RATE AS_ANN_PREFIX "max-scale-up-rate"
#define AS_ANN_DOWN_RATE AS_ANN_PREFIX "max-scale-down-rate"
#define AS_ANN_UP_TOL AS_ANN_PREFIX "scale-up-tolerance"
#define AS_ANN_DOWN_TOL AS_ANN_PREFIX "scale-down-tolerance"
#define AS_ANN_PANIC_THRESHOLD AS_ANN_PREFIX "panic-threshold"
#define AS_ANN_UP_WINDOW AS_ANN_PREFIX "scale-up-cooldown-window"
#define AS_ANN_DOWN_WINDOW AS_ANN_PREFIX "scale-down-cooldown-window"
#define AS_ANN_SCALE_TO_ZERO AS_ANN_PREFIX "scale-to-zero"
#define AS_ANN_STORM_MODE AS_ANN_PREFIX "storm-service-mode"
/* brix additions (Knative's names and defaults). */
#define AS_ANN_ZERO_GRACE AS_ANN_PREFIX "scale-to-zero-grace-period"
#define AS_ANN_ACTIVATION_SCALE AS_ANN_PREFIX "activation-scale"

typedef enum as_strategy { AS_STRATEGY_HPA = 0, AS_STRATEGY_KPA, AS_STRATEGY_APA } as_strategy;

typedef enum as_source_type {
    AS_SOURCE_POD = 0,
    AS_SOURCE_RESOURCE,
    AS_SOURCE_CUSTOM,
    AS_SOURCE_EXTERNAL,
    AS_SOURCE_DOMAIN /* deprecated alias of external */
} as_source_type;

typedef enum as_storm_mode { AS_STORM_POOL = 0, AS_STORM_REPLICA } as_storm_mode;

typedef struct as_metric_spec {
    as_source_type source;
    char protocol[8]; /* "", "http" or "https" */
    char endpoint[AS_STR_LEN];
    char path[AS_STR_LEN];
    char port[16];
    char target_metric[AS_STR_LEN];
    double target_value; /* > 0 */
} as_metric_spec;

#define AS_MAX_SCHEDULES 32
#define AS_SCHED_NAME_LEN 64 /* a DNS label, 63 + NUL */
#define AS_TZ_LEN 256

/* One spec.schedules[] entry (AIBrix's PodAutoscalerSchedule): a daily
 * window [start, end) in the schedules' time zone on the days of `days`,
 * overriding minReplicas and/or maxReplicas while it is active. */
typedef struct as_schedule {
    char name[AS_SCHED_NAME_LEN];
    uint8_t days;      /* bit 0 = Sunday .. bit 6 = Saturday; all 7 when omitted */
    int16_t start_min; /* minutes after local midnight, inclusive */
    int16_t end_min;   /* exclusive, > start_min (no window across midnight) */
    bool has_min, has_max;
    int32_t min_replicas; /* read when has_min; else the base minReplicas applies */
    int32_t max_replicas; /* read when has_max; else the base maxReplicas applies */
} as_schedule;

#define AS_MAX_BOUNDS 16
#define AS_CRON_LEN 128

/* One spec.scheduledBounds[] entry (AIBrix's ScheduledReplicaBounds): from
 * each occurrence of cron in its zone, for duration, within the lifetime
 * [startTime, endTime), minReplicas and/or maxReplicas override the base. */
typedef struct as_sched_bounds {
    char name[AS_SCHED_NAME_LEN];
    char timezone[AS_TZ_LEN]; /* IANA name, "UTC" when unset */
    char cron_text[AS_CRON_LEN];
    as_cron cron;
    int64_t duration_s;      /* 1 s .. 7 days */
    bool has_start, has_end; /* the lifetime; absent = unbounded */
    int64_t start_s, end_s;  /* unix seconds (RFC 3339, fraction dropped) */
    bool has_min, has_max;
    int32_t min_replicas;
    int32_t max_replicas;
} as_sched_bounds;

typedef struct as_target_ref {
    char api_version[AS_STR_LEN];
    char kind[AS_STR_LEN];
    char name[AS_NAME_LEN];
    char namespace_[AS_NAME_LEN]; /* empty in YAML -> the PA's namespace */
} as_target_ref;

/* Defaults are those of as_spec_default (AIBrix HEAD's NewBaseScalingContext). */
typedef struct as_spec {
    char name[AS_NAME_LEN];
    char namespace_[AS_NAME_LEN]; /* "default" when absent */
    as_target_ref target;
    char sub_target_role[AS_STR_LEN]; /* subTargetSelector.roleName, "" = none */
    int32_t min_replicas;             /* nil -> 1; 0 enables scale to zero */
    int32_t max_replicas;             /* > 0 */
    size_t n_schedules;               /* spec.schedules[], in order: the first active wins */
    as_schedule schedules[AS_MAX_SCHEDULES];
    char timezone[AS_TZ_LEN]; /* the schedules' IANA zone ("UTC" when unset); "" without */
    size_t n_bounds;          /* spec.scheduledBounds[], in order, after spec.schedules */
    as_sched_bounds bounds[AS_MAX_BOUNDS];
    as_strategy strategy;
    size_t n_metrics;
    as_metric_spec metrics[AS_MAX_METRICS];
    int64_t observe_window_ms; /* observeWindowSeconds, default 180 s */
    int64_t panic_window_ms;   /* panicWindowSeconds, default 60 s, <= observe */
    /* annotations */
    double max_scale_up_rate;   /* r_up, default 2.0, > 1 */
    double max_scale_down_rate; /* r_down, default 2.0, > 1 */
    double scale_up_tolerance;  /* tau_up, default 0.1, [0, 1) */
    double scale_down_tolerance;
    double panic_threshold;         /* theta, default 2.0, > 1 */
    int64_t up_stabilization_ms;    /* scale-up-cooldown-window, default 0 */
    int64_t down_stabilization_ms;  /* scale-down-cooldown-window, default 300 s */
    int64_t scale_to_zero_grace_ms; /* brix, default 30 s */
    int32_t activation_scale;       /* brix, default 1, >= 1 */
    bool scale_to_zero;             /* informational, as in AIBrix; min 0 decides */
    as_storm_mode storm_mode;
} as_spec;

void as_spec_default(as_spec *s);
/* Parses the whole object (apiVersion, kind, metadata, spec; status is
 * ignored) into *out, then runs as_spec_validate. 0, or -1 with a message
 * naming the field in err. */
int as_spec_parse(const json_t *obj, as_spec *out, char *err, size_t errlen);
/* The cross-field checks, for specs built in code. 0 or -1. */
int as_spec_validate(const as_spec *s, char *err, size_t errlen);
/* Go's time.ParseDuration for non-negative values ("300s", "1m30s", "0"),
 * rounded down to ms. 0 or -1. */
int as_parse_duration_ms(const char *s, int64_t *out_ms);

/* An RFC 3339 date-time ("2026-08-05T09:00:00Z", "...T09:00:00.5-07:00")
 * -> unix seconds (a fraction is dropped). 0 or -1. */
int as_parse_rfc3339(const char *s, int64_t *out_s);

/* "HH:MM" (strict, 00:00..23:59) -> minutes after midnight, or -1. */
int as_parse_hhmm(const char *s);
/* "Mon".."Sun", any case -> 0 (Sunday) .. 6, or -1. */
int as_parse_weekday(const char *s);

const char *as_strategy_name(as_strategy s);
const char *as_source_type_name(as_source_type t);

#endif
