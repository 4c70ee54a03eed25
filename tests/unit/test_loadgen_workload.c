/* Tests for loadgen_workload: seeded plans, Poisson arrivals, prompt text that
 * the brix tokenizer counts exactly, shared prefixes, multi-turn chaining
 * and growth, and traces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "loadgen/loadgen_api.h"
#include "loadgen/loadgen_workload.h"
#include "common/bx_tok.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static loadgen_wl_params params(enum loadgen_wl_kind kind)
{
    loadgen_wl_params w;
    memset(&w, 0, sizeof(w));
    w.kind = kind;
    w.seed = 42;
    w.rate = 10;
    w.num_requests = 200;
    w.input_len = 50;
    w.output_len = 20;
    w.len_dist = LOADGEN_LEN_FIXED;
    w.len_spread = 0.25;
    w.num_prefix_groups = 4;
    w.prefix_len = 64;
    w.turns = 3;
    return w;
}

static loadgen_plan build(const loadgen_wl_params *w)
{
    loadgen_plan p;
    char err[200];
    int rc = loadgen_plan_build(&p, w, err, sizeof(err));
    if (rc != 0) fail_msg("loadgen_plan_build: %s", err);
    return p;
}

static void item_text(const loadgen_wl_params *w, const loadgen_item *it, bx_buf *out)
{
    bx_buf_reset(out);
    assert_int_equal(loadgen_item_text(out, w->seed, it), 0);
}

static void test_same_seed_same_plan(void **state)
{
    (void)state;
    loadgen_wl_params w = params(LOADGEN_WL_SHARED_PREFIX);
    w.len_dist = LOADGEN_LEN_NORMAL;
    loadgen_plan a = build(&w), b = build(&w);
    assert_int_equal(a.n, 200);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.items, b.items, a.n * sizeof(*a.items));
    bx_buf ta, tb;
    bx_buf_init(&ta);
    bx_buf_init(&tb);
    item_text(&w, &a.items[17], &ta);
    item_text(&w, &b.items[17], &tb);
    assert_int_equal(ta.len, tb.len);
    assert_memory_equal(ta.data, tb.data, ta.len);

    /* Another seed: other arrival times and other text. */
    w.seed = 43;
    loadgen_plan c = build(&w);
    assert_true(c.items[0].at != a.items[0].at);
    item_text(&w, &c.items[17], &tb);
    assert_true(ta.len != tb.len || memcmp(ta.data, tb.data, ta.len) != 0);
    bx_buf_free(&ta);
    bx_buf_free(&tb);
    loadgen_plan_free(&a);
    loadgen_plan_free(&b);
    loadgen_plan_free(&c);
}

static void test_poisson_mean(void **state)
{
    (void)state;
    loadgen_wl_params w = params(LOADGEN_WL_RANDOM);
    w.rate = 20;
    w.num_requests = 20000;
    loadgen_plan p = build(&w);
    assert_int_equal(p.n, 20000);
    double sum = 0, sq = 0, prev = 0;
    for (size_t i = 0; i < p.n; i++) {
        double gap = p.items[i].at - prev;
        assert_true(gap >= 0); /* sorted arrivals */
        sum += gap;
        sq += gap * gap;
        prev = p.items[i].at;
    }
    double mean = sum / (double)p.n, sd = sqrt(sq / (double)p.n - mean * mean);
    /* Exponential gaps: mean 1/rate and standard deviation 1/rate (5% for 20000 draws). */
    assert_true(fabs(mean - 0.05) < 0.05 * 0.05);
    assert_true(fabs(sd - 0.05) < 0.05 * 0.05);
    loadgen_plan_free(&p);

    /* rate inf: everything at once. */
    w.rate = INFINITY;
    w.num_requests = 10;
    p = build(&w);
    for (size_t i = 0; i < p.n; i++)
        assert_true(p.items[i].at == 0);
    loadgen_plan_free(&p);
}

static void test_duration_cuts_arrivals(void **state)
{
    (void)state;
    loadgen_wl_params w = params(LOADGEN_WL_RANDOM);
    w.num_requests = 0;
    w.duration = 100;
    w.rate = 5;
    loadgen_plan p = build(&w);
    /* About 500 arrivals in 100 s at 5/s; every one inside the window. */
    assert_true(p.n > 400 && p.n < 600);
    for (size_t i = 0; i < p.n; i++)
        assert_true(p.items[i].at <= 100);
    loadgen_plan_free(&p);
    w.num_requests = 50; /* both: whichever ends first */
    p = build(&w);
    assert_int_equal(p.n, 50);
    loadgen_plan_free(&p);
}

static void test_words_are_single_tokens(void **state)
{
    (void)state;
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(loadgen_words(&b, 7, 1000), 0);
    assert_int_equal(b.len, 4000);
    assert_int_equal(bx_tok_count(b.data, b.len), 1000);
    for (size_t i = 0; i < b.len; i += 4) {
        assert_int_equal(b.data[i], ' ');
        for (int k = 1; k < 4; k++)
            assert_true(b.data[i + k] >= 'a' && b.data[i + k] <= 'z');
    }
    bx_buf_free(&b);

    /* Lengths drawn from a distribution: the text still counts exactly. */
    loadgen_wl_params w = params(LOADGEN_WL_SHARED_PREFIX);
    w.len_dist = LOADGEN_LEN_UNIFORM;
    w.len_spread = 0.5;
    loadgen_plan p = build(&w);
    bx_buf_init(&b);
    int lo = 1 << 30, hi = 0;
    for (size_t i = 0; i < p.n; i++) {
        const loadgen_item *it = &p.items[i];
        item_text(&w, it, &b);
        assert_int_equal(bx_tok_count(b.data, b.len), (size_t)(it->input_len + it->prefix_len));
        assert_true(it->input_len >= 25 && it->input_len <= 75);
        if (it->input_len < lo) lo = it->input_len;
        if (it->input_len > hi) hi = it->input_len;
    }
    assert_true(hi - lo > 20); /* really spread */
    bx_buf_free(&b);
    loadgen_plan_free(&p);
}

static void test_shared_prefix_groups(void **state)
{
    (void)state;
    loadgen_wl_params w = params(LOADGEN_WL_SHARED_PREFIX);
    loadgen_plan p = build(&w);
    bx_buf first[4], b;
    int seen[4] = {0};
    bx_buf_init(&b);
    for (int g = 0; g < 4; g++)
        bx_buf_init(&first[g]);
    for (size_t i = 0; i < p.n; i++) {
        const loadgen_item *it = &p.items[i];
        assert_true(it->prefix_group >= 0 && it->prefix_group < 4);
        assert_int_equal(it->prefix_len, 64);
        int g = it->prefix_group;
        item_text(&w, it, seen[g] ? &b : &first[g]);
        if (!seen[g]) {
            seen[g] = 1;
            continue;
        }
        /* Same group: the first 64 tokens (256 bytes) are equal, the rest differs. */
        assert_memory_equal(b.data, first[g].data, 64 * 4);
        assert_true(memcmp(b.data + 256, first[g].data + 256, 50 * 4) != 0);
    }
    for (int g = 0; g < 4; g++)
        assert_true(seen[g]);
    for (int g = 1; g < 4; g++)
        assert_true(memcmp(first[0].data, first[g].data, 256) != 0);
    for (int g = 0; g < 4; g++)
        bx_buf_free(&first[g]);
    bx_buf_free(&b);
    loadgen_plan_free(&p);
}

/* The prompt tokens a server sees for item idx of a session whose answers
 * were `answer_tokens` words each: completions concatenate the history. */
static size_t session_prompt_tokens(const loadgen_wl_params *w, const loadgen_plan *p, size_t first,
                                    loadgen_conv *cv, size_t idx)
{
    bx_buf prompt;
    bx_buf_init(&prompt);
    item_text(w, &p->items[idx], &prompt);
    loadgen_api_req r = {.chat = 0, .stream = 1, .model = "m", .max_tokens = 5};
    char *body = loadgen_api_body(&r, cv, prompt.data, prompt.len);
    assert_non_null(body);
    json_t *o = json_loads(body, 0, NULL);
    assert_non_null(o);
    const char *text = json_string_value(json_object_get(o, "prompt"));
    assert_non_null(text);
    size_t n = bx_tok_count(text, strlen(text));
    /* Then the turn is answered: history grows by the prompt and the answer. */
    assert_int_equal(loadgen_conv_add(cv, prompt.data, prompt.len), 0);
    bx_buf ans;
    bx_buf_init(&ans);
    assert_int_equal(loadgen_words(&ans, 99 + idx - first, p->items[idx].output_len), 0);
    assert_int_equal(loadgen_conv_add(cv, ans.data, ans.len), 0);
    bx_buf_free(&ans);
    json_decref(o);
    free(body);
    bx_buf_free(&prompt);
    return n;
}

static void test_multi_turn_grows(void **state)
{
    (void)state;
    loadgen_wl_params w = params(LOADGEN_WL_MULTI_TURN);
    w.num_requests = 0;
    w.num_sessions = 5;
    w.turns = 4;
    w.think_time = 0.5;
    loadgen_plan p = build(&w);
    assert_int_equal(p.n, 20);
    assert_int_equal(p.num_sessions, 5);
    for (size_t i = 0; i < p.n; i++) {
        const loadgen_item *it = &p.items[i];
        assert_int_equal(it->session, (int)(i / 4));
        assert_int_equal(it->turn, (int)(i % 4));
        assert_int_equal(it->prev, it->turn == 0 ? -1 : (long)i - 1);
        assert_int_equal(it->next, it->turn == 3 ? -1 : (long)i + 1);
        assert_true(it->think == (it->turn == 0 ? 0 : 0.5));
        if (it->turn > 0) assert_true(it->at == 0); /* only sent after the previous answer */
    }
    loadgen_conv cv;
    loadgen_conv_init(&cv);
    size_t prev = 0;
    for (size_t i = 4; i < 8; i++) {
        size_t n = session_prompt_tokens(&w, &p, 4, &cv, i);
        /* Each turn is everything so far plus a new 50-token user message. */
        assert_int_equal(n, prev + (i > 4 ? 20 : 0) + 50);
        assert_true(n > prev);
        prev = n;
    }
    assert_int_equal(cv.n, 8);
    loadgen_conv_free(&cv);
    loadgen_plan_free(&p);

    /* num_requests only: ceil(N / turns) sessions. */
    w.num_sessions = 0;
    w.num_requests = 10;
    p = build(&w);
    assert_int_equal(p.num_sessions, 3);
    assert_int_equal(p.n, 12);
    loadgen_plan_free(&p);
}

static void test_bad_params(void **state)
{
    (void)state;
    loadgen_plan p;
    char err[200];
    loadgen_wl_params w = params(LOADGEN_WL_RANDOM);
    w.output_len = 0;
    assert_int_equal(loadgen_plan_build(&p, &w, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "output-len"));
    w = params(LOADGEN_WL_SHARED_PREFIX);
    w.num_prefix_groups = 0;
    assert_int_equal(loadgen_plan_build(&p, &w, err, sizeof(err)), -1);
    w = params(LOADGEN_WL_RANDOM);
    w.rate = INFINITY;
    w.num_requests = 0;
    w.duration = 5;
    assert_int_equal(loadgen_plan_build(&p, &w, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "inf"));
}

static void test_trace(void **state)
{
    (void)state;
    const char *t = "{\"timestamp\": 1.5, \"prompt_tokens\": 30, \"output_tokens\": 7, "
                    "\"session\": \"a\"}\n"
                    "\n"
                    "{\"timestamp\": 0, \"prompt_tokens\": 10, \"output_tokens\": 5}\r\n"
                    "{\"timestamp\": 0.5, \"prompt_tokens\": 100, \"output_tokens\": 3, "
                    "\"session\": \"a\", \"prefix_group\": 2}\n";
    loadgen_wl_params w = params(LOADGEN_WL_RANDOM);
    w.num_requests = 0;
    w.prefix_len = 40;
    loadgen_plan p;
    char err[200];
    assert_int_equal(loadgen_plan_from_trace(&p, t, strlen(t), &w, err, sizeof(err)), 0);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.num_sessions, 1);
    /* Sorted by time; the two lines of session "a" chained as turns. */
    assert_true(p.items[0].at == 0 && p.items[1].at == 0.5 && p.items[2].at == 1.5);
    assert_int_equal(p.items[0].session, -1);
    assert_int_equal(p.items[0].input_len, 10);
    assert_int_equal(p.items[0].output_len, 5);
    assert_int_equal(p.items[1].session, 0);
    assert_int_equal(p.items[1].turn, 0);
    assert_int_equal(p.items[1].next, 2);
    assert_int_equal(p.items[1].prefix_len, 40);
    assert_int_equal(p.items[1].input_len, 60);
    assert_int_equal(p.items[2].turn, 1);
    assert_int_equal(p.items[2].prev, 1);
    loadgen_plan_free(&p);

    w.num_requests = 2; /* cut */
    assert_int_equal(loadgen_plan_from_trace(&p, t, strlen(t), &w, err, sizeof(err)), 0);
    assert_int_equal(p.n, 2);
    loadgen_plan_free(&p);

    const char *bad[] = {
        "{\"timestamp\": -1, \"prompt_tokens\": 1, \"output_tokens\": 1}",
        "{\"timestamp\": 0, \"prompt_tokens\": 1.5, \"output_tokens\": 1}",
        "{\"timestamp\": 0, \"prompt_tokens\": 1, \"output_tokens\": 0}",
        "{\"timestamp\": 0, \"prompt_tokens\": 1}",
        "[1, 2]",
        "{\"timestamp\": 0, \"prompt_tokens\": 1, \"output_tokens\": 1, \"session\": [1]}",
        "{\"timestamp\": 0,",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(loadgen_plan_from_trace(&p, bad[i], strlen(bad[i]), &w, err, sizeof(err)),
                         -1);
        assert_true(err[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_plan),
        cmocka_unit_test(test_poisson_mean),
        cmocka_unit_test(test_duration_cuts_arrivals),
        cmocka_unit_test(test_words_are_single_tokens),
        cmocka_unit_test(test_shared_prefix_groups),
        cmocka_unit_test(test_multi_turn_grows),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
