/* gw_kvindex: events applied in order and scoped per engine, gaps answered
 * with a replay (live batches wait), a replay that no longer reaches back
 * (degraded until AllBlocksCleared), restarts (seq from 0 again), the hard
 * bound under eviction, speculative pairs confirmed / dropped / expired,
 * and the overlay's answers per confidence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/gw_kvindex.h"

static void chain(uint64_t id, uint64_t *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        keys[i] = (id * 0x9e3779b97f4a7c15ULL) ^ ((i + 1) * 0xc2b2ae3d27d4eb4fULL);
}

/* one-event batches, built by hand (owned_ false: nothing to free) */
static bx_kvev_event ev_store(uint64_t *h, size_t n)
{
    bx_kvev_event ev = {.type = BX_KVEV_BLOCK_STORED, .block_hashes = h, .n_hashes = n};
    ev.block_size = 16;
    return ev;
}

static bx_kvev_event ev_remove(uint64_t *h, size_t n)
{
    bx_kvev_event ev = {.type = BX_KVEV_BLOCK_REMOVED, .block_hashes = h, .n_hashes = n};
    return ev;
}

static bx_kvev_batch one(bx_kvev_event *ev)
{
    bx_kvev_batch b = {.ts = 1, .events = ev, .n_events = 1};
    return b;
}

static bx_kvev_batch empty(void)
{
    bx_kvev_batch b = {.ts = 1};
    return b;
}

static int live(gw_kvindex *ix, int e, uint64_t seq, bx_kvev_batch *b, uint64_t *from)
{
    return gw_kvindex_on_batch(ix, e, seq, b, from);
}

static void test_order_and_scope(void **state)
{
    (void)state;
    gw_kvindex *ix = gw_kvindex_create(4 << 20, 0);
    assert_non_null(ix);
    uint64_t a[8], from = 99;
    chain(1, a, 8);
    assert_int_equal(gw_kvindex_conf(ix, 1), GW_KVCONF_APPROX);
    gw_kvindex_follow(ix, 1);
    gw_kvindex_follow(ix, 2);
    assert_int_equal(gw_kvindex_conf(ix, 1), GW_KVCONF_DEGRADED); /* nothing from seq 0 yet */
    bx_kvev_event s = ev_store(a, 8);
    bx_kvev_batch b = one(&s);
    assert_int_equal(live(ix, 1, 0, &b, &from), GW_KVIX_APPLIED);
    assert_int_equal(live(ix, 2, 0, &b, &from), GW_KVIX_APPLIED);
    assert_int_equal(gw_kvindex_conf(ix, 1), GW_KVCONF_EXACT);
    assert_int_equal(gw_kvindex_match(ix, a, 8, 1), 8);
    /* engine 1 evicts the tail: engine 2 keeps it (not AIBrix's remove-for-all) */
    bx_kvev_event r = ev_remove(&a[5], 3);
    b = one(&r);
    assert_int_equal(live(ix, 1, 1, &b, &from), GW_KVIX_APPLIED);
    assert_int_equal(gw_kvindex_match(ix, a, 8, 1), 5);
    assert_int_equal(gw_kvindex_match(ix, a, 8, 2), 8);
    /* stored again, in order */
    bx_kvev_event s2 = ev_store(&a[5], 3);
    b = one(&s2);
    assert_int_equal(live(ix, 1, 2, &b, &from), GW_KVIX_APPLIED);
    assert_int_equal(gw_kvindex_match(ix, a, 8, 1), 8);
    assert_int_equal(gw_kvindex_next_seq(ix, 1), 3);
    /* AllBlocksCleared for engine 2 only */
    bx_kvev_event c = {.type = BX_KVEV_ALL_CLEARED};
    b = one(&c);
    assert_int_equal(live(ix, 2, 1, &b, &from), GW_KVIX_APPLIED);
    assert_int_equal(gw_kvindex_match(ix, a, 8, 2), 0);
    assert_int_equal(gw_kvindex_match(ix, a, 8, 1), 8);
    /* a non-GPU medium (CPU offload) is not the engine's GPU cache */
    uint64_t x[2];
    chain(9, x, 2);
    bx_kvev_event sc = ev_store(x, 2);
    sc.medium = "CPU";
    b = one(&sc);
    assert_int_equal(live(ix, 1, 3, &b, &from), GW_KVIX_APPLIED);
    assert_int_equal(gw_kvindex_match(ix, x, 2, 1), 0);
    gw_kvindex_unfollow(ix, 1);
    assert_int_equal(gw_kvindex_conf(ix, 1), GW_KVCONF_APPROX);
    assert_int_equal(gw_kvindex_match(ix, a, 8, 1), 0);
    gw_kvindex_destroy(ix);
}

static void test_gap_and_replay(void **state)
{
    (void)state;
    gw_kvindex *ix = gw_kvindex_create(4 << 20, 0);
    uint64_t a[6], from = 0;
    chain(2, a, 6);
    gw_kvindex_follow(ix, 0);
    bx_kvev_batch e0 = empty();
    assert_int_equal(live(ix, 0, 0, &e0, &from), GW_KVIX_APPLIED);
    /* seq 1 and 2 lost on the wire; 3 arrives: not applied, replay from 1 */
    bx_kvev_event s3 = ev_store(&a[3], 3);
    bx_kvev_batch b3 = one(&s3);
    assert_int_equal(live(ix, 0, 3, &b3, &from), GW_KVIX_REPLAY);
    assert_int_equal(from, 1);
    gw_kvindex_replay_begin(ix, 0, from);
    assert_int_equal(gw_kvindex_conf(ix, 0), GW_KVCONF_DEGRADED);
    /* live batches wait for the replay's end */
    bx_kvev_batch e4 = empty();
    assert_int_equal(live(ix, 0, 4, &e4, &from), GW_KVIX_IGNORED);
    /* the answer: 1, 2, 3, 4 in order; 1 stores a[0..3), 2 removes a[2] */
    bx_kvev_event s1 = ev_store(a, 3), r2 = ev_remove(&a[2], 1);
    bx_kvev_batch b1 = one(&s1), b2 = one(&r2);
    assert_int_equal(gw_kvindex_on_replay(ix, 0, 1, &b1), GW_KVIX_APPLIED);
    assert_int_equal(gw_kvindex_on_replay(ix, 0, 1, &b1), GW_KVIX_IGNORED); /* duplicate */
    assert_int_equal(gw_kvindex_on_replay(ix, 0, 2, &b2), GW_KVIX_APPLIED);
    assert_int_equal(gw_kvindex_on_replay(ix, 0, 3, &b3), GW_KVIX_APPLIED);
    assert_int_equal(gw_kvindex_on_replay(ix, 0, 4, &e4), GW_KVIX_APPLIED);
    gw_kvindex_replay_end(ix, 0, 1);
    assert_int_equal(gw_kvindex_conf(ix, 0), GW_KVCONF_EXACT);
    assert_int_equal(gw_kvindex_next_seq(ix, 0), 5);
    assert_int_equal(gw_kvindex_match(ix, a, 6, 0), 2); /* a[2] removed after it was stored */
    /* live batches already covered by the replay are not a restart? they
     * are below next: vLLM never resends live, so a lower seq is a restart
     * (tested below); the next one in order applies */
    bx_kvev_batch e5 = empty();
    assert_int_equal(live(ix, 0, 5, &e5, &from), GW_KVIX_APPLIED);
    gw_kvindex_stats st;
    gw_kvindex_stats_get(ix, &st);
    assert_int_equal(st.gaps, 1);
    assert_int_equal(st.replays, 1);
    gw_kvindex_destroy(ix);
}

static void test_replay_too_late_and_failures(void **state)
{
    (void)state;
    gw_kvindex *ix = gw_kvindex_create(4 << 20, 0);
    uint64_t a[4], from = 0;
    chain(3, a, 4);
    gw_kvindex_follow(ix, 5);
    /* the gateway came late: the first live seq is 40, replay from 0 */
    bx_kvev_batch e = empty();
    assert_int_equal(live(ix, 5, 40, &e, &from), GW_KVIX_REPLAY);
    assert_int_equal(from, 0);
    gw_kvindex_replay_begin(ix, 5, 0);
    /* the engine's ring starts at 30: 0..29 are gone for good */
    bx_kvev_event s = ev_store(a, 4);
    bx_kvev_batch b = one(&s);
    assert_int_equal(gw_kvindex_on_replay(ix, 5, 30, &b), GW_KVIX_APPLIED);
    gw_kvindex_replay_end(ix, 5, 1);
    assert_int_equal(gw_kvindex_conf(ix, 5), GW_KVCONF_DEGRADED);
    assert_int_equal(gw_kvindex_match(ix, a, 4, 5), 4);
    /* a replay that times out leaves it degraded; the next live gap asks again */
    assert_int_equal(live(ix, 5, 33, &e, &from), GW_KVIX_REPLAY);
    assert_int_equal(from, 31);
    gw_kvindex_replay_begin(ix, 5, from);
    gw_kvindex_replay_end(ix, 5, 0);
    assert_int_equal(gw_kvindex_conf(ix, 5), GW_KVCONF_DEGRADED);
    assert_int_equal(live(ix, 5, 34, &e, &from), GW_KVIX_REPLAY);
    assert_int_equal(from, 31);
    gw_kvindex_replay_begin(ix, 5, from);
    for (uint64_t q = 31; q <= 34; q++)
        assert_int_equal(gw_kvindex_on_replay(ix, 5, q, &e), GW_KVIX_APPLIED);
    gw_kvindex_replay_end(ix, 5, 1);
    assert_int_equal(gw_kvindex_conf(ix, 5), GW_KVCONF_DEGRADED); /* 0..29 still missed */
    /* AllBlocksCleared: the engine holds nothing, nothing missed matters */
    bx_kvev_event c = {.type = BX_KVEV_ALL_CLEARED};
    b = one(&c);
    assert_int_equal(live(ix, 5, 35, &b, &from), GW_KVIX_APPLIED);
    assert_int_equal(gw_kvindex_conf(ix, 5), GW_KVCONF_EXACT);
    assert_int_equal(gw_kvindex_match(ix, a, 4, 5), 0);
    /* a batch that did not decode is a missed one */
    assert_int_equal(live(ix, 5, 36, NULL, &from), GW_KVIX_APPLIED);
    assert_int_equal(gw_kvindex_conf(ix, 5), GW_KVCONF_DEGRADED);
    /* an engine never heard from: a replay from 0 that fails is no proof of
     * an empty stream; one answered with nothing is */
    gw_kvindex_follow(ix, 6);
    gw_kvindex_replay_begin(ix, 6, 0);
    gw_kvindex_replay_end(ix, 6, 0);
    assert_int_equal(gw_kvindex_conf(ix, 6), GW_KVCONF_DEGRADED);
    assert_int_equal(live(ix, 6, 2, &e, &from), GW_KVIX_REPLAY);
    assert_int_equal(from, 0);
    gw_kvindex_replay_begin(ix, 6, 0);
    gw_kvindex_replay_end(ix, 6, 1); /* the ring was empty when asked */
    assert_int_equal(gw_kvindex_conf(ix, 6), GW_KVCONF_EXACT);
    gw_kvindex_stats st;
    gw_kvindex_stats_get(ix, &st);
    assert_int_equal(st.missed_batches, 30);
    assert_int_equal(st.replay_failures, 2);
    gw_kvindex_destroy(ix);
}

static void test_restart(void **state)
{
    (void)state;
    gw_kvindex *ix = gw_kvindex_create(4 << 20, 0);
    uint64_t a[4], b2[4], from = 0;
    chain(4, a, 4);
    chain(5, b2, 4);
    gw_kvindex_follow(ix, 7);
    bx_kvev_event s = ev_store(a, 4);
    bx_kvev_batch b = one(&s);
    bx_kvev_batch e = empty();
    assert_int_equal(live(ix, 7, 0, &b, &from), GW_KVIX_APPLIED);
    for (uint64_t q = 1; q < 6; q++)
        assert_int_equal(live(ix, 7, q, &e, &from), GW_KVIX_APPLIED);
    assert_int_equal(gw_kvindex_match(ix, a, 4, 7), 4);
    /* restarted: seq 0 again, its cache is empty */
    bx_kvev_event s2 = ev_store(b2, 4);
    b = one(&s2);
    assert_int_equal(live(ix, 7, 0, &b, &from), GW_KVIX_APPLIED);
    assert_int_equal(gw_kvindex_conf(ix, 7), GW_KVCONF_EXACT);
    assert_int_equal(gw_kvindex_match(ix, a, 4, 7), 0);
    assert_int_equal(gw_kvindex_match(ix, b2, 4, 7), 4);
    for (uint64_t q = 1; q < 6; q++)
        assert_int_equal(live(ix, 7, q, &e, &from), GW_KVIX_APPLIED);
    /* restarted again, its first batches missed: replay from 0 */
    assert_int_equal(live(ix, 7, 2, &e, &from), GW_KVIX_REPLAY);
    assert_int_equal(from, 0);
    assert_int_equal(gw_kvindex_match(ix, b2, 4, 7), 0);
    gw_kvindex_stats st;
    gw_kvindex_stats_get(ix, &st);
    assert_int_equal(st.restarts, 2);
    gw_kvindex_destroy(ix);
}

static void test_bound(void **state)
{
    (void)state;
    size_t max = 1 << 20;
    gw_kvindex *ix = gw_kvindex_create(max, 2000);
    assert_non_null(ix);
    assert_true(gw_kvindex_mem_bytes(ix) <= max);
    gw_kvindex_follow(ix, 0);
    gw_kvindex_follow(ix, 1);
    uint64_t k[64], from = 0;
    for (uint64_t q = 0; q < 4000; q++) {
        chain(q + 100, k, 64);
        bx_kvev_event s = ev_store(k, 64);
        bx_kvev_batch b = one(&s);
        assert_int_equal(live(ix, (int)(q & 1), q / 2, &b, &from), GW_KVIX_APPLIED);
    }
    gw_kvindex_stats st;
    gw_kvindex_stats_get(ix, &st);
    assert_true(st.bytes <= max);
    assert_true(st.exact_entries <= st.exact_capacity);
    assert_true(st.evictions > 0);
    assert_int_equal(st.stored_blocks, 4000 * 64);
    /* the newest chain of each engine is whole */
    chain(3999 + 100, k, 64);
    assert_int_equal(gw_kvindex_match(ix, k, 64, 1), 64);
    chain(3998 + 100, k, 64);
    assert_int_equal(gw_kvindex_match(ix, k, 64, 0), 64);
    assert_null(gw_kvindex_create(1000, 0)); /* too small */
    gw_kvindex_destroy(ix);
}

static void test_speculative_and_overlay(void **state)
{
    (void)state;
    gw_prefix *approx = gw_prefix_create(1 << 20);
    gw_kvindex *ix = gw_kvindex_create(4 << 20, 2000);
    gw_kvindex_attach(ix, approx);
    gw_kvindex_tick(ix, 1000);
    uint64_t a[8], c[8], d[8], from = 0;
    chain(6, a, 8);
    chain(7, c, 8);
    chain(8, d, 8);
    int ids[3] = {0, 1, 2};
    uint32_t out[3];
    /* engine 0 approximate, 1 exact, 2 degraded */
    gw_kvindex_follow(ix, 1);
    gw_kvindex_follow(ix, 2);
    bx_kvev_batch e = empty();
    assert_int_equal(live(ix, 1, 0, &e, &from), GW_KVIX_APPLIED);
    assert_int_equal(live(ix, 2, 5, &e, &from), GW_KVIX_REPLAY);
    gw_kvindex_replay_begin(ix, 2, 0);
    assert_int_equal(gw_kvindex_on_replay(ix, 2, 3, &e), GW_KVIX_APPLIED);
    gw_kvindex_replay_end(ix, 2, 1);
    assert_int_equal(gw_kvindex_conf(ix, 2), GW_KVCONF_DEGRADED);
    /* a routing decision for each: the approximate index records it; the
     * exact and degraded ones also get a speculative pair */
    for (int i = 0; i < 3; i++)
        gw_prefix_insert(approx, a, 8, i);
    gw_prefix_match_all(approx, a, 8, ids, 3, out);
    assert_int_equal(out[0], 8);
    assert_int_equal(out[1], 8);
    assert_int_equal(out[2], 8);
    /* engine 1 confirms 4 blocks and drops the rest */
    bx_kvev_event s = ev_store(a, 4), r = ev_remove(&a[4], 4);
    bx_kvev_event two[2] = {s, r};
    bx_kvev_batch b = {.ts = 1, .events = two, .n_events = 2};
    assert_int_equal(live(ix, 1, 1, &b, &from), GW_KVIX_APPLIED);
    assert_int_equal(gw_prefix_match(approx, a, 8, 1), 4);
    assert_int_equal(gw_prefix_match(approx, a, 8, 0), 8); /* approximate: its own */
    /* the exact one's answer beats the approximate index even when lower */
    assert_int_equal(gw_prefix_match_raw(approx, a, 8, 1), 8);
    /* unconfirmed speculative pairs expire after the ttl */
    gw_kvindex_tick(ix, 2000); /* one generation on */
    assert_int_equal(gw_prefix_match(approx, a, 8, 2), 8);
    gw_kvindex_tick(ix, 3000); /* a full ttl: expired */
    assert_int_equal(gw_kvindex_match(ix, a, 8, 2), 0);
    assert_int_equal(gw_prefix_match(approx, a, 8, 2), 8); /* degraded: the approximate answer */
    assert_int_equal(gw_prefix_match(approx, a, 8, 1), 4); /* confirmed pairs stay */
    /* a speculative pair dropped by BlockRemoved */
    gw_prefix_insert(approx, c, 8, 1);
    assert_int_equal(gw_prefix_match(approx, c, 8, 1), 8);
    r = ev_remove(c, 1);
    b = one(&r);
    assert_int_equal(live(ix, 1, 2, &b, &from), GW_KVIX_APPLIED);
    assert_int_equal(gw_prefix_match(approx, c, 8, 1), 0);
    /* confirmed, it outlives the speculative ttl */
    gw_prefix_insert(approx, d, 8, 1);
    s = ev_store(d, 8);
    b = one(&s);
    assert_int_equal(live(ix, 1, 3, &b, &from), GW_KVIX_APPLIED);
    gw_kvindex_tick(ix, 4000);
    gw_kvindex_tick(ix, 5000);
    assert_int_equal(gw_prefix_match(approx, d, 8, 1), 8);
    gw_kvindex_stats st;
    gw_kvindex_stats_get(ix, &st);
    assert_int_equal(st.spec_confirmed, 4 + 8);
    assert_int_equal(st.spec_dropped, 4 + 1);
    assert_true(st.spec_expired >= 8);
    assert_int_equal(st.engines[GW_KVCONF_EXACT], 1);
    assert_int_equal(st.engines[GW_KVCONF_DEGRADED], 1);
    assert_int_equal(st.pred_n, 5);
    assert_int_equal(st.pred_exact_n, 3);
    /* detached: the approximate index alone again */
    gw_kvindex_attach(ix, NULL);
    assert_int_equal(gw_prefix_match(approx, a, 8, 1), 8);
    gw_kvindex_destroy(ix);
    gw_prefix_destroy(approx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_scope),
        cmocka_unit_test(test_gap_and_replay),
        cmocka_unit_test(test_replay_too_late_and_failures),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_speculative_and_overlay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
