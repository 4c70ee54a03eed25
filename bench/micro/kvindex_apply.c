/* Cost of the exact (KV-event) prefix index, steady state: the index is
 * filled to its bound first (so page faults and growth are not counted),
 * then timed: a BlockStored event of 1 and of 128 blocks, a BlockRemoved
 * of 1 block, and a match of an 8k-token (512-block) prompt over 8 engines
 * through the overlay (exact walk) against the approximate index alone
 * (bisection). Prints ns per event, per block and per match, and bytes per
 * entry. Usage: see kvindex_apply.sh. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/gw_kvindex.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng_s = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
    rng_s ^= rng_s << 13;
    rng_s ^= rng_s >> 7;
    rng_s ^= rng_s << 17;
    return rng_s;
}

static uint64_t seqs[GW_MAX_ENGINES];

static void apply(gw_kvindex *ix, int e, bx_kvev_event *ev)
{
    bx_kvev_batch b = {.ts = 1, .events = ev, .n_events = 1};
    uint64_t from;
    if (gw_kvindex_on_batch(ix, e, seqs[e]++, &b, &from) != GW_KVIX_APPLIED) abort();
}

static double time_stored(gw_kvindex *ix, size_t nb, int reps)
{
    uint64_t *h = malloc(nb * sizeof(*h));
    double t = 0;
    for (int r = 0; r < reps; r++) {
        for (size_t k = 0; k < nb; k++)
            h[k] = rng();
        bx_kvev_event ev = {.type = BX_KVEV_BLOCK_STORED, .block_hashes = h, .n_hashes = nb};
        double t0 = now_ns();
        apply(ix, r % 8, &ev);
        t += now_ns() - t0;
    }
    free(h);
    return t / reps;
}

int main(void)
{
    size_t max = 64u << 20;
    gw_kvindex *ix = gw_kvindex_create(max, 3000);
    gw_prefix *approx = gw_prefix_create(64u << 20);
    if (!ix || !approx) return 1;
    gw_kvindex_attach(ix, approx);
    for (int e = 0; e < 8; e++)
        gw_kvindex_follow(ix, e);
    gw_kvindex_stats st;
    gw_kvindex_stats_get(ix, &st);
    /* fill past the bound */
    while (1) {
        gw_kvindex_stats_get(ix, &st);
        if (st.evictions > st.exact_capacity / 4) break;
        time_stored(ix, 128, 64);
    }
    double s1 = time_stored(ix, 1, 200000);
    double s128 = time_stored(ix, 128, 5000);
    /* BlockRemoved of a held block */
    uint64_t h[128];
    double trm = 0;
    int nrm = 20000;
    for (int r = 0; r < nrm; r++) {
        for (int k = 0; k < 1; k++)
            h[k] = rng();
        bx_kvev_event ev = {.type = BX_KVEV_BLOCK_STORED, .block_hashes = h, .n_hashes = 1};
        apply(ix, r % 8, &ev);
        bx_kvev_event rm = {.type = BX_KVEV_BLOCK_REMOVED, .block_hashes = h, .n_hashes = 1};
        double t0 = now_ns();
        apply(ix, r % 8, &rm);
        trm += now_ns() - t0;
    }
    /* matching an 8k-token prompt that 2 engines hold whole, 2 half */
    static uint64_t keys[512];
    for (int k = 0; k < 512; k++)
        keys[k] = rng();
    for (int e = 0; e < 4; e++) {
        bx_kvev_event ev = {
            .type = BX_KVEV_BLOCK_STORED, .block_hashes = keys, .n_hashes = e < 2 ? 512 : 256};
        apply(ix, e, &ev);
        gw_prefix_insert(approx, keys, e < 2 ? 512 : 256, e);
    }
    int ids[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    uint32_t out[8];
    int nm = 2000;
    double t0 = now_ns();
    for (int r = 0; r < nm; r++)
        gw_prefix_match_all(approx, keys, 512, ids, 8, out);
    double tex = (now_ns() - t0) / nm;
    if (out[0] != 512 || out[2] != 256 || out[5] != 0) return 2;
    gw_kvindex_attach(ix, NULL);
    t0 = now_ns();
    for (int r = 0; r < nm; r++)
        gw_prefix_match_all(approx, keys, 512, ids, 8, out);
    double tap = (now_ns() - t0) / nm;
    gw_kvindex_stats_get(ix, &st);
    printf("exact index: %zu MiB bound, %zu pairs capacity, %.1f bytes of the bound per exact pair "
           "(%.1f with the speculative generations)\n",
           max >> 20, st.exact_capacity, (double)st.exact_bytes / (double)st.exact_capacity,
           (double)st.bytes / (double)st.exact_capacity);
    printf("BlockStored, 1 block:     %8.0f ns per event\n", s1);
    printf("BlockStored, 128 blocks:  %8.0f ns per event, %.0f ns per block\n", s128, s128 / 128);
    printf("BlockRemoved, 1 block:    %8.0f ns per event\n", trm / nrm);
    printf("match 512 blocks x 8 engines: exact walk %.1f us, approximate bisection %.1f us\n",
           tex / 1000, tap / 1000);
    gw_kvindex_destroy(ix);
    gw_prefix_destroy(approx);
    return 0;
}
