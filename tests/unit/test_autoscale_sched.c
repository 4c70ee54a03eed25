/* spec.schedules: parsing and every validation rule (with the field named),
 * which schedule is active across days, time zones and DST (zones from the
 * system tz database through bx_tz), and as_decide with scheduled bounds
 * (warming from zero, clamping to a scheduled max). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "autoscale/as_policy.h"
#include "autoscale/as_sched.h"
#include "autoscale/as_spec.h"
#include "common/bx_tz.h"
#include "common/bx_yaml.h"

/* An AIBrix-shaped scheduled-bounds APA (written for this test). */
static const char *sched_yaml = "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
                                "kind: PodAutoscaler\n"
                                "metadata:\n"
                                "  name: llama-apa-scheduled\n"
                                "spec:\n"
                                "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, "
                                "name: llama}\n"
                                "  minReplicas: 1\n"
                                "  maxReplicas: 8\n"
                                "  schedules:\n"
                                "    - name: business-hours\n"
                                "      timezone: Asia/Shanghai\n"
                                "      daysOfWeek: [Mon, tue, WED, Thu, Fri]\n"
                                "      startTime: '09:00'\n"
                                "      endTime: '18:00'\n"
                                "      minReplicas: 3\n"
                                "      maxReplicas: 12\n"
                                "    - name: night-cap\n"
                                "      timezone: Asia/Shanghai\n"
                                "      startTime: '22:00'\n"
                                "      endTime: '23:59'\n"
                                "      maxReplicas: 2\n"
                                "  metricsSources:\n"
                                "    - {metricSourceType: pod, protocolType: http, port: '8000',\n"
                                "       path: /metrics, targetMetric: num_requests_running,\n"
                                "       targetValue: '4'}\n"
                                "  scalingStrategy: APA\n";

static json_t *load(const char *y)
{
    json_t *j = NULL;
    char err[256];
    if (bx_yaml_load(y, strlen(y), NULL, &j, err, sizeof(err)) != 0) return NULL;
    return j;
}

static void parse_ok(const char *y, as_spec *s)
{
    json_t *j = load(y);
    assert_non_null(j);
    char err[256] = "";
    int rc = as_spec_parse(j, s, err, sizeof(err));
    if (rc) fail_msg("parse: %s", err);
    json_decref(j);
}

static void test_parse_sample(void **st)
{
    (void)st;
    as_spec s;
    parse_ok(sched_yaml, &s);
    assert_int_equal(s.n_schedules, 2);
    assert_string_equal(s.timezone, "Asia/Shanghai");
    const as_schedule *b = &s.schedules[0];
    assert_string_equal(b->name, "business-hours");
    assert_int_equal(b->days, 0x3e); /* Mon..Fri, any case */
    assert_int_equal(b->start_min, 9 * 60);
    assert_int_equal(b->end_min, 18 * 60);
    assert_true(b->has_min && b->has_max);
    assert_int_equal(b->min_replicas, 3);
    assert_int_equal(b->max_replicas, 12); /* above the base max: allowed */
    const as_schedule *n = &s.schedules[1];
    assert_int_equal(n->days, 0x7f); /* omitted: every day */
    assert_false(n->has_min);
    assert_int_equal(n->end_min, 23 * 60 + 59);
    assert_int_equal(as_parse_hhmm("00:00"), 0);
    assert_int_equal(as_parse_hhmm("23:59"), 1439);
    assert_int_equal(as_parse_hhmm("24:00"), -1);
    assert_int_equal(as_parse_hhmm("9:00"), -1);
    assert_int_equal(as_parse_weekday("sUn"), 0);
    assert_int_equal(as_parse_weekday("SAT"), 6);
    assert_int_equal(as_parse_weekday("Sunday"), -1);
}

/* The sample with spec.schedules replaced by js (JSON). */
static int parse_with(const char *js, as_spec *s, char *err, size_t errlen)
{
    json_t *j = load(sched_yaml);
    assert_non_null(j);
    json_error_t je;
    json_t *v = json_loads(js, JSON_DECODE_ANY, &je);
    if (!v) fail_msg("bad test JSON %s: %s", js, je.text);
    json_object_set_new(json_object_get(j, "spec"), "schedules", v);
    int rc = as_spec_parse(j, s, err, errlen);
    json_decref(j);
    return rc;
}

#define W(extra) "{\"name\":\"a\",\"startTime\":\"09:00\",\"endTime\":\"10:00\"" extra "}"

static void test_rejections_name_the_field(void **st)
{
    (void)st;
    static const struct {
        const char *js, *want;
    } cases[] = {
        {"[]", "spec.schedules: must not be empty"},
        {"{}", "spec.schedules: must be a list"},
        {"[1]", "spec.schedules[0]: must be a mapping"},
        {"[{\"startTime\":\"09:00\",\"endTime\":\"10:00\",\"minReplicas\":2}]",
         "spec.schedules[0].name: required"},
        {"[" W(",\"minReplicas\":2,\"cron\":\"* * * * *\"") "]",
         "spec.schedules[0].cron: unknown field"},
        {"[{\"name\":\"Bad_Name\",\"startTime\":\"09:00\",\"endTime\":\"10:00\",\"minReplicas\":2}"
         "]",
         "spec.schedules[0].name: must be a DNS label"},
        {"[" W(",\"minReplicas\":2") ",{\"name\":\"a\",\"startTime\":\"11:00\",\"endTime\":"
                                     "\"12:00\",\"minReplicas\":2}]",
         "spec.schedules[1].name: duplicate name \"a\""},
        {"[" W(",\"minReplicas\":2,\"timezone\":\"Europe/Paris\"") ",{\"name\":\"b\",\"startTime\":"
                                                                   "\"11:00\",\"endTime\":\"12:"
                                                                   "00\",\"minReplicas\":2}]",
         "spec.schedules[1].timezone: \"UTC\" differs from spec.schedules[0]'s \"Europe/Paris\""},
        {"[" W(",\"minReplicas\":2,\"timezone\":\"../../etc/passwd\"") "]",
         "spec.schedules[0].timezone: \"../../etc/passwd\" is not an IANA time zone name"},
        {"[" W(",\"minReplicas\":2,\"timezone\":3") "]",
         "spec.schedules[0].timezone: must be a string"},
        {"[" W(",\"minReplicas\":2,\"daysOfWeek\":[]") "]",
         "spec.schedules[0].daysOfWeek: must not be empty"},
        {"[" W(",\"minReplicas\":2,\"daysOfWeek\":\"Mon\"") "]",
         "spec.schedules[0].daysOfWeek: must be a list"},
        {"[" W(",\"minReplicas\":2,\"daysOfWeek\":[\"Mon\",\"Monday\"]") "]",
         "spec.schedules[0].daysOfWeek[1]: \"Monday\" is not a day"},
        {"[{\"name\":\"a\",\"endTime\":\"10:00\",\"minReplicas\":2}]",
         "spec.schedules[0].startTime: required"},
        {"[{\"name\":\"a\",\"startTime\":\"9:00\",\"endTime\":\"10:00\",\"minReplicas\":2}]",
         "spec.schedules[0].startTime: must be HH:MM"},
        {"[{\"name\":\"a\",\"startTime\":\"09:00\",\"endTime\":\"24:00\",\"minReplicas\":2}]",
         "spec.schedules[0].endTime: must be HH:MM"},
        {"[{\"name\":\"a\",\"startTime\":\"09:00\",\"endTime\":\"10:60\",\"minReplicas\":2}]",
         "spec.schedules[0].endTime: must be HH:MM"},
        {"[{\"name\":\"a\",\"startTime\":\"09:00:00\",\"endTime\":\"10:00\",\"minReplicas\":2}]",
         "spec.schedules[0].startTime: must be HH:MM"},
        {"[{\"name\":\"a\",\"startTime\":\"10:00\",\"endTime\":\"10:00\",\"minReplicas\":2}]",
         "spec.schedules[0].endTime: must be later than startTime"},
        {"[{\"name\":\"a\",\"startTime\":\"22:00\",\"endTime\":\"06:00\",\"minReplicas\":2}]",
         "spec.schedules[0].endTime: must be later than startTime (a window cannot cross "
         "midnight)"},
        {"[" W("") "]", "spec.schedules[0]: needs minReplicas or maxReplicas"},
        {"[" W(",\"minReplicas\":\"2\"") "]", "spec.schedules[0].minReplicas: must be an integer"},
        {"[" W(",\"minReplicas\":-1") "]", "spec.schedules[0].minReplicas: must be >= 0"},
        {"[" W(",\"maxReplicas\":0") "]", "spec.schedules[0].maxReplicas: must be > 0"},
        {"[" W(",\"minReplicas\":9") "]",
         "spec.schedules[0].minReplicas: the effective minReplicas (9) must be <= the effective "
         "maxReplicas (8)"},
        {"[" W(",\"minReplicas\":3,\"maxReplicas\":2") "]",
         "spec.schedules[0].minReplicas: the effective minReplicas (3) must be <="},
        {"[{\"name\":\"a\",\"startTime\":\"09:00\",\"endTime\":\"12:00\",\"minReplicas\":2,"
         "\"daysOfWeek\":[\"Mon\",\"Wed\"]},{\"name\":\"b\",\"startTime\":\"11:59\",\"endTime\":"
         "\"13:00\",\"minReplicas\":2,\"daysOfWeek\":[\"tue\",\"wed\"]}]",
         "spec.schedules[1]: overlaps spec.schedules[0] (\"a\") on Wed"},
        {"[{\"name\":\"a\",\"startTime\":\"09:00\",\"endTime\":\"12:00\",\"minReplicas\":2},"
         "{\"name\":\"b\",\"startTime\":\"08:00\",\"endTime\":\"18:00\",\"maxReplicas\":2,"
         "\"daysOfWeek\":[\"Sun\"]}]",
         "spec.schedules[1]: overlaps spec.schedules[0] (\"a\") on Sun"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        as_spec s;
        char err[256] = "";
        int rc = parse_with(cases[i].js, &s, err, sizeof(err));
        if (rc != -1 || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err, cases[i].want);
    }
}

static void test_accepted_edges(void **st)
{
    (void)st;
    static const char *const ok[] = {
        /* adjacent windows: endTime is exclusive */
        "[" W(",\"minReplicas\":2") ",{\"name\":\"b\",\"startTime\":\"10:00\",\"endTime\":"
                                    "\"11:00\",\"maxReplicas\":3}]",
        /* same hours on other days */
        "[{\"name\":\"a\",\"startTime\":\"09:00\",\"endTime\":\"10:00\",\"minReplicas\":2,"
        "\"daysOfWeek\":[\"sat\"]},{\"name\":\"b\",\"startTime\":\"09:00\",\"endTime\":\"10:00\","
        "\"minReplicas\":2,\"daysOfWeek\":[\"SUN\"]}]",
        /* "" and "UTC" are the same zone; min 0 inherits max */
        "[" W(",\"minReplicas\":0,\"timezone\":\"\"") ",{\"name\":\"b\",\"startTime\":\"10:00\","
                                                      "\"endTime\":\"11:00\",\"maxReplicas\":1,"
                                                      "\"timezone\":\"UTC\"}]",
        "[{\"name\":\"whole-day\",\"startTime\":\"00:00\",\"endTime\":\"23:59\",\"maxReplicas\":1,"
        "\"minReplicas\":1}]",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        as_spec s;
        char err[256] = "";
        if (parse_with(ok[i], &s, err, sizeof(err)) != 0) fail_msg("case %zu: %s", i, err);
        assert_string_equal(s.timezone, "UTC");
    }
}

static void test_bounds_at(void **st)
{
    (void)st;
    as_spec s;
    parse_ok(sched_yaml, &s);
    as_bounds b;
    as_bounds_at(&s, 1, 9 * 60, &b); /* Monday 09:00: start inclusive */
    assert_int_equal(b.active, 0);
    assert_true(b.active_sets_min);
    assert_int_equal(b.min, 3);
    assert_int_equal(b.max, 12);
    as_bounds_at(&s, 5, 18 * 60 - 1, &b); /* Friday 17:59 */
    assert_int_equal(b.active, 0);
    as_bounds_at(&s, 1, 18 * 60, &b); /* end exclusive */
    assert_int_equal(b.active, -1);
    assert_int_equal(b.min, 1);
    assert_int_equal(b.max, 8);
    as_bounds_at(&s, 6, 10 * 60, &b); /* Saturday: not a business day */
    assert_int_equal(b.active, -1);
    as_bounds_at(&s, 6, 22 * 60 + 30, &b); /* night-cap, every day: max only, min inherited */
    assert_int_equal(b.active, 1);
    assert_false(b.active_sets_min);
    assert_int_equal(b.min, 1);
    assert_int_equal(b.max, 2);
    as_bounds_at(&s, 6, 23 * 60 + 59, &b);
    assert_int_equal(b.active, -1);
    as_bounds_at(&s, 7, 600, &b); /* out of range: base */
    assert_int_equal(b.active, -1);
    /* next start/end: Monday 08:00 -> 09:00 start; 17:00 -> 18:00 end; Saturday 23:59 ->
     * Sunday 22:00 (night-cap; business-hours next starts Monday) */
    assert_int_equal(as_sched_next_change(&s, 1, 8 * 60), 60);
    assert_int_equal(as_sched_next_change(&s, 1, 17 * 60), 60);
    assert_int_equal(as_sched_next_change(&s, 6, 23 * 60 + 59), 22 * 60 + 1);
    assert_int_equal(as_sched_next_change(&s, 1, 18 * 60), 4 * 60);
}

/* Unix seconds of a UTC date-time. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (int64_t)timegm(&tm);
}

static void bounds_in(const as_spec *s, const bx_tz *z, int64_t t, as_bounds *b)
{
    bx_tz_tm tm;
    bx_tz_local(z, t, &tm);
    as_bounds_at(s, tm.wday, tm.hour * 60 + tm.min, b);
}

static bx_tz *zone(const char *name)
{
    bx_tz *z = NULL;
    char err[256];
    if (bx_tz_load(name, &z, err, sizeof(err)) != 0) fail_msg("%s: %s", name, err);
    return z;
}

static void test_bounds_across_zones_and_dst(void **st)
{
    (void)st;
    as_spec s;
    parse_ok(sched_yaml, &s);
    as_bounds b;
    /* AIBrix's own case: Monday 2026-08-03 02:00Z is 10:00 in Shanghai (+8), active;
     * 10:00Z is 18:00 there, over. */
    bx_tz *sh = zone("Asia/Shanghai");
    bounds_in(&s, sh, utc(2026, 8, 3, 2, 0), &b);
    assert_int_equal(b.active, 0);
    assert_int_equal(b.min, 3);
    bounds_in(&s, sh, utc(2026, 8, 3, 10, 0), &b);
    assert_int_equal(b.active, -1);
    /* the day is the local one: Sunday 2026-08-02 23:30Z is Monday 07:30 in Shanghai (not yet);
     * Sunday 01:00Z is Sunday 09:00 there (not a business day) */
    bounds_in(&s, sh, utc(2026, 8, 2, 23, 30), &b);
    assert_int_equal(b.active, -1);
    bounds_in(&s, sh, utc(2026, 8, 3, 1, 0), &b); /* Monday 09:00 local */
    assert_int_equal(b.active, 0);
    bounds_in(&s, sh, utc(2026, 8, 2, 1, 0), &b);
    assert_int_equal(b.active, -1);
    bx_tz_free(sh);

    /* DST: New York 09:00 is 14:00Z in winter, 13:00Z in summer (DST from 2026-03-08). */
    strcpy(s.timezone, "America/New_York");
    bx_tz *ny = zone("America/New_York");
    bounds_in(&s, ny, utc(2026, 3, 6, 14, 0), &b); /* Friday 09:00 EST */
    assert_int_equal(b.active, 0);
    bounds_in(&s, ny, utc(2026, 3, 6, 13, 59), &b); /* 08:59 EST */
    assert_int_equal(b.active, -1);
    bounds_in(&s, ny, utc(2026, 3, 9, 13, 0), &b); /* Monday 09:00 EDT */
    assert_int_equal(b.active, 0);
    bounds_in(&s, ny, utc(2026, 3, 9, 12, 59), &b);
    assert_int_equal(b.active, -1);
    bounds_in(&s, ny, utc(2026, 11, 2, 13, 30), &b); /* Monday after DST ended: 08:30 EST */
    assert_int_equal(b.active, -1);
    bounds_in(&s, ny, utc(2026, 11, 2, 14, 0), &b);
    assert_int_equal(b.active, 0);
    /* past the file's last transition the footer rule applies */
    bounds_in(&s, ny, utc(2041, 7, 1, 13, 0), &b); /* Monday 09:00 EDT */
    assert_int_equal(b.active, 0);
    bounds_in(&s, ny, utc(2041, 12, 2, 13, 0), &b); /* Monday 08:00 EST */
    assert_int_equal(b.active, -1);
    bx_tz_free(ny);

    /* southern hemisphere: Sydney is +11 in January, +10 in July */
    bx_tz *sy = zone("Australia/Sydney");
    bounds_in(&s, sy, utc(2026, 1, 11, 22, 0), &b); /* Monday 2026-01-12 09:00 AEDT */
    assert_int_equal(b.active, 0);
    bounds_in(&s, sy, utc(2026, 7, 12, 22, 0), &b); /* Sunday 2026-07-12 22:00Z = Mon 08:00 AEST */
    assert_int_equal(b.active, -1);
    bounds_in(&s, sy, utc(2026, 7, 12, 23, 0), &b);
    assert_int_equal(b.active, 0);
    bx_tz_free(sy);
}

static void test_tz_errors(void **st)
{
    (void)st;
    bx_tz *z = NULL;
    char err[256];
    static const char *const bad[] = {"",
                                      "/etc/passwd",
                                      "../zoneinfo/UTC",
                                      "Europe/../UTC",
                                      "Europe//Paris",
                                      "Europe/",
                                      "Europe/Par is",
                                      "./UTC"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(bx_tz_name_ok(bad[i]));
        assert_int_equal(bx_tz_load(bad[i], &z, err, sizeof(err)), -1);
        assert_null(z);
    }
    assert_int_equal(bx_tz_load("Mars/Olympus_Mons", &z, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown time zone \"Mars/Olympus_Mons\""));
    assert_int_equal(bx_tz_load("Europe", &z, err, sizeof(err)), -1); /* a directory */
    /* UTC needs no file */
    assert_int_equal(bx_tz_load_dir("/nonexistent", "UTC", &z, err, sizeof(err)), 0);
    assert_int_equal(bx_tz_offset(z, utc(2026, 7, 1, 0, 0)), 0);
    bx_tz_free(z);
    /* bytes that are not TZif, and every truncation of a real file, fail cleanly */
    const unsigned char junk[] = "TZif2 not really a time zone file at all, no.............";
    assert_int_equal(bx_tz_parse(junk, sizeof(junk), &z, err, sizeof(err)), -1);
    FILE *f = fopen(BX_TZ_DIR "/Europe/Paris", "rb");
    assert_non_null(f);
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(n > 100);
    assert_int_equal(bx_tz_parse(buf, n, &z, err, sizeof(err)), 0);
    bx_tz_free(z);
    for (size_t cut = 0; cut < n - 1; cut += 7) {
        int rc = bx_tz_parse(buf, cut, &z, err, sizeof(err));
        assert_int_equal(rc, -1);
        assert_null(z);
    }
    assert_int_equal(bx_tz_posix("nonsense", &z, err, sizeof(err)), -1);
    assert_int_equal(bx_tz_posix("EST5EDT,M13.1.0,M11.1.0", &z, err, sizeof(err)), -1);
    assert_int_equal(bx_tz_posix("EST5EDT,M3.2.0", &z, err, sizeof(err)), -1);
}

/* bx_tz against glibc's localtime_r (the test is single-threaded, so it may set TZ). */
static void compare_with_libc(const bx_tz *z, const char *tzenv, int64_t from, int64_t to,
                              int64_t step)
{
    setenv("TZ", tzenv, 1);
    tzset();
    for (int64_t t = from; t < to; t += step) {
        time_t tt = (time_t)t;
        struct tm lt;
        assert_non_null(localtime_r(&tt, &lt));
        bx_tz_tm m;
        bx_tz_local(z, t, &m);
        if (m.utoff != lt.tm_gmtoff || m.year != lt.tm_year + 1900 || m.mon != lt.tm_mon + 1 ||
            m.mday != lt.tm_mday || m.hour != lt.tm_hour || m.min != lt.tm_min ||
            m.wday != lt.tm_wday || m.yday != lt.tm_yday || m.isdst != (lt.tm_isdst > 0))
            fail_msg("%s at %lld: bx_tz %lld-%02d-%02d %02d:%02d wd %d off %d dst %d, libc "
                     "%d-%02d-%02d %02d:%02d wd %d off %ld dst %d",
                     tzenv, (long long)t, (long long)m.year, m.mon, m.mday, m.hour, m.min, m.wday,
                     (int)m.utoff, m.isdst, lt.tm_year + 1900, lt.tm_mon + 1, lt.tm_mday,
                     lt.tm_hour, lt.tm_min, lt.tm_wday, (long)lt.tm_gmtoff, lt.tm_isdst);
    }
}

static void test_tz_matches_libc(void **st)
{
    (void)st;
    static const char *const zones[] = {"UTC",
                                        "Europe/Paris",
                                        "Europe/London",
                                        "Europe/Dublin",
                                        "America/New_York",
                                        "America/Sao_Paulo",
                                        "America/Nuuk",
                                        "Asia/Shanghai",
                                        "Asia/Kolkata",
                                        "Asia/Tehran",
                                        "Australia/Sydney",
                                        "Australia/Lord_Howe",
                                        "Pacific/Apia",
                                        "Pacific/Chatham",
                                        "Africa/Casablanca",
                                        "America/St_Johns"};
    /* 1901..2100 in steps of 2 days 7 h 13 min: every hour of the day and weekday over time */
    int64_t from = utc(1901, 12, 14, 0, 0), to = utc(2100, 1, 1, 0, 0);
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        bx_tz *z = zone(zones[i]);
        char env[128];
        snprintf(env, sizeof(env), ":%s", zones[i]);
        compare_with_libc(z, env, from, to, 2 * 86400 + 7 * 3600 + 13 * 60);
        /* around this century's transitions, minute by minute for one year */
        compare_with_libc(z, env, utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0), 60 * 47);
        bx_tz_free(z);
    }
    /* POSIX rules alone (the footer syntax): Jn, n, M, negative and > 24 h times, <...> names */
    static const char *const rules[] = {"EST5EDT,M3.2.0,M11.1.0",
                                        "CET-1CEST,M3.5.0,M10.5.0/3",
                                        "<+0330>-3:30",
                                        "AEST-10AEDT,M10.1.0,M4.1.0/3",
                                        "IST-1GMT0,M10.5.0,M3.5.0/1",
                                        "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
                                        "XXX3YYY,J60/2,J300/2",
                                        "XXX-5YYY-6,59/1:30,300/25",
                                        "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
                                        "NZST-12NZDT,M9.5.0,M4.1.0/3",
                                        "ABC+4:30:15"};
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        bx_tz *z = NULL;
        char err[256];
        if (bx_tz_posix(rules[i], &z, err, sizeof(err)) != 0) fail_msg("%s: %s", rules[i], err);
        compare_with_libc(z, rules[i], utc(2020, 1, 1, 0, 0), utc(2030, 1, 1, 0, 0), 3600 * 5 + 17);
        bx_tz_free(z);
    }
    unsetenv("TZ");
    tzset();
    /* RFC 8536's permanent DST: glibc drops to standard time for the hours between the end of one
     * year's rule and the start of the next (UTC years); bx_tz keeps DST all the time */
    bx_tz *z = NULL;
    char err[256];
    assert_int_equal(bx_tz_posix("EST5EDT,0/0,J365/25", &z, err, sizeof(err)), 0);
    for (int64_t t = utc(2020, 1, 1, 0, 0); t < utc(2030, 1, 1, 0, 0); t += 1800)
        assert_int_equal(bx_tz_offset(z, t), -4 * 3600);
    bx_tz_free(z);
}

static void test_decide_with_schedules(void **st)
{
    (void)st;
    as_spec s;
    parse_ok(sched_yaml, &s);
    as_state stt;
    as_state_init(&stt);
    as_input in = {.now_ms = 1000, .current = 0, .ready = 0, .n_metrics = 1};
    as_decision d;
    /* at 0 with minReplicas 1 and no schedule: AIBrix's "scaling disabled" */
    in.local_valid = true;
    in.local_wday = 6;
    in.local_minute = 600;
    assert_int_equal(as_decide(&s, &stt, &in, &d), 0);
    assert_int_equal(d.desired, 0);
    assert_non_null(strstr(d.reason, "scaling disabled"));
    assert_int_equal(d.bounds.active, -1);
    /* a schedule that sets only maxReplicas does not lift it */
    in.local_minute = 22 * 60;
    assert_int_equal(as_decide(&s, &stt, &in, &d), 0);
    assert_int_equal(d.desired, 0);
    assert_int_equal(d.bounds.active, 1);
    assert_non_null(strstr(d.reason, "(schedule night-cap)"));
    /* business hours set minReplicas 3: warmed from zero */
    in.local_wday = 2;
    in.local_minute = 9 * 60;
    assert_int_equal(as_decide(&s, &stt, &in, &d), 0);
    assert_int_equal(d.desired, 3);
    assert_true(d.scale);
    assert_int_equal(d.bounds.min, 3);
    assert_int_equal(d.bounds.max, 12);
    assert_non_null(strstr(d.reason, "below minReplicas 3 (schedule business-hours)"));
    /* 6 replicas at night: held down to the schedule's max 2 */
    in.current = 6;
    in.ready = 6;
    in.local_minute = 22 * 60 + 1;
    assert_int_equal(as_decide(&s, &stt, &in, &d), 0);
    assert_int_equal(d.desired, 2);
    /* 10 replicas in business hours: above the base max 8, within the schedule's 12 */
    in.current = 10;
    in.ready = 10;
    in.local_minute = 10 * 60;
    assert_int_equal(as_decide(&s, &stt, &in, &d), 0);
    assert_int_equal(d.desired, 10);
    /* no local time: the base bounds */
    in.local_valid = false;
    assert_int_equal(as_decide(&s, &stt, &in, &d), 0);
    assert_int_equal(d.desired, 8);
    assert_int_equal(d.bounds.active, -1);
}

static void test_decide_scale_to_zero_base(void **st)
{
    (void)st;
    /* base minReplicas 0 (scale to zero) with a daytime floor of 2 */
    as_spec s;
    as_state stt;
    as_state_init(&stt);
    char err[256] = "";
    assert_int_equal(parse_with("[{\"name\":\"day\",\"startTime\":\"08:00\",\"endTime\":\"20:00\","
                                "\"minReplicas\":2}]",
                                &s, err, sizeof(err)),
                     0);
    s.min_replicas = 0;
    assert_int_equal(as_spec_validate(&s, err, sizeof(err)), 0);
    as_input in = {.now_ms = 1000,
                   .current = 0,
                   .n_metrics = 1,
                   .local_valid = true,
                   .local_wday = 3,
                   .local_minute = 7 * 60};
    as_decision d;
    assert_int_equal(as_decide(&s, &stt, &in, &d), 0);
    assert_int_equal(d.desired, 0); /* idle at zero before the window */
    in.local_minute = 8 * 60;
    assert_int_equal(as_decide(&s, &stt, &in, &d), 0);
    assert_int_equal(d.desired, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_sample),
        cmocka_unit_test(test_rejections_name_the_field),
        cmocka_unit_test(test_accepted_edges),
        cmocka_unit_test(test_bounds_at),
        cmocka_unit_test(test_bounds_across_zones_and_dst),
        cmocka_unit_test(test_tz_errors),
        cmocka_unit_test(test_tz_matches_libc),
        cmocka_unit_test(test_decide_with_schedules),
        cmocka_unit_test(test_decide_scale_to_zero_base),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
