/* gw_migrate: a stream continued on another engine (issue 19). The token
 * accounting over legs (one token per chunk with text, the engine's own
 * count when it sends continuous usage), the continuation's body (prompt +
 * text, chat's open assistant message, max_tokens less what was sent), the
 * rewriting of the continuation's chunks (the first id, created and model;
 * the role chunk dropped; usage counted once) and the end the gateway
 * writes itself. The engine side of continue_final_message is checked with
 * eng_req (the words a continued answer draws). */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_prompt.h"
#include "common/bx_tok.h"
#include "engine/eng_req.h"
#include "gateway/gw_migrate.h"

#define CHAT_ROLE                                                                                  \
    "{\"id\":\"chatcmpl-A\",\"object\":\"chat.completion.chunk\",\"created\":100,\"model\":"       \
    "\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"         \
    "\"logprobs\":null,\"finish_reason\":null}]}"

static void chat_token(char *buf, size_t cap, const char *id, const char *word, const char *finish)
{
    snprintf(buf, cap,
             "{\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%d,\"model\":\"m\","
             "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"logprobs\":null,"
             "\"finish_reason\":%s}]}",
             id, strcmp(id, "chatcmpl-A") ? 200 : 100, word, finish ? finish : "null");
}

static int feed(gw_mig *m, const char *data, bx_buf *out)
{
    return gw_mig_event(m, data, strlen(data), out);
}

static void test_first_leg_counts_tokens(void **st)
{
    (void)st;
    gw_mig m;
    gw_mig_init(&m, GW_API_CHAT);
    bx_buf out;
    bx_buf_init(&out);
    char c[512];
    assert_int_equal(feed(&m, CHAT_ROLE, &out), GW_MIG_FORWARD);
    assert_int_equal(m.sent, 0); /* the role chunk is no token */
    const char *w[] = {" the", " and", " for"};
    for (int i = 0; i < 3; i++) {
        chat_token(c, sizeof(c), "chatcmpl-A", w[i], NULL);
        assert_int_equal(feed(&m, c, &out), GW_MIG_FORWARD);
    }
    assert_int_equal(out.len, 0); /* the first leg is forwarded as it is */
    assert_int_equal(m.sent, 3);
    assert_string_equal(m.text.data, " the and for");
    assert_true(m.have_head);
    assert_string_equal(m.id, "chatcmpl-A");
    assert_string_equal(m.model, "m");
    assert_int_equal(m.created, 100);
    assert_false(gw_mig_complete(&m, 4));
    assert_true(gw_mig_complete(&m, 3));
    assert_false(gw_mig_complete(&m, -1));
    chat_token(c, sizeof(c), "chatcmpl-A", " sun", "\"length\"");
    feed(&m, c, &out);
    assert_true(m.finished);
    assert_true(gw_mig_complete(&m, -1));
    assert_int_equal(m.prompt_tokens, -1);
    feed(&m,
         "{\"id\":\"chatcmpl-A\",\"choices\":[],\"usage\":{\"prompt_tokens\":17,"
         "\"completion_tokens\":4,\"total_tokens\":21}}",
         &out);
    assert_int_equal(m.prompt_tokens, 17);
    assert_int_equal(m.sent, 4);
    assert_true(m.usage_sent);
    assert_int_equal(feed(&m, "{\"error\":{\"message\":\"rank 1 lost\"}}", &out), GW_MIG_ERROR);
    bx_buf_free(&out);
    gw_mig_free(&m);
}

static json_t *load(const char *s, size_t n)
{
    json_t *o = json_loadb(s, n, 0, NULL);
    assert_non_null(o);
    return o;
}

static void test_continuation_rewritten(void **st)
{
    (void)st;
    gw_mig m;
    gw_mig_init(&m, GW_API_CHAT);
    bx_buf out;
    bx_buf_init(&out);
    char c[512];
    feed(&m, CHAT_ROLE, &out);
    chat_token(c, sizeof(c), "chatcmpl-A", " the", NULL);
    feed(&m, c, &out);
    chat_token(c, sizeof(c), "chatcmpl-A", " and", NULL);
    feed(&m, c, &out);
    m.prompt_tokens = 17;
    gw_mig_next_leg(&m);
    assert_int_equal(m.leg, 1);
    assert_int_equal(m.leg_base, 2);
    /* the continuation's own role chunk: dropped */
    const char *role2 = "{\"id\":\"chatcmpl-B\",\"object\":\"chat.completion.chunk\",\"created\":"
                        "200,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                        "\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}";
    assert_int_equal(feed(&m, role2, &out), GW_MIG_DROP);
    assert_int_equal(out.len, 0);
    chat_token(c, sizeof(c), "chatcmpl-B", " for", NULL);
    assert_int_equal(feed(&m, c, &out), GW_MIG_REWRITTEN);
    json_t *o = load(out.data, out.len);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "chatcmpl-A");
    assert_int_equal(json_integer_value(json_object_get(o, "created")), 100);
    json_t *d = json_object_get(json_array_get(json_object_get(o, "choices"), 0), "delta");
    assert_string_equal(json_string_value(json_object_get(d, "content")), " for");
    json_decref(o);
    assert_int_equal(m.sent, 3);
    /* the continuation's usage: its own prompt (longer) and 1 token */
    bx_buf_reset(&out);
    const char *u = "{\"id\":\"chatcmpl-B\",\"object\":\"chat.completion.chunk\",\"created\":200,"
                    "\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":30,"
                    "\"total_tokens\":31,\"completion_tokens\":1}}";
    assert_int_equal(feed(&m, u, &out), GW_MIG_REWRITTEN);
    o = load(out.data, out.len);
    json_t *us = json_object_get(o, "usage");
    assert_int_equal(json_integer_value(json_object_get(us, "prompt_tokens")), 17);
    assert_int_equal(json_integer_value(json_object_get(us, "completion_tokens")), 3);
    assert_int_equal(json_integer_value(json_object_get(us, "total_tokens")), 20);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "chatcmpl-A");
    json_decref(o);
    assert_true(m.usage_sent);
    /* an engine's error event: the proxy continues elsewhere (on any leg) */
    assert_int_equal(feed(&m, "{\"error\":{\"message\":\"x\",\"code\":503}}", &out), GW_MIG_ERROR);
    assert_int_equal(m.sent, 3);
    bx_buf_free(&out);
    gw_mig_free(&m);
}

static void test_continuous_usage_is_the_engines_count(void **st)
{
    (void)st;
    gw_mig m;
    gw_mig_init(&m, GW_API_COMPLETIONS);
    bx_buf out;
    bx_buf_init(&out);
    /* two tokens in one chunk (speculative decoding): the engine's count wins */
    feed(&m,
         "{\"id\":\"cmpl-A\",\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":"
         "\" ab cd\",\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":4,"
         "\"completion_tokens\":2,\"total_tokens\":6}}",
         &out);
    assert_int_equal(m.sent, 2);
    assert_int_equal(m.prompt_tokens, 4);
    gw_mig_next_leg(&m);
    bx_buf_reset(&out);
    feed(&m,
         "{\"id\":\"cmpl-B\",\"created\":9,\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":"
         "\" ef\",\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":6,"
         "\"completion_tokens\":1,\"total_tokens\":7}}",
         &out);
    assert_int_equal(m.sent, 3);
    json_t *o = load(out.data, out.len);
    json_t *us = json_object_get(o, "usage");
    assert_int_equal(json_integer_value(json_object_get(us, "prompt_tokens")), 4);
    assert_int_equal(json_integer_value(json_object_get(us, "completion_tokens")), 3);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "cmpl-A");
    json_decref(o);
    assert_string_equal(m.text.data, " ab cd ef");
    bx_buf_free(&out);
    gw_mig_free(&m);
}

static void test_escaped_text_and_junk(void **st)
{
    (void)st;
    gw_mig m;
    gw_mig_init(&m, GW_API_COMPLETIONS);
    bx_buf out;
    bx_buf_init(&out);
    feed(&m,
         "{\"id\":\"cmpl-A\",\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":"
         "\" a\\\"b\\n\",\"finish_reason\":null}]}",
         &out);
    assert_int_equal(m.sent, 1);
    assert_string_equal(m.text.data, " a\"b\n");
    assert_int_equal(feed(&m, "not json", &out), GW_MIG_FORWARD);
    assert_int_equal(feed(&m, "[1,2]", &out), GW_MIG_FORWARD);
    assert_int_equal(m.sent, 1);
    bx_buf_free(&out);
    gw_mig_free(&m);
}

static char *body_of(gw_mig *m, const char *b, char *err)
{
    size_t n = 0;
    char *s = gw_mig_body(m, b, strlen(b), &n, err, 128);
    if (s) assert_int_equal(n, strlen(s));
    return s;
}

static void test_completion_body(void **st)
{
    (void)st;
    gw_mig m;
    gw_mig_init(&m, GW_API_COMPLETIONS);
    bx_buf_appends(&m.text, " the and");
    m.sent = 2;
    char err[128];
    char *s = body_of(&m,
                      "{\"model\":\"m\",\"prompt\":\"Once upon\",\"max_tokens\":10,"
                      "\"min_tokens\":1,\"stream\":true}",
                      err);
    assert_non_null(s);
    json_t *o = load(s, strlen(s));
    assert_string_equal(json_string_value(json_object_get(o, "prompt")), "Once upon the and");
    assert_int_equal(json_integer_value(json_object_get(o, "max_tokens")), 8);
    assert_int_equal(json_integer_value(json_object_get(o, "min_tokens")), 0);
    assert_true(json_is_true(json_object_get(o, "stream")));
    json_decref(o);
    free(s);
    /* the original prompt's tokens, as brix's tokenizer counts them */
    assert_int_equal(m.prompt_tokens, (int32_t)bx_tok_count("Once upon", 9));

    /* ["text"]; no max_tokens: vLLM's 16 less what was sent */
    s = body_of(&m, "{\"model\":\"m\",\"prompt\":[\"Hi\"],\"stream\":true}", err);
    o = load(s, strlen(s));
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "prompt"), 0)),
                        "Hi the and");
    assert_int_equal(json_integer_value(json_object_get(o, "max_tokens")), 14);
    json_decref(o);
    free(s);

    /* token ids: the text's ids appended */
    s = body_of(&m, "{\"model\":\"m\",\"prompt\":[300,301],\"max_tokens\":5}", err);
    o = load(s, strlen(s));
    json_t *p = json_object_get(o, "prompt");
    assert_int_equal(json_array_size(p), 4);
    assert_int_equal(json_integer_value(json_array_get(p, 2)), bx_tok_piece_id(" the", 4));
    assert_int_equal(json_integer_value(json_array_get(p, 3)), bx_tok_piece_id(" and", 4));
    json_decref(o);
    free(s);

    /* what cannot be continued */
    assert_null(body_of(&m, "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":2}", err));
    assert_string_equal(err, "no tokens left");
    assert_null(body_of(&m, "{\"model\":\"m\",\"prompt\":\"x\",\"n\":2}", err));
    assert_null(body_of(&m, "{\"model\":\"m\",\"prompt\":\"x\",\"echo\":true}", err));
    assert_null(body_of(&m, "{\"model\":\"m\",\"prompt\":\"x\",\"tools\":[{}]}", err));
    assert_null(body_of(&m, "{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}", err));
    assert_null(body_of(&m, "[]", err));
    gw_mig_free(&m);
}

static void test_chat_body(void **st)
{
    (void)st;
    gw_mig m;
    gw_mig_init(&m, GW_API_CHAT);
    bx_buf_appends(&m.text, " the and");
    m.sent = 2;
    m.prompt_tokens = 9; /* told by the engine: kept */
    char err[128];
    const char *b = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                    "\"max_completion_tokens\":5,\"stream\":true}";
    char *s = body_of(&m, b, err);
    assert_non_null(s);
    json_t *o = load(s, strlen(s));
    json_t *msgs = json_object_get(o, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    json_t *last = json_array_get(msgs, 1);
    assert_string_equal(json_string_value(json_object_get(last, "role")), "assistant");
    assert_string_equal(json_string_value(json_object_get(last, "content")), " the and");
    assert_true(json_is_true(json_object_get(o, "continue_final_message")));
    assert_true(json_is_false(json_object_get(o, "add_generation_prompt")));
    assert_int_equal(json_integer_value(json_object_get(o, "max_completion_tokens")), 3);
    assert_null(json_object_get(o, "max_tokens"));
    assert_int_equal(m.prompt_tokens, 9);
    /* a request that continues an open message itself (continue_final_message
     * from the client): that message grows, no second one. (The proxy gives
     * every migration the client's own body and the whole text.) */
    size_t n;
    char *s2 = gw_mig_body(&m, s, strlen(s), &n, err, sizeof(err));
    assert_non_null(s2);
    json_t *o2 = load(s2, n);
    msgs = json_object_get(o2, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        " the and the and");
    json_decref(o2);
    free(s2);
    json_decref(o);
    free(s);
    /* nothing said yet: the request as it was (a plain retry) */
    gw_mig n0;
    gw_mig_init(&n0, GW_API_CHAT);
    s = body_of(&n0, b, err);
    o = load(s, strlen(s));
    assert_int_equal(json_array_size(json_object_get(o, "messages")), 1);
    assert_null(json_object_get(o, "continue_final_message"));
    json_decref(o);
    free(s);
    gw_mig_free(&n0);
    gw_mig_free(&m);
}

static void test_tail_and_frame(void **st)
{
    (void)st;
    gw_mig m;
    gw_mig_init(&m, GW_API_CHAT);
    bx_buf out;
    bx_buf_init(&out);
    char c[512];
    chat_token(c, sizeof(c), "chatcmpl-A", " the", "\"length\"");
    feed(&m, c, &out);
    const char *b = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    gw_mig_count_prompt(&m, b, strlen(b));
    json_t *msgs = json_pack("[{s:s,s:s}]", "role", "user", "content", "hi");
    bx_tokvec v = {0};
    char err[64];
    assert_int_equal(bx_prompt_chat(&v, msgs, err, sizeof(err)), 0);
    assert_int_equal(m.prompt_tokens, (int32_t)v.n);
    bx_tokvec_free(&v);
    json_decref(msgs);
    assert_int_equal(gw_mig_tail(&m, 1, &out), 0);
    const char *nl = strstr(out.data, "\n\n");
    assert_non_null(nl);
    assert_memory_equal(out.data, "data: ", 6);
    json_t *o = load(out.data + 6, (size_t)(nl - out.data - 6));
    assert_string_equal(json_string_value(json_object_get(o, "id")), "chatcmpl-A");
    assert_int_equal(json_array_size(json_object_get(o, "choices")), 0);
    json_t *us = json_object_get(o, "usage");
    assert_int_equal(json_integer_value(json_object_get(us, "completion_tokens")), 1);
    assert_int_equal(json_integer_value(json_object_get(us, "prompt_tokens")), m.prompt_tokens);
    json_decref(o);
    assert_string_equal(nl + 2, "data: [DONE]\n\n");
    /* usage once: a second tail has only [DONE] */
    bx_buf_reset(&out);
    assert_int_equal(gw_mig_tail(&m, 1, &out), 0);
    assert_int_equal(out.len, 14);
    bx_buf_reset(&out);
    assert_int_equal(gw_mig_frame(&out, "", "a\nb", 3), 0);
    assert_memory_equal(out.data, "data: a\ndata: b\n\n", out.len);
    bx_buf_reset(&out);
    assert_int_equal(gw_mig_frame(&out, "x", "{}", 2), 0);
    assert_memory_equal(out.data, "event: x\ndata: {}\n\n", out.len);
    bx_buf_free(&out);
    gw_mig_free(&m);
}

/* The engine continues the very words an unbroken answer has: the seed
 * prompt is the one without the open message, the offset its tokens. */
static void test_engine_continue_final(void **st)
{
    (void)st;
    char err[256];
    eng_req a, b;
    const char *orig = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    const char *cont = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":"
                       "\"assistant\",\"content\":\" the and\"}],\"continue_final_message\":true,"
                       "\"add_generation_prompt\":false}";
    assert_int_equal(eng_req_parse(ENG_API_CHAT, orig, strlen(orig), &a, err, sizeof(err)), 0);
    assert_int_equal(eng_req_parse(ENG_API_CHAT, cont, strlen(cont), &b, err, sizeof(err)), 0);
    assert_true(b.continue_final);
    assert_int_equal(b.gen_offset, 2);
    assert_int_equal(b.num_seed_ids, a.num_ids);
    assert_memory_equal(b.seed_ids, a.ids, (size_t)a.num_ids * sizeof(uint32_t));
    assert_true(b.num_ids > a.num_ids - 4); /* the open message, no generation prompt */
    eng_req_free(&a);
    eng_req_free(&b);
    /* vLLM's rules: not both; the open message must be the assistant's */
    const char *both = "{\"messages\":[{\"role\":\"assistant\",\"content\":\"x\"}],"
                       "\"continue_final_message\":true,\"add_generation_prompt\":true}";
    assert_int_equal(eng_req_parse(ENG_API_CHAT, both, strlen(both), &a, err, sizeof(err)), -1);
    eng_req_free(&a);
    const char *user = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                       "\"continue_final_message\":true}";
    assert_int_equal(eng_req_parse(ENG_API_CHAT, user, strlen(user), &a, err, sizeof(err)), -1);
    eng_req_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_leg_counts_tokens),
        cmocka_unit_test(test_continuation_rewritten),
        cmocka_unit_test(test_continuous_usage_is_the_engines_count),
        cmocka_unit_test(test_escaped_text_and_junk),
        cmocka_unit_test(test_completion_body),
        cmocka_unit_test(test_chat_body),
        cmocka_unit_test(test_tail_and_frame),
        cmocka_unit_test(test_engine_continue_final),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
