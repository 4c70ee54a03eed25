/* kv_slab: exhaustion, reuse, alignment and bounds, whole-slot writes
 * (checked by ASan in the sanitizer build), shard isolation, 4-thread
 * alloc/free with an ownership map that catches a slot handed out twice,
 * hugepage fallback and the mlock error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "kv/kv_slab.h"

static kv_slab *mk(size_t budget, size_t block, size_t slab, unsigned nshards, unsigned flags)
{
    kv_slab_config c = {budget, block, slab, nshards, flags};
    kv_slab *s = NULL;
    char err[256] = "";
    int rc = kv_slab_create(&c, &s, err, sizeof err);
    if (rc != 0) print_error("create: %d %s\n", rc, err);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

static void test_config_and_rounding(void **st)
{
    (void)st;
    /* 100-byte blocks -> 128-byte slots; 10000 / 128 = 78 slots. */
    kv_slab *s = mk(10000, 100, 0, 1, 0);
    kv_slab_stats ss;
    kv_slab_stats_get(s, &ss);
    assert_int_equal(ss.slot_bytes, 128);
    assert_int_equal(kv_slab_slot_bytes(s), 128);
    assert_int_equal(ss.slots_total, 78);
    assert_int_equal(ss.slots_used, 0);
    assert_int_equal(ss.nslabs, 1);
    assert_true(ss.bytes_reserved >= 78 * 128);
    assert_false(ss.locked);
    kv_slab_destroy(s);

    kv_slab_config bad = {1 << 20, 0, 0, 1, 0};
    char err[128] = "";
    kv_slab *o = (kv_slab *)1;
    assert_int_equal(kv_slab_create(&bad, &o, err, sizeof err), -EINVAL);
    assert_null(o);
    assert_true(strlen(err) > 0);
    kv_slab_config small = {1000, 512, 0, 4, 0}; /* 1 slot, 4 shards */
    assert_int_equal(kv_slab_create(&small, &o, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "budget"));
    assert_int_equal(kv_slab_create(NULL, &o, NULL, 0), -EINVAL);
}

static void test_exhaust_and_reuse(void **st)
{
    (void)st;
    /* 3 slabs of 4 slots plus one of 2 (14 slots of 256 bytes). */
    kv_slab *s = mk(14 * 256 + 100, 256, 4 * 256, 1, 0);
    kv_slab_stats ss;
    kv_slab_stats_get(s, &ss);
    assert_int_equal(ss.slots_total, 14);
    assert_int_equal(ss.nslabs, 4);
    void *p[14];
    for (int i = 0; i < 14; i++) {
        p[i] = kv_slab_alloc(s, 0);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % KV_SLAB_ALIGN, 0);
        long idx = kv_slab_index(s, p[i]);
        assert_true(idx >= 0 && idx < 14);
        assert_ptr_equal(kv_slab_ptr(s, (size_t)idx), p[i]);
        for (int j = 0; j < i; j++) { /* distinct, non-overlapping */
            uintptr_t a = (uintptr_t)p[i], b = (uintptr_t)p[j];
            assert_true(a + 256 <= b || b + 256 <= a);
        }
    }
    assert_null(kv_slab_alloc(s, 0));
    kv_slab_stats_get(s, &ss);
    assert_int_equal(ss.slots_used, 14);
    /* Free one, get the same one back; then full again. */
    assert_int_equal(kv_slab_free(s, p[5]), 0);
    assert_int_equal(kv_slab_shard_used(s, 0), 13);
    assert_ptr_equal(kv_slab_alloc(s, 0), p[5]);
    assert_null(kv_slab_alloc(s, 0));
    /* Free all, allocate all again: the same set of slots. */
    for (int i = 0; i < 14; i++)
        assert_int_equal(kv_slab_free(s, p[i]), 0);
    kv_slab_stats_get(s, &ss);
    assert_int_equal(ss.slots_used, 0);
    int seen[14] = {0};
    for (int i = 0; i < 14; i++) {
        long idx = kv_slab_index(s, kv_slab_alloc(s, 0));
        assert_true(idx >= 0 && idx < 14);
        assert_int_equal(seen[idx]++, 0);
    }
    assert_null(kv_slab_alloc(s, 0));
    kv_slab_destroy(s);
}

static void test_bad_pointers_and_double_free(void **st)
{
    (void)st;
    kv_slab *s = mk(8 * 128, 128, 0, 1, 0);
    void *a = kv_slab_alloc(s, 0);
    assert_non_null(a);
    assert_int_equal(kv_slab_free(s, (char *)a + 1), -EINVAL); /* inside a slot */
    int local;
    assert_int_equal(kv_slab_free(s, &local), -EINVAL); /* not ours */
    assert_int_equal(kv_slab_free(s, NULL), -EINVAL);
    assert_int_equal(kv_slab_index(s, (char *)a + 64), -1);
    assert_null(kv_slab_ptr(s, 8));
    assert_null(kv_slab_alloc(s, 1)); /* no shard 1 */
    assert_int_equal(kv_slab_free(s, a), 0);
    assert_int_equal(kv_slab_free(s, a), -EALREADY);
    void *other = kv_slab_ptr(s, 3); /* never allocated */
    assert_int_equal(kv_slab_free(s, other), -EALREADY);
    kv_slab_stats ss;
    kv_slab_stats_get(s, &ss);
    assert_int_equal(ss.slots_used, 0);
    kv_slab_destroy(s);
}

static void test_write_every_byte(void **st)
{
    (void)st;
    /* Odd block size (rounded to 1024) over several slabs. */
    kv_slab *s = mk(64 * 1024, 1000, 5 * 1024, 2, 0);
    kv_slab_stats ss;
    kv_slab_stats_get(s, &ss);
    size_t n = ss.slots_total;
    assert_int_equal(n, 64);
    void **p = calloc(n, sizeof *p);
    assert_non_null(p);
    size_t k = 0;
    for (unsigned sh = 0; sh < 2; sh++)
        for (void *q; (q = kv_slab_alloc(s, sh)) != NULL;)
            p[k++] = q;
    assert_int_equal(k, n);
    for (size_t i = 0; i < n; i++)
        memset(p[i], (int)(i & 0xff), ss.slot_bytes);
    for (size_t i = 0; i < n; i++) { /* no slot overwrote another */
        const unsigned char *b = p[i];
        for (size_t j = 0; j < ss.slot_bytes; j++)
            assert_int_equal(b[j], i & 0xff);
    }
    free(p);
    kv_slab_destroy(s);
}

static void test_shard_isolation(void **st)
{
    (void)st;
    /* 4 shards x 5 slots (21 slots fit, one is dropped for equal shares). */
    kv_slab *s = mk(21 * 64, 64, 0, 4, 0);
    kv_slab_stats ss;
    kv_slab_stats_get(s, &ss);
    assert_int_equal(ss.slots_total, 20);
    assert_int_equal(ss.nshards, 4);
    for (int i = 0; i < 5; i++) {
        void *q = kv_slab_alloc(s, 2);
        assert_non_null(q);
        long idx = kv_slab_index(s, q);
        assert_int_equal(kv_slab_shard_of(s, (size_t)idx), 2);
        assert_true(idx >= 10 && idx < 15);
    }
    assert_null(kv_slab_alloc(s, 2));
    /* Other shards are untouched by shard 2 running dry. */
    assert_int_equal(kv_slab_shard_used(s, 2), 5);
    for (unsigned sh = 0; sh < 4; sh++) {
        if (sh == 2) continue;
        assert_int_equal(kv_slab_shard_used(s, sh), 0);
        void *q = kv_slab_alloc(s, sh);
        assert_non_null(q);
        assert_int_equal(kv_slab_shard_of(s, (size_t)kv_slab_index(s, q)), sh);
    }
    /* A slot freed goes back to its own shard. */
    void *q3 = kv_slab_ptr(s, 12);
    assert_int_equal(kv_slab_free(s, q3), 0);
    assert_int_equal(kv_slab_shard_used(s, 2), 4);
    assert_int_equal(kv_slab_shard_used(s, 0), 1);
    assert_ptr_equal(kv_slab_alloc(s, 2), q3);
    kv_slab_destroy(s);
}

/* --- concurrency -------------------------------------------------------- */

#define NTHREADS 4
#define ITERS 20000
#define HOLD 8

struct conc {
    kv_slab *s;
    atomic_int *owner; /* per slot: 0 free, t+1 held by thread t */
    atomic_int violations;
    unsigned shard_mode; /* 0: all on shard 0, 1: shard = thread % 2 */
};

struct targ {
    struct conc *c;
    int id;
};

static void *worker(void *arg)
{
    struct targ *ta = arg;
    struct conc *c = ta->c;
    unsigned shard = c->shard_mode ? (unsigned)ta->id % 2 : 0;
    void *held[HOLD];
    int nh = 0;
    unsigned seed = (unsigned)ta->id * 7919u + 1;
    for (int it = 0; it < ITERS; it++) {
        seed = seed * 1103515245u + 12345u;
        bool do_alloc = nh == 0 || (nh < HOLD && (seed >> 16) % 2 == 0);
        if (do_alloc) {
            void *q = kv_slab_alloc(c->s, shard);
            if (!q) continue; /* pool momentarily full */
            long idx = kv_slab_index(c->s, q);
            int expect = 0;
            if (idx < 0 || !atomic_compare_exchange_strong(&c->owner[idx], &expect, ta->id + 1))
                atomic_fetch_add(&c->violations, 1);
            memset(q, ta->id, 64); /* touch it; ASan/TSan see overlaps */
            held[nh++] = q;
        } else {
            void *q = held[--nh];
            long idx = kv_slab_index(c->s, q);
            int expect = ta->id + 1;
            if (idx < 0 || !atomic_compare_exchange_strong(&c->owner[idx], &expect, 0))
                atomic_fetch_add(&c->violations, 1);
            if (kv_slab_free(c->s, q) != 0) atomic_fetch_add(&c->violations, 1);
        }
    }
    while (nh > 0) {
        void *q = held[--nh];
        long idx = kv_slab_index(c->s, q);
        atomic_store(&c->owner[idx], 0);
        if (kv_slab_free(c->s, q) != 0) atomic_fetch_add(&c->violations, 1);
    }
    return NULL;
}

static void run_conc(unsigned nshards, unsigned mode)
{
    /* Fewer slots than NTHREADS * HOLD so threads also meet a full pool. */
    kv_slab *s = mk(24 * 64, 64, 6 * 64, nshards, 0);
    kv_slab_stats ss;
    kv_slab_stats_get(s, &ss);
    struct conc c = {.s = s, .shard_mode = mode};
    c.owner = calloc(ss.slots_total, sizeof *c.owner);
    assert_non_null(c.owner);
    atomic_init(&c.violations, 0);
    pthread_t th[NTHREADS];
    struct targ ta[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        ta[i] = (struct targ){&c, i};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &ta[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(atomic_load(&c.violations), 0);
    kv_slab_stats_get(s, &ss);
    assert_int_equal(ss.slots_used, 0);
    /* Every slot is free and allocatable exactly once afterwards. */
    size_t got = 0;
    for (unsigned sh = 0; sh < nshards; sh++)
        while (kv_slab_alloc(s, sh))
            got++;
    assert_int_equal(got, ss.slots_total);
    free(c.owner);
    kv_slab_destroy(s);
}

static void test_concurrent_one_shard(void **st)
{
    (void)st;
    run_conc(1, 0);
}

static void test_concurrent_two_shards(void **st)
{
    (void)st;
    run_conc(2, 1);
}

/* --- huge pages and mlock ---------------------------------------------- */

static bool hugetlb_available(void)
{
    size_t len = 2u << 20;
    void *p =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    if (p == MAP_FAILED) return false;
    assert_int_equal(munmap(p, len), 0);
    return true;
}

static void test_hugepage_fallback(void **st)
{
    (void)st;
    bool avail = hugetlb_available();
    kv_slab *s = mk(4u << 20, 4096, 1u << 20, 2, KV_SLAB_HUGETLB);
    kv_slab_stats ss;
    kv_slab_stats_get(s, &ss);
    assert_int_equal(ss.nslabs, 4);
    if (!avail) {
        /* No huge pages reserved here: normal pages, same pool. */
        assert_int_equal(ss.nslabs_huge, 0);
        assert_false(ss.huge_pages);
    } else {
        assert_true(ss.nslabs_huge >= 1);
    }
    assert_int_equal(ss.slots_total, 1024);
    void *q;
    size_t n = 0;
    while ((q = kv_slab_alloc(s, 0)) != NULL) {
        memset(q, 0xab, 4096);
        n++;
    }
    assert_int_equal(n, 512);
    kv_slab_destroy(s);
}

static void test_mlock(void **st)
{
    (void)st;
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &old), 0);
    /* A soft limit of 64 KiB; the pool asks for 1 MiB. */
    struct rlimit low = {64 * 1024, old.rlim_max};
    if (old.rlim_max != RLIM_INFINITY && old.rlim_max < low.rlim_cur) low.rlim_cur = old.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &low), 0);
    /* Whether the kernel enforces it for us (CAP_IPC_LOCK bypasses it). */
    size_t len = 1u << 20;
    void *probe = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(probe != MAP_FAILED);
    bool can_lock = mlock(probe, len) == 0;
    assert_int_equal(munmap(probe, len), 0);

    kv_slab_config c = {len, 4096, 0, 1, KV_SLAB_MLOCK};
    kv_slab *s = NULL;
    char err[512] = "";
    int rc = kv_slab_create(&c, &s, err, sizeof err);
    if (can_lock) {
        assert_int_equal(rc, 0);
        kv_slab_stats ss;
        kv_slab_stats_get(s, &ss);
        assert_true(ss.locked);
        kv_slab_destroy(s);
    } else {
        assert_true(rc == -ENOMEM || rc == -EPERM || rc == -EAGAIN);
        assert_null(s);
        assert_non_null(strstr(err, "RLIMIT_MEMLOCK"));
        assert_non_null(strstr(err, "65536"));
    }
    /* Within the limit it works either way. */
    kv_slab_config c2 = {16 * 1024, 4096, 0, 1, KV_SLAB_MLOCK};
    s = NULL;
    assert_int_equal(kv_slab_create(&c2, &s, err, sizeof err), 0);
    kv_slab_stats ss2;
    kv_slab_stats_get(s, &ss2);
    assert_true(ss2.locked);
    kv_slab_destroy(s);
    assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &old), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_and_rounding),
        cmocka_unit_test(test_exhaust_and_reuse),
        cmocka_unit_test(test_bad_pointers_and_double_free),
        cmocka_unit_test(test_write_every_byte),
        cmocka_unit_test(test_shard_isolation),
        cmocka_unit_test(test_concurrent_one_shard),
        cmocka_unit_test(test_concurrent_two_shards),
        cmocka_unit_test(test_hugepage_fallback),
        cmocka_unit_test(test_mlock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
