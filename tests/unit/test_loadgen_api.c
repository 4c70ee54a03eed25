/* Tests for loadgen_api (request bodies, response chunks, /v1/models) and
 * loadgen_config (flags, defaults, usage errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "loadgen/loadgen_api.h"
#include "loadgen/loadgen_config.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_chat_body(void **state)
{
    (void)state;
    loadgen_conv cv;
    loadgen_conv_init(&cv);
    assert_int_equal(loadgen_conv_add(&cv, " abc", 4), 0);
    assert_int_equal(loadgen_conv_add(&cv, " \"quoted\"", 9), 0);
    loadgen_api_req r = {.chat = 1, .stream = 1, .model = "m1", .user = "u7", .max_tokens = 33};
    char *body = loadgen_api_body(&r, &cv, " xyz", 4);
    assert_non_null(body);
    json_t *o = json_loads(body, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "model")), "m1");
    assert_int_equal(json_integer_value(json_object_get(o, "max_tokens")), 33);
    assert_true(json_is_true(json_object_get(o, "ignore_eos")));
    assert_true(json_is_true(json_object_get(o, "stream")));
    assert_true(
        json_is_true(json_object_get(json_object_get(o, "stream_options"), "include_usage")));
    assert_string_equal(json_string_value(json_object_get(o, "user")), "u7");
    json_t *m = json_object_get(o, "messages");
    assert_int_equal(json_array_size(m), 3);
    const char *roles[] = {"user", "assistant", "user"};
    const char *texts[] = {" abc", " \"quoted\"", " xyz"};
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(m, i);
        assert_string_equal(json_string_value(json_object_get(e, "role")), roles[i]);
        assert_string_equal(json_string_value(json_object_get(e, "content")), texts[i]);
    }
    json_decref(o);
    free(body);

    /* Completions, no streaming: one prompt, no stream_options, no user. */
    loadgen_api_req c = {.chat = 0, .stream = 0, .model = "m1", .max_tokens = 2};
    body = loadgen_api_body(&c, &cv, " xyz", 4);
    assert_non_null(body);
    o = json_loads(body, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "prompt")), " abc \"quoted\" xyz");
    assert_null(json_object_get(o, "stream_options"));
    assert_null(json_object_get(o, "user"));
    assert_true(json_is_false(json_object_get(o, "stream")));
    json_decref(o);
    free(body);
    loadgen_conv_free(&cv);
}

static void test_parse_chunks(void **state)
{
    (void)state;
    loadgen_api_chunk c;
    bx_buf text;
    bx_buf_init(&text);
    const char *d1 =
        "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}";
    assert_int_equal(loadgen_api_parse(d1, strlen(d1), &c, &text), 0);
    assert_int_equal(c.text_len, 0); /* the role chunk carries no token */
    const char *d2 = "{\"choices\":[{\"delta\":{\"content\":\" the\"},\"finish_reason\":null}]}";
    assert_int_equal(loadgen_api_parse(d2, strlen(d2), &c, &text), 0);
    assert_int_equal(c.text_len, 4);
    const char *d3 = "{\"choices\":[{\"text\":\" cat\",\"finish_reason\":\"length\"}]}";
    assert_int_equal(loadgen_api_parse(d3, strlen(d3), &c, &text), 0);
    assert_string_equal(c.finish_reason, "length");
    assert_string_equal(text.data, " the cat");
    const char *d4 = "{\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":2,"
                     "\"total_tokens\":14}}";
    assert_int_equal(loadgen_api_parse(d4, strlen(d4), &c, NULL), 0);
    assert_true(c.has_usage);
    assert_int_equal(c.prompt_tokens, 12);
    assert_int_equal(c.completion_tokens, 2);
    const char *d5 = "{\"object\":\"error\",\"message\":\"too long\",\"code\":400}";
    assert_int_equal(loadgen_api_parse(d5, strlen(d5), &c, NULL), 0);
    assert_true(c.has_error);
    assert_string_equal(c.error, "too long");
    const char *d6 = "{\"error\":{\"message\":\"overloaded\"}}";
    assert_int_equal(loadgen_api_parse(d6, strlen(d6), &c, NULL), 0);
    assert_string_equal(c.error, "overloaded");
    assert_int_equal(loadgen_api_parse("[1]", 3, &c, NULL), -1);
    assert_int_equal(loadgen_api_parse("{\"a\":", 5, &c, NULL), -1);
    assert_true(c.error[0] != '\0');
    bx_buf_free(&text);
}

static void test_first_model(void **state)
{
    (void)state;
    char m[16], err[100];
    const char *ok = "{\"object\":\"list\",\"data\":[{\"id\":\"llama\"},{\"id\":\"b\"}]}";
    assert_int_equal(loadgen_api_first_model(ok, strlen(ok), m, sizeof(m), err, sizeof(err)), 0);
    assert_string_equal(m, "llama");
    const char *bad[] = {"{\"data\":[]}", "{\"data\":[{\"id\":7}]}", "nope",
                         "{\"data\":[{\"id\":\"a-very-long-model-name\"}]}"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(
            loadgen_api_first_model(bad[i], strlen(bad[i]), m, sizeof(m), err, sizeof(err)), -1);
}

static int parse(loadgen_config *c, char **argv, int argc)
{
    loadgen_config_default(c);
    FILE *sink = fopen("/dev/null", "w");
    assert_non_null(sink);
    int rc = loadgen_config_parse(c, argc, argv, sink, sink);
    fclose(sink);
    return rc;
}

#define ARGV(...) ((char *[]){"run", __VA_ARGS__})
#define NARGS(...) ((int)(sizeof((char *[]){"run", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(c, ...) parse((c), ARGV(__VA_ARGS__), NARGS(__VA_ARGS__))

static void test_config(void **state)
{
    (void)state;
    loadgen_config c;
    assert_int_equal(PARSE(&c, "--rate", "20", "--endpoint=completions", "--no-stream", "--header",
                           "X-A: 1", "--header", "X-B:2", "--workload", "shared-prefix", "--seed",
                           "9", "--input-len", "512"),
                     0);
    assert_true(c.wl.rate == 20);
    assert_int_equal(c.chat, 0);
    assert_int_equal(c.stream, 0);
    assert_int_equal(c.n_headers, 2);
    assert_string_equal(c.headers[1], "X-B:2");
    assert_int_equal(c.wl.kind, LOADGEN_WL_SHARED_PREFIX);
    assert_int_equal(c.wl.seed, 9);
    assert_int_equal(c.wl.input_len, 512);
    assert_int_equal(c.wl.num_requests, 100); /* the default when nothing bounds the run */
    loadgen_config_free(&c);

    assert_int_equal(PARSE(&c, "--rate", "inf", "--duration", "3"), 0);
    assert_true(isinf(c.wl.rate));
    assert_int_equal(c.wl.num_requests, 0);
    assert_int_equal(PARSE(&c, "--help"), 1);

    assert_int_equal(PARSE(&c, "--rate", "0"), 2);
    assert_int_equal(PARSE(&c, "--rate", "x"), 2);
    assert_int_equal(PARSE(&c, "--num-requests", "-3"), 2);
    assert_int_equal(PARSE(&c, "--num-requests", "0"), 2);
    assert_int_equal(PARSE(&c, "--endpoint", "embeddings"), 2);
    assert_int_equal(PARSE(&c, "--workload", "zipf"), 2);
    assert_int_equal(PARSE(&c, "--header", "novalue"), 2);
    assert_int_equal(PARSE(&c, "--url", "ftp://x"), 2);
    assert_int_equal(PARSE(&c, "--bogus"), 2);
    assert_int_equal(PARSE(&c, "positional"), 2);
    assert_int_equal(PARSE(&c, "--no-stream=1"), 2);
    assert_int_equal(PARSE(&c, "--trace", "t.jsonl", "--rate", "3"), 2);
    assert_int_equal(PARSE(&c, "--timeout"), 2);
    loadgen_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_body),
        cmocka_unit_test(test_parse_chunks),
        cmocka_unit_test(test_first_model),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
