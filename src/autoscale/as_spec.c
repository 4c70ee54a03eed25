/* as_spec: PodAutoscaler parsing and validation. Parsing checks types and
 * copies fields; as_spec_validate holds every range and cross-field rule so
 * a spec built in code gets the same checks. */
#include "autoscale/as_spec.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_time.h"
#include "common/bx_tz.h"

#define MAX_WINDOW_MS (3600LL * 1000)
#define PATH_LEN 160

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

void as_spec_default(as_spec *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->namespace_, sizeof(s->namespace_), "default");
    s->min_replicas = 1;
    s->max_replicas = 0;
    s->strategy = AS_STRATEGY_KPA;
    s->observe_window_ms = 180 * 1000;
    s->panic_window_ms = 60 * 1000;
    s->max_scale_up_rate = 2.0;
    s->max_scale_down_rate = 2.0;
    s->scale_up_tolerance = 0.1;
    s->scale_down_tolerance = 0.1;
    s->panic_threshold = 2.0;
    s->up_stabilization_ms = 0;
    s->down_stabilization_ms = 300 * 1000;
    s->scale_to_zero_grace_ms = 30 * 1000;
    s->activation_scale = 1;
    s->scale_to_zero = false;
    s->storm_mode = AS_STORM_POOL;
}

const char *as_strategy_name(as_strategy s)
{
    switch (s) {
    case AS_STRATEGY_HPA:
        return "HPA";
    case AS_STRATEGY_KPA:
        return "KPA";
    case AS_STRATEGY_APA:
        return "APA";
    }
    return "?";
}

static const char *const source_names[] = {"pod", "resource", "custom", "external", "domain"};

const char *as_source_type_name(as_source_type t)
{
    if ((unsigned)t < sizeof(source_names) / sizeof(source_names[0])) return source_names[t];
    return "?";
}

/* ---- scalar parsers (Go's strconv / time semantics where AIBrix uses them) ---- */

static int parse_float(const char *s, double *out)
{
    if (!s || !*s || isspace((unsigned char)*s) || strlen(s) > 64) return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno == ERANGE || end == s || *end != '\0' || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(s, t[i]) == 0) return *out = true, 0;
        if (strcmp(s, f[i]) == 0) return *out = false, 0;
    }
    return -1;
}

int as_parse_duration_ms(const char *s, int64_t *out_ms)
{
    static const struct {
        const char *name;
        int64_t ns;
    } units[] = {{"ns", 1},
                 {"us", 1000},
                 {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
                 {"\xce\xbcs", 1000}, /* U+03BC Greek mu */
                 {"ms", 1000000},
                 {"s", 1000000000LL},
                 {"m", 60 * 1000000000LL},
                 {"h", 3600 * 1000000000LL}};
    if (!s || !out_ms || strlen(s) > 64) return -1;
    if (*s == '+') s++;
    if (*s == '-' || *s == '\0') return -1;
    if (strcmp(s, "0") == 0) return *out_ms = 0, 0;
    long double total_ns = 0;
    while (*s) {
        int64_t whole = 0;
        long double frac = 0, scale = 1;
        int digits = 0;
        while (isdigit((unsigned char)*s)) {
            if (whole > (INT64_MAX - 9) / 10) return -1;
            whole = whole * 10 + (*s++ - '0');
            digits++;
        }
        if (*s == '.') {
            s++;
            while (isdigit((unsigned char)*s)) {
                if (scale < 1e18L) {
                    frac = frac * 10 + (*s - '0');
                    scale *= 10;
                }
                s++;
                digits++;
            }
        }
        if (digits == 0) return -1;
        const char *u = s;
        while (*s && *s != '.' && !isdigit((unsigned char)*s))
            s++;
        size_t ulen = (size_t)(s - u);
        int64_t unit = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strlen(units[i].name) == ulen && memcmp(units[i].name, u, ulen) == 0)
                unit = units[i].ns;
        if (unit == 0) return -1; /* missing or unknown unit */
        total_ns += (long double)whole * unit + frac / scale * unit;
        if (total_ns > (long double)INT64_MAX) return -1;
    }
    *out_ms = (int64_t)(total_ns / 1000000.0L);
    return 0;
}

/* ---- JSON field helpers ---- */

/* Copies a string field. Absent or null leaves dst as "" (or fails when
 * required). allow_int accepts an integer and prints it (ports). */
static int get_str(const json_t *obj, const char *key, const char *path, char *dst, size_t dstlen,
                   bool required, bool allow_int, char *err, size_t errlen)
{
    dst[0] = '\0';
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required) return fail(err, errlen, "%s: required", path);
        return 0;
    }
    if (allow_int && json_is_integer(v)) {
        snprintf(dst, dstlen, "%lld", (long long)json_integer_value(v));
        return 0;
    }
    if (!json_is_string(v)) return fail(err, errlen, "%s: must be a string", path);
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (strlen(s) != len) return fail(err, errlen, "%s: contains a NUL byte", path);
    if (len >= dstlen) return fail(err, errlen, "%s: longer than %zu bytes", path, dstlen - 1);
    if (required && len == 0) return fail(err, errlen, "%s: required", path);
    memcpy(dst, s, len + 1);
    return 0;
}

/* present: set to whether the field was there (non-null). */
static int get_int(const json_t *obj, const char *key, const char *path, int64_t lo, int64_t hi,
                   int64_t *out, bool *present, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    *present = v && !json_is_null(v);
    if (!*present) return 0;
    if (!json_is_integer(v)) return fail(err, errlen, "%s: must be an integer", path);
    json_int_t i = json_integer_value(v);
    if (i < lo || i > hi)
        return fail(err, errlen, "%s: must be in [%lld, %lld]", path, (long long)lo, (long long)hi);
    *out = i;
    return 0;
}

/* An override entry's minReplicas and maxReplicas (spec.schedules[i],
 * spec.scheduledBounds[i]: base is its path). */
static int get_min_max(const json_t *e, const char *base, bool *has_min, int32_t *min,
                       bool *has_max, int32_t *max, char *err, size_t errlen)
{
    char path[128];
    int64_t iv = 0;
    snprintf(path, sizeof(path), "%s.minReplicas", base);
    if (get_int(e, "minReplicas", path, INT32_MIN, INT32_MAX, &iv, has_min, err, errlen)) return -1;
    if (*has_min) *min = (int32_t)iv;
    snprintf(path, sizeof(path), "%s.maxReplicas", base);
    if (get_int(e, "maxReplicas", path, INT32_MIN, INT32_MAX, &iv, has_max, err, errlen)) return -1;
    if (*has_max) *max = (int32_t)iv;
    return 0;
}

/* Refuses keys outside the allowed list, naming the first stranger. */
static int check_keys(const json_t *obj, const char *path, const char *const *allowed, char *err,
                      size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        (void)v;
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(k, allowed[i]) == 0) ok = true;
        if (!ok) return fail(err, errlen, "%s.%.64s: unknown field", path, k);
    }
    return 0;
}

/* DNS subdomain (max_len 253) or label (63): lowercase alnum, '-', and '.'
 * for subdomains, alnum at both ends. */
static bool dns_name_ok(const char *s, size_t max_len, bool dots)
{
    size_t n = strlen(s);
    if (n == 0 || n > max_len) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum) continue;
        if ((c == '-' || (dots && c == '.')) && i > 0 && i + 1 < n) continue;
        return false;
    }
    return true;
}

/* ---- annotations ---- */

static int ann_float(const json_t *ann, const char *key, double *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(ann, key);
    if (!v) return 0;
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (!isfinite(d)) return fail(err, errlen, "metadata.annotations[%s]: not a number", key);
        *out = d;
        return 0;
    }
    if (!json_is_string(v) || parse_float(json_string_value(v), out) != 0)
        return fail(err, errlen, "metadata.annotations[%s]: not a number", key);
    return 0;
}

static int ann_duration(const json_t *ann, const char *key, int64_t *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(ann, key);
    if (!v) return 0;
    if (!json_is_string(v) || as_parse_duration_ms(json_string_value(v), out) != 0)
        return fail(err, errlen,
                    "metadata.annotations[%s]: not a non-negative duration such as \"300s\"", key);
    return 0;
}

static int parse_annotations(const json_t *ann, as_spec *s, char *err, size_t errlen)
{
    if (!ann || json_is_null(ann)) return 0;
    if (!json_is_object(ann)) return fail(err, errlen, "metadata.annotations: must be a mapping");
    if (ann_float(ann, AS_ANN_UP_RATE, &s->max_scale_up_rate, err, errlen) ||
        ann_float(ann, AS_ANN_DOWN_RATE, &s->max_scale_down_rate, err, errlen) ||
        ann_float(ann, AS_ANN_UP_TOL, &s->scale_up_tolerance, err, errlen) ||
        ann_float(ann, AS_ANN_DOWN_TOL, &s->scale_down_tolerance, err, errlen) ||
        ann_float(ann, AS_ANN_PANIC_THRESHOLD, &s->panic_threshold, err, errlen) ||
        ann_duration(ann, AS_ANN_UP_WINDOW, &s->up_stabilization_ms, err, errlen) ||
        ann_duration(ann, AS_ANN_DOWN_WINDOW, &s->down_stabilization_ms, err, errlen) ||
        ann_duration(ann, AS_ANN_ZERO_GRACE, &s->scale_to_zero_grace_ms, err, errlen))
        return -1;
    const json_t *v = json_object_get(ann, AS_ANN_SCALE_TO_ZERO);
    if (v) {
        if (json_is_boolean(v))
            s->scale_to_zero = json_is_true(v);
        else if (!json_is_string(v) || parse_bool(json_string_value(v), &s->scale_to_zero) != 0)
            return fail(err, errlen, "metadata.annotations[%s]: not a boolean",
                        AS_ANN_SCALE_TO_ZERO);
    }
    v = json_object_get(ann, AS_ANN_STORM_MODE);
    if (v) {
        const char *m = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(m, "replica") == 0)
            s->storm_mode = AS_STORM_REPLICA;
        else if (strcmp(m, "pool") == 0)
            s->storm_mode = AS_STORM_POOL;
        else
            return fail(err, errlen, "metadata.annotations[%s]: must be replica or pool",
                        AS_ANN_STORM_MODE);
    }
    v = json_object_get(ann, AS_ANN_ACTIVATION_SCALE);
    if (v) {
        double d = 0;
        if (json_is_integer(v))
            d = (double)json_integer_value(v);
        else if (!json_is_string(v) || parse_float(json_string_value(v), &d) != 0)
            d = -1;
        if (d < 1 || d > INT32_MAX || d != floor(d))
            return fail(err, errlen, "metadata.annotations[%s]: must be an integer >= 1",
                        AS_ANN_ACTIVATION_SCALE);
        s->activation_scale = (int32_t)d;
    }
    return 0;
}

/* ---- spec ---- */

static int parse_metric(const json_t *m, size_t i, as_metric_spec *out, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "metricSourceType", "protocolType", "endpoint", "path", "port",
        "targetMetric",     "targetValue",  NULL};
    char base[64], path[PATH_LEN], tmp[AS_STR_LEN];
    snprintf(base, sizeof(base), "spec.metricsSources[%zu]", i);
    if (!json_is_object(m)) return fail(err, errlen, "%s: must be a mapping", base);
    if (check_keys(m, base, keys, err, errlen)) return -1;
    memset(out, 0, sizeof(*out));

    snprintf(path, sizeof(path), "%s.metricSourceType", base);
    if (get_str(m, "metricSourceType", path, tmp, sizeof(tmp), true, false, err, errlen)) return -1;
    bool found = false;
    for (size_t k = 0; k < sizeof(source_names) / sizeof(source_names[0]); k++)
        if (strcmp(tmp, source_names[k]) == 0) {
            out->source = (as_source_type)k;
            found = true;
        }
    if (!found)
        return fail(err, errlen, "%s: must be one of pod, resource, custom, external, domain",
                    path);

    snprintf(path, sizeof(path), "%s.protocolType", base);
    if (get_str(m, "protocolType", path, out->protocol, sizeof(out->protocol), false, false, err,
                errlen))
        return -1;
    snprintf(path, sizeof(path), "%s.endpoint", base);
    if (get_str(m, "endpoint", path, out->endpoint, sizeof(out->endpoint), false, false, err,
                errlen))
        return -1;
    snprintf(path, sizeof(path), "%s.path", base);
    if (get_str(m, "path", path, out->path, sizeof(out->path), false, false, err, errlen))
        return -1;
    /* "metrics" means "/metrics": AIBrix accepts it (its own kpa.yaml and apa.yaml samples
     * write it so) and scrapes /metrics whatever the path says; brix honours the path, so
     * it takes it as rooted. */
    if (out->path[0] && out->path[0] != '/') {
        size_t n = strlen(out->path);
        if (n + 1 >= sizeof(out->path))
            return fail(err, errlen, "%s: too long (at most %zu bytes)", path,
                        sizeof(out->path) - 2);
        memmove(out->path + 1, out->path, n + 1);
        out->path[0] = '/';
    }
    snprintf(path, sizeof(path), "%s.port", base);
    if (get_str(m, "port", path, out->port, sizeof(out->port), false, true, err, errlen)) return -1;
    snprintf(path, sizeof(path), "%s.targetMetric", base);
    if (get_str(m, "targetMetric", path, out->target_metric, sizeof(out->target_metric), true,
                false, err, errlen))
        return -1;

    snprintf(path, sizeof(path), "%s.targetValue", base);
    const json_t *tv = json_object_get(m, "targetValue");
    if (!tv || json_is_null(tv)) return fail(err, errlen, "%s: required", path);
    if (json_is_number(tv)) {
        out->target_value = json_number_value(tv);
    } else if (!json_is_string(tv) || parse_float(json_string_value(tv), &out->target_value) != 0) {
        return fail(err, errlen, "%s: not a number", path);
    }
    return 0;
}

/* ---- schedules ---- */

int as_parse_hhmm(const char *s)
{
    if (!s || strlen(s) != 5 || s[2] != ':') return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && !isdigit((unsigned char)s[i])) return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59) return -1;
    return h * 60 + m;
}

int as_parse_weekday(const char *s)
{
    static const char *const names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    if (!s || strlen(s) != 3) return -1;
    char l[4];
    for (int i = 0; i < 3; i++)
        l[i] = (char)tolower((unsigned char)s[i]);
    l[3] = '\0';
    for (int i = 0; i < 7; i++)
        if (strcmp(l, names[i]) == 0) return i;
    return -1;
}

static int parse_schedule(const json_t *e, size_t i, as_schedule *out, char *tz, size_t tzlen,
                          char *err, size_t errlen)
{
    static const char *const keys[] = {"name",    "timezone",    "daysOfWeek",  "startTime",
                                       "endTime", "minReplicas", "maxReplicas", NULL};
    char base[40], path[PATH_LEN], tmp[AS_STR_LEN];
    snprintf(base, sizeof(base), "spec.schedules[%zu]", i);
    memset(out, 0, sizeof(*out));
    if (!json_is_object(e)) return fail(err, errlen, "%s: must be a mapping", base);
    if (check_keys(e, base, keys, err, errlen)) return -1;
    snprintf(path, sizeof(path), "%s.name", base);
    if (get_str(e, "name", path, out->name, sizeof(out->name), true, false, err, errlen)) return -1;
    snprintf(path, sizeof(path), "%s.timezone", base);
    if (get_str(e, "timezone", path, tz, tzlen, false, false, err, errlen)) return -1;
    if (!tz[0]) snprintf(tz, tzlen, "UTC");
    snprintf(path, sizeof(path), "%s.daysOfWeek", base);
    const json_t *days = json_object_get(e, "daysOfWeek");
    if (!days || json_is_null(days)) {
        out->days = 0x7f;
    } else {
        if (!json_is_array(days)) return fail(err, errlen, "%s: must be a list", path);
        if (json_array_size(days) == 0)
            return fail(err, errlen, "%s: must not be empty (omit it for every day)", path);
        size_t k;
        const json_t *d;
        json_array_foreach(days, k, d)
        {
            int wd = json_is_string(d) ? as_parse_weekday(json_string_value(d)) : -1;
            if (wd < 0)
                return fail(err, errlen,
                            "%s[%zu]: \"%.32s\" is not a day (Mon, Tue, Wed, Thu, Fri, "
                            "Sat or Sun)",
                            path, k, json_is_string(d) ? json_string_value(d) : "?");
            out->days |= (uint8_t)(1u << wd);
        }
    }
    static const char *const tkeys[] = {"startTime", "endTime"};
    for (int t = 0; t < 2; t++) {
        snprintf(path, sizeof(path), "%s.%s", base, tkeys[t]);
        if (get_str(e, tkeys[t], path, tmp, sizeof(tmp), true, false, err, errlen)) return -1;
        int m = as_parse_hhmm(tmp);
        if (m < 0) return fail(err, errlen, "%s: must be HH:MM (00:00 to 23:59)", path);
        if (t == 0)
            out->start_min = (int16_t)m;
        else
            out->end_min = (int16_t)m;
    }
    return get_min_max(e, base, &out->has_min, &out->min_replicas, &out->has_max,
                       &out->max_replicas, err, errlen);
}

static int parse_schedules(const json_t *sch, as_spec *s, char *err, size_t errlen)
{
    if (!sch || json_is_null(sch)) return 0;
    if (!json_is_array(sch)) return fail(err, errlen, "spec.schedules: must be a list");
    if (json_array_size(sch) == 0)
        return fail(err, errlen, "spec.schedules: must not be empty (omit it for no schedule)");
    if (json_array_size(sch) > AS_MAX_SCHEDULES)
        return fail(err, errlen, "spec.schedules: at most %d entries", AS_MAX_SCHEDULES);
    for (size_t i = 0; i < json_array_size(sch); i++) {
        char tz[AS_TZ_LEN];
        if (parse_schedule(json_array_get(sch, i), i, &s->schedules[i], tz, sizeof(tz), err,
                           errlen))
            return -1;
        if (i == 0)
            snprintf(s->timezone, sizeof(s->timezone), "%s", tz);
        else if (strcmp(tz, s->timezone) != 0)
            return fail(err, errlen,
                        "spec.schedules[%zu].timezone: \"%s\" differs from spec.schedules[0]'s "
                        "\"%s\" (all schedules must use the same time zone)",
                        i, tz, s->timezone);
        s->n_schedules = i + 1;
    }
    return 0;
}

/* ---- scheduledBounds ---- */

int as_parse_rfc3339(const char *s, int64_t *out_s)
{
    int64_t ms;
    if (bx_time_parse_rfc3339(s, &ms) != 0) return -1;
    *out_s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    return 0;
}

static int parse_bound(const json_t *e, size_t i, as_sched_bounds *out, char *err, size_t errlen)
{
    static const char *const keys[] = {"name",     "timezone",    "startTime",   "endTime", "cron",
                                       "duration", "minReplicas", "maxReplicas", NULL};
    char base[40], path[PATH_LEN], tmp[AS_STR_LEN];
    snprintf(base, sizeof(base), "spec.scheduledBounds[%zu]", i);
    memset(out, 0, sizeof(*out));
    if (!json_is_object(e)) return fail(err, errlen, "%s: must be a mapping", base);
    if (check_keys(e, base, keys, err, errlen)) return -1;
    snprintf(path, sizeof(path), "%s.name", base);
    if (get_str(e, "name", path, out->name, sizeof(out->name), true, false, err, errlen)) return -1;
    snprintf(path, sizeof(path), "%s.timezone", base);
    if (get_str(e, "timezone", path, out->timezone, sizeof(out->timezone), false, false, err,
                errlen))
        return -1;
    if (!out->timezone[0]) snprintf(out->timezone, sizeof(out->timezone), "UTC");
    snprintf(path, sizeof(path), "%s.cron", base);
    if (get_str(e, "cron", path, out->cron_text, sizeof(out->cron_text), true, false, err, errlen))
        return -1;
    char why[160];
    if (as_cron_parse(out->cron_text, &out->cron, why, sizeof(why)))
        return fail(err, errlen, "%s: \"%.64s\": %s", path, out->cron_text, why);
    snprintf(path, sizeof(path), "%s.duration", base);
    if (get_str(e, "duration", path, tmp, sizeof(tmp), true, false, err, errlen)) return -1;
    int64_t ms = 0;
    if (as_parse_duration_ms(tmp, &ms))
        return fail(err, errlen, "%s: \"%.32s\" is not a duration (e.g. 1h, 30m)", path, tmp);
    if (ms < 1000 || ms > AS_CRON_MAX_DURATION_S * 1000)
        return fail(err, errlen, "%s: must be at least 1s and at most 168h", path);
    out->duration_s = ms / 1000;
    static const char *const tkeys[] = {"startTime", "endTime"};
    for (int t = 0; t < 2; t++) {
        snprintf(path, sizeof(path), "%s.%s", base, tkeys[t]);
        if (get_str(e, tkeys[t], path, tmp, sizeof(tmp), false, false, err, errlen)) return -1;
        if (!tmp[0]) continue;
        int64_t v;
        if (as_parse_rfc3339(tmp, &v))
            return fail(err, errlen, "%s: \"%.40s\" is not an RFC 3339 time", path, tmp);
        if (t == 0) {
            out->has_start = true;
            out->start_s = v;
        } else {
            out->has_end = true;
            out->end_s = v;
        }
    }
    return get_min_max(e, base, &out->has_min, &out->min_replicas, &out->has_max,
                       &out->max_replicas, err, errlen);
}

static int parse_bounds(const json_t *b, as_spec *s, char *err, size_t errlen)
{
    if (!b || json_is_null(b)) return 0;
    if (!json_is_array(b)) return fail(err, errlen, "spec.scheduledBounds: must be a list");
    if (json_array_size(b) > AS_MAX_BOUNDS)
        return fail(err, errlen, "spec.scheduledBounds: at most %d entries", AS_MAX_BOUNDS);
    for (size_t i = 0; i < json_array_size(b); i++) {
        if (parse_bound(json_array_get(b, i), i, &s->bounds[i], err, errlen)) return -1;
        s->n_bounds = i + 1;
    }
    return 0;
}

static int parse_spec(const json_t *spec, as_spec *s, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "scaleTargetRef",     "subTargetSelector", "minReplicas",     "maxReplicas",
        "schedules",          "metricsSources",    "predictive",      "observeWindowSeconds",
        "panicWindowSeconds", "scalingStrategy",   "scheduledBounds", NULL};
    if (!spec || json_is_null(spec)) return fail(err, errlen, "spec: required");
    if (!json_is_object(spec)) return fail(err, errlen, "spec: must be a mapping");
    if (check_keys(spec, "spec", keys, err, errlen)) return -1;

    const json_t *ref = json_object_get(spec, "scaleTargetRef");
    if (!ref || json_is_null(ref)) return fail(err, errlen, "spec.scaleTargetRef: required");
    if (!json_is_object(ref)) return fail(err, errlen, "spec.scaleTargetRef: must be a mapping");
    static const char *const ref_keys[] = {
        "apiVersion", "kind", "name", "namespace", "uid", "resourceVersion", "fieldPath", NULL};
    if (check_keys(ref, "spec.scaleTargetRef", ref_keys, err, errlen)) return -1;
    if (get_str(ref, "apiVersion", "spec.scaleTargetRef.apiVersion", s->target.api_version,
                sizeof(s->target.api_version), false, false, err, errlen) ||
        get_str(ref, "kind", "spec.scaleTargetRef.kind", s->target.kind, sizeof(s->target.kind),
                true, false, err, errlen) ||
        get_str(ref, "name", "spec.scaleTargetRef.name", s->target.name, sizeof(s->target.name),
                true, false, err, errlen) ||
        get_str(ref, "namespace", "spec.scaleTargetRef.namespace", s->target.namespace_,
                sizeof(s->target.namespace_), false, false, err, errlen))
        return -1;
    if (!s->target.namespace_[0])
        snprintf(s->target.namespace_, sizeof(s->target.namespace_), "%s", s->namespace_);

    const json_t *sub = json_object_get(spec, "subTargetSelector");
    if (sub && !json_is_null(sub)) {
        if (!json_is_object(sub))
            return fail(err, errlen, "spec.subTargetSelector: must be a mapping");
        static const char *const sub_keys[] = {"roleName", NULL};
        if (check_keys(sub, "spec.subTargetSelector", sub_keys, err, errlen) ||
            get_str(sub, "roleName", "spec.subTargetSelector.roleName", s->sub_target_role,
                    sizeof(s->sub_target_role), false, false, err, errlen))
            return -1;
    }

    int64_t iv = 0;
    bool present = false;
    if (get_int(spec, "maxReplicas", "spec.maxReplicas", INT32_MIN, INT32_MAX, &iv, &present, err,
                errlen))
        return -1;
    if (!present) return fail(err, errlen, "spec.maxReplicas: required");
    s->max_replicas = (int32_t)iv;
    if (get_int(spec, "minReplicas", "spec.minReplicas", INT32_MIN, INT32_MAX, &iv, &present, err,
                errlen))
        return -1;
    s->min_replicas = present ? (int32_t)iv : 1; /* nil -> 1 (BaseBounds) */

    if (parse_schedules(json_object_get(spec, "schedules"), s, err, errlen)) return -1;
    if (parse_bounds(json_object_get(spec, "scheduledBounds"), s, err, errlen)) return -1;
    /* AIBrix's predictive scaling: checked as AIBrix checks it, then not
     * acted on (brix scales reactively; the apply warning names it) */
    const json_t *pred = json_object_get(spec, "predictive");
    if (pred && !json_is_null(pred)) {
        static const char *const pred_keys[] = {"mode", "horizonSeconds", NULL};
        char mode[16];
        int64_t hz = 0;
        bool hz_set = false;
        if (!json_is_object(pred)) return fail(err, errlen, "spec.predictive: must be a mapping");
        if (check_keys(pred, "spec.predictive", pred_keys, err, errlen) ||
            get_str(pred, "mode", "spec.predictive.mode", mode, sizeof(mode), false, false, err,
                    errlen) ||
            get_int(pred, "horizonSeconds", "spec.predictive.horizonSeconds", 1, 3600, &hz, &hz_set,
                    err, errlen))
            return -1;
        if (mode[0] && strcmp(mode, "Preview") != 0 && strcmp(mode, "Auto") != 0)
            return fail(err, errlen, "spec.predictive.mode: must be Preview or Auto");
    }

    const json_t *ms = json_object_get(spec, "metricsSources");
    if (!ms || json_is_null(ms)) return fail(err, errlen, "spec.metricsSources: required");
    if (!json_is_array(ms)) return fail(err, errlen, "spec.metricsSources: must be a list");
    if (json_array_size(ms) == 0)
        return fail(err, errlen, "spec.metricsSources: needs at least one entry");
    if (json_array_size(ms) > AS_MAX_METRICS)
        return fail(err, errlen, "spec.metricsSources: at most %d entries", AS_MAX_METRICS);
    s->n_metrics = json_array_size(ms);
    for (size_t i = 0; i < s->n_metrics; i++)
        if (parse_metric(json_array_get(ms, i), i, &s->metrics[i], err, errlen)) return -1;

    if (get_int(spec, "observeWindowSeconds", "spec.observeWindowSeconds", 1, 3600, &iv, &present,
                err, errlen))
        return -1;
    if (present) s->observe_window_ms = iv * 1000;
    if (get_int(spec, "panicWindowSeconds", "spec.panicWindowSeconds", 1, 3600, &iv, &present, err,
                errlen))
        return -1;
    if (present) s->panic_window_ms = iv * 1000;

    char strat[AS_STR_LEN];
    if (get_str(spec, "scalingStrategy", "spec.scalingStrategy", strat, sizeof(strat), true, false,
                err, errlen))
        return -1;
    if (strcmp(strat, "HPA") == 0)
        s->strategy = AS_STRATEGY_HPA;
    else if (strcmp(strat, "KPA") == 0)
        s->strategy = AS_STRATEGY_KPA;
    else if (strcmp(strat, "APA") == 0)
        s->strategy = AS_STRATEGY_APA;
    else
        return fail(err, errlen, "spec.scalingStrategy: must be HPA, KPA or APA");
    return 0;
}

int as_spec_parse(const json_t *obj, as_spec *out, char *err, size_t errlen)
{
    if (!out) return fail(err, errlen, "internal: no output");
    as_spec_default(out);
    if (!obj || !json_is_object(obj)) return fail(err, errlen, "object: must be a mapping");
    static const char *const keys[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};
    if (check_keys(obj, "object", keys, err, errlen)) return -1;
    char tmp[AS_STR_LEN];
    if (get_str(obj, "apiVersion", "apiVersion", tmp, sizeof(tmp), true, false, err, errlen))
        return -1;
    if (strcmp(tmp, AS_API_VERSION) != 0)
        return fail(err, errlen, "apiVersion: must be %s", AS_API_VERSION);
    if (get_str(obj, "kind", "kind", tmp, sizeof(tmp), true, false, err, errlen)) return -1;
    if (strcmp(tmp, AS_KIND) != 0) return fail(err, errlen, "kind: must be %s", AS_KIND);

    const json_t *md = json_object_get(obj, "metadata");
    if (!md || json_is_null(md)) return fail(err, errlen, "metadata.name: required");
    if (!json_is_object(md)) return fail(err, errlen, "metadata: must be a mapping");
    if (get_str(md, "name", "metadata.name", out->name, sizeof(out->name), true, false, err,
                errlen) ||
        get_str(md, "namespace", "metadata.namespace", out->namespace_, sizeof(out->namespace_),
                false, false, err, errlen))
        return -1;
    if (!out->namespace_[0]) snprintf(out->namespace_, sizeof(out->namespace_), "default");
    if (parse_annotations(json_object_get(md, "annotations"), out, err, errlen)) return -1;
    if (parse_spec(json_object_get(obj, "spec"), out, err, errlen)) return -1;
    return as_spec_validate(out, err, errlen);
}

static bool port_ok(const char *p)
{
    if (!*p || strlen(p) > 5) return false;
    long v = 0;
    for (const char *c = p; *c; c++) {
        if (!isdigit((unsigned char)*c)) return false;
        v = v * 10 + (*c - '0');
    }
    return v >= 1 && v <= 65535;
}

static int validate_metric(const as_metric_spec *m, size_t i, char *err, size_t errlen)
{
    char b[48];
    snprintf(b, sizeof(b), "spec.metricsSources[%zu]", i);
    if (!m->target_metric[0]) return fail(err, errlen, "%s.targetMetric: required", b);
    if (!isfinite(m->target_value) || m->target_value <= 0)
        return fail(err, errlen, "%s.targetValue: must be > 0", b);
    if (m->protocol[0] && strcmp(m->protocol, "http") != 0 && strcmp(m->protocol, "https") != 0)
        return fail(err, errlen, "%s.protocolType: must be http or https", b);
    if (m->port[0] && !port_ok(m->port))
        return fail(err, errlen, "%s.port: must be a port number 1-65535", b);
    switch (m->source) {
    case AS_SOURCE_POD:
        if (!m->protocol[0])
            return fail(err, errlen, "%s.protocolType: required for metricSourceType pod", b);
        if (!m->port[0]) return fail(err, errlen, "%s.port: required for metricSourceType pod", b);
        if (!m->path[0]) return fail(err, errlen, "%s.path: required for metricSourceType pod", b);
        break;
    case AS_SOURCE_EXTERNAL:
    case AS_SOURCE_DOMAIN:
        if (m->endpoint[0] && !m->protocol[0])
            return fail(err, errlen, "%s.protocolType: required when endpoint is set", b);
        if (m->endpoint[0] && !m->path[0])
            return fail(err, errlen, "%s.path: required when endpoint is set", b);
        break;
    case AS_SOURCE_RESOURCE:
        if (strcmp(m->target_metric, "cpu") != 0 && strcmp(m->target_metric, "memory") != 0)
            return fail(err, errlen, "%s.targetMetric: must be cpu or memory for resource", b);
        if (m->port[0]) return fail(err, errlen, "%s.port: not allowed for resource", b);
        if (m->endpoint[0]) return fail(err, errlen, "%s.endpoint: not allowed for resource", b);
        if (m->path[0]) return fail(err, errlen, "%s.path: not allowed for resource", b);
        if (m->protocol[0])
            return fail(err, errlen, "%s.protocolType: not allowed for resource", b);
        break;
    case AS_SOURCE_CUSTOM:
        break;
    default:
        return fail(err, errlen, "%s.metricSourceType: unknown", b);
    }
    return 0;
}

static const char *const day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* An override entry's bounds (b: its path): at least one given, and the
 * effective pair (a missing one inherits the spec's) valid. */
static int check_min_max(const as_spec *s, const char *b, bool has_min, int32_t min, bool has_max,
                         int32_t max, char *err, size_t errlen)
{
    if (!has_min && !has_max)
        return fail(err, errlen, "%s: needs minReplicas or maxReplicas (or both)", b);
    int32_t lo = has_min ? min : s->min_replicas;
    int32_t hi = has_max ? max : s->max_replicas;
    if (lo < 0) return fail(err, errlen, "%s.minReplicas: must be >= 0", b);
    if (hi <= 0) return fail(err, errlen, "%s.maxReplicas: must be > 0", b);
    if (lo > hi)
        return fail(err, errlen,
                    "%s.minReplicas: the effective minReplicas (%d) must be <= the effective "
                    "maxReplicas (%d)",
                    b, (int)lo, (int)hi);
    return 0;
}

static int validate_schedule(const as_spec *s, size_t i, char *err, size_t errlen)
{
    const as_schedule *e = &s->schedules[i];
    char b[40];
    snprintf(b, sizeof(b), "spec.schedules[%zu]", i);
    if (!dns_name_ok(e->name, 63, false))
        return fail(err, errlen, "%s.name: must be a DNS label (a-z, 0-9, '-', at most 63)", b);
    for (size_t j = 0; j < i; j++)
        if (strcmp(s->schedules[j].name, e->name) == 0)
            return fail(err, errlen, "%s.name: duplicate name \"%s\" (spec.schedules[%zu])", b,
                        e->name, j);
    if ((e->days & 0x7f) == 0 || (e->days & 0x80))
        return fail(err, errlen, "%s.daysOfWeek: must not be empty", b);
    if (e->start_min < 0 || e->start_min >= 24 * 60)
        return fail(err, errlen, "%s.startTime: must be HH:MM (00:00 to 23:59)", b);
    if (e->end_min < 0 || e->end_min >= 24 * 60)
        return fail(err, errlen, "%s.endTime: must be HH:MM (00:00 to 23:59)", b);
    if (e->start_min >= e->end_min)
        return fail(err, errlen,
                    "%s.endTime: must be later than startTime (a window cannot cross midnight)", b);
    if (check_min_max(s, b, e->has_min, e->min_replicas, e->has_max, e->max_replicas, err, errlen))
        return -1;
    for (size_t j = 0; j < i; j++) {
        const as_schedule *o = &s->schedules[j];
        uint8_t both = (uint8_t)(o->days & e->days);
        if (!both || !(o->start_min < e->end_min && e->start_min < o->end_min)) continue;
        int d = 0;
        while (!(both & (1u << d)))
            d++;
        return fail(err, errlen, "%s: overlaps spec.schedules[%zu] (\"%s\") on %s", b, j, o->name,
                    day_names[d]);
    }
    return 0;
}

static int validate_schedules(const as_spec *s, char *err, size_t errlen)
{
    if (s->n_schedules == 0) return 0;
    if (s->n_schedules > AS_MAX_SCHEDULES)
        return fail(err, errlen, "spec.schedules: at most %d entries", AS_MAX_SCHEDULES);
    if (!bx_tz_name_ok(s->timezone))
        return fail(err, errlen,
                    "spec.schedules[0].timezone: \"%.64s\" is not an IANA time zone name",
                    s->timezone);
    for (size_t i = 0; i < s->n_schedules; i++)
        if (validate_schedule(s, i, err, errlen)) return -1;
    return 0;
}

static int validate_bound(const as_spec *s, size_t i, char *err, size_t errlen)
{
    const as_sched_bounds *e = &s->bounds[i];
    char b[40];
    snprintf(b, sizeof(b), "spec.scheduledBounds[%zu]", i);
    if (!dns_name_ok(e->name, 63, false))
        return fail(err, errlen, "%s.name: must be a DNS label (a-z, 0-9, '-', at most 63)", b);
    for (size_t j = 0; j < i; j++)
        if (strcmp(s->bounds[j].name, e->name) == 0)
            return fail(err, errlen, "%s.name: duplicate name \"%s\" (spec.scheduledBounds[%zu])",
                        b, e->name, j);
    for (size_t j = 0; j < s->n_schedules; j++)
        if (strcmp(s->schedules[j].name, e->name) == 0)
            return fail(err, errlen, "%s.name: duplicate name \"%s\" (spec.schedules[%zu])", b,
                        e->name, j);
    if (!bx_tz_name_ok(e->timezone))
        return fail(err, errlen, "%s.timezone: \"%.64s\" is not an IANA time zone name", b,
                    e->timezone);
    if (e->duration_s < 1 || e->duration_s > AS_CRON_MAX_DURATION_S)
        return fail(err, errlen, "%s.duration: must be at least 1s and at most 168h", b);
    if (e->has_start && e->has_end && e->start_s >= e->end_s)
        return fail(err, errlen, "%s.endTime: must be later than startTime", b);
    if (check_min_max(s, b, e->has_min, e->min_replicas, e->has_max, e->max_replicas, err, errlen))
        return -1;
    return 0;
}

#define ANN "metadata.annotations[" AS_ANN_PREFIX

int as_spec_validate(const as_spec *s, char *err, size_t errlen)
{
    if (!s) return fail(err, errlen, "internal: no spec");
    if (!dns_name_ok(s->name, 253, true))
        return fail(err, errlen, "metadata.name: must be a DNS subdomain (a-z, 0-9, '-', '.')");
    if (!dns_name_ok(s->namespace_, 63, false))
        return fail(err, errlen, "metadata.namespace: must be a DNS label (a-z, 0-9, '-')");
    if (!s->target.kind[0]) return fail(err, errlen, "spec.scaleTargetRef.kind: required");
    if (!dns_name_ok(s->target.name, 253, true))
        return fail(err, errlen, "spec.scaleTargetRef.name: must be a DNS subdomain");
    if (s->target.namespace_[0] && !dns_name_ok(s->target.namespace_, 63, false))
        return fail(err, errlen, "spec.scaleTargetRef.namespace: must be a DNS label");
    if ((unsigned)s->strategy > AS_STRATEGY_APA)
        return fail(err, errlen, "spec.scalingStrategy: must be HPA, KPA or APA");
    if (s->sub_target_role[0] && s->strategy == AS_STRATEGY_HPA)
        return fail(err, errlen, "spec.subTargetSelector.roleName: not allowed with HPA");
    if (s->max_replicas <= 0) return fail(err, errlen, "spec.maxReplicas: must be > 0");
    if (s->min_replicas < 0) return fail(err, errlen, "spec.minReplicas: must be >= 0");
    if (s->min_replicas > s->max_replicas)
        return fail(err, errlen, "spec.minReplicas: must be <= spec.maxReplicas (%d)",
                    (int)s->max_replicas);
    if (validate_schedules(s, err, errlen)) return -1;
    if (s->n_bounds > AS_MAX_BOUNDS)
        return fail(err, errlen, "spec.scheduledBounds: at most %d entries", AS_MAX_BOUNDS);
    for (size_t i = 0; i < s->n_bounds; i++)
        if (validate_bound(s, i, err, errlen)) return -1;
    if (s->n_metrics == 0)
        return fail(err, errlen, "spec.metricsSources: needs at least one entry");
    if (s->n_metrics > AS_MAX_METRICS)
        return fail(err, errlen, "spec.metricsSources: at most %d entries", AS_MAX_METRICS);
    for (size_t i = 0; i < s->n_metrics; i++)
        if (validate_metric(&s->metrics[i], i, err, errlen)) return -1;
    if (s->observe_window_ms < 1000 || s->observe_window_ms > MAX_WINDOW_MS)
        return fail(err, errlen, "spec.observeWindowSeconds: must be in [1, 3600]");
    if (s->panic_window_ms < 1000 || s->panic_window_ms > MAX_WINDOW_MS)
        return fail(err, errlen, "spec.panicWindowSeconds: must be in [1, 3600]");
    if (s->panic_window_ms > s->observe_window_ms)
        return fail(err, errlen, "spec.panicWindowSeconds: must be <= observeWindowSeconds (%lld)",
                    (long long)(s->observe_window_ms / 1000));
    if (!(s->max_scale_up_rate > 1) || !isfinite(s->max_scale_up_rate))
        return fail(err, errlen, ANN "max-scale-up-rate]: must be > 1");
    if (!(s->max_scale_down_rate > 1) || !isfinite(s->max_scale_down_rate))
        return fail(err, errlen, ANN "max-scale-down-rate]: must be > 1");
    if (!(s->scale_up_tolerance >= 0 && s->scale_up_tolerance < 1))
        return fail(err, errlen, ANN "scale-up-tolerance]: must be in [0, 1)");
    if (!(s->scale_down_tolerance >= 0 && s->scale_down_tolerance < 1))
        return fail(err, errlen, ANN "scale-down-tolerance]: must be in [0, 1)");
    if (!(s->panic_threshold > 1) || !isfinite(s->panic_threshold))
        return fail(err, errlen, ANN "panic-threshold]: must be > 1");
    if (s->up_stabilization_ms < 0 || s->up_stabilization_ms > MAX_WINDOW_MS)
        return fail(err, errlen, ANN "scale-up-cooldown-window]: must be in [0s, 1h]");
    if (s->down_stabilization_ms < 0 || s->down_stabilization_ms > MAX_WINDOW_MS)
        return fail(err, errlen, ANN "scale-down-cooldown-window]: must be in [0s, 1h]");
    if (s->scale_to_zero_grace_ms < 0 || s->scale_to_zero_grace_ms > MAX_WINDOW_MS)
        return fail(err, errlen, ANN "scale-to-zero-grace-period]: must be in [0s, 1h]");
    if (s->activation_scale < 1)
        return fail(err, errlen, ANN "activation-scale]: must be an integer >= 1");
    if (s->activation_scale > s->max_replicas)
        return fail(err, errlen, ANN "activation-scale]: must be <= spec.maxReplicas (%d)",
                    (int)s->max_replicas);
    return 0;
}
