/* kv_evict: exact eviction orders of LRU, FIFO and S3-FIFO on hand-made sequences, hot reports,
 * byte accounting, remove() from each queue, and the bounded S3-FIFO ghost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "kv/kv_evict.h"

/* Entries are named by a letter; node i has key {i, 0x5a}. */
#define NENT 64
static kv_evict_node ent[NENT];

static kv_evict_node *E(char c)
{
    return &ent[c - 'A'];
}

static char name_of(const kv_evict_node *n)
{
    return n ? (char)('A' + (n - ent)) : '-';
}

static int put(kv_evict *p, char c, uint64_t size)
{
    kv_evict_node *n = E(c);
    memset(n, 0, sizeof *n);
    n->key[0] = (uint64_t)(c - 'A');
    n->key[1] = 0x5a;
    n->size = size;
    return kv_evict_insert(p, n);
}

/* Inserts and, like the L1 cache would, evicts while over capacity; appends victims to out. */
static int put_evict(kv_evict *p, char c, uint64_t size, char *out)
{
    int hot = put(p, c, size);
    while (kv_evict_over_capacity(p)) {
        kv_evict_node *v = kv_evict_evict_one(p);
        assert_non_null(v);
        size_t l = strlen(out);
        out[l] = name_of(v);
        out[l + 1] = 0;
    }
    return hot;
}

static void drain(kv_evict *p, char *out)
{
    kv_evict_node *v;
    while ((v = kv_evict_evict_one(p)) != NULL) {
        size_t l = strlen(out);
        out[l] = name_of(v);
        out[l + 1] = 0;
        assert_int_equal(v->queue, KV_EVICT_Q_NONE);
    }
    assert_int_equal(kv_evict_usage(p), 0);
    assert_int_equal(kv_evict_count(p), 0);
}

static int s3_init(kv_evict *p, uint64_t cap, double ratio, int thr, uint64_t block)
{
    kv_evict_params prm;
    kv_evict_params_default(&prm);
    prm.small_ratio = ratio;
    prm.promote_threshold = thr;
    prm.block_bytes = block;
    return kv_evict_init(p, KV_EVICT_S3FIFO, cap, &prm);
}

static void test_init_and_params(void **st)
{
    (void)st;
    kv_evict p;
    kv_evict_params prm;
    kv_evict_params_default(&prm);
    assert_true(prm.small_ratio == 0.3);
    assert_int_equal(prm.promote_threshold, 1);
    assert_int_equal(kv_evict_init(&p, KV_EVICT_LRU, 0, NULL), -EINVAL);
    assert_int_equal(kv_evict_init(&p, (kv_evict_kind)7, 100, NULL), -EINVAL);
    /* S3-FIFO needs a block size (or explicit ghost bound) to size its ghost. */
    assert_int_equal(kv_evict_init(&p, KV_EVICT_S3FIFO, 1000, NULL), -EINVAL);
    assert_int_equal(s3_init(&p, 1000, 0.0, 1, 100), -EINVAL);
    assert_int_equal(s3_init(&p, 1000, 1.0, 1, 100), -EINVAL);
    assert_int_equal(s3_init(&p, 1000, 0.3, 0, 100), -EINVAL);
    assert_int_equal(s3_init(&p, 1000, 0.3, 4, 100), -EINVAL);
    assert_int_equal(s3_init(&p, 1000, 0.3, 3, 100), 0);
    assert_int_equal(p.small_cap, 300);
    assert_int_equal(p.main_cap, 700);
    assert_int_equal(p.ghost.cap, 7); /* main 700 / block 100 */
    kv_evict_close(&p);
    prm.ghost_entries = 5;
    assert_int_equal(kv_evict_init(&p, KV_EVICT_S3FIFO, 1000, &prm), 0);
    assert_int_equal(p.ghost.cap, 5);
    kv_evict_close(&p);

    kv_evict_kind k;
    assert_int_equal(kv_evict_kind_parse("s3fifo", &k), 0);
    assert_int_equal(k, KV_EVICT_S3FIFO);
    assert_int_equal(kv_evict_kind_parse("LRU", &k), 0);
    assert_int_equal(k, KV_EVICT_LRU);
    assert_int_equal(kv_evict_kind_parse("FIFO", &k), 0);
    assert_int_equal(k, KV_EVICT_FIFO);
    assert_int_equal(kv_evict_kind_parse("ARC", &k), -EINVAL);
    assert_string_equal(kv_evict_kind_name(KV_EVICT_FIFO), "FIFO");
}

/* Capacity 4 blocks of 100. Insert A B C D; access B then A.
 * LRU (head..tail): A B D C. Insert E -> over -> victim C. Drain from the tail: D B A E.
 * FIFO: access moves nothing: A B C D. Insert E -> victim A. Drain: B C D E. */
static void run_lru_fifo(kv_evict_kind kind, const char *expect)
{
    kv_evict p;
    char out[32] = "";
    assert_int_equal(kv_evict_init(&p, kind, 400, NULL), 0);
    for (char c = 'A'; c <= 'D'; c++)
        assert_int_equal(put_evict(&p, c, 100, out), 0);
    assert_string_equal(out, "");
    assert_int_equal(kv_evict_access(&p, E('B')), 1); /* first hit: became hot */
    assert_int_equal(kv_evict_access(&p, E('A')), 1);
    assert_int_equal(kv_evict_access(&p, E('A')), 0); /* already hot */
    put_evict(&p, 'E', 100, out);
    assert_int_equal(kv_evict_usage(&p), 400);
    drain(&p, out);
    assert_string_equal(out, expect);
    kv_evict_close(&p);
}

static void test_lru_order(void **st)
{
    (void)st;
    run_lru_fifo(KV_EVICT_LRU, "CDBAE");
}

static void test_fifo_order(void **st)
{
    (void)st;
    run_lru_fifo(KV_EVICT_FIFO, "ABCDE");
}

/* replace(): LRU moves to head and resets hotness; FIFO keeps its place (hotness reset too).
 * Insert A B C, replace A. LRU order: B C A; FIFO order: A B C. */
static void test_replace(void **st)
{
    (void)st;
    kv_evict p;
    char out[16] = "";
    assert_int_equal(kv_evict_init(&p, KV_EVICT_LRU, 1000, NULL), 0);
    put(&p, 'A', 100);
    put(&p, 'B', 100);
    put(&p, 'C', 100);
    assert_int_equal(kv_evict_access(&p, E('A')), 1);
    assert_int_equal(kv_evict_replace(&p, E('A'), 250), 0);
    assert_int_equal(kv_evict_usage(&p), 450);
    assert_int_equal(kv_evict_access(&p, E('A')), 1); /* hot again after replace */
    drain(&p, out);
    assert_string_equal(out, "BCA");
    kv_evict_close(&p);

    out[0] = 0;
    assert_int_equal(kv_evict_init(&p, KV_EVICT_FIFO, 1000, NULL), 0);
    put(&p, 'A', 100);
    put(&p, 'B', 100);
    put(&p, 'C', 100);
    assert_int_equal(kv_evict_replace(&p, E('A'), 50), 0);
    assert_int_equal(kv_evict_usage(&p), 250);
    drain(&p, out);
    assert_string_equal(out, "ABC");
    assert_int_equal(kv_evict_replace(&p, E('A'), 50), -EINVAL); /* no longer tracked */
    kv_evict_close(&p);
}

/* Mixed sizes, LRU, capacity 1000: A600 B300 C200 -> 1100 over -> victim A (usage 500).
 * replace B to 500 -> 700; remove C -> 500; D400 -> 900; E200 -> 1100 -> victim B -> 600. */
static void test_usage_mixed_sizes(void **st)
{
    (void)st;
    kv_evict p;
    char out[16] = "";
    assert_int_equal(kv_evict_init(&p, KV_EVICT_LRU, 1000, NULL), 0);
    put_evict(&p, 'A', 600, out);
    put_evict(&p, 'B', 300, out);
    assert_false(kv_evict_over_capacity(&p));
    put_evict(&p, 'C', 200, out);
    assert_string_equal(out, "A");
    assert_int_equal(kv_evict_usage(&p), 500);
    assert_int_equal(kv_evict_replace(&p, E('B'), 500), 0);
    assert_int_equal(kv_evict_usage(&p), 700);
    assert_int_equal(kv_evict_remove(&p, E('C')), 0);
    assert_int_equal(kv_evict_remove(&p, E('C')), -EINVAL);
    assert_int_equal(kv_evict_access(&p, E('C')), -EINVAL);
    assert_int_equal(kv_evict_usage(&p), 500);
    put_evict(&p, 'D', 400, out);
    put_evict(&p, 'E', 200, out);
    assert_string_equal(out, "AB");
    assert_int_equal(kv_evict_usage(&p), 600);
    assert_int_equal(p.q[KV_EVICT_Q_MAIN].bytes, 600);
    assert_int_equal(kv_evict_count(&p), 2);
    drain(&p, out);
    assert_string_equal(out, "ABDE");
    kv_evict_close(&p);
}

/* S3-FIFO, capacity 1000 (small 300, main 700), blocks of 100, T = 1.
 * Insert A..J (small holds all 1000). Access C and E (re-accessed).
 * K -> over: small 1100 > 300, tail A hotness 0 -> victim A (ghost).
 * L -> victim B. M -> tail C hot -> main (hotness 0); small still > 300 -> D victim.
 * N -> tail E hot -> main; F victim. The one-hit wonders go, C and E stay in main. */
static void test_s3fifo_one_hit_wonders_and_promotion(void **st)
{
    (void)st;
    kv_evict p;
    char out[32] = "";
    assert_int_equal(s3_init(&p, 1000, 0.3, 1, 100), 0);
    for (char c = 'A'; c <= 'J'; c++)
        assert_int_equal(put_evict(&p, c, 100, out), 0);
    assert_int_equal(p.q[KV_EVICT_Q_SMALL].bytes, 1000);
    assert_int_equal(kv_evict_access(&p, E('C')), 1); /* small, hotness T-1 = 0: hot */
    assert_int_equal(kv_evict_access(&p, E('C')), 0);
    assert_int_equal(kv_evict_access(&p, E('E')), 1);
    put_evict(&p, 'K', 100, out);
    put_evict(&p, 'L', 100, out);
    assert_string_equal(out, "AB");
    put_evict(&p, 'M', 100, out);
    assert_string_equal(out, "ABD");
    assert_int_equal(E('C')->queue, KV_EVICT_Q_MAIN);
    assert_int_equal(E('C')->hotness, 0);
    put_evict(&p, 'N', 100, out);
    assert_string_equal(out, "ABDF");
    assert_int_equal(E('E')->queue, KV_EVICT_Q_MAIN);
    assert_int_equal(p.q[KV_EVICT_Q_MAIN].bytes, 200);
    assert_int_equal(p.q[KV_EVICT_Q_SMALL].bytes, 800);
    assert_int_equal(p.stats.promotions, 2);
    /* Victims from small are remembered in ghost; promoted ones are not. */
    uint64_t ka[2] = {0, 0x5a}, kc[2] = {2, 0x5a};
    assert_true(kv_evict_ghost_contains(&p, ka));
    assert_false(kv_evict_ghost_contains(&p, kc));
    assert_int_equal(kv_evict_ghost_count(&p), 4);
    kv_evict_close(&p);
}

/* Threshold 2: hot is reported on the second hit in small; one hit is not enough to promote.
 * Capacity 500 (small 150, main 350). A B C; A hit twice, B once.
 * evict: small 300 > 150, tail A hotness 2 >= 2 -> main; small 200 > 150, tail B hotness 1 ->
 * victim. Hotness saturates at 3. */
static void test_s3fifo_threshold(void **st)
{
    (void)st;
    kv_evict p;
    char out[16] = "";
    assert_int_equal(s3_init(&p, 500, 0.3, 2, 100), 0);
    put(&p, 'A', 100);
    put(&p, 'B', 100);
    put(&p, 'C', 100);
    assert_int_equal(kv_evict_access(&p, E('A')), 0);
    assert_int_equal(kv_evict_access(&p, E('A')), 1);
    assert_int_equal(kv_evict_access(&p, E('B')), 0);
    kv_evict_node *v = kv_evict_evict_one(&p);
    assert_ptr_equal(v, E('B'));
    assert_int_equal(E('A')->queue, KV_EVICT_Q_MAIN);
    for (int i = 0; i < 5; i++)
        assert_int_equal(kv_evict_access(&p, E('A')), 0); /* in main: never "became hot" */
    assert_int_equal(E('A')->hotness, 3);
    /* small C (100) is within share, main non-empty: main tail A gets 3 second chances. */
    drain(&p, out);
    assert_string_equal(out, "AC");
    assert_int_equal(p.stats.second_chance, 3);
    kv_evict_close(&p);
}

/* Capacity 500, small ratio 0.4 (small 200, main 300), blocks 100 -> ghost holds 3 keys.
 * Phase 1: A..E fill small; F G H evict A B C into ghost.
 * Phase 2: A B C come back: ghost hits go straight to main (hot), each pushes small tail out:
 *          victims D E F. Now small G H (200), main head..tail C B A (300).
 * Phase 3: hit A once, B twice (main). D comes back (ghost hit) -> main D C B A, 600 > 500,
 *          small at its share -> from main: A 1->0 re-append, B 2->1 re-append, C victim.
 *          E comes back -> main E B A D -> D victim (tail, hotness 0).
 * Drain: main tail A victim; B 1->0 re-append; E victim; B victim; main empty -> G, H. */
static void test_s3fifo_ghost_and_second_chance(void **st)
{
    (void)st;
    kv_evict p;
    char out[32] = "";
    assert_int_equal(s3_init(&p, 500, 0.4, 1, 100), 0);
    assert_int_equal(p.ghost.cap, 3);
    for (char c = 'A'; c <= 'H'; c++)
        assert_int_equal(put_evict(&p, c, 100, out), 0);
    assert_string_equal(out, "ABC");
    assert_int_equal(kv_evict_ghost_count(&p), 3);

    assert_int_equal(put_evict(&p, 'A', 100, out), 1); /* ghost hit: hot on arrival */
    assert_int_equal(E('A')->queue, KV_EVICT_Q_MAIN);
    assert_int_equal(put_evict(&p, 'B', 100, out), 1);
    assert_int_equal(put_evict(&p, 'C', 100, out), 1);
    assert_string_equal(out, "ABCDEF");
    assert_int_equal(p.stats.ghost_hits, 3);
    assert_int_equal(kv_evict_ghost_count(&p), 3); /* D E F */
    uint64_t ka[2] = {0, 0x5a};
    assert_false(kv_evict_ghost_contains(&p, ka)); /* consumed by the hit */

    assert_int_equal(kv_evict_access(&p, E('A')), 0);
    assert_int_equal(kv_evict_access(&p, E('B')), 0);
    assert_int_equal(kv_evict_access(&p, E('B')), 0);
    assert_int_equal(put_evict(&p, 'D', 100, out), 1);
    assert_string_equal(out, "ABCDEFC");
    assert_int_equal(E('A')->hotness, 0);
    assert_int_equal(E('B')->hotness, 1);
    assert_int_equal(put_evict(&p, 'E', 100, out), 1);
    assert_string_equal(out, "ABCDEFCD");
    assert_int_equal(kv_evict_usage(&p), 500);
    drain(&p, out);
    assert_string_equal(out, "ABCDEFCDAEBGH");
    /* G and H left small unpromoted: remembered; main victims are not. */
    uint64_t kg[2] = {6, 0x5a}, kd[2] = {3, 0x5a};
    assert_true(kv_evict_ghost_contains(&p, kg));
    assert_false(kv_evict_ghost_contains(&p, kd));
    kv_evict_close(&p);
}

/* remove() from small and from main: accounting follows, removed keys never reach ghost, and
 * the remaining order is unchanged. Capacity 1000 (small 300, main 700).
 * A..E in small; F goes to main via ghost: fill, evict, come back. */
static void test_s3fifo_remove_each_queue(void **st)
{
    (void)st;
    kv_evict p;
    char out[32] = "";
    assert_int_equal(s3_init(&p, 1000, 0.3, 1, 100), 0);
    put(&p, 'F', 100);
    assert_ptr_equal(kv_evict_evict_one(&p), E('F')); /* F -> ghost */
    assert_int_equal(put(&p, 'F', 100), 1);           /* back, into main */
    for (char c = 'A'; c <= 'E'; c++)
        put(&p, c, 100);
    put(&p, 'G', 100);
    assert_int_equal(kv_evict_access(&p, E('G')), 1);
    kv_evict_evict_one(&p);                           /* small 600 > 300: tail A victim */
    assert_int_equal(kv_evict_remove(&p, E('B')), 0); /* small */
    assert_int_equal(kv_evict_remove(&p, E('F')), 0); /* main */
    assert_int_equal(kv_evict_remove(&p, E('F')), -EINVAL);
    assert_int_equal(p.q[KV_EVICT_Q_MAIN].count, 0);
    assert_int_equal(p.q[KV_EVICT_Q_SMALL].bytes, 400); /* C D E G */
    assert_int_equal(kv_evict_usage(&p), 400);
    uint64_t kb[2] = {1, 0x5a}, kf[2] = {5, 0x5a};
    assert_false(kv_evict_ghost_contains(&p, kb));
    assert_false(kv_evict_ghost_contains(&p, kf));
    /* small C D E G(hot) 400 > 300: C victim; then D (small 300 = share but main empty); then
     * E; then G is hot -> main, then main tail G (hotness 0) victim. */
    drain(&p, out);
    assert_string_equal(out, "CDEG");
    kv_evict_close(&p);
}

/* A scan of 100000 distinct keys through a 10-block cache: AIBrix's ghost would grow to 99990
 * keys; here it stays at main_cap / block = 7 and holds exactly the last 7 victims. */
static void test_s3fifo_ghost_bounded_scan(void **st)
{
    (void)st;
    kv_evict p;
    assert_int_equal(s3_init(&p, 1000, 0.3, 1, 100), 0);
    static kv_evict_node pool[11];
    kv_evict_node *free_list[11];
    int nfree = 11;
    for (int i = 0; i < 11; i++)
        free_list[i] = &pool[i];
    uint64_t last_victim = 0;
    const uint64_t N = 100000;
    for (uint64_t k = 1; k <= N; k++) {
        assert_true(nfree > 0);
        kv_evict_node *n = free_list[--nfree];
        n->key[0] = k;
        n->key[1] = ~k;
        n->size = 100;
        assert_int_equal(kv_evict_insert(&p, n), 0);
        while (kv_evict_over_capacity(&p)) {
            kv_evict_node *v = kv_evict_evict_one(&p);
            assert_non_null(v);
            assert_int_equal(v->key[0], last_victim + 1); /* a pure scan evicts in order */
            last_victim = v->key[0];
            free_list[nfree++] = v;
        }
        assert_true(kv_evict_ghost_count(&p) <= 7);
    }
    assert_int_equal(last_victim, N - 10);
    assert_int_equal(kv_evict_ghost_count(&p), 7);
    for (uint64_t k = N - 30; k <= N - 10; k++) {
        uint64_t key[2] = {k, ~k};
        assert_int_equal(kv_evict_ghost_contains(&p, key), k > N - 17);
    }
    kv_evict_close(&p);
}

/* The ghost set against a brute-force model: random ghost adds (small-queue victims) and ghost
 * hits over a small key space, so probes collide and deletions shift entries back. */
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_s3fifo_ghost_model(void **st)
{
    (void)st;
    enum { KEYS = 40, CAP = 7, STEPS = 20000 };
    kv_evict p;
    kv_evict_params prm;
    kv_evict_params_default(&prm);
    prm.ghost_entries = CAP;
    /* Capacity 1 byte: small share is 0, every evict_one takes the single small entry. */
    assert_int_equal(kv_evict_init(&p, KV_EVICT_S3FIFO, 1, &prm), 0);
    uint64_t hist[STEPS]; /* keys added to ghost, in order */
    int consumed[STEPS];  /* set when a later hit took that add out */
    int nh = 0;
    kv_evict_node n;
    for (int s = 0; s < STEPS; s++) {
        uint64_t k = rng() % KEYS;
        memset(&n, 0, sizeof n);
        n.key[0] = k;
        n.key[1] = k * 7;
        n.size = 1;
        /* model: is k live, i.e. added among the last CAP adds and not consumed since? */
        int live = -1;
        for (int i = nh - 1; i >= 0 && i >= nh - CAP; i--)
            if (hist[i] == k) {
                if (!consumed[i]) live = i;
                break;
            }
        int hot = kv_evict_insert(&p, &n);
        assert_int_equal(hot, live >= 0);
        if (live >= 0) consumed[live] = 1;
        if (rng() % 3 == 0) {
            assert_int_equal(kv_evict_remove(&p, &n), 0); /* explicit delete: not a ghost */
        } else {
            assert_ptr_equal(kv_evict_evict_one(&p), &n);
            if (!hot) { /* from small: remembered (a ghost hit went to main: not) */
                hist[nh] = k;
                consumed[nh] = 0;
                nh++;
            }
        }
        int count = 0;
        for (uint64_t q = 0; q < KEYS; q++) {
            int m = 0;
            for (int i = nh - 1; i >= 0 && i >= nh - CAP; i--)
                if (hist[i] == q) {
                    m = !consumed[i];
                    break;
                }
            uint64_t key[2] = {q, q * 7};
            assert_int_equal(kv_evict_ghost_contains(&p, key), m);
            count += m;
        }
        assert_int_equal(kv_evict_ghost_count(&p), count);
    }
    kv_evict_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_params),
        cmocka_unit_test(test_lru_order),
        cmocka_unit_test(test_fifo_order),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_usage_mixed_sizes),
        cmocka_unit_test(test_s3fifo_one_hit_wonders_and_promotion),
        cmocka_unit_test(test_s3fifo_threshold),
        cmocka_unit_test(test_s3fifo_ghost_and_second_chance),
        cmocka_unit_test(test_s3fifo_remove_each_queue),
        cmocka_unit_test(test_s3fifo_ghost_bounded_scan),
        cmocka_unit_test(test_s3fifo_ghost_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
