/* Tests for ctl_place: every policy against hand-worked rankings, the
 * keep/unload rules, the max_loras and readiness skips, metric fallbacks and
 * the seeded random policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ctl/ctl_place.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* An engine that is ready, does not have the adapter, no limit, no metrics. */
static ctl_place_engine eng(const char *name, unsigned loaded)
{
    ctl_place_engine e;
    memset(&e, 0, sizeof(e));
    e.name = name;
    e.ready = 1;
    e.loaded = loaded;
    e.latency_s = NAN;
    e.throughput_tps = NAN;
    return e;
}

/* Names of a list joined by commas, for readable assertions. */
static const char *names(const ctl_place_engine *e, const size_t *idx, size_t n, char *buf,
                         size_t len)
{
    buf[0] = 0;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + off, len - off, "%s%s", i ? "," : "", e[idx[i]].name);
        assert_true(w > 0 && (size_t)w < len - off);
        off += (size_t)w;
    }
    return buf;
}

typedef struct lists {
    char keep[256], load[256], spare[256], unload[256];
} lists;

static void plan(const ctl_place_engine *e, size_t n, int replicas, ctl_place_policy pol,
                 uint64_t seed, ctl_place_plan *p, lists *l)
{
    char err[128];
    assert_int_equal(ctl_place_compute(e, n, replicas, pol, seed, p, err, sizeof(err)), 0);
    names(e, p->keep, p->nkeep, l->keep, sizeof(l->keep));
    names(e, p->load, p->nload, l->load, sizeof(l->load));
    names(e, p->spare, p->nspare, l->spare, sizeof(l->spare));
    names(e, p->unload, p->nunload, l->unload, sizeof(l->unload));
}

static void test_policy_names(void **state)
{
    (void)state;
    static const char *const all[] = {"leastAdapters", "binPack", "leastLatency", "leastThroughput",
                                      "random"};
    for (size_t i = 0; i < 5; i++) {
        ctl_place_policy p;
        assert_int_equal(ctl_place_policy_parse(all[i], &p), 0);
        assert_int_equal((int)p, (int)i);
        assert_string_equal(ctl_place_policy_name(p), all[i]);
    }
    ctl_place_policy p = CTL_PLACE_RANDOM;
    assert_int_equal(ctl_place_policy_parse("default", &p), 0);
    assert_int_equal(p, CTL_PLACE_LEAST_ADAPTERS);
    p = CTL_PLACE_RANDOM;
    assert_int_equal(ctl_place_policy_parse("", &p), 0);
    assert_int_equal(p, CTL_PLACE_LEAST_ADAPTERS);
    assert_int_equal(ctl_place_policy_parse("LeastAdapters", &p), -1);
    assert_int_equal(ctl_place_policy_parse("binpack", &p), -1);
    assert_int_equal(ctl_place_policy_parse("bogus", &p), -1);
    assert_string_equal(ctl_place_policy_name((ctl_place_policy)99), "?");
}

/* Counts 3,1,2,1, replicas 2: the two with 1, by name; input order does not
 * matter. */
static void test_least_adapters(void **state)
{
    (void)state;
    ctl_place_engine e[] = {eng("e-d", 1), eng("e-a", 3), eng("e-c", 2), eng("e-b", 1)};
    ctl_place_plan p;
    lists l;
    plan(e, 4, 2, CTL_PLACE_LEAST_ADAPTERS, 0, &p, &l);
    assert_int_equal(p.desired, 2);
    assert_string_equal(l.load, "e-b,e-d");
    assert_string_equal(l.spare, "e-c,e-a");
    assert_string_equal(l.keep, "");
    assert_string_equal(l.unload, "");
    assert_int_equal(p.missing, 0);
    assert_int_equal(p.fallback, 0);
    ctl_place_plan_free(&p);
}

/* max_loras 4 everywhere: b is full (skipped), a has the least room. */
static void test_bin_pack(void **state)
{
    (void)state;
    ctl_place_engine e[] = {eng("a", 3), eng("b", 4), eng("c", 2), eng("d", 0)};
    for (int i = 0; i < 4; i++)
        e[i].max_loras = 4;
    ctl_place_plan p;
    lists l;
    plan(e, 4, 1, CTL_PLACE_BIN_PACK, 0, &p, &l);
    assert_string_equal(l.load, "a");
    assert_string_equal(l.spare, "c,d");
    assert_int_equal(p.full, 1);
    ctl_place_plan_free(&p);

    /* Room is per engine: x (8-6=2) before w (4-1=3); the unbounded ones
     * last, more adapters first. */
    ctl_place_engine f[] = {eng("w", 1), eng("x", 6), eng("y", 5), eng("z", 9)};
    f[0].max_loras = 4;
    f[1].max_loras = 8;
    plan(f, 4, 4, CTL_PLACE_BIN_PACK, 0, &p, &l);
    assert_string_equal(l.load, "x,w,z,y");
    assert_int_equal(p.full, 0);
    ctl_place_plan_free(&p);
}

static void test_least_latency(void **state)
{
    (void)state;
    ctl_place_engine e[] = {eng("a", 0), eng("b", 5), eng("c", 5), eng("d", 0)};
    e[0].latency_s = 0.5;
    e[1].latency_s = 0.2;
    e[2].latency_s = 0.2;
    e[3].latency_s = 0.9;
    ctl_place_plan p;
    lists l;
    plan(e, 4, 2, CTL_PLACE_LEAST_LATENCY, 0, &p, &l);
    assert_string_equal(l.load, "b,c");
    assert_string_equal(l.spare, "a,d");
    assert_int_equal(p.fallback, 0);
    ctl_place_plan_free(&p);
}

static void test_least_throughput(void **state)
{
    (void)state;
    ctl_place_engine e[] = {eng("a", 0), eng("b", 9), eng("c", 0)};
    e[0].throughput_tps = 100;
    e[1].throughput_tps = 50;
    e[2].throughput_tps = 900;
    ctl_place_plan p;
    lists l;
    plan(e, 3, 1, CTL_PLACE_LEAST_THROUGHPUT, 0, &p, &l);
    assert_string_equal(l.load, "b");
    assert_string_equal(l.spare, "a,c");
    assert_int_equal(p.fallback, 0);
    ctl_place_plan_free(&p);
}

/* One unknown metric (NaN, or negative, or infinite) ranks the whole set by
 * adapter count. */
static void test_metric_fallback(void **state)
{
    (void)state;
    ctl_place_engine e[] = {eng("a", 4), eng("b", 2), eng("c", 3)};
    e[0].latency_s = 0.1;
    e[1].latency_s = 0.9;
    e[2].latency_s = NAN;
    ctl_place_plan p;
    lists l;
    plan(e, 3, 3, CTL_PLACE_LEAST_LATENCY, 0, &p, &l);
    assert_string_equal(l.load, "b,c,a");
    assert_int_equal(p.fallback, 1);
    ctl_place_plan_free(&p);

    e[2].latency_s = 0.5;
    plan(e, 3, 3, CTL_PLACE_LEAST_LATENCY, 0, &p, &l);
    assert_string_equal(l.load, "a,c,b");
    assert_int_equal(p.fallback, 0);
    ctl_place_plan_free(&p);

    e[0].throughput_tps = 10;
    e[1].throughput_tps = -1;
    e[2].throughput_tps = 5;
    plan(e, 3, 1, CTL_PLACE_LEAST_THROUGHPUT, 0, &p, &l);
    assert_string_equal(l.load, "b");
    assert_int_equal(p.fallback, 1);
    ctl_place_plan_free(&p);

    e[1].throughput_tps = INFINITY;
    plan(e, 3, 1, CTL_PLACE_LEAST_THROUGHPUT, 0, &p, &l);
    assert_string_equal(l.load, "b");
    assert_int_equal(p.fallback, 1);
    ctl_place_plan_free(&p);

    e[1].throughput_tps = 7;
    plan(e, 3, 1, CTL_PLACE_LEAST_THROUGHPUT, 0, &p, &l);
    assert_string_equal(l.load, "c");
    assert_int_equal(p.fallback, 0);
    ctl_place_plan_free(&p);

    /* A single candidate needs no ranking: no fallback reported. */
    ctl_place_engine one[] = {eng("solo", 1)};
    plan(one, 1, 1, CTL_PLACE_LEAST_LATENCY, 0, &p, &l);
    assert_string_equal(l.load, "solo");
    assert_int_equal(p.fallback, 0);
    ctl_place_plan_free(&p);
}

/* Engines at max_loras are skipped, even when they would rank first. */
static void test_max_loras_skip(void **state)
{
    (void)state;
    ctl_place_engine e[] = {eng("a", 2), eng("b", 5), eng("c", 8), eng("d", 1)};
    e[0].max_loras = 2;
    e[1].max_loras = 6;
    e[2].max_loras = 0; /* unbounded */
    e[3].max_loras = 1;
    ctl_place_plan p;
    lists l;
    plan(e, 4, 3, CTL_PLACE_LEAST_ADAPTERS, 0, &p, &l);
    assert_string_equal(l.load, "b,c");
    assert_int_equal(p.full, 2);
    assert_int_equal(p.missing, 1);
    ctl_place_plan_free(&p);
}

/* An engine that has it is kept and counts toward replicas, even at its
 * max_loras; only the rest is loaded. */
static void test_already_placed_kept(void **state)
{
    (void)state;
    ctl_place_engine e[] = {eng("a", 0), eng("b", 7), eng("c", 1), eng("d", 3)};
    e[1].has_adapter = 1;
    e[1].max_loras = 7;
    ctl_place_plan p;
    lists l;
    plan(e, 4, 2, CTL_PLACE_LEAST_ADAPTERS, 0, &p, &l);
    assert_string_equal(l.keep, "b");
    assert_string_equal(l.load, "a");
    assert_string_equal(l.spare, "c,d");
    assert_string_equal(l.unload, "");
    assert_int_equal(p.full, 0);
    ctl_place_plan_free(&p);

    /* Exactly at the count: nothing to do. */
    plan(e, 4, 1, CTL_PLACE_LEAST_ADAPTERS, 0, &p, &l);
    assert_string_equal(l.keep, "b");
    assert_string_equal(l.load, "");
    assert_int_equal(p.missing, 0);
    ctl_place_plan_free(&p);
}

/* Over the count: the worst-ranked holders are unloaded, worst last. */
static void test_over_replicas_unload(void **state)
{
    (void)state;
    ctl_place_engine e[] = {eng("a", 5), eng("b", 2), eng("c", 3), eng("d", 0)};
    for (int i = 0; i < 3; i++)
        e[i].has_adapter = 1;
    ctl_place_plan p;
    lists l;
    plan(e, 4, 1, CTL_PLACE_LEAST_ADAPTERS, 0, &p, &l);
    assert_string_equal(l.keep, "b");
    assert_string_equal(l.unload, "c,a");
    assert_string_equal(l.load, "");
    assert_string_equal(l.spare, "d");
    ctl_place_plan_free(&p);

    /* binPack keeps the fullest. */
    plan(e, 4, 2, CTL_PLACE_BIN_PACK, 0, &p, &l);
    assert_string_equal(l.keep, "a,c");
    assert_string_equal(l.unload, "b");
    ctl_place_plan_free(&p);

    /* replicas 0 unloads everywhere. */
    plan(e, 4, 0, CTL_PLACE_LEAST_ADAPTERS, 0, &p, &l);
    assert_string_equal(l.keep, "");
    assert_string_equal(l.unload, "b,c,a");
    assert_string_equal(l.load, "");
    ctl_place_plan_free(&p);
}

/* Not-ready engines are neither chosen, counted, kept nor unloaded. */
static void test_not_ready(void **state)
{
    (void)state;
    ctl_place_engine e[] = {eng("a", 0), eng("b", 0), eng("c", 4)};
    e[0].ready = 0;
    e[1].ready = 0;
    e[1].has_adapter = 1;
    ctl_place_plan p;
    lists l;
    plan(e, 3, 1, CTL_PLACE_LEAST_ADAPTERS, 0, &p, &l);
    assert_string_equal(l.keep, "");
    assert_string_equal(l.unload, "");
    assert_string_equal(l.load, "c");
    assert_int_equal(p.not_ready, 2);
    ctl_place_plan_free(&p);

    plan(e, 3, 0, CTL_PLACE_LEAST_ADAPTERS, 0, &p, &l);
    assert_string_equal(l.unload, "");
    ctl_place_plan_free(&p);
}

/* CTL_PLACE_ALL: every ready engine; full ones show up as missing. */
static void test_all(void **state)
{
    (void)state;
    ctl_place_engine e[] = {eng("a", 3), eng("b", 2), eng("c", 1), eng("d", 4), eng("e", 0)};
    e[0].has_adapter = 1;
    e[1].ready = 0;
    e[3].max_loras = 4;
    ctl_place_plan p;
    lists l;
    plan(e, 5, CTL_PLACE_ALL, CTL_PLACE_LEAST_ADAPTERS, 0, &p, &l);
    assert_int_equal(p.desired, 4);
    assert_string_equal(l.keep, "a");
    assert_string_equal(l.load, "e,c");
    assert_string_equal(l.spare, "");
    assert_int_equal(p.missing, 1);
    assert_int_equal(p.full, 1);
    assert_int_equal(p.not_ready, 1);
    ctl_place_plan_free(&p);

    plan(e, 0, CTL_PLACE_ALL, CTL_PLACE_RANDOM, 1, &p, &l);
    assert_int_equal(p.desired, 0);
    assert_int_equal(p.nload + p.nkeep + p.nspare + p.nunload, 0);
    ctl_place_plan_free(&p);
}

static void test_random(void **state)
{
    (void)state;
    const char *nm[] = {"e0", "e1", "e2", "e3", "e4", "e5"};
    ctl_place_engine e[6], rev[6];
    for (int i = 0; i < 6; i++) {
        e[i] = eng(nm[i], (unsigned)i);
        rev[5 - i] = e[i];
    }
    int first_seen[6] = {0};
    for (uint64_t seed = 0; seed < 200; seed++) {
        ctl_place_plan p, q;
        lists l, m;
        plan(e, 6, 3, CTL_PLACE_RANDOM, seed, &p, &l);
        plan(e, 6, 3, CTL_PLACE_RANDOM, seed, &q, &m);
        /* Same seed, same plan; so too with the input reversed. */
        assert_string_equal(l.load, m.load);
        assert_string_equal(l.spare, m.spare);
        ctl_place_plan_free(&q);
        plan(rev, 6, 3, CTL_PLACE_RANDOM, seed, &q, &m);
        assert_string_equal(l.load, m.load);
        ctl_place_plan_free(&q);
        /* Load and spare together are a permutation of all six. */
        assert_int_equal(p.nload, 3);
        assert_int_equal(p.nspare, 3);
        int seen[6] = {0};
        for (size_t i = 0; i < 3; i++)
            seen[p.load[i]]++;
        for (size_t i = 0; i < 3; i++)
            seen[p.spare[i]]++;
        for (int i = 0; i < 6; i++)
            assert_int_equal(seen[i], 1);
        first_seen[p.load[0]]++;
        ctl_place_plan_free(&p);
    }
    /* Over 200 seeds every engine comes first sometimes (the policy ignores
     * adapter counts, so e0 does not always win). */
    for (int i = 0; i < 6; i++)
        assert_true(first_seen[i] > 0);

    /* Over the count, random keeps a seeded subset too. */
    for (int i = 0; i < 6; i++)
        e[i].has_adapter = 1;
    ctl_place_plan p, q;
    lists l, m;
    plan(e, 6, 2, CTL_PLACE_RANDOM, 42, &p, &l);
    plan(e, 6, 2, CTL_PLACE_RANDOM, 42, &q, &m);
    assert_int_equal(p.nkeep, 2);
    assert_int_equal(p.nunload, 4);
    assert_string_equal(l.keep, m.keep);
    assert_string_equal(l.unload, m.unload);
    assert_true(p.keep[0] != p.keep[1]);
    ctl_place_plan_free(&p);
    ctl_place_plan_free(&q);
}

static void test_errors(void **state)
{
    (void)state;
    ctl_place_engine e[] = {eng("a", 0), eng("b", 0), eng("a", 1)};
    ctl_place_plan p;
    char err[128] = "";
    assert_int_equal(ctl_place_compute(e, 3, 1, CTL_PLACE_LEAST_ADAPTERS, 0, &p, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "duplicate engine name \"a\""));
    assert_null(p.block_);
    assert_int_equal(ctl_place_compute(e, 2, -2, CTL_PLACE_LEAST_ADAPTERS, 0, &p, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "replicas -2"));
    assert_int_equal(ctl_place_compute(e, 2, 1, (ctl_place_policy)17, 0, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "policy"));
    e[1].name = NULL;
    assert_int_equal(ctl_place_compute(e, 2, 1, CTL_PLACE_LEAST_ADAPTERS, 0, &p, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "no name"));
    assert_int_equal(ctl_place_compute(NULL, 2, 1, CTL_PLACE_LEAST_ADAPTERS, 0, &p, err, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_names),
        cmocka_unit_test(test_least_adapters),
        cmocka_unit_test(test_bin_pack),
        cmocka_unit_test(test_least_latency),
        cmocka_unit_test(test_least_throughput),
        cmocka_unit_test(test_metric_fallback),
        cmocka_unit_test(test_max_loras_skip),
        cmocka_unit_test(test_already_placed_kept),
        cmocka_unit_test(test_over_replicas_unload),
        cmocka_unit_test(test_not_ready),
        cmocka_unit_test(test_all),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
