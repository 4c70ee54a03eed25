/* The engine publishes vLLM KV events whose block hashes equal the chain a
 * gateway computes from the same prompt with bx_tok + bx_blockhash. A real
 * engine server runs in-process on a libuv loop; a real ZMQ SUB socket binds
 * and the engine's PUB connects to it (vLLM's rule for a plain endpoint). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>
#include <zmq.h>

#include "common/bx_blockhash.h"
#include "common/bx_chat.h"
#include "common/bx_http.h"
#include "common/bx_kvev.h"
#include "common/bx_tok.h"
#include "engine/eng_config.h"
#include "engine/eng_server.h"

struct ctx {
    int done, status;
};

static void on_resp(bx_http_creq *cr, int status, const bx_http_header *h, size_t n, void *ud)
{
    (void)cr;
    (void)h;
    (void)n;
    ((struct ctx *)ud)->status = status;
}
static void on_data(bx_http_creq *cr, const char *d, size_t len, void *ud)
{
    (void)cr;
    (void)d;
    (void)len;
    (void)ud;
}
static void on_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    (void)err;
    ((struct ctx *)ud)->done = 1;
}

static int post(uv_loop_t *loop, bx_http_client *cl, int port, const char *body)
{
    struct ctx c = {0, 0};
    bx_http_header h[] = {{"Content-Type", "application/json"}};
    bx_http_client_req r = {.method = "POST",
                            .host = "127.0.0.1",
                            .port = port,
                            .path = "/v1/completions",
                            .headers = h,
                            .nheaders = 1,
                            .body = body,
                            .body_len = strlen(body),
                            .timeout_ms = 10000};
    bx_http_client_cbs cbs = {on_resp, on_data, on_done};
    if (bx_http_client_request(cl, &r, &cbs, &c, NULL) != 0) return -1;
    for (int i = 0; i < 20000 && !c.done; i++)
        uv_run(loop, UV_RUN_ONCE);
    return c.status;
}

/* Receives one 3-frame message within ~timeout ms, running the loop too. */
static int recv_batch(uv_loop_t *loop, void *sub, bx_kvev_batch *out, uint64_t *seq)
{
    for (int tries = 0; tries < 200; tries++) {
        uv_run(loop, UV_RUN_NOWAIT);
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10) <= 0) continue;
        char topic[256], seqb[8];
        static char payload[1 << 16];
        int more;
        size_t ml = sizeof(more);
        zmq_recv(sub, topic, sizeof(topic), 0);
        zmq_recv(sub, seqb, sizeof(seqb), 0);
        int n = zmq_recv(sub, payload, sizeof(payload), 0);
        zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
        if (n <= 0 || more) return -1;
        *seq = 0;
        for (int i = 0; i < 8; i++)
            *seq = (*seq << 8) | (unsigned char)seqb[i];
        bx_kvev_limits lim;
        bx_kvev_limits_default(&lim);
        bx_kvev_err e;
        return bx_kvev_decode(payload, (size_t)n, &lim, out, &e);
    }
    return -1;
}

static void test_block_stored_hashes_match_gateway_chain(void **st)
{
    (void)st;
    void *zctx = zmq_ctx_new();
    void *sub = zmq_socket(zctx, ZMQ_SUB);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), 0);
    assert_int_equal(zmq_bind(sub, "tcp://127.0.0.1:*"), 0);
    char ep[128];
    size_t epl = sizeof(ep);
    assert_int_equal(zmq_getsockopt(sub, ZMQ_LAST_ENDPOINT, ep, &epl), 0);

    uv_loop_t loop;
    uv_loop_init(&loop);
    eng_config cfg;
    eng_config_default(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.model = "m";
    cfg.time_scale = 1000;
    cfg.jitter = 0;
    cfg.hash_seed = "0";
    cfg.kv_events = ep;
    eng_server *srv;
    char err[256];
    assert_int_equal(eng_server_init(&srv, &loop, &cfg, err, sizeof(err)), 0);
    int port = eng_server_port(srv);
    bx_http_client *cl;
    assert_int_equal(bx_http_client_init(&cl, &loop, NULL), 0);

    /* warm up until the PUB's connection is up and a batch arrives */
    bx_kvev_batch b;
    uint64_t seq = 0;
    int got = -1;
    for (int i = 0; i < 50 && got != 0; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"prompt\":[%d],\"max_tokens\":40}", 1000 + i);
        assert_int_equal(post(&loop, cl, port, body), 200);
        got = recv_batch(&loop, sub, &b, &seq);
        if (got == 0) bx_kvev_batch_free(&b);
    }
    assert_int_equal(got, 0);
    /* drain what is left of the warm-up */
    while (recv_batch(&loop, sub, &b, &seq) == 0)
        bx_kvev_batch_free(&b);

    const char *prompt = "the cat sat on the mat and the dog ran far away from the big red "
                         "car and the sun was low in the sky over the sea and the end of it all";
    uint32_t ids[64];
    size_t n = bx_tok_encode(prompt, strlen(prompt), ids, NULL, 64);
    assert_true(n >= 32 && n <= 64);
    size_t nb = n / 16;
    bx_blockhash root;
    bx_blockhash_root("0", &root);
    uint64_t keys[4];
    assert_int_equal(bx_blockhash_chain(&root, ids, n, 16, NULL, 4, keys, NULL), nb);

    char body[512];
    snprintf(body, sizeof(body), "{\"model\":\"m\",\"prompt\":\"%s\",\"max_tokens\":1}", prompt);
    assert_int_equal(post(&loop, cl, port, body), 200);
    assert_int_equal(recv_batch(&loop, sub, &b, &seq), 0);
    assert_int_equal(b.n_events, 1);
    bx_kvev_event *ev = &b.events[0];
    assert_int_equal(ev->type, BX_KVEV_BLOCK_STORED);
    assert_int_equal(ev->n_hashes, nb);
    for (size_t i = 0; i < nb; i++)
        assert_true(ev->block_hashes[i] == keys[i]);
    assert_false(ev->has_parent);
    assert_int_equal(ev->n_tokens, nb * 16);
    assert_memory_equal(ev->token_ids, ids, nb * 16 * sizeof(uint32_t));
    assert_int_equal(ev->block_size, 16);
    assert_string_equal(ev->medium, "GPU");
    assert_true(seq > 0);
    bx_kvev_batch_free(&b);

    bx_http_client_close(cl);
    eng_server_close(srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    zmq_close(sub);
    zmq_ctx_term(zctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_stored_hashes_match_gateway_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
