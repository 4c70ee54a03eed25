/* gw_req: the gateway reads the fields it routes on, and counts and hashes
 * exactly the tokens the engine will (so prefix routing matches the
 * engine's own KV blocks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/eng_req.h"
#include "gateway/gw_req.h"

static void test_fields(void **st)
{
    (void)st;
    gw_req r;
    char err[256];
    const char *b = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}],"
                    "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"user\":\"u\","
                    "\"max_completion_tokens\":9}";
    assert_int_equal(gw_req_parse(GW_API_CHAT, b, strlen(b), 1, &r, err, sizeof(err)), 0);
    assert_string_equal(r.model, "m");
    assert_string_equal(r.user, "u");
    assert_true(r.stream && r.include_usage);
    assert_int_equal(r.max_tokens, 9);
    assert_true(r.tokens.n > 0);
    gw_req_free(&r);
}

static void test_same_tokens_and_keys_as_engine(void **st)
{
    (void)st;
    char body[4096] = "{\"model\":\"m\",\"prompt\":\"";
    for (int i = 0; i < 100; i++)
        strcat(body, "the cat sat ");
    strcat(body, "\",\"max_tokens\":3}");
    gw_req g;
    eng_req e;
    char err[256];
    assert_int_equal(gw_req_parse(GW_API_COMPLETIONS, body, strlen(body), 1, &g, err, sizeof(err)),
                     0);
    assert_int_equal(eng_req_parse(ENG_API_COMPLETIONS, body, strlen(body), &e, err, sizeof(err)),
                     0);
    assert_int_equal((int)g.tokens.n, e.num_ids);
    assert_memory_equal(g.tokens.ids, e.ids, g.tokens.n * sizeof(uint32_t));
    bx_blockhash root;
    bx_blockhash_root("0", &root);
    assert_int_equal(gw_req_hash(&g, &root, 16, NULL), 0);
    assert_int_equal(g.nblocks, g.tokens.n / 16);
    uint64_t k[64];
    bx_blockhash_chain(&root, e.ids, (size_t)e.num_ids, 16, NULL, 64, k, NULL);
    assert_memory_equal(g.block_keys, k, g.nblocks * sizeof(uint64_t));
    /* an adapter hashes in its own space */
    uint64_t base0 = g.block_keys[0];
    assert_int_equal(gw_req_hash(&g, &root, 16, "sql-lora"), 0);
    assert_true(g.block_keys[0] != base0);
    gw_req_free(&g);
    eng_req_free(&e);
}

static void test_errors(void **st)
{
    (void)st;
    gw_req r;
    char err[256];
    const char *bad[] = {"{bad",
                         "[]",
                         "{\"prompt\":\"x\"}",
                         "{\"model\":7,\"prompt\":\"x\"}",
                         "{\"model\":\"m\"}",
                         "{\"model\":\"m\",\"messages\":[]}",
                         "{\"model\":\"m\",\"prompt\":\"x\",\"stream\":\"yes\"}"};
    gw_api api[] = {GW_API_COMPLETIONS, GW_API_COMPLETIONS, GW_API_COMPLETIONS, GW_API_COMPLETIONS,
                    GW_API_COMPLETIONS, GW_API_CHAT,        GW_API_COMPLETIONS};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(gw_req_parse(api[i], bad[i], strlen(bad[i]), 1, &r, err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
        gw_req_free(&r);
    }
    const char *emb = "{\"model\":\"m\",\"input\":\"x\",\"stream\":true}";
    assert_int_equal(gw_req_parse(GW_API_EMBEDDINGS, emb, strlen(emb), 1, &r, err, sizeof(err)),
                     -1);
    gw_req_free(&r);
}

/* Without a prompt to read the body is only scanned (no jansson tree); the
 * fields equal the jansson path's, and anything unusual goes to jansson. */
static void test_fast_path_equals_jansson(void **st)
{
    (void)st;
    struct {
        gw_api api;
        const char *body;
        int fast; /* expected to take the scan path */
    } cases[] = {
        {GW_API_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":16}", 1},
        {GW_API_CHAT,
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\\nb\"}],"
         "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"user\":\"u\","
         "\"max_tokens\":3,\"max_completion_tokens\":9}",
         1},
        {GW_API_CHAT,
         "{\"model\":\"m\",\"messages\":[{}],\"max_completion_tokens\":null,\"user\":null}", 1},
        {GW_API_EMBEDDINGS, "{\"model\":\"m\",\"input\":[\"a\",\"b\"]}", 1},
        {GW_API_COMPLETIONS, "{\"model\":\"m\",\"prompt\":null,\"stream_options\":7}", 1},
        /* to jansson: escaped model, real max_tokens, escaped key */
        {GW_API_COMPLETIONS, "{\"model\":\"\\u006d\",\"prompt\":\"x\"}", 0},
        {GW_API_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":16.0}", 0},
        {GW_API_COMPLETIONS, "{\"\\u006dodel\":\"m\",\"prompt\":\"x\"}", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gw_req f, j;
        char err[256];
        const char *b = cases[i].body;
        assert_int_equal(gw_req_parse(cases[i].api, b, strlen(b), 0, &f, err, sizeof(err)), 0);
        assert_int_equal(f.root == NULL, cases[i].fast);
        assert_int_equal(gw_req_parse(cases[i].api, b, strlen(b), 1, &j, err, sizeof(err)) == 0 ||
                             cases[i].api == GW_API_EMBEDDINGS || strstr(b, "null"),
                         1);
        if (j.model) {
            assert_string_equal(f.model, j.model);
            assert_true((!f.user && !j.user) || strcmp(f.user, j.user) == 0);
            assert_int_equal(f.stream, j.stream);
            assert_int_equal(f.include_usage, j.include_usage);
            assert_int_equal(f.max_tokens, j.max_tokens);
        }
        gw_req_free(&f);
        gw_req_free(&j);
    }
    /* model and user kept inline when short, in a copy when long */
    for (size_t len = 40; len <= 300; len += 260) { /* 2 x 41 bytes fit inl, 2 x 301 do not */
        char body[1024], name[400];
        memset(name, 'n', len);
        name[len] = 0;
        snprintf(body, sizeof(body), "{\"model\":\"%s\",\"prompt\":\"x\",\"user\":\"%s\"}", name,
                 name);
        gw_req f;
        char err[256];
        assert_int_equal(
            gw_req_parse(GW_API_COMPLETIONS, body, strlen(body), 0, &f, err, sizeof(err)), 0);
        assert_null(f.root);
        assert_string_equal(f.model, name);
        assert_string_equal(f.user, name);
        assert_int_equal(f.strs != NULL, len == 300);
        gw_req_free(&f);
    }
    /* errors are jansson's, word for word */
    gw_req r;
    char e1[256], e2[256];
    const char *bad = "{\"model\":\"m\",\"prompt\":\"x\",}";
    assert_int_equal(gw_req_parse(GW_API_COMPLETIONS, bad, strlen(bad), 0, &r, e1, sizeof(e1)), -1);
    gw_req_free(&r);
    assert_int_equal(gw_req_parse(GW_API_COMPLETIONS, bad, strlen(bad), 1, &r, e2, sizeof(e2)), -1);
    gw_req_free(&r);
    assert_string_equal(e1, e2);
    assert_non_null(strstr(e1, "Invalid JSON"));
    const char *noprompt = "{\"model\":\"m\"}";
    assert_int_equal(
        gw_req_parse(GW_API_COMPLETIONS, noprompt, strlen(noprompt), 0, &r, e1, sizeof(e1)), -1);
    assert_string_equal(e1, "'prompt' is required");
    gw_req_free(&r);
}

/* W3C traceparent -> request id (AIBrix: the trace id) */
static void test_traceparent(void **st)
{
    (void)st;
    char id[48] = "keep";
    assert_int_equal(
        gw_traceparent_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", id), 0);
    assert_string_equal(id, "4bf92f3577b34da6a3ce929d0e0e4736");
    /* a later version may carry more fields after a dash */
    assert_int_equal(
        gw_traceparent_id("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-xyz", id), 0);
    assert_string_equal(id, "0af7651916cd43dd8448eb211c80319c");
    static const char *const bad[] = {
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   /* uppercase */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   /* zero parent id */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* version ff */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", /* 00 with more */
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",    /* short trace id */
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",   /* separators */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",   /* flags */
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        strcpy(id, "keep");
        assert_int_equal(gw_traceparent_id(bad[i], id), -1);
        assert_string_equal(id, "keep");
    }
    assert_int_equal(gw_traceparent_id(NULL, id), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_same_tokens_and_keys_as_engine),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_traceparent),
        cmocka_unit_test(test_fast_path_equals_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
