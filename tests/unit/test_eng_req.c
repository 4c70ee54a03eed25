/* eng_req: request validation as vLLM's frontend does it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_tok.h"
#include "engine/eng_req.h"

static int parse(enum eng_api api, const char *body, eng_req *r, char *err)
{
    return eng_req_parse(api, body, strlen(body), r, err, 256);
}

static void test_completion_fields(void **st)
{
    (void)st;
    eng_req r;
    char err[256];
    assert_int_equal(parse(ENG_API_COMPLETIONS,
                           "{\"model\":\"m\",\"prompt\":\"the cat sat\",\"max_tokens\":7,"
                           "\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                           "\"ignore_eos\":true,\"user\":\"u1\"}",
                           &r, err),
                     0);
    assert_string_equal(r.model, "m");
    assert_int_equal(r.num_ids, 3);
    assert_int_equal(r.ids[1], bx_tok_piece_id(" cat", 4));
    assert_int_equal(r.max_tokens, 7);
    assert_true(r.stream && r.include_usage && r.ignore_eos);
    assert_string_equal(r.user, "u1");
    eng_req_free(&r);
}

static void test_prompt_forms(void **st)
{
    (void)st;
    eng_req r;
    char err[256];
    assert_int_equal(parse(ENG_API_COMPLETIONS, "{\"prompt\":[1000,1001,1002]}", &r, err), 0);
    assert_int_equal(r.num_ids, 3);
    assert_int_equal(r.ids[2], 1002);
    assert_null(r.model);
    assert_int_equal(r.max_tokens, -1);
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_COMPLETIONS, "{\"prompt\":[\"one two\"]}", &r, err), 0);
    assert_int_equal(r.num_ids, 2);
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_COMPLETIONS, "{\"prompt\":[\"a\",\"b\"]}", &r, err), -1);
    assert_non_null(strstr(err, "batched"));
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_COMPLETIONS, "{\"prompt\":[-1]}", &r, err), -1);
    eng_req_free(&r);
}

static void test_chat_uses_template(void **st)
{
    (void)st;
    eng_req r;
    char err[256];
    assert_int_equal(parse(ENG_API_CHAT,
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                           "\"max_completion_tokens\":3}",
                           &r, err),
                     0);
    /* "<|user|>\nhi\n<|assistant|>\n" */
    const char *t = "<|user|>\nhi\n<|assistant|>\n";
    assert_int_equal(r.num_ids, (int32_t)bx_tok_count(t, strlen(t)));
    assert_int_equal(r.max_tokens, 3);
    eng_req_free(&r);
    assert_int_equal(
        parse(ENG_API_CHAT, "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", &r, err),
        -1);
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_CHAT, "{\"messages\":[]}", &r, err), -1);
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_CHAT,
                           "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                           "\"text\":\"hi\"},{\"type\":\"image_url\",\"image_url\":{}}]}]}",
                           &r, err),
                     0);
    assert_int_equal(r.num_ids, (int32_t)bx_tok_count(t, strlen(t)));
    eng_req_free(&r);
}

static void test_errors(void **st)
{
    (void)st;
    eng_req r;
    char err[256];
    assert_int_equal(parse(ENG_API_COMPLETIONS, "{bad json", &r, err), -1);
    assert_non_null(strstr(err, "Invalid JSON"));
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_COMPLETIONS, "[1,2]", &r, err), -1);
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_COMPLETIONS, "{\"prompt\":\"x\",\"max_tokens\":\"7\"}", &r, err),
                     -1);
    assert_non_null(strstr(err, "max_tokens"));
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_COMPLETIONS, "{\"prompt\":\"x\",\"max_tokens\":0}", &r, err),
                     -1);
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_COMPLETIONS,
                           "{\"prompt\":\"x\",\"stream_options\":{\"include_usage\":true}}", &r,
                           err),
                     -1);
    assert_non_null(strstr(err, "stream=True"));
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_COMPLETIONS, "{\"prompt\":\"x\",\"n\":2}", &r, err), -1);
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_COMPLETIONS, "{\"prompt\":\"\"}", &r, err), -1);
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_COMPLETIONS, "{\"model\":5,\"prompt\":\"x\"}", &r, err), -1);
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_COMPLETIONS, "{\"prompt\":\"x\",\"prompt\":\"y\"}", &r, err),
                     -1);
    eng_req_free(&r);
}

static void test_embeddings_inputs(void **st)
{
    (void)st;
    eng_req r;
    char err[256];
    assert_int_equal(parse(ENG_API_EMBEDDINGS, "{\"input\":[\"one two\",\"three\"]}", &r, err), 0);
    assert_int_equal(r.num_inputs, 2);
    assert_int_equal(r.input_off[1], 2);
    assert_int_equal(r.input_off[2], 4); /* "three" = "thre" + "e" */
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_EMBEDDINGS, "{\"input\":[300,301]}", &r, err), 0);
    assert_int_equal(r.num_inputs, 1);
    eng_req_free(&r);
    assert_int_equal(
        parse(ENG_API_EMBEDDINGS, "{\"input\":\"x\",\"encoding_format\":\"base64\"}", &r, err), 0);
    assert_int_equal(r.base64, 1);
    eng_req_free(&r);
    assert_int_equal(
        parse(ENG_API_EMBEDDINGS, "{\"input\":\"x\",\"encoding_format\":\"hex\"}", &r, err), -1);
    eng_req_free(&r);
    assert_int_equal(parse(ENG_API_EMBEDDINGS, "{}", &r, err), -1);
    eng_req_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completion_fields),  cmocka_unit_test(test_prompt_forms),
        cmocka_unit_test(test_chat_uses_template), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_embeddings_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
