/* loadgen_profile: AIBrix's benchmark rows, and its rule from rows to a GPU
 * profile (gen_profile.py) on hand-made rows whose answer is worked out in
 * each comment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "loadgen/loadgen_profile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static char text[65536];
static size_t tlen;

/* Appends the five rows of one measurement; latencies: mean, with P50 =
 * mean, P90 = 1.5 mean, P99 = 2 mean. */
static void rows(int in, int out, double rate, double tput, double e2e, double ttft, double tpot)
{
    const char *fmt = "{\"input_tokens\": %d, \"output_tokens\": %d, \"request_rate\": %g, "
                      "\"seed\": 0, \"model\": \"m\", \"samples\": 100, \"metric\": \"%s\", "
                      "\"mean\": %.17g";
    const double lat[] = {e2e, ttft, tpot};
    const char *names[] = {"E2E", "TTFT", "TPOT"};
    tlen += (size_t)snprintf(text + tlen, sizeof(text) - tlen, fmt, in, out, rate, "TPUT", tput);
    tlen += (size_t)snprintf(text + tlen, sizeof(text) - tlen, "}\n");
    tlen +=
        (size_t)snprintf(text + tlen, sizeof(text) - tlen, fmt, in, out, rate, "TT", tput * out);
    tlen += (size_t)snprintf(text + tlen, sizeof(text) - tlen, "}\n");
    for (int i = 0; i < 3; i++) {
        if (lat[i] < 0) continue; /* a missing metric */
        tlen += (size_t)snprintf(text + tlen, sizeof(text) - tlen, fmt, in, out, rate, names[i],
                                 lat[i]);
        tlen += (size_t)snprintf(text + tlen, sizeof(text) - tlen,
                                 ", \"P50\": %.17g, \"P90\": %.17g, \"P99\": %.17g}\n", lat[i],
                                 lat[i] * 1.5, lat[i] * 2);
    }
}

static loadgen_prof_set set;
static opt_profile prof;

static void load(void)
{
    loadgen_prof_set_free(&set);
    size_t nbad = 99;
    assert_int_equal(loadgen_prof_set_read(&set, text, tlen, NULL, "t", &nbad), 0);
    assert_int_equal(nbad, 0);
}

static void gen(const opt_slo *slo, int want_empty)
{
    char err[128];
    int nempty = -1;
    memset(&prof, 0, sizeof(prof));
    assert_int_equal(loadgen_prof_generate(&set, slo, &prof, &nempty, err, sizeof(err)), 0);
    assert_int_equal(nempty, want_empty);
}

/* The grid of the tests: inputs 128, 512; outputs 32, 64. */
static void grid_rows(void)
{
    tlen = 0;
    /* (128, 32): 1, 2, 4 keep up; 8 falls behind (5 < 7.2) and its E2E
     * (2 s) misses a 1 s SLO. */
    rows(128, 32, 1, 1.0, 0.1, 0.01, 0.002);
    rows(128, 32, 2, 1.95, 0.2, 0.02, 0.003);
    rows(128, 32, 4, 3.9, 0.3, 0.03, 0.004);
    rows(128, 32, 8, 5.0, 2.0, 0.5, 0.02);
    /* (512, 32): every rate falls behind (0.8 < 0.9, 1.5 < 1.8) */
    rows(512, 32, 1, 0.8, 0.4, 0.1, 0.004);
    rows(512, 32, 2, 1.5, 0.6, 0.2, 0.005);
    /* (128, 64): rate 1 misses a 1 s E2E SLO: nothing survives */
    rows(128, 64, 1, 1.0, 5.0, 0.05, 0.06);
    rows(128, 64, 2, 2.0, 6.0, 0.06, 0.07);
    /* (512, 64): no rows at all */
}

static void test_rule(void **st)
{
    (void)st;
    grid_rows();
    load();
    assert_int_equal(set.n, 8);
    assert_string_equal(set.model, "m");
    opt_slo slo = {.e2e = 1.0};
    gen(&slo, 1);
    assert_int_equal(prof.nin, 2);
    assert_int_equal(prof.nout, 2);
    assert_true(prof.in_tokens[0] == 128 && prof.in_tokens[1] == 512);
    assert_true(prof.out_tokens[0] == 32 && prof.out_tokens[1] == 64);
    /* (128, 32): survivors 1, 2, 4 all keep up: the largest, 4 */
    NEAR(prof.tputs[0][0], 3.9);
    NEAR(prof.e2e[0][0], 0.3);
    /* (512, 32): survivors 1, 2, none keeps up: the smallest, 1 */
    NEAR(prof.tputs[0][1], 0.8);
    NEAR(prof.e2e[0][1], 0.4);
    /* (128, 64): none survives: 0, E2E of the lowest rate */
    NEAR(prof.tputs[1][0], 0);
    NEAR(prof.e2e[1][0], 5.0);
    /* (512, 64): no measurement */
    NEAR(prof.tputs[1][1], 0);
    assert_int_equal(prof.has_e2e, 1);
    assert_int_equal(prof.has_ttft, 0);
    assert_int_equal(prof.has_slos, 1);
    NEAR(prof.slos.e2e, 1.0);

    /* No SLO at all: every rate survives; (128, 32) still picks 4 (8
     * falls behind), (128, 64) picks 2. */
    opt_slo none = {0};
    gen(&none, 1);
    NEAR(prof.tputs[0][0], 3.9);
    NEAR(prof.tputs[1][0], 2.0);

    /* The SLO on P99 (2 x mean here): (128, 32) at 4 has P99 0.6 < 1 but
     * with 0.5 only rates 1 and 2 (P99 0.2, 0.4) survive: 2. */
    opt_slo p99 = {.e2e = 0.5, .percentile = 99};
    gen(&p99, 1);
    NEAR(prof.tputs[0][0], 1.95);
    /* ... while on the mean (0.3 < 0.5) rate 4 survives */
    opt_slo mean = {.e2e = 0.5};
    gen(&mean, 1);
    NEAR(prof.tputs[0][0], 3.9);
    /* P90 = 1.5 mean: 0.45 at rate 4 < 0.5 */
    opt_slo p90 = {.e2e = 0.5, .percentile = 90};
    gen(&p90, 1);
    NEAR(prof.tputs[0][0], 3.9);

    /* Latency bounds are strict (AIBrix: metric < SLO): E2E 0.3 fails 0.3 */
    opt_slo strict = {.e2e = 0.3};
    gen(&strict, 1);
    NEAR(prof.tputs[0][0], 1.95);
}

static void test_rule_other_slos(void **st)
{
    (void)st;
    grid_rows();
    load();
    /* TPAT = E2E / (in + out): (128, 32) at 4: 0.3 / 160 = 0.001875;
     * at 2: 0.00125. A bound of 0.0015 keeps 1 and 2. */
    opt_slo tpat = {.tpat = 0.0015};
    gen(&tpat, 1);
    NEAR(prof.tputs[0][0], 1.95);
    /* TTFT: set, so the profile carries ttft at the chosen rate */
    opt_slo ttft = {.ttft = 0.025};
    gen(&ttft, 1);
    NEAR(prof.tputs[0][0], 1.95);
    assert_int_equal(prof.has_ttft, 1);
    NEAR(prof.ttft[0][0], 0.02);
    NEAR(prof.ttft[0][1], 0.1); /* (512, 32): nothing survives 0.025: the lowest rate's */
    NEAR(prof.tputs[0][1], 0);
    /* TPOT */
    opt_slo tpot = {.tpot = 0.0035};
    gen(&tpot, 1);
    NEAR(prof.tputs[0][0], 1.95);
    /* Throughput lower bounds (mean >= bound, inclusive): TPUT >= 3.9
     * keeps only 4 and 8 in (128, 32); 4 keeps up. */
    opt_slo tput = {.tput = 3.9};
    gen(&tput, 1);
    NEAR(prof.tputs[0][0], 3.9);
    NEAR(prof.tputs[0][1], 0);
    /* TT = TPUT x 32 here: >= 100 tokens/s keeps 4 (124.8) and 8 (160) */
    opt_slo tt = {.tt = 100};
    gen(&tt, 1);
    NEAR(prof.tputs[0][0], 3.9);
    /* Two SLOs at once: both must hold */
    opt_slo both = {.e2e = 1.0, .tpot = 0.0025};
    gen(&both, 1);
    NEAR(prof.tputs[0][0], 1.0);
}

/* A rate without latency rows fails every SLO, set or not (AIBrix filters
 * on the rows of each metric); a cell with a rate but no TPUT row has no
 * measurement. */
static void test_missing_metrics(void **st)
{
    (void)st;
    tlen = 0;
    rows(128, 32, 1, 1.0, 0.1, 0.01, 0.002);
    rows(128, 32, 2, 2.0, 0.2, -1, 0.003); /* no TTFT row */
    load();
    opt_slo none = {0};
    gen(&none, 0);
    NEAR(prof.tputs[0][0], 1.0);
    const loadgen_prof_point *p = loadgen_prof_set_find(&set, 128, 32, 2);
    assert_non_null(p);
    assert_int_equal(loadgen_prof_meets(p, &none), 0);
    assert_int_equal(loadgen_prof_keeps_up(p), 1);
    assert_int_equal(loadgen_prof_point_done(p), 1);
    /* nothing measured */
    loadgen_prof_set_free(&set);
    char err[128];
    int nempty;
    assert_int_equal(loadgen_prof_generate(&set, &none, &prof, &nempty, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no measurements"));
}

static void test_rows_parse(void **st)
{
    (void)st;
    loadgen_prof_row r;
    char err[128];
    /* AIBrix's own rows (Python's json.dumps, TPUT without percentiles) */
    const char *a = "{\"input_tokens\": 4, \"output_tokens\": 8, \"request_rate\": 1.0, \"seed\": "
                    "0, \"model\": \"llama2-7b\", \"temperature\": 0.0, \"samples\": 100, "
                    "\"metric\": \"TPUT\", \"mean\": 0.9912}";
    assert_int_equal(loadgen_prof_row_parse(a, strlen(a), &r, err, sizeof(err)), 0);
    assert_int_equal(r.in, 4);
    assert_int_equal(r.out, 8);
    NEAR(r.rate, 1.0);
    assert_int_equal(r.metric, LOADGEN_PM_TPUT);
    assert_int_equal(r.samples, 100);
    assert_string_equal(r.model, "llama2-7b");
    assert_int_equal(r.stat.has_pct, 0);
    NEAR(r.stat.mean, 0.9912);
    const char *b = "{\"input_tokens\": 4, \"output_tokens\": 8, \"request_rate\": 2, "
                    "\"metric\": \"E2E\", \"mean\": 1, \"P50\": 1, \"P90\": 2, \"P99\": 3}";
    assert_int_equal(loadgen_prof_row_parse(b, strlen(b), &r, err, sizeof(err)), 0);
    assert_int_equal(r.metric, LOADGEN_PM_E2E);
    assert_int_equal(r.stat.has_pct, 1);
    NEAR(r.stat.p99, 3);
    const char *c = "{\"input_tokens\": 4, \"output_tokens\": 8, \"request_rate\": 2, "
                    "\"metric\": \"TPAT\", \"mean\": 1}";
    assert_int_equal(loadgen_prof_row_parse(c, strlen(c), &r, err, sizeof(err)), 0);
    assert_int_equal(r.metric, -1); /* not ours: ignored by the set */
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"output_tokens\": 8, \"request_rate\": 1, \"metric\": \"TPUT\", \"mean\": 1}",
         "input_tokens"},
        {"{\"input_tokens\": 4.5, \"output_tokens\": 8, \"request_rate\": 1, \"metric\": "
         "\"TPUT\", \"mean\": 1}",
         "input_tokens"},
        {"{\"input_tokens\": 4, \"output_tokens\": 0, \"request_rate\": 1, \"metric\": \"TPUT\", "
         "\"mean\": 1}",
         "output_tokens"},
        {"{\"input_tokens\": 4, \"output_tokens\": 8, \"request_rate\": 0, \"metric\": \"TPUT\", "
         "\"mean\": 1}",
         "request_rate"},
        {"{\"input_tokens\": 4, \"output_tokens\": 8, \"request_rate\": 1, \"metric\": 3, "
         "\"mean\": 1}",
         "metric"},
        {"{\"input_tokens\": 4, \"output_tokens\": 8, \"request_rate\": 1, \"metric\": \"E2E\"}",
         "mean"},
        {"{\"input_tokens\": 4, \"output_tokens\": 8, \"request_rate\": 1, \"metric\": \"E2E\", "
         "\"mean\": 1, \"P99\": \"x\"}",
         "P99"},
        {"{\"input_tokens\": 4, \"output_tokens\": 8, \"request_rate\": 1, \"metric\": \"TPUT\", "
         "\"mean\": -1}",
         "mean"},
        {"{\"input_tokens\": 4, \"output_tokens\": 8, \"request_rate\": 1, \"metric\": \"E2E\", "
         "\"mean\": 1, \"P50\": 1, \"P90\": -2, \"P99\": 3}",
         "P90"},
        {"{\"input_tokens\": 4, \"input_tokens\": 4}", "duplicate"},
        {"[1]", "object"},
        {"{\"input_tokens\": 4, NaN}", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int rc = loadgen_prof_row_parse(bad[i].json, strlen(bad[i].json), &r, err, sizeof(err));
        if (rc != -1 || !strstr(err, bad[i].field))
            fail_msg("case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err, bad[i].field);
    }
    /* A file: blank lines skipped, a bad line counted and skipped, a
     * later row of the same point and metric replaces the earlier. */
    tlen = 0;
    rows(128, 32, 1, 1.0, 0.1, 0.01, 0.002);
    tlen += (size_t)snprintf(text + tlen, sizeof(text) - tlen, "\n  \n{\"truncated\": \n");
    rows(128, 32, 1, 0.5, 0.1, 0.01, 0.002);
    loadgen_prof_set_free(&set);
    size_t nbad = 0;
    assert_int_equal(loadgen_prof_set_read(&set, text, tlen, NULL, "t", &nbad), 0);
    assert_int_equal(nbad, 1);
    assert_int_equal(set.n, 1);
    NEAR(set.pts[0].m[LOADGEN_PM_TPUT].mean, 0.5);
}

/* Rows written and read back are the same measurement, bit for bit. */
static void test_rows_roundtrip(void **st)
{
    (void)st;
    loadgen_prof_point p;
    memset(&p, 0, sizeof(p));
    p.in = 512;
    p.out = 128;
    p.rate = 0.5;
    p.samples = 100;
    p.seed = 7;
    for (int m = 0; m < LOADGEN_PM_N; m++) {
        p.m[m].has = 1;
        p.m[m].has_pct = m >= LOADGEN_PM_E2E;
        p.m[m].mean = 0.1 * (m + 1) + 1e-13;
        if (p.m[m].has_pct) {
            p.m[m].p50 = 1.0 / 3;
            p.m[m].p90 = 2.0 / 3;
            p.m[m].p99 = 0.1 + 0.2;
        }
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(loadgen_prof_write_rows(f, &p, "m"), 0);
    fclose(f);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    assert_int_equal(lines, 5);
    /* TPUT and TT carry only the mean, as AIBrix writes them */
    const char *tp = strstr(buf, "\"TPUT\"");
    assert_non_null(tp);
    const char *nl = strchr(tp, '\n');
    assert_true(!strstr(tp, "P50") || strstr(tp, "P50") > nl);
    assert_non_null(strstr(buf, "\"metric\":\"E2E\",\"mean\":"));
    loadgen_prof_set_free(&set);
    assert_int_equal(loadgen_prof_set_read(&set, buf, len, NULL, "t", NULL), 0);
    assert_int_equal(set.n, 1);
    assert_memory_equal(&set.pts[0], &p, sizeof(p));
    free(buf);
}

/* A run's results become a measurement in simulated time. */
static void test_measure(void **st)
{
    (void)st;
    loadgen_result r[3];
    memset(r, 0, sizeof(r));
    double itl0[] = {10, 20}, itl1[] = {30};
    for (int i = 0; i < 3; i++) {
        r[i].ok = i < 2;
        r[i].completion_tokens = i < 2 ? 3 - i : -1;
        r[i].ttft_ms = 100.0 * (i + 1);
        r[i].e2e_ms = 1000.0 * (i + 1);
    }
    r[0].itl_ms = itl0;
    r[0].n_itl = 2;
    r[1].itl_ms = itl1;
    r[1].n_itl = 1;
    loadgen_prof_point p;
    memset(&p, 0, sizeof(p));
    /* 2 wall seconds at time scale 10: 20 simulated seconds */
    assert_int_equal(loadgen_prof_measure(&p, r, 3, 2.0, 10.0), 0);
    NEAR(p.m[LOADGEN_PM_TPUT].mean, 2.0 / 20); /* successes only */
    NEAR(p.m[LOADGEN_PM_TT].mean, 5.0 / 20);
    NEAR(p.m[LOADGEN_PM_E2E].mean, 15.0); /* (1 + 2) / 2 s x 10 */
    NEAR(p.m[LOADGEN_PM_E2E].p50, 15.0);
    NEAR(p.m[LOADGEN_PM_TTFT].mean, 1.5);
    NEAR(p.m[LOADGEN_PM_TPOT].mean, 0.2); /* gaps pooled: (10+20+30)/3 ms x 10 */
    NEAR(p.m[LOADGEN_PM_TPOT].p99, 0.2 * 1.49);
    assert_int_equal(p.m[LOADGEN_PM_E2E].has_pct, 1);
    assert_int_equal(p.m[LOADGEN_PM_TPUT].has_pct, 0);
    /* nothing succeeded: throughputs 0, no latency rows */
    r[0].ok = r[1].ok = 0;
    assert_int_equal(loadgen_prof_measure(&p, r, 3, 2.0, 1.0), 0);
    assert_int_equal(p.m[LOADGEN_PM_TPUT].has, 1);
    NEAR(p.m[LOADGEN_PM_TPUT].mean, 0);
    assert_int_equal(p.m[LOADGEN_PM_E2E].has, 0);
    assert_int_equal(p.m[LOADGEN_PM_TPOT].has, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule),
        cmocka_unit_test(test_rule_other_slos),
        cmocka_unit_test(test_missing_metrics),
        cmocka_unit_test(test_rows_parse),
        cmocka_unit_test(test_rows_roundtrip),
        cmocka_unit_test(test_measure),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    loadgen_prof_set_free(&set);
    return rc;
}
