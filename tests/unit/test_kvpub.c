/* test_kvpub: the engine's ZeroMQ KV event publisher against real sockets.
 * A SUB receives 3-frame messages with the publisher binding and with it
 * connecting; a DEALER asks the replay ROUTER for old batches, the ROUTER
 * being served only when its edge-triggered ZMQ_FD fires. Every wait is a
 * bounded zmq_poll, so a broken publisher fails the test instead of hanging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "common/bx_kvev.h"
#include "engine/eng_kvpub.h"

#define WAIT_MS 20
#define MAX_TRIES 250 /* x WAIT_MS = 5 s at most per wait */

typedef struct frames {
    size_t n;
    size_t len[4];
    char *data[4];
} frames;

static void frames_free(frames *f)
{
    for (size_t i = 0; i < f->n && i < 4; i++)
        free(f->data[i]);
    memset(f, 0, sizeof(*f));
}

/* Waits up to WAIT_MS for a multipart message on s. 1 = got one, 0 = none. */
static int recv_frames(void *s, frames *f, int wait_ms)
{
    memset(f, 0, sizeof(*f));
    zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
    int rc = zmq_poll(&it, 1, wait_ms);
    assert_true(rc >= 0);
    if (rc == 0) return 0;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        assert_int_equal(zmq_msg_init(&m), 0);
        assert_true(zmq_msg_recv(&m, s, 0) >= 0);
        if (f->n < 4) {
            f->len[f->n] = zmq_msg_size(&m);
            f->data[f->n] = malloc(f->len[f->n] + 1);
            assert_non_null(f->data[f->n]);
            memcpy(f->data[f->n], zmq_msg_data(&m), f->len[f->n]);
            f->data[f->n][f->len[f->n]] = '\0';
        }
        f->n++;
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    return 1;
}

static uint64_t be64_get(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | (unsigned char)p[i];
    return v;
}

static uint64_t st_hashes[] = {11, 12};
static uint32_t st_tokens[] = {1, 2, 3, 4, 5, 6, 7, 8};

static void add_stored(eng_kvpub *p, uint64_t parent)
{
    bx_kvev_event ev = {.type = BX_KVEV_BLOCK_STORED,
                        .block_hashes = st_hashes,
                        .n_hashes = 2,
                        .has_parent = true,
                        .parent_block_hash = parent,
                        .token_ids = st_tokens,
                        .n_tokens = 8,
                        .block_size = 4};
    assert_int_equal(eng_kvpub_block_stored(p, &ev), 0);
}

/* Publishes one-event batches until sub receives one (PUB/SUB slow joiner:
 * messages sent before the subscription reaches the publisher are lost).
 * Returns the seq of the first message received; checks its frames. */
static uint64_t sync_first(eng_kvpub *p, void *sub, const char *topic)
{
    for (int i = 0; i < MAX_TRIES; i++) {
        add_stored(p, (uint64_t)i);
        assert_int_equal(eng_kvpub_flush(p, 100.0 + i), 1);
        frames f = {0};
        if (!recv_frames(sub, &f, WAIT_MS)) continue;
        assert_int_equal(f.n, 3);
        assert_int_equal(f.len[0], strlen(topic));
        assert_memory_equal(f.data[0], topic, strlen(topic));
        assert_int_equal(f.len[1], 8);
        uint64_t seq = be64_get(f.data[1]);
        assert_true(seq == (uint64_t)i); /* one seq per flush, from 0 */
        bx_kvev_batch b;
        bx_kvev_err err;
        assert_int_equal(bx_kvev_decode(f.data[2], f.len[2], NULL, &b, &err), 0);
        assert_true(b.ts == 100.0 + i);
        assert_int_equal(b.n_events, 1);
        assert_true(b.events[0].parent_block_hash == (uint64_t)i);
        bx_kvev_batch_free(&b);
        frames_free(&f);
        return seq;
    }
    fail_msg("SUB never received a message");
    return 0;
}

/* After sync: an empty flush sends nothing; three batches arrive in order
 * with consecutive seqs and decode to what was appended. */
static void check_stream(eng_kvpub *p, void *sub, const char *topic, uint64_t seq0)
{
    assert_int_equal(eng_kvpub_flush(p, 1.0), 0); /* nothing pending: no seq used */
    uint64_t hashes[] = {21, 22, 23};
    add_stored(p, 7);
    assert_int_equal(eng_kvpub_block_removed(p, hashes, 3), 0);
    assert_int_equal(eng_kvpub_pending(p), 2);
    assert_int_equal(eng_kvpub_flush(p, 200.5), 1);
    assert_int_equal(eng_kvpub_pending(p), 0);
    assert_int_equal(eng_kvpub_all_cleared(p), 0);
    assert_int_equal(eng_kvpub_flush(p, 201.5), 1);
    assert_int_equal(eng_kvpub_block_removed(p, hashes, 1), 0);
    assert_int_equal(eng_kvpub_flush(p, 202.5), 1);

    for (uint64_t k = 1; k <= 3; k++) {
        frames f = {0};
        int got = 0;
        for (int i = 0; i < MAX_TRIES && !got; i++)
            got = recv_frames(sub, &f, WAIT_MS);
        assert_true(got);
        assert_int_equal(f.n, 3);
        assert_memory_equal(f.data[0], topic, strlen(topic));
        assert_true(be64_get(f.data[1]) == seq0 + k);
        bx_kvev_batch b;
        assert_int_equal(bx_kvev_decode(f.data[2], f.len[2], NULL, &b, NULL), 0);
        assert_true(b.ts == 199.5 + (double)k);
        assert_true(b.has_dp_rank);
        assert_int_equal(b.data_parallel_rank, p->opts.dp_rank);
        if (k == 1) {
            assert_int_equal(b.n_events, 2);
            assert_int_equal(b.events[0].type, BX_KVEV_BLOCK_STORED);
            assert_string_equal(b.events[0].medium, "GPU");
            assert_int_equal(b.events[0].n_tokens, 8);
            assert_int_equal(b.events[0].token_ids[7], 8);
            assert_int_equal(b.events[0].block_size, 4);
            assert_true(b.events[0].block_hashes[1] == 12);
            assert_int_equal(b.events[1].type, BX_KVEV_BLOCK_REMOVED);
            assert_int_equal(b.events[1].n_hashes, 3);
            assert_true(b.events[1].block_hashes[2] == 23);
            assert_string_equal(b.events[1].medium, "GPU");
        } else if (k == 2) {
            assert_int_equal(b.n_events, 1);
            assert_int_equal(b.events[0].type, BX_KVEV_ALL_CLEARED);
        } else {
            assert_int_equal(b.n_events, 1);
            assert_int_equal(b.events[0].n_hashes, 1);
        }
        bx_kvev_batch_free(&b);
        frames_free(&f);
    }
    assert_true(p->stats.batches == seq0 + 4);
    assert_true(p->stats.dropped == 0);
}

static void *new_sub(void *ctx)
{
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    assert_non_null(sub);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), 0);
    int linger = 0;
    assert_int_equal(zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    return sub;
}

static void test_pub_binds_sub_connects(void **state)
{
    (void)state;
    eng_kvpub p;
    char err[256], ep[256];
    const char *topic = "kv@127.0.0.1:8000@llama";
    /* "*" in the endpoint: the publisher binds (ephemeral port). */
    assert_int_equal(eng_kvpub_open(&p, "tcp://127.0.0.1:*", NULL, topic, NULL, err, sizeof(err)),
                     0);
    assert_int_equal(eng_kvpub_endpoint(&p, ep, sizeof(ep)), 0);
    assert_true(strncmp(ep, "tcp://127.0.0.1:", 16) == 0);
    assert_int_equal(eng_kvpub_replay_fd(&p), -1);

    void *ctx = zmq_ctx_new();
    void *sub = new_sub(ctx);
    assert_int_equal(zmq_connect(sub, ep), 0);
    uint64_t seq0 = sync_first(&p, sub, topic);
    check_stream(&p, sub, topic, seq0);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    eng_kvpub_close(&p);
    assert_null(p.pub);
}

static void test_sub_binds_pub_connects(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *sub = new_sub(ctx);
    assert_int_equal(zmq_bind(sub, "tcp://127.0.0.1:*"), 0);
    char ep[256];
    size_t n = sizeof(ep);
    assert_int_equal(zmq_getsockopt(sub, ZMQ_LAST_ENDPOINT, ep, &n), 0);
    assert_int_equal(eng_kvpub_should_bind(ep), 0); /* no "*": the publisher connects */

    eng_kvpub p;
    eng_kvpub_opts o;
    eng_kvpub_opts_default(&o);
    o.dp_rank = 3;
    o.zmq_ctx = ctx; /* shared context, not owned by the publisher */
    char err[256];
    assert_int_equal(eng_kvpub_open(&p, ep, NULL, "", &o, err, sizeof(err)), 0);
    uint64_t seq0 = sync_first(&p, sub, "");
    check_stream(&p, sub, "", seq0);
    eng_kvpub_close(&p);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

/* Map events, map batch and bytes hashes over the wire. */
static void test_map_encoding_on_wire(void **state)
{
    (void)state;
    eng_kvpub p;
    eng_kvpub_opts o;
    eng_kvpub_opts_default(&o);
    o.enc = (bx_kvev_enc_opts){.event_enc = BX_KVEV_EVENT_MAP,
                               .batch_enc = BX_KVEV_BATCH_MAP,
                               .hash_enc = BX_KVEV_HASH_BYTES};
    o.dp_rank = -1;
    char err[256], ep[256];
    assert_int_equal(eng_kvpub_open(&p, "tcp://127.0.0.1:*", NULL, "t", &o, err, sizeof(err)), 0);
    assert_int_equal(eng_kvpub_endpoint(&p, ep, sizeof(ep)), 0);
    void *ctx = zmq_ctx_new();
    void *sub = new_sub(ctx);
    assert_int_equal(zmq_connect(sub, ep), 0);
    for (int i = 0; i < MAX_TRIES; i++) {
        add_stored(&p, 0xfedcba9876543210ull);
        assert_int_equal(eng_kvpub_flush(&p, 3.0), 1);
        frames f = {0};
        if (!recv_frames(sub, &f, WAIT_MS)) continue;
        assert_int_equal(f.n, 3);
        assert_int_equal((unsigned char)f.data[2][0], 0x82); /* {ts, events}: no dp rank */
        bx_kvev_batch b;
        assert_int_equal(bx_kvev_decode(f.data[2], f.len[2], NULL, &b, NULL), 0);
        assert_false(b.has_dp_rank);
        assert_true(b.events[0].parent_block_hash == 0xfedcba9876543210ull);
        assert_true(b.events[0].block_hashes[0] == 11);
        bx_kvev_batch_free(&b);
        frames_free(&f);
        zmq_close(sub);
        zmq_ctx_term(ctx);
        eng_kvpub_close(&p);
        return;
    }
    fail_msg("SUB never received a message");
}

/* Serves the ROUTER only when its ZMQ_FD polls readable, as a uv_poll_t
 * would, until the dealer has a message; then reads it. */
static int pump_and_recv(eng_kvpub *p, void *dealer, frames *f)
{
    int fd = eng_kvpub_replay_fd(p);
    assert_true(fd >= 0);
    for (int i = 0; i < MAX_TRIES; i++) {
        zmq_pollitem_t it[2] = {{.socket = NULL, .fd = fd, .events = ZMQ_POLLIN},
                                {.socket = dealer, .events = ZMQ_POLLIN}};
        int rc = zmq_poll(it, 2, WAIT_MS);
        assert_true(rc >= 0);
        if (it[0].revents & ZMQ_POLLIN) assert_true(eng_kvpub_replay_poll(p) >= 0);
        if (it[1].revents & ZMQ_POLLIN) return recv_frames(dealer, f, 0);
    }
    return 0;
}

static void request(void *dealer, uint64_t start)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(start >> (56 - 8 * i));
    assert_int_equal(zmq_send(dealer, "", 0, ZMQ_SNDMORE), 0);
    assert_int_equal(zmq_send(dealer, b, 8, 0), 8);
}

/* Reads one replay answer; returns the seqs received before the end marker. */
static size_t read_replay(eng_kvpub *p, void *dealer, uint64_t *seqs, size_t max)
{
    size_t n = 0;
    for (;;) {
        frames f = {0};
        assert_true(pump_and_recv(p, dealer, &f));
        /* DEALER sees ["", seq, payload]: the ROUTER took the identity. */
        assert_int_equal(f.n, 3);
        assert_int_equal(f.len[0], 0);
        assert_int_equal(f.len[1], 8);
        uint64_t seq = be64_get(f.data[1]);
        if (seq == UINT64_MAX) {
            assert_int_equal(f.len[2], 0);
            frames_free(&f);
            return n;
        }
        bx_kvev_batch b;
        assert_int_equal(bx_kvev_decode(f.data[2], f.len[2], NULL, &b, NULL), 0);
        assert_true(b.ts == 1000.0 + (double)seq); /* payload belongs to that seq */
        bx_kvev_batch_free(&b);
        assert_true(n < max);
        seqs[n++] = seq;
        frames_free(&f);
    }
}

static void test_replay_router(void **state)
{
    (void)state;
    eng_kvpub p;
    eng_kvpub_opts o;
    eng_kvpub_opts_default(&o);
    o.buffer_steps = 4;
    char err[256], rep[256];
    assert_int_equal(
        eng_kvpub_open(&p, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", "kv", &o, err, sizeof(err)),
        0);
    assert_int_equal(eng_kvpub_replay_endpoint(&p, rep, sizeof(rep)), 0);
    for (int i = 0; i < 6; i++) { /* seqs 0..5; the ring keeps 2..5 */
        assert_int_equal(eng_kvpub_all_cleared(&p), 0);
        assert_true(eng_kvpub_flush(&p, 1000.0 + i) >= 0);
    }
    assert_int_equal(p.ring_count, 4);

    void *ctx = zmq_ctx_new();
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    assert_int_equal(zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    assert_int_equal(zmq_connect(dealer, rep), 0);

    uint64_t seqs[16];
    request(dealer, 3);
    assert_int_equal(read_replay(&p, dealer, seqs, 16), 3);
    assert_true(seqs[0] == 3 && seqs[1] == 4 && seqs[2] == 5);

    request(dealer, 0); /* older than the ring: everything kept */
    assert_int_equal(read_replay(&p, dealer, seqs, 16), 4);
    assert_true(seqs[0] == 2 && seqs[3] == 5);

    request(dealer, 6); /* nothing newer: only the end marker */
    assert_int_equal(read_replay(&p, dealer, seqs, 16), 0);

    /* A malformed request (4 frames at the ROUTER) is ignored; the next
     * well-formed one is still answered. */
    assert_int_equal(zmq_send(dealer, "", 0, ZMQ_SNDMORE), 0);
    assert_int_equal(zmq_send(dealer, "x", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(dealer, "y", 1, 0), 1);
    assert_int_equal(eng_kvpub_all_cleared(&p), 0);
    assert_int_equal(eng_kvpub_flush(&p, 1006.0), 1); /* seq 6; ring now 3..6 */
    request(dealer, 5);
    assert_int_equal(read_replay(&p, dealer, seqs, 16), 2);
    assert_true(seqs[0] == 5 && seqs[1] == 6);
    assert_true(p.stats.replay_bad == 1);
    assert_true(p.stats.replay_requests == 4);
    assert_int_equal(eng_kvpub_replay_active(&p), 0);

    zmq_close(dealer);
    zmq_ctx_term(ctx);
    eng_kvpub_close(&p);
}

/* An answer longer than the ROUTER's send queue (1000 messages) pauses on a
 * full queue and resumes when the fd fires again: every batch and the end
 * marker arrive, in order, with nothing dropped. */
static void test_replay_longer_than_hwm(void **state)
{
    (void)state;
    enum { N = 2500 };
    eng_kvpub p;
    eng_kvpub_opts o;
    eng_kvpub_opts_default(&o);
    o.buffer_steps = N;
    char err[256], rep[256];
    assert_int_equal(
        eng_kvpub_open(&p, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", "kv", &o, err, sizeof(err)),
        0);
    assert_int_equal(eng_kvpub_replay_endpoint(&p, rep, sizeof(rep)), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(eng_kvpub_all_cleared(&p), 0);
        assert_true(eng_kvpub_flush(&p, 1000.0 + i) >= 0);
    }
    void *ctx = zmq_ctx_new();
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    assert_int_equal(zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    assert_int_equal(zmq_connect(dealer, rep), 0);
    request(dealer, 0);
    static uint64_t seqs[N];
    assert_int_equal(read_replay(&p, dealer, seqs, N), N);
    for (int i = 0; i < N; i++)
        assert_true(seqs[i] == (uint64_t)i);
    assert_int_equal(eng_kvpub_replay_active(&p), 0);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
    eng_kvpub_close(&p);
}

static void test_bind_rule_and_offsets(void **state)
{
    (void)state;
    assert_int_equal(eng_kvpub_should_bind("tcp://*:5557"), 1);
    assert_int_equal(eng_kvpub_should_bind("tcp://[::]:5557"), 1);
    assert_int_equal(eng_kvpub_should_bind("tcp://[::1]:5557"), 1);
    assert_int_equal(eng_kvpub_should_bind("ipc:///tmp/kv"), 1);
    assert_int_equal(eng_kvpub_should_bind("inproc://kv"), 1);
    assert_int_equal(eng_kvpub_should_bind("tcp://127.0.0.1:5557"), 0);
    assert_int_equal(eng_kvpub_should_bind("tcp://router.svc:5557"), 0);

    char out[64];
    assert_int_equal(eng_kvpub_offset_endpoint("tcp://*:5557", 0, out, sizeof(out)), 0);
    assert_string_equal(out, "tcp://*:5557");
    assert_int_equal(eng_kvpub_offset_endpoint("tcp://*:5557", 2, out, sizeof(out)), 0);
    assert_string_equal(out, "tcp://*:5559");
    assert_int_equal(eng_kvpub_offset_endpoint("tcp://10.0.0.1:5558", 1, out, sizeof(out)), 0);
    assert_string_equal(out, "tcp://10.0.0.1:5559");
    assert_int_equal(eng_kvpub_offset_endpoint("inproc://cache", 3, out, sizeof(out)), 0);
    assert_string_equal(out, "inproc://cache_dp3");
    assert_int_equal(eng_kvpub_offset_endpoint("tcp://*:*", 1, out, sizeof(out)), -1);
    assert_int_equal(eng_kvpub_offset_endpoint("ipc:///x", 1, out, sizeof(out)), -1);
    assert_int_equal(eng_kvpub_offset_endpoint("tcp://*:65535", 1, out, sizeof(out)), -1);
    assert_int_equal(eng_kvpub_offset_endpoint("tcp://*:5557", 1, out, 8), -1);
}

static void test_open_errors(void **state)
{
    (void)state;
    eng_kvpub p;
    char err[256];
    assert_int_equal(eng_kvpub_open(&p, NULL, NULL, NULL, NULL, err, sizeof(err)),
                     ENG_KVPUB_EINVAL);
    assert_int_equal(eng_kvpub_open(&p, "bogus://x", NULL, NULL, NULL, err, sizeof(err)),
                     ENG_KVPUB_EZMQ);
    assert_true(strstr(err, "bogus://x") != NULL);
    assert_null(p.pub);
    /* The PUB binds, the replay bind fails: nothing is left open. */
    assert_int_equal(
        eng_kvpub_open(&p, "tcp://127.0.0.1:*", "tcp://256.0.0.1:*", NULL, NULL, err, sizeof(err)),
        ENG_KVPUB_EZMQ);
    assert_null(p.pub);
    assert_null(p.router);
    assert_int_equal(eng_kvpub_open(&p, "inproc://kvpub-args", NULL, NULL, NULL, err, sizeof(err)),
                     0);
    bx_kvev_event wrong = {.type = BX_KVEV_ALL_CLEARED};
    assert_int_equal(eng_kvpub_block_stored(&p, &wrong), ENG_KVPUB_EINVAL);
    assert_int_equal(eng_kvpub_block_removed(&p, NULL, 2), ENG_KVPUB_EINVAL);
    assert_int_equal(eng_kvpub_pending(&p), 0);
    assert_int_equal(eng_kvpub_replay_poll(&p), ENG_KVPUB_EINVAL);
    eng_kvpub_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_rule_and_offsets),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_pub_binds_sub_connects),
        cmocka_unit_test(test_sub_binds_pub_connects),
        cmocka_unit_test(test_map_encoding_on_wire),
        cmocka_unit_test(test_replay_router),
        cmocka_unit_test(test_replay_longer_than_hwm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
