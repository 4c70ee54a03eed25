/* gw_kvsub against the engine's real publisher (eng_kvpub over TCP on
 * loopback): batches published before the subscriber connected come back
 * through the replay socket, live ones follow in order, an engine restarted
 * on the same address (seq from 0, empty cache) is seen as a restart, and
 * dropping the engine puts it back to approximate. Waits poll the index
 * (no wall-clock assertion: each wait gives up after a generous bound). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "engine/eng_kvpub.h"
#include "gateway/gw_kvsub.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void lk(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&mu);
}

static void ulk(void *ud)
{
    (void)ud;
    pthread_mutex_unlock(&mu);
}

static void chain(uint64_t id, uint64_t *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        keys[i] = (id * 0x9e3779b97f4a7c15ULL) ^ ((i + 1) * 0xc2b2ae3d27d4eb4fULL);
}

static void store(eng_kvpub *p, uint64_t *k, size_t n)
{
    bx_kvev_event ev = {.type = BX_KVEV_BLOCK_STORED, .block_hashes = k, .n_hashes = n};
    ev.block_size = 16;
    assert_int_equal(eng_kvpub_block_stored(p, &ev), 0);
    assert_int_equal(eng_kvpub_flush(p, 1.0), 1);
}

typedef struct probe {
    gw_kvindex *ix;
    const uint64_t *keys;
    size_t n;
    int engine;
} probe;

/* Serves the publisher's replay socket and republishes an empty-ish batch
 * now and then (so a subscriber still joining sees a gap), until the
 * engine's match reaches want and its confidence is conf; 0 or -1. */
static gw_kvsub *cur_sub;

static int wait_n(eng_kvpub *p, const probe *pr, size_t want, gw_kvconf conf, int limit)
{
    for (int i = 0; i < limit; i++) {
        if (p) eng_kvpub_replay_poll(p);
        pthread_mutex_lock(&mu);
        size_t m = gw_kvindex_match(pr->ix, pr->keys, pr->n, pr->engine);
        gw_kvconf c = gw_kvindex_conf(pr->ix, pr->engine);
        pthread_mutex_unlock(&mu);
        if (m == want && c == conf) return 0;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (limit < 1500) return -1; /* a short wait the caller retries: no noise */
    pthread_mutex_lock(&mu);
    gw_kvindex_stats st;
    gw_kvindex_stats_get(pr->ix, &st);
    fprintf(
        stderr, "wait_for: match %zu conf %d (want %zu %d); batches %llu replays %llu gaps %llu\n",
        gw_kvindex_match(pr->ix, pr->keys, pr->n, pr->engine),
        (int)gw_kvindex_conf(pr->ix, pr->engine), want, (int)conf, (unsigned long long)st.batches,
        (unsigned long long)st.replays, (unsigned long long)st.gaps);
    pthread_mutex_unlock(&mu);
    gw_kvsub_stats ss;
    gw_kvsub_stats_get(cur_sub, &ss);
    fprintf(stderr,
            "  kvsub: messages %llu bad %llu undecodable %llu replay asks %llu timeouts %llu\n",
            (unsigned long long)ss.messages, (unsigned long long)ss.bad_frames,
            (unsigned long long)ss.decode_errors, (unsigned long long)ss.replay_requests,
            (unsigned long long)ss.replay_timeouts);
    return -1;
}

/* 15 s at most */
static int wait_for(eng_kvpub *p, const probe *pr, size_t want, gw_kvconf conf)
{
    return wait_n(p, pr, want, conf, 1500);
}

static void test_replay_live_restart(void **state)
{
    (void)state;
    eng_kvpub pub;
    char err[256], ep[128], rep[128];
    assert_int_equal(eng_kvpub_open(&pub, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", NULL, NULL, err,
                                    sizeof(err)),
                     0);
    assert_int_equal(eng_kvpub_endpoint(&pub, ep, sizeof(ep)), 0);
    assert_int_equal(eng_kvpub_replay_endpoint(&pub, rep, sizeof(rep)), 0);
    uint64_t a[12], b[12], c[12];
    chain(1, a, 12);
    chain(2, b, 12);
    chain(3, c, 12);
    store(&pub, a, 12); /* seq 0, before anyone listens */

    gw_kvindex *ix = gw_kvindex_create(4 << 20, 0);
    gw_kvsub_opts o;
    gw_kvsub_opts_default(&o);
    o.ix = ix;
    o.lock = lk;
    o.unlock = ulk;
    o.poll_ms = 10;
    gw_kvsub *s = gw_kvsub_start(&o, err, sizeof(err));
    assert_non_null(s);
    cur_sub = s;
    assert_int_equal(gw_kvsub_want(s, 3, ep, rep), 0);
    probe pa = {ix, a, 12, 3}, pb = {ix, b, 12, 3}, pc = {ix, c, 12, 3};
    /* seq 0 comes back through the replay at connect */
    assert_int_equal(wait_for(&pub, &pa, 12, GW_KVCONF_EXACT), 0);
    /* live: b stored, a's tail removed */
    store(&pub, b, 12);
    assert_int_equal(wait_for(&pub, &pb, 12, GW_KVCONF_EXACT), 0);
    assert_int_equal(eng_kvpub_block_removed(&pub, &a[6], 6), 0);
    assert_int_equal(eng_kvpub_flush(&pub, 2.0), 1);
    assert_int_equal(wait_for(&pub, &pa, 6, GW_KVCONF_EXACT), 0);

    /* restart on the same address: seq from 0 again, empty cache */
    eng_kvpub_close(&pub);
    char bep[128], brep[128]; /* vLLM binds the any-address form; a host connects */
    snprintf(bep, sizeof(bep), "tcp://*%s", strrchr(ep, ':'));
    snprintf(brep, sizeof(brep), "tcp://*%s", strrchr(rep, ':'));
    assert_int_equal(eng_kvpub_open(&pub, bep, brep, NULL, NULL, err, sizeof(err)), 0);
    /* keep publishing c until the SUB has reconnected and seen it */
    int seen = -1;
    for (int i = 0; i < 60 && seen != 0; i++) {
        store(&pub, c, 12);
        seen = wait_n(&pub, &pc, 12, GW_KVCONF_EXACT, 25);
    }
    assert_int_equal(seen, 0);
    pthread_mutex_lock(&mu);
    assert_int_equal(gw_kvindex_match(ix, a, 12, 3), 0);
    assert_int_equal(gw_kvindex_match(ix, b, 12, 3), 0);
    gw_kvindex_stats st;
    gw_kvindex_stats_get(ix, &st);
    pthread_mutex_unlock(&mu);
    assert_true(st.restarts >= 1);
    assert_true(st.replays >= 1);

    gw_kvsub_stats ss;
    gw_kvsub_stats_get(s, &ss);
    assert_true(ss.messages >= 3);
    assert_int_equal(ss.decode_errors, 0);

    /* dropped: approximate, its pairs gone */
    gw_kvsub_drop(s, 3);
    assert_int_equal(wait_for(NULL, &pc, 0, GW_KVCONF_APPROX), 0);
    assert_int_equal(gw_kvsub_want(s, -1, ep, rep), -1);
    gw_kvsub_stop(s);
    gw_kvindex_destroy(ix);
    eng_kvpub_close(&pub);
}

static void test_no_replay_socket(void **state)
{
    (void)state;
    eng_kvpub pub;
    char err[256], ep[128];
    assert_int_equal(eng_kvpub_open(&pub, "tcp://127.0.0.1:*", NULL, NULL, NULL, err, sizeof(err)),
                     0);
    assert_int_equal(eng_kvpub_endpoint(&pub, ep, sizeof(ep)), 0);
    uint64_t a[4];
    chain(4, a, 4);
    store(&pub, a, 4); /* seq 0: lost, nobody listens and there is no replay */
    gw_kvindex *ix = gw_kvindex_create(4 << 20, 0);
    gw_kvsub_opts o;
    gw_kvsub_opts_default(&o);
    o.ix = ix;
    o.lock = lk;
    o.unlock = ulk;
    o.poll_ms = 10;
    gw_kvsub *s = gw_kvsub_start(&o, err, sizeof(err));
    assert_non_null(s);
    cur_sub = s;
    assert_int_equal(gw_kvsub_want(s, 0, ep, NULL), 0);
    probe pa = {ix, a, 4, 0};
    int seen = -1;
    for (int i = 0; i < 60 && seen != 0; i++) {
        store(&pub, a, 4);
        seen = wait_n(&pub, &pa, 4, GW_KVCONF_DEGRADED, 25); /* a gap it cannot fill */
    }
    assert_int_equal(seen, 0);
    gw_kvsub_stop(s);
    gw_kvindex_destroy(ix);
    eng_kvpub_close(&pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_live_restart),
        cmocka_unit_test(test_no_replay_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
