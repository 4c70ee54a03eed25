/* bx_oahash: the one open-addressing core (issue 14). Deletion by backward
 * shift inside clusters that wrap past the last slot, in plain and Robin
 * Hood order, the Robin Hood insert's forward shift, the move callback
 * reporting every move (owners with back-pointers rely on it), a random run
 * against a reference set, and bx_oaidx's sizing and index table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_oahash.h"
#include "common/bx_queue.h"

/* A test table of keys stored in place (0 = empty). A key names its own
 * home: K(home, serial), so a test lays out any cluster; the serial
 * (< MAXKEYS) indexes pos. */
#define MAXSLOTS 64
#define MAXKEYS 4096
#define K(home, serial) (((uint64_t)(home) << 16) | (uint64_t)(serial))
#define SERIAL(k) ((k)&0xffff)

typedef struct tt {
    uint64_t slot[MAXSLOTS];
    size_t n;
    int pos[MAXKEYS]; /* slot of each key, kept by move: an owner's back-pointers */
    int moves;
} tt;

static size_t key_home(const tt *t, uint64_t k)
{
    return (size_t)(k >> 16) % t->n;
}

static int tt_empty(const void *tab, size_t i)
{
    return ((const tt *)tab)->slot[i] == 0;
}

static size_t tt_home(const void *tab, size_t i)
{
    const tt *t = tab;
    return key_home(t, t->slot[i]);
}

static void tt_move(void *tab, size_t from, size_t to)
{
    tt *t = tab;
    t->slot[to] = t->slot[from];
    t->pos[SERIAL(t->slot[to])] = (int)to;
    t->moves++;
}

static void tt_clear(void *tab, size_t i)
{
    ((tt *)tab)->slot[i] = 0;
}

static const bx_oahash_ops plain_ops = {tt_empty, tt_home, tt_move, tt_clear, 0};
static const bx_oahash_ops rh_ops = {tt_empty, tt_home, tt_move, tt_clear, 1};

static int tt_is(const void *tab, size_t i, const void *key)
{
    return ((const tt *)tab)->slot[i] == *(const uint64_t *)key;
}

static size_t tt_find(const bx_oahash_ops *ops, const tt *t, uint64_t k)
{
    return bx_oahash_probe(ops, t, t->n, key_home(t, k), tt_is, &k);
}

static void tt_add(const bx_oahash_ops *ops, tt *t, uint64_t k)
{
    size_t i = bx_oahash_insert_slot(ops, t, t->n, key_home(t, k));
    t->slot[i] = k;
    t->pos[SERIAL(k)] = (int)i;
}

static void tt_del(const bx_oahash_ops *ops, tt *t, uint64_t k)
{
    size_t i = tt_find(ops, t, k);
    assert_int_not_equal(i, BX_OAHASH_NONE);
    bx_oahash_delete(ops, t, t->n, i);
}

static void tt_init(tt *t, size_t n)
{
    memset(t, 0, sizeof(*t));
    t->n = n;
}

/* expect: one key (or 0) per slot */
static void assert_layout(const tt *t, const uint64_t *expect)
{
    for (size_t i = 0; i < t->n; i++)
        assert_int_equal(t->slot[i], expect[i]);
}

static void test_plain_delete_in_wrapped_cluster(void **st)
{
    (void)st;
    tt t;
    tt_init(&t, 8);
    /* homes 6, 7, 0, 6, 1: one cluster 6 7 0 1 2 that wraps */
    uint64_t a = K(6, 1), b = K(7, 2), c = K(0, 3), d = K(6, 4), e = K(1, 5);
    tt_add(&plain_ops, &t, a);
    tt_add(&plain_ops, &t, b);
    tt_add(&plain_ops, &t, c);
    tt_add(&plain_ops, &t, d);
    tt_add(&plain_ops, &t, e);
    assert_layout(&t, (uint64_t[]){c, d, e, 0, 0, 0, a, b});
    /* delete b (slot 7): c stays at its home 0 (wrapped), d (home 6) moves
     * back across the wrap into 7, then e (home 1) into 1 */
    tt_del(&plain_ops, &t, b);
    assert_layout(&t, (uint64_t[]){c, e, 0, 0, 0, 0, a, d});
    assert_int_equal(t.pos[SERIAL(d)], 7);
    assert_int_equal(t.pos[SERIAL(e)], 1);
    assert_int_equal(tt_find(&plain_ops, &t, b), BX_OAHASH_NONE);
    for (int k = 0; k < 4; k++) {
        uint64_t x = (uint64_t[]){a, c, d, e}[k];
        assert_int_equal(tt_find(&plain_ops, &t, x), (size_t)t.pos[SERIAL(x)]);
    }
    /* delete a (slot 6): d (home 6, at 7) moves back to its home, c stays */
    tt_del(&plain_ops, &t, a);
    assert_layout(&t, (uint64_t[]){c, e, 0, 0, 0, 0, d, 0});
    /* every entry gone: the table is empty again */
    tt_del(&plain_ops, &t, c);
    tt_del(&plain_ops, &t, d);
    tt_del(&plain_ops, &t, e);
    assert_layout(&t, (uint64_t[]){0, 0, 0, 0, 0, 0, 0, 0});
}

static void test_plain_entry_stays_before_its_home(void **st)
{
    (void)st;
    tt t;
    tt_init(&t, 8);
    /* 7: x (home 7), 0: y (home 7), 1: z (home 1): deleting y leaves z,
     * whose home is its own slot, where it is (no wrap case) */
    uint64_t x = K(7, 1), y = K(7, 2), z = K(1, 3), w = K(7, 4);
    tt_add(&plain_ops, &t, x);
    tt_add(&plain_ops, &t, y);
    tt_add(&plain_ops, &t, z);
    tt_add(&plain_ops, &t, w); /* home 7, lands at 2, after z */
    assert_layout(&t, (uint64_t[]){y, z, w, 0, 0, 0, 0, x});
    tt_del(&plain_ops, &t, y);
    /* z stays at its home 1; w (home 7) passes over it into the hole at 0 */
    assert_layout(&t, (uint64_t[]){w, z, 0, 0, 0, 0, 0, x});
    assert_int_equal(t.pos[SERIAL(w)], 0);
}

static void test_robin_hood_insert_and_delete_wrapped(void **st)
{
    (void)st;
    tt t;
    tt_init(&t, 7); /* not a power of two */
    uint64_t a = K(5, 1), b = K(6, 2), c = K(5, 3), d = K(6, 4), e = K(0, 5);
    tt_add(&rh_ops, &t, a); /* 5 */
    tt_add(&rh_ops, &t, b); /* 6 */
    tt_add(&rh_ops, &t, e); /* 0 */
    assert_layout(&t, (uint64_t[]){e, 0, 0, 0, 0, a, b});
    /* c (home 5) goes after a, before b: b and e shift forward, wrapping */
    t.moves = 0;
    tt_add(&rh_ops, &t, c);
    assert_layout(&t, (uint64_t[]){b, e, 0, 0, 0, a, c});
    assert_int_equal(t.moves, 2);
    assert_int_equal(t.pos[SERIAL(b)], 0);
    assert_int_equal(t.pos[SERIAL(e)], 1);
    /* d (home 6) goes after b (same home), before e */
    tt_add(&rh_ops, &t, d);
    assert_layout(&t, (uint64_t[]){b, d, e, 0, 0, a, c});
    /* a search for an absent key of home 5 stops early, at b (home 6) */
    assert_int_equal(tt_find(&rh_ops, &t, K(5, 999)), BX_OAHASH_NONE);
    /* delete a: c, b, d, e shift back across the wrap, each one slot */
    tt_del(&rh_ops, &t, a);
    assert_layout(&t, (uint64_t[]){d, e, 0, 0, 0, c, b});
    /* delete c: b, after it, is at its home (6), so the walk stops there
     * and nothing moves */
    t.moves = 0;
    tt_del(&rh_ops, &t, c);
    assert_layout(&t, (uint64_t[]){d, e, 0, 0, 0, 0, b});
    assert_int_equal(t.moves, 0);
    /* delete d (at 0, home 6): e moves back to its home 0 */
    tt_del(&rh_ops, &t, d);
    assert_layout(&t, (uint64_t[]){e, 0, 0, 0, 0, 0, b});
    assert_int_equal(t.moves, 1);
    for (int k = 0; k < 2; k++) {
        uint64_t x = (uint64_t[]){b, e}[k];
        assert_int_equal(tt_find(&rh_ops, &t, x), (size_t)t.pos[SERIAL(x)]);
    }
}

/* Visitor that counts the entries of one home (BX_OAHASH_SAME), as the
 * gateway's prefix index marks every engine holding a block. */
static int tt_count_home(const void *tab, size_t i, const void *arg)
{
    const tt *t = tab;
    size_t *cnt = (size_t *)arg;
    if (key_home(t, t->slot[i]) != cnt[0]) return BX_OAHASH_MISS;
    cnt[1]++;
    return BX_OAHASH_SAME;
}

static void test_robin_hood_probe_same_home(void **st)
{
    (void)st;
    tt t;
    tt_init(&t, 16);
    for (uint64_t s = 1; s <= 3; s++)
        tt_add(&rh_ops, &t, K(2, s)); /* three of home 2 */
    tt_add(&rh_ops, &t, K(1, 4));     /* home 1 goes first */
    tt_add(&rh_ops, &t, K(3, 5));     /* home 3 after them */
    size_t cnt[2] = {2, 0};
    assert_int_equal(bx_oahash_probe(&rh_ops, &t, t.n, 2, tt_count_home, cnt), BX_OAHASH_NONE);
    assert_int_equal(cnt[1], 3);
}

/* Every invariant, O(n^2): each key where pos says and findable; plain: no
 * empty slot between an entry and its home; Robin Hood: a slot's entry is
 * at most one step further from home than its predecessor's. */
static void check(const bx_oahash_ops *ops, const tt *t, const unsigned char *in)
{
    size_t held = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (!t->slot[i]) continue;
        held++;
        uint64_t k = t->slot[i];
        assert_true(in[SERIAL(k)]);
        assert_int_equal(t->pos[SERIAL(k)], (int)i);
        size_t h = key_home(t, k);
        for (size_t j = h; j != i; j = bx_oahash_next(j, t->n))
            assert_int_not_equal(t->slot[j], 0);
        if (ops->robin_hood) {
            size_t pi = i == 0 ? t->n - 1 : i - 1, d = bx_oahash_dist(i, h, t->n);
            if (d > 0)
                assert_true(t->slot[pi] &&
                            bx_oahash_dist(pi, key_home(t, t->slot[pi]), t->n) + 1 >= d);
        }
    }
    size_t want = 0;
    for (uint64_t s = 1; s < MAXKEYS; s++) {
        if (!in[s]) continue;
        want++;
    }
    assert_int_equal(held, want);
}

static void random_run(const bx_oahash_ops *ops, size_t n, unsigned seed)
{
    tt t;
    tt_init(&t, n);
    unsigned char in[MAXKEYS] = {0};
    uint64_t keyof[MAXKEYS] = {0};
    size_t count = 0;
    srand(seed);
    for (int step = 0; step < 20000; step++) {
        uint64_t s = 1 + (uint64_t)rand() % (MAXKEYS - 1);
        /* few homes, so clusters are long and wrap */
        uint64_t k = keyof[s] ? keyof[s] : K((rand() % 5 + n - 3) % n, s);
        if (in[s]) {
            tt_del(ops, &t, k);
            in[s] = 0;
            count--;
        } else if (count < n * 3 / 4) {
            keyof[s] = k;
            tt_add(ops, &t, k);
            in[s] = 1;
            count++;
        }
        for (uint64_t q = 1; q < 40; q++) { /* lookups, present and absent */
            uint64_t qk = keyof[q] ? keyof[q] : K(0, q);
            size_t f = tt_find(ops, &t, qk);
            if (in[q])
                assert_int_equal(f, (size_t)t.pos[q]);
            else
                assert_int_equal(f, BX_OAHASH_NONE);
        }
        if (step % 97 == 0) check(ops, &t, in);
    }
    check(ops, &t, in);
}

static void test_random_plain(void **st)
{
    (void)st;
    random_run(&plain_ops, 13, 1);
    random_run(&plain_ops, 16, 2);
}

static void test_random_robin_hood(void **st)
{
    (void)st;
    random_run(&rh_ops, 13, 3);
    random_run(&rh_ops, 64, 4);
}

/* bx_oaidx: an owner with an array of items, found back with container_of. */
typedef struct owner {
    uint64_t items[64];
    bx_oaidx idx;
} owner;

static size_t owner_home(const void *tab, size_t i)
{
    const owner *o = bx_container_of(tab, owner, idx);
    return (size_t)(o->items[bx_oaidx_at(tab, i)] >> 32) & o->idx.mask;
}

static int owner_is(const void *tab, size_t i, const void *key)
{
    const owner *o = bx_container_of(tab, owner, idx);
    return o->items[bx_oaidx_at(tab, i)] == *(const uint64_t *)key;
}

static const bx_oahash_ops owner_ops = {bx_oaidx_empty, owner_home, bx_oaidx_move, bx_oaidx_clear,
                                        0};

static size_t owner_find(const owner *o, uint64_t v)
{
    return bx_oaidx_find(&owner_ops, &o->idx, (size_t)(v >> 32) & o->idx.mask, owner_is, &v);
}

static void test_oaidx(void **st)
{
    (void)st;
    bx_oaidx t;
    assert_int_equal(bx_oaidx_init(&t, 0), -EINVAL);
    assert_int_equal(bx_oaidx_init(&t, 1), 0);
    assert_int_equal(bx_oaidx_nslots(&t), 2);
    bx_oaidx_free(&t);
    assert_null(t.slots);
    assert_int_equal(bx_oaidx_init(&t, 3), 0);
    assert_int_equal(bx_oaidx_nslots(&t), 8);
    bx_oaidx_free(&t);
    assert_int_equal(bx_oaidx_init(&t, 4096), 0);
    assert_int_equal(bx_oaidx_nslots(&t), 8192);
    bx_oaidx_free(&t);

    owner o;
    memset(&o, 0, sizeof(o));
    assert_int_equal(bx_oaidx_init(&o.idx, 4), 0); /* 8 slots */
    /* items 0..3 all of home 7: one cluster 7 0 1 2 */
    for (uint32_t i = 0; i < 4; i++) {
        o.items[i] = ((uint64_t)7 << 32) | i;
        bx_oaidx_add(&owner_ops, &o.idx, 7, i);
    }
    assert_int_equal(o.idx.slots[7], 1); /* index 0 + 1 */
    assert_int_equal(o.idx.slots[0], 2);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(bx_oaidx_at(&o.idx, owner_find(&o, o.items[i])), i);
    bx_oaidx_del(&owner_ops, &o.idx, owner_find(&o, o.items[0]));
    assert_int_equal(owner_find(&o, o.items[0]), BX_OAHASH_NONE);
    assert_int_equal(bx_oaidx_at(&o.idx, 7), 1);
    assert_int_equal(bx_oaidx_at(&o.idx, 1), 3);
    assert_true(bx_oaidx_empty(&o.idx, 2));
    for (uint32_t i = 1; i < 4; i++)
        assert_int_equal(bx_oaidx_at(&o.idx, owner_find(&o, o.items[i])), i);
    bx_oaidx_free(&o.idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_delete_in_wrapped_cluster),
        cmocka_unit_test(test_plain_entry_stays_before_its_home),
        cmocka_unit_test(test_robin_hood_insert_and_delete_wrapped),
        cmocka_unit_test(test_robin_hood_probe_same_home),
        cmocka_unit_test(test_random_plain),
        cmocka_unit_test(test_random_robin_hood),
        cmocka_unit_test(test_oaidx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
