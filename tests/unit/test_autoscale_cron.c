/* spec.scheduledBounds: the cron parser (fields, lists, ranges, steps, month
 * and weekday names, the Vixie day rule, every rejection naming its field),
 * as_cron_active (duration, DST gaps and folds through bx_tz, a brute-force
 * cross-check), the spec's parsing and validation (the field named in each
 * error), the lifetime, the combination with spec.schedules, and as_decide. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "autoscale/as_cron.h"
#include "autoscale/as_policy.h"
#include "autoscale/as_sched.h"
#include "autoscale/as_spec.h"
#include "common/bx_tz.h"
#include "common/bx_yaml.h"

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (int64_t)timegm(&tm);
}

static bx_tz *zone(const char *name)
{
    bx_tz *z = NULL;
    char err[256];
    if (bx_tz_load(name, &z, err, sizeof(err)) != 0) fail_msg("%s: %s", name, err);
    return z;
}

static as_cron cron(const char *e)
{
    as_cron c;
    char err[160] = "";
    if (as_cron_parse(e, &c, err, sizeof(err)) != 0) fail_msg("%s: %s", e, err);
    return c;
}

static void test_cron_parse(void **st)
{
    (void)st;
    as_cron c = cron("0 9-18 * * MON-FRI"); /* AIBrix's sample */
    assert_true(c.minute == 1);
    assert_int_equal(c.hour, 0x7fe00); /* bits 9..18 */
    assert_int_equal(c.dow, 0x3e);
    assert_int_equal(c.month, 0x1ffe);
    assert_true(c.dom_star);
    assert_false(c.dow_star);
    c = cron("*/15 */6 1,15 jan,Jul-SEP sun");
    assert_true(c.minute == ((1ull << 0) | (1ull << 15) | (1ull << 30) | (1ull << 45)));
    assert_int_equal(c.hour, (1 << 0) | (1 << 6) | (1 << 12) | (1 << 18));
    assert_int_equal(c.dom, (1 << 1) | (1 << 15));
    assert_int_equal(c.month, (1 << 1) | (1 << 7) | (1 << 8) | (1 << 9));
    assert_int_equal(c.dow, 1);
    assert_false(c.dom_star || c.dow_star);
    c = cron("  5-20/5\t0 * * 7 "); /* N-M/S; 7 is Sunday; spaces and tabs */
    assert_true(c.minute == ((1ull << 5) | (1ull << 10) | (1ull << 15) | (1ull << 20)));
    assert_int_equal(c.dow, 1);
    c = cron("30/10 0 * * 5-7"); /* N/S runs to the maximum; 5-7 = Fri, Sat, Sun */
    assert_true(c.minute == ((1ull << 30) | (1ull << 40) | (1ull << 50)));
    assert_int_equal(c.dow, (1 << 5) | (1 << 6) | 1);
    static const struct {
        const char *e, *want;
    } bad[] = {
        {"", "expected 5 fields"},
        {"0 9 * *", "expected 5 fields"},
        {"0 9 * * * *", "got more"},
        {"60 9 * * *", "minute: 60 is out of range 0-59"},
        {"0 24 * * *", "hour: 24 is out of range 0-23"},
        {"0 9 0 * *", "day-of-month: 0 is out of range 1-31"},
        {"0 9 * 13 *", "month: 13 is out of range 1-12"},
        {"0 9 * * 8", "day-of-week: 8 is out of range 0-7"},
        {"0 9 * * MON-XYZ", "day-of-week: \"XYZ\" is not a number or name"},
        {"0 9 * JANUARY *", "month: \"JANUARY\" is not a number or name"},
        {"0 MON * * *", "hour: \"MON\" is not a number"},
        {"0 18-9 * * *", "hour: range 18-9 runs backwards"},
        {"*/0 * * * *", "minute: step 0 is out of range"},
        {"*/ * * * *", "minute: bad step"},
        {"0 9,,10 * * *", "hour: empty value"},
        {"0 9 * * 1-", "day-of-week: empty value"},
        {"@daily", "minute: \"@daily\" is not a number"},
        {"0 9 ? * *", "day-of-month: \"?\" is not a number"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[160] = "";
        as_cron x;
        assert_int_equal(as_cron_parse(bad[i].e, &x, err, sizeof(err)), -1);
        if (!strstr(err, bad[i].want))
            fail_msg("\"%s\": got \"%s\", want \"%s\"", bad[i].e, err, bad[i].want);
    }
}

static void test_cron_match(void **st)
{
    (void)st;
    bx_tz *u = zone("UTC");
    bx_tz_tm tm;
    as_cron c = cron("0 9-18 * * MON-FRI");
    bx_tz_local(u, utc(2026, 12, 7, 9, 0), &tm); /* a Monday */
    assert_true(as_cron_match(&c, &tm));
    bx_tz_local(u, utc(2026, 12, 7, 9, 1), &tm);
    assert_false(as_cron_match(&c, &tm));
    bx_tz_local(u, utc(2026, 12, 6, 9, 0), &tm); /* Sunday */
    assert_false(as_cron_match(&c, &tm));
    bx_tz_local(u, utc(2026, 12, 7, 19, 0), &tm);
    assert_false(as_cron_match(&c, &tm));
    /* Vixie: both day fields restricted -> either; one '*' -> both */
    c = cron("0 0 1 * MON");
    bx_tz_local(u, utc(2026, 12, 7, 0, 0), &tm); /* Monday the 7th */
    assert_true(as_cron_match(&c, &tm));
    bx_tz_local(u, utc(2026, 12, 1, 0, 0), &tm); /* Tuesday the 1st */
    assert_true(as_cron_match(&c, &tm));
    bx_tz_local(u, utc(2026, 12, 2, 0, 0), &tm);
    assert_false(as_cron_match(&c, &tm));
    c = cron("0 0 */2 * MON");                   /* dom starts with '*': both */
    bx_tz_local(u, utc(2026, 12, 7, 0, 0), &tm); /* Monday the 7th: odd day matches */
    assert_true(as_cron_match(&c, &tm));
    bx_tz_local(u, utc(2026, 12, 14, 0, 0), &tm); /* Monday the 14th: even */
    assert_false(as_cron_match(&c, &tm));
    c = cron("0 0 * JAN *");
    bx_tz_local(u, utc(2027, 1, 5, 0, 0), &tm);
    assert_true(as_cron_match(&c, &tm));
    bx_tz_local(u, utc(2026, 12, 5, 0, 0), &tm);
    assert_false(as_cron_match(&c, &tm));
    bx_tz_free(u);
}

/* Brute force: is there a matching local minute within (now - dur, now]? */
static bool active_slow(const as_cron *c, const bx_tz *z, int64_t dur, int64_t now)
{
    for (int64_t t = now - (now % 60); t + dur > now; t -= 60) {
        bx_tz_tm tm;
        bx_tz_local(z, t, &tm);
        if (tm.sec == 0 && as_cron_match(c, &tm)) return true;
    }
    return false;
}

static void test_cron_active(void **st)
{
    (void)st;
    bx_tz *la = zone("America/Los_Angeles");
    as_cron c = cron("0 9-18 * * MON-FRI");
    /* Monday 2026-12-07 09:00 PST = 17:00 UTC */
    assert_false(as_cron_active(&c, la, 3600, utc(2026, 12, 7, 16, 59)));
    assert_true(as_cron_active(&c, la, 3600, utc(2026, 12, 7, 17, 0)));
    assert_true(as_cron_active(&c, la, 3600, utc(2026, 12, 8, 2, 59)));   /* 18:59 local */
    assert_false(as_cron_active(&c, la, 3600, utc(2026, 12, 8, 3, 0)));   /* 19:00 */
    assert_false(as_cron_active(&c, la, 3600, utc(2026, 12, 12, 18, 0))); /* Saturday */
    /* Friday 18:00 + 72h reaches into Monday 17:59 local, not 18:00 */
    assert_true(as_cron_active(&c, la, 72 * 3600, utc(2026, 12, 15, 1, 59)));
    /* the duration is real seconds: a 30m window */
    assert_true(as_cron_active(&c, la, 1800, utc(2026, 12, 7, 17, 29) + 59));
    assert_false(as_cron_active(&c, la, 1800, utc(2026, 12, 7, 17, 30)));
    /* out-of-range durations are never active */
    assert_false(as_cron_active(&c, la, 0, utc(2026, 12, 7, 17, 0)));
    assert_false(as_cron_active(&c, la, AS_CRON_MAX_DURATION_S + 1, utc(2026, 12, 7, 17, 0)));
    /* DST gap: 2026-03-08 02:30 does not exist in Los Angeles: no occurrence */
    as_cron g = cron("30 2 * * *");
    assert_false(as_cron_active(&g, la, 3600, utc(2026, 3, 8, 10, 30))); /* 03:30 PDT */
    assert_true(as_cron_active(&g, la, 3600, utc(2026, 3, 9, 9, 30)));   /* 02:30 PDT next day */
    /* DST fold: 2026-11-01 01:30 exists twice (PDT 08:30Z, PST 09:30Z): both start */
    as_cron f = cron("30 1 * * *");
    assert_true(as_cron_active(&f, la, 600, utc(2026, 11, 1, 8, 35)));
    assert_false(as_cron_active(&f, la, 600, utc(2026, 11, 1, 9, 0)));
    assert_true(as_cron_active(&f, la, 600, utc(2026, 11, 1, 9, 35)));
    /* 09:00 local across the spring change keeps local 09:00 (16:00Z then 17:00Z) */
    as_cron n = cron("0 9 * * *");
    assert_true(as_cron_active(&n, la, 60, utc(2026, 3, 7, 17, 0)));
    assert_true(as_cron_active(&n, la, 60, utc(2026, 3, 9, 16, 0)));
    assert_false(as_cron_active(&n, la, 60, utc(2026, 3, 9, 17, 0)));
    /* cross-check the skipping scan against the brute force */
    bx_tz *lh = zone("Australia/Lord_Howe"); /* 30-minute DST */
    const char *exprs[] = {"0 9-18 * * MON-FRI", "30 2 * * *", "*/7 1-3 1,15 * SUN",
                           "15 0 * MAR,OCT 0", "45 1,2 * * *"};
    const int64_t durs[] = {60, 1800, 3600, 6 * 3600, 50 * 3600};
    const bx_tz *zs[] = {la, lh};
    uint32_t seed = 12345;
    for (int k = 0; k < 3000; k++) {
        seed = seed * 1103515245u + 12345u;
        const as_cron x = cron(exprs[seed % 5]);
        int64_t dur = durs[(seed >> 8) % 5];
        int64_t base = (seed >> 12) & 1 ? utc(2026, 3, 7, 0, 0) : utc(2026, 10, 3, 0, 0);
        int64_t now = base + (int64_t)((seed >> 3) % (10 * 86400));
        const bx_tz *z = zs[(seed >> 20) & 1];
        if (as_cron_active(&x, z, dur, now) != active_slow(&x, z, dur, now))
            fail_msg("mismatch: expr %u dur %lld now %lld", seed % 5, (long long)dur,
                     (long long)now);
    }
    bx_tz_free(lh);
    bx_tz_free(la);
}

static const char *base_yaml =
    "apiVersion: autoscaling.aibrix.ai/v1alpha1\nkind: PodAutoscaler\nmetadata: {name: pa}\n"
    "spec:\n"
    "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, "
    "name: llama}\n"
    "  minReplicas: 1\n"
    "  maxReplicas: 10\n"
    "  metricsSources:\n"
    "    - {metricSourceType: pod, protocolType: http, port: '8000',\n"
    "       path: metrics, targetMetric: gpu_cache_usage_perc,\n"
    "       targetValue: '0.5'}\n"
    "  scalingStrategy: APA\n";

static int parse_with(const char *extra, as_spec *s, char *err, size_t errlen)
{
    char y[4096];
    snprintf(y, sizeof(y), "%s%s", base_yaml, extra);
    json_t *j = NULL;
    if (bx_yaml_load(y, strlen(y), NULL, &j, err, errlen) != 0) fail_msg("yaml: %s", err);
    int rc = as_spec_parse(j, s, err, errlen);
    json_decref(j);
    return rc;
}

static void test_spec_sample(void **st)
{
    (void)st;
    as_spec s;
    char err[256] = "";
    /* AIBrix's samples/autoscaling/scheduled-bounds-apa.yaml entry */
    int rc = parse_with("  scheduledBounds:\n"
                        "    - name: weekday-business-hours\n"
                        "      timezone: America/Los_Angeles\n"
                        "      cron: \"0 9-18 * * MON-FRI\"\n"
                        "      duration: 1h\n"
                        "      minReplicas: 4\n"
                        "      maxReplicas: 12\n"
                        "    - name: launch\n"
                        "      startTime: \"2026-08-05T09:00:00Z\"\n"
                        "      endTime: \"2026-08-05T17:00:00.25-07:00\"\n"
                        "      cron: \"*/5 * * * *\"\n"
                        "      duration: 1h30m\n"
                        "      maxReplicas: 3\n",
                        &s, err, sizeof(err));
    if (rc) fail_msg("%s", err);
    assert_int_equal(s.n_bounds, 2);
    assert_string_equal(s.bounds[0].name, "weekday-business-hours");
    assert_string_equal(s.bounds[0].timezone, "America/Los_Angeles");
    assert_int_equal(s.bounds[0].duration_s, 3600);
    assert_false(s.bounds[0].has_start || s.bounds[0].has_end);
    assert_true(s.bounds[0].has_min && s.bounds[0].has_max);
    assert_string_equal(s.bounds[1].timezone, "UTC");
    assert_int_equal(s.bounds[1].start_s, utc(2026, 8, 5, 9, 0));
    assert_int_equal(s.bounds[1].end_s, utc(2026, 8, 6, 0, 0));
    assert_int_equal(s.bounds[1].duration_s, 5400);
    assert_false(s.bounds[1].has_min);
}

#define E(fields) "  scheduledBounds:\n    - {name: a, cron: '0 9 * * *', duration: 1h" fields "}\n"
#define F(fields) "  scheduledBounds:\n    - {name: a" fields "}\n"

static void test_spec_rejections(void **st)
{
    (void)st;
    static const struct {
        const char *extra, *want;
    } bad[] = {
        {E(", minReplicas: 2, foo: 1"), "spec.scheduledBounds[0].foo: unknown field"},
        {"  scheduledBounds: {a: 1}\n", "spec.scheduledBounds: must be a list"},
        {"  scheduledBounds:\n    - {cron: '0 9 * * *', duration: 1h, minReplicas: 2}\n",
         "spec.scheduledBounds[0].name: required"},
        {"  scheduledBounds:\n    - {name: a, duration: 1h, minReplicas: 2}\n",
         "spec.scheduledBounds[0].cron: required"},
        {F(", cron: '0 24 * * *', duration: 1h, minReplicas: 2"),
         "spec.scheduledBounds[0].cron: \"0 24 * * *\": hour: 24 is out of range 0-23"},
        {"  scheduledBounds:\n    - {name: a, cron: '0 9 * * *', minReplicas: 2}\n",
         "spec.scheduledBounds[0].duration: required"},
        {F(", cron: '0 9 * * *', duration: 1d, minReplicas: 2"),
         "spec.scheduledBounds[0].duration: \"1d\" is not"},
        {F(", cron: '0 9 * * *', duration: 169h, minReplicas: 2"),
         "spec.scheduledBounds[0].duration: must be at"},
        {F(", cron: '0 9 * * *', duration: 500ms, minReplicas: 2"),
         "spec.scheduledBounds[0].duration: must be at"},
        {E(", startTime: '2026-08-05 09:00', minReplicas: 2"),
         "spec.scheduledBounds[0].startTime: \"2026-08-05 09:00\" is not an RFC 3339 time"},
        {E(", endTime: '2026-02-30T00:00:00Z', minReplicas: 2"),
         "spec.scheduledBounds[0].endTime: \"2026-02-30T00:00:00Z\" is not"},
        {E(", startTime: '2026-08-05T09:00:00Z', endTime: '2026-08-05T02:00:00-07:00', "
           "minReplicas: 2"),
         "spec.scheduledBounds[0].endTime: must be later than startTime"},
        {E(""), "spec.scheduledBounds[0]: needs minReplicas or maxReplicas"},
        {E(", minReplicas: 11"), "spec.scheduledBounds[0].minReplicas: the effective"},
        {E(", maxReplicas: 0"), "spec.scheduledBounds[0].maxReplicas: must be > 0"},
        {E(", minReplicas: -1"), "spec.scheduledBounds[0].minReplicas: must be >= 0"},
        {E(", timezone: '../etc', minReplicas: 2"),
         "spec.scheduledBounds[0].timezone: \"../etc\" is not an IANA"},
        {"  scheduledBounds:\n    - {name: a, cron: '0 9 * * *', duration: 1h, minReplicas: 2}\n"
         "    - {name: a, cron: '0 9 * * *', duration: 1h, minReplicas: 2}\n",
         "spec.scheduledBounds[1].name: duplicate name \"a\""},
        {"  scheduledBounds:\n    - {name: A_, cron: '0 9 * * *', duration: 1h, minReplicas: 2}\n",
         "spec.scheduledBounds[0].name: must be a DNS label"},
        {"  schedules:\n    - {name: a, startTime: '09:00', endTime: '10:00', minReplicas: 2}\n" E(
             ", minReplicas: 2"),
         "spec.scheduledBounds[0].name: duplicate name \"a\" (spec.schedules[0])"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        as_spec s;
        char err[256] = "";
        assert_int_equal(parse_with(bad[i].extra, &s, err, sizeof(err)), -1);
        if (!strstr(err, bad[i].want))
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, bad[i].want);
    }
}

static void test_rfc3339(void **st)
{
    (void)st;
    int64_t v;
    assert_int_equal(as_parse_rfc3339("1970-01-01T00:00:00Z", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(as_parse_rfc3339("2024-02-29T23:59:59.999999999+05:30", &v), 0);
    assert_int_equal(v, utc(2024, 2, 29, 18, 29) + 59);
    assert_int_equal(as_parse_rfc3339("2026-12-07t13:00:00z", &v), 0);
    assert_int_equal(v, utc(2026, 12, 7, 13, 0));
    const char *bad[] = {"2023-02-29T00:00:00Z",     "2026-12-07T13:00:00",
                         "2026-12-07T24:00:00Z",     "2026-12-07T13:00:00.Z",
                         "2026-12-07T13:00:00+0500", "2026-12-07T13:00:00Zx",
                         "26-12-07T13:00:00Z",       NULL};
    for (int i = 0; bad[i]; i++)
        if (as_parse_rfc3339(bad[i], &v) == 0) fail_msg("accepted %s", bad[i]);
}

static void test_lifetime_and_combination(void **st)
{
    (void)st;
    as_spec s;
    char err[256] = "";
    int rc =
        parse_with("  schedules:\n"
                   "    - {name: lunch, startTime: '12:00', endTime: '13:00', maxReplicas: 5}\n"
                   "  scheduledBounds:\n"
                   "    - name: peak\n"
                   "      cron: \"0 9-17 * * *\"\n"
                   "      duration: 1h\n"
                   "      startTime: \"2026-12-07T00:00:00Z\"\n"
                   "      endTime: \"2026-12-08T00:00:00Z\"\n"
                   "      minReplicas: 4\n"
                   "    - name: always\n"
                   "      cron: \"0 * * * *\"\n"
                   "      duration: 1h\n"
                   "      maxReplicas: 7\n",
                   &s, err, sizeof(err));
    if (rc) fail_msg("%s", err);
    bx_tz *u = zone("UTC");
    const bx_tz *zs[AS_MAX_BOUNDS] = {u, u};
    /* before the lifetime: only "always" */
    assert_int_equal(as_sched_bounds_mask(&s, zs, utc(2026, 12, 6, 10, 0)), 2);
    assert_int_equal(as_sched_bounds_mask(&s, zs, utc(2026, 12, 7, 10, 0)), 3);
    assert_int_equal(as_sched_bounds_mask(&s, zs, utc(2026, 12, 7, 18, 0)), 2); /* 17:00 + 1h */
    assert_int_equal(as_sched_bounds_mask(&s, zs, utc(2026, 12, 8, 9, 0)), 2);  /* endTime */
    const bx_tz *none[AS_MAX_BOUNDS] = {NULL};
    assert_int_equal(as_sched_bounds_mask(&s, none, utc(2026, 12, 7, 10, 0)), 0);
    /* the first active wins: a spec.schedules entry, then scheduledBounds in order */
    as_bounds b;
    as_bounds_at(&s, 1, 12 * 60 + 30, &b);
    as_bounds_apply_mask(&s, 3, &b);
    assert_int_equal(b.active, 0);
    assert_string_equal(as_bounds_name(&s, b.active), "lunch");
    assert_int_equal(b.max, 5);
    as_bounds_at(&s, 1, 10 * 60, &b);
    as_bounds_apply_mask(&s, 3, &b);
    assert_int_equal(b.active, 1);
    assert_string_equal(as_bounds_name(&s, b.active), "peak");
    assert_int_equal(b.min, 4);
    assert_int_equal(b.max, 10);
    assert_true(b.active_sets_min);
    as_bounds_apply_mask(&s, 0, &b); /* an active one stays */
    assert_int_equal(b.active, 1);
    as_bounds_base(&s, &b);
    as_bounds_apply_mask(&s, 2, &b);
    assert_int_equal(b.active, 2);
    assert_string_equal(as_bounds_name(&s, b.active), "always");
    assert_int_equal(b.min, 1);
    assert_int_equal(b.max, 7);
    assert_null(as_bounds_name(&s, 3));
    assert_null(as_bounds_name(&s, -1));
    bx_tz_free(u);
}

static void test_decide_with_bounds(void **st)
{
    (void)st;
    as_spec s;
    char err[256] = "";
    int rc = parse_with("  scheduledBounds:\n"
                        "    - {name: floor, cron: '0 9 * * *', duration: 8h, minReplicas: 4}\n"
                        "    - {name: cap, cron: '0 20 * * *', duration: 2h, maxReplicas: 2}\n",
                        &s, err, sizeof(err));
    if (rc) fail_msg("%s", err);
    as_state stt;
    as_state_init(&stt);
    as_input in = {.now_ms = 1000, .current = 0, .ready = 0, .n_metrics = 1};
    as_decision d;
    assert_int_equal(as_decide(&s, &stt, &in, &d), 0);
    assert_int_equal(d.desired, 0); /* no entry active: scaling disabled at 0 */
    assert_int_equal(d.bounds.active, -1);
    in.bounds_active = 1; /* floor: warms from zero */
    assert_int_equal(as_decide(&s, &stt, &in, &d), 0);
    assert_int_equal(d.desired, 4);
    assert_true(d.scale);
    assert_non_null(strstr(d.reason, "below minReplicas 4 (schedule floor)"));
    in.bounds_active = 2;
    in.current = 6;
    in.ready = 6;
    assert_int_equal(as_decide(&s, &stt, &in, &d), 0);
    assert_int_equal(d.desired, 2);
    assert_non_null(strstr(d.reason, "(schedule cap)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cron_parse),
        cmocka_unit_test(test_cron_match),
        cmocka_unit_test(test_cron_active),
        cmocka_unit_test(test_spec_sample),
        cmocka_unit_test(test_spec_rejections),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_lifetime_and_combination),
        cmocka_unit_test(test_decide_with_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
