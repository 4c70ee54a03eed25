/* ctl_place: adapter placement policies (see ctl_place.h). Each ranking is a
 * sort of (key1, key2, name, index) tuples, so every policy is a way of
 * filling the two keys; random shuffles the name-sorted set instead. */
#include "ctl/ctl_place.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_err.h"
#include "common/bx_rand.h"

static const char *const ctl_place_policy_names[] = {
    [CTL_PLACE_LEAST_ADAPTERS] = "leastAdapters",
    [CTL_PLACE_BIN_PACK] = "binPack",
    [CTL_PLACE_LEAST_LATENCY] = "leastLatency",
    [CTL_PLACE_LEAST_THROUGHPUT] = "leastThroughput",
    [CTL_PLACE_RANDOM] = "random",
};
#define NPOLICIES (sizeof(ctl_place_policy_names) / sizeof(ctl_place_policy_names[0]))

int ctl_place_policy_parse(const char *name, ctl_place_policy *out)
{
    if (!name || !out) return -1;
    if (name[0] == 0 || strcmp(name, "default") == 0) {
        *out = CTL_PLACE_LEAST_ADAPTERS;
        return 0;
    }
    for (size_t i = 0; i < NPOLICIES; i++) {
        if (strcmp(name, ctl_place_policy_names[i]) == 0) {
            *out = (ctl_place_policy)i;
            return 0;
        }
    }
    return -1;
}

const char *ctl_place_policy_name(ctl_place_policy p)
{
    if ((unsigned)p >= NPOLICIES) return "?";
    return ctl_place_policy_names[p];
}

typedef struct ctl_place_rank {
    double k1, k2;
    const char *name;
    size_t idx;
} ctl_place_rank;

static int ctl_place_cmp_rank(const void *a, const void *b)
{
    const ctl_place_rank *x = a, *y = b;
    if (x->k1 != y->k1) return x->k1 < y->k1 ? -1 : 1;
    if (x->k2 != y->k2) return x->k2 < y->k2 ? -1 : 1;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static int ctl_place_cmp_name(const void *a, const void *b)
{
    const ctl_place_rank *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static int ctl_place_metric_known(double v)
{
    return isfinite(v) && v >= 0.0;
}

/* Uniform in [0, bound) without modulo bias. */
static size_t ctl_place_rand_below(uint64_t *s, size_t bound)
{
    uint64_t b = (uint64_t)bound;
    uint64_t limit = UINT64_MAX - UINT64_MAX % b;
    uint64_t x;
    do {
        x = bx_splitmix64(s); /* fully determined by the seed */
    } while (x >= limit);
    return (size_t)(x % b);
}

/* Orders r[0..n) best first by the policy. Returns 1 when a metric policy
 * fell back to leastAdapters. */
static int ctl_place_rank_set(ctl_place_rank *r, size_t n, const ctl_place_engine *e,
                              ctl_place_policy policy, uint64_t *rng)
{
    if (n == 0) return 0;
    if (policy == CTL_PLACE_RANDOM) {
        qsort(r, n, sizeof(*r), ctl_place_cmp_name);
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = ctl_place_rand_below(rng, i + 1);
            ctl_place_rank t = r[i];
            r[i] = r[j];
            r[j] = t;
        }
        return 0;
    }
    int fallback = 0;
    if (policy == CTL_PLACE_LEAST_LATENCY || policy == CTL_PLACE_LEAST_THROUGHPUT) {
        for (size_t i = 0; i < n; i++) {
            const ctl_place_engine *x = &e[r[i].idx];
            double v = policy == CTL_PLACE_LEAST_LATENCY ? x->latency_s : x->throughput_tps;
            if (!ctl_place_metric_known(v)) fallback = 1;
        }
        if (fallback) policy = CTL_PLACE_LEAST_ADAPTERS;
    }
    for (size_t i = 0; i < n; i++) {
        const ctl_place_engine *x = &e[r[i].idx];
        switch (policy) {
        case CTL_PLACE_BIN_PACK:
            r[i].k1 = x->max_loras ? (double)x->max_loras - (double)x->loaded : INFINITY;
            r[i].k2 = -(double)x->loaded;
            break;
        case CTL_PLACE_LEAST_LATENCY:
            r[i].k1 = x->latency_s;
            r[i].k2 = 0;
            break;
        case CTL_PLACE_LEAST_THROUGHPUT:
            r[i].k1 = x->throughput_tps;
            r[i].k2 = 0;
            break;
        default:
            r[i].k1 = (double)x->loaded;
            r[i].k2 = 0;
            break;
        }
    }
    qsort(r, n, sizeof(*r), ctl_place_cmp_rank);
    return fallback && n > 1;
}

void ctl_place_plan_free(ctl_place_plan *p)
{
    if (!p) return;
    free(p->block_);
    memset(p, 0, sizeof(*p));
}

int ctl_place_compute(const ctl_place_engine *engines, size_t n, int replicas,
                      ctl_place_policy policy, uint64_t seed, ctl_place_plan *out, char *err,
                      size_t errlen)
{
    if (!out) {
        bx_errf(err, errlen, "ctl_place: no plan");
        return -1;
    }
    memset(out, 0, sizeof(*out));
    if (n > 0 && !engines) {
        bx_errf(err, errlen, "ctl_place: no engines");
        return -1;
    }
    if (replicas < CTL_PLACE_ALL) {
        bx_errf(err, errlen, "ctl_place: replicas %d is invalid (want >= 0 or all)", replicas);
        return -1;
    }
    if ((unsigned)policy >= NPOLICIES) {
        bx_errf(err, errlen, "ctl_place: unknown policy %d", (int)policy);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!engines[i].name) {
            bx_errf(err, errlen, "ctl_place: engine %zu has no name", i);
            return -1;
        }
    }

    /* One block: n ranks for sorting plus n indexes for the lists (each
     * engine lands in at most one list). */
    size_t alloc_n = n ? n : 1;
    ctl_place_rank *r = malloc(alloc_n * sizeof(*r));
    size_t *block = malloc(alloc_n * sizeof(*block));
    if (!r || !block) {
        free(r);
        free(block);
        bx_errf(err, errlen, "ctl_place: out of memory");
        return -1;
    }

    /* Duplicate names would make ties and the random order ambiguous. */
    for (size_t i = 0; i < n; i++) {
        r[i].name = engines[i].name;
        r[i].idx = i;
    }
    qsort(r, n, sizeof(*r), ctl_place_cmp_name);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(r[i - 1].name, r[i].name) == 0) {
            bx_errf(err, errlen, "ctl_place: duplicate engine name \"%s\"", r[i].name);
            free(r);
            free(block);
            return -1;
        }
    }

    uint64_t rng = seed;
    size_t ready = 0;
    for (size_t i = 0; i < n; i++) {
        if (engines[i].ready)
            ready++;
        else
            out->not_ready++;
    }
    out->desired = replicas == CTL_PLACE_ALL ? ready : (size_t)replicas;
    out->block_ = block;

    /* Engines that have it: keep the best `desired`, unload the rest. */
    size_t nh = 0;
    for (size_t i = 0; i < n; i++) {
        if (engines[i].ready && engines[i].has_adapter) {
            r[nh].name = engines[i].name;
            r[nh].idx = i;
            nh++;
        }
    }
    if (nh > out->desired)
        out->fallback |= ctl_place_rank_set(r, nh, engines, policy, &rng);
    else
        qsort(r, nh, sizeof(*r), ctl_place_cmp_name);
    size_t pos = 0;
    out->keep = block + pos;
    out->nkeep = nh < out->desired ? nh : out->desired;
    for (size_t i = 0; i < out->nkeep; i++)
        block[pos++] = r[i].idx;
    out->unload = block + pos;
    out->nunload = nh - out->nkeep;
    for (size_t i = out->nkeep; i < nh; i++)
        block[pos++] = r[i].idx;

    /* New engines: ready, without it, with room. */
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        const ctl_place_engine *x = &engines[i];
        if (!x->ready || x->has_adapter) continue;
        if (x->max_loras && x->loaded >= x->max_loras) {
            out->full++;
            continue;
        }
        r[nc].name = x->name;
        r[nc].idx = i;
        nc++;
    }
    out->fallback |= ctl_place_rank_set(r, nc, engines, policy, &rng);
    size_t need = out->desired - out->nkeep;
    out->load = block + pos;
    out->nload = nc < need ? nc : need;
    for (size_t i = 0; i < out->nload; i++)
        block[pos++] = r[i].idx;
    out->spare = block + pos;
    out->nspare = nc - out->nload;
    for (size_t i = out->nload; i < nc; i++)
        block[pos++] = r[i].idx;
    out->missing = need - out->nload;

    free(r);
    return 0;
}
