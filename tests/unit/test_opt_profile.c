/* opt_profile: AIBrix's GPUProfile JSON both ways, the grid check and the
 * snapping of a request shape to a grid cell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opt/opt_profile.h"

static opt_profile p, q;

/* The shape of AIBrix's optimizer/profiling/result/simulator-llama2-7b-a100.json
 * (cut to 3 output x 2 input lengths; numbers of the same kind). */
static const char *aibrix_example =
    "{\"gpu\": \"simulator-llama2-7b-a100\", \"cost\": 1.0, "
    "\"tputs\": [[62.4770592037908, 32.3132063155413], [60.316466916176516, 31.743326005665654],"
    " [0.0, 0.0]], "
    "\"indexes\": [[4, 8, 16], [128, 256]], \"created\": 1748888478.258241, "
    "\"e2e\": [[0.09952875833841972, 0.12239365121233277], [0.17259948405786418, "
    "0.19343522920506076], [5.479355860430514, 5.721908029631013]], "
    "\"slos\": {\"percentile\": 99, \"e2e\": 5.0}}";

static void test_aibrix_example(void **st)
{
    (void)st;
    char err[256];
    assert_int_equal(
        opt_profile_parse(aibrix_example, strlen(aibrix_example), &p, err, sizeof(err)), 0);
    assert_string_equal(p.gpu, "simulator-llama2-7b-a100");
    assert_string_equal(p.model, "");
    assert_true(p.cost == 1.0);
    assert_int_equal(p.nout, 3);
    assert_int_equal(p.nin, 2);
    assert_true(p.out_tokens[0] == 4 && p.out_tokens[2] == 16);
    assert_true(p.in_tokens[0] == 128 && p.in_tokens[1] == 256);
    assert_true(p.tputs[0][1] == 32.3132063155413); /* [out][in] */
    assert_true(p.tputs[1][0] == 60.316466916176516);
    assert_true(p.tputs[2][1] == 0.0);
    assert_int_equal(p.has_e2e, 1);
    assert_int_equal(p.has_ttft, 0);
    assert_true(p.e2e[2][0] == 5.479355860430514);
    assert_int_equal(p.created, 1748888478);
    assert_int_equal(p.has_slos, 1);
    assert_int_equal(p.slos.percentile, 99);
    assert_true(p.slos.e2e == 5.0 && p.slos.ttft == 0 && p.slos.tput == 0);
}

static void test_roundtrip(void **st)
{
    (void)st;
    char err[256];
    assert_int_equal(
        opt_profile_parse(aibrix_example, strlen(aibrix_example), &p, err, sizeof(err)), 0);
    strcpy(p.model, "llama2-7b");
    p.has_ttft = 1;
    p.ttft[1][1] = 0.1 + 0.2; /* not a short decimal: needs all 17 digits */
    p.slos.tpot = 0.05;
    p.slos.tt = 1000;
    char *s = opt_profile_to_json(&p);
    assert_non_null(s);
    assert_null(strchr(s, '\n'));
    assert_non_null(strstr(s, "\"indexes\":[[4,8,16],[128,256]]")); /* ticks as integers */
    assert_non_null(strstr(s, "\"created\":1748888478"));
    assert_non_null(strstr(s, "\"model\":\"llama2-7b\""));
    assert_int_equal(opt_profile_parse(s, strlen(s), &q, err, sizeof(err)), 0);
    assert_memory_equal(&p, &q, sizeof(p));
    assert_int_equal(opt_profile_same_grid(&p, &q), 1);
    free(s);

    /* without the optional parts: none come back */
    memset(&p, 0, sizeof(p));
    strcpy(p.gpu, "m-l4");
    p.cost = 0.8;
    p.nout = 1;
    p.nin = 1;
    p.out_tokens[0] = 32;
    p.in_tokens[0] = 128.5; /* a fractional tick stays a real */
    p.tputs[0][0] = 3.25;
    s = opt_profile_to_json(&p);
    assert_non_null(s);
    assert_string_equal(
        s, "{\"gpu\":\"m-l4\",\"cost\":0.80000000000000004,\"tputs\":[[3.25]],\"indexes\":[[32],"
           "[128.5]],\"created\":0}");
    assert_int_equal(opt_profile_parse(s, strlen(s), &q, err, sizeof(err)), 0);
    assert_memory_equal(&p, &q, sizeof(p));
    free(s);
}

/* Each bad profile is refused with a message naming the field. */
static void test_rejected(void **st)
{
    (void)st;
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"[]", "must be a JSON object"},
        {"{", "invalid JSON"},
        {"{\"gpu\":\"a\",\"gpu\":\"b\",\"cost\":1,\"tputs\":[[1]],\"indexes\":[[1],[1]]}",
         "duplicate"},
        {"{\"cost\":1,\"tputs\":[[1]],\"indexes\":[[1],[1]]}", "gpu: missing"},
        {"{\"gpu\":\"\",\"cost\":1,\"tputs\":[[1]],\"indexes\":[[1],[1]]}", "gpu:"},
        {"{\"gpu\":\"a\",\"tputs\":[[1]],\"indexes\":[[1],[1]]}", "cost: missing"},
        {"{\"gpu\":\"a\",\"cost\":-1,\"tputs\":[[1]],\"indexes\":[[1],[1]]}", "cost:"},
        {"{\"gpu\":\"a\",\"cost\":\"1\",\"tputs\":[[1]],\"indexes\":[[1],[1]]}", "cost:"},
        {"{\"gpu\":\"a\",\"cost\":1,\"indexes\":[[1],[1]]}", "tputs: missing"},
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1]]}", "indexes: missing"},
        /* ragged: the second row is short */
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1,2],[3]],\"indexes\":[[4,8],[16,32]]}",
         "tputs[1]:"},
        /* rows do not match indexes[0] */
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1,2]],\"indexes\":[[4,8],[16,32]]}", "tputs:"},
        /* negative */
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1,-2],[3,4]],\"indexes\":[[4,8],[16,32]]}",
         "tputs[0][1]:"},
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1,null]],\"indexes\":[[4],[16,32]]}",
         "tputs[0][1]:"},
        /* not increasing */
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1,2]],\"indexes\":[[4],[32,32]]}",
         "indexes[1][1]:"},
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1],[2]],\"indexes\":[[8,4],[32]]}",
         "indexes[0][1]:"},
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1]],\"indexes\":[[0],[32]]}", "indexes[0][0]:"},
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1]],\"indexes\":[[4]]}", "indexes:"},
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[],\"indexes\":[[],[]]}", "indexes[0]:"},
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1]],\"indexes\":[[4],[8]],\"e2e\":[[-1]]}",
         "e2e[0][0]:"},
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1]],\"indexes\":[[4],[8]],\"ttft\":[1]}",
         "ttft[0]:"},
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1]],\"indexes\":[[4],[8]],\"created\":-5}",
         "created:"},
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1]],\"indexes\":[[4],[8]],"
         "\"slos\":{\"percentile\":95}}",
         "slos.percentile:"},
        {"{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1]],\"indexes\":[[4],[8]],"
         "\"slos\":{\"e2e\":-1}}",
         "slos.e2e:"},
        {"{\"gpu\":\"a\",\"model\":7,\"cost\":1,\"tputs\":[[1]],\"indexes\":[[4],[8]]}", "model:"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        int rc = opt_profile_parse(bad[i].json, strlen(bad[i].json), &p, err, sizeof(err));
        if (rc != -1 || !strstr(err, bad[i].field))
            fail_msg("case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err, bad[i].field);
    }
    /* too large a grid */
    char big[4096];
    size_t n = (size_t)snprintf(big, sizeof(big), "{\"gpu\":\"a\",\"cost\":1,\"indexes\":[[");
    for (int i = 0; i <= OPT_PROFILE_GRID_MAX; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%s%d", i ? "," : "", i + 1);
    n += (size_t)snprintf(big + n, sizeof(big) - n, "],[1]],\"tputs\":[]}");
    char err[256] = "";
    assert_int_equal(opt_profile_parse(big, n, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "indexes[0]:"));
}

static void test_same_grid(void **st)
{
    (void)st;
    char err[256];
    const char *a = "{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[1,2]],\"indexes\":[[4],[16,32]]}";
    const char *b = "{\"gpu\":\"b\",\"cost\":2,\"tputs\":[[0,5]],\"indexes\":[[4],[16,32]]}";
    const char *c = "{\"gpu\":\"c\",\"cost\":2,\"tputs\":[[0,5]],\"indexes\":[[4],[16,64]]}";
    const char *d = "{\"gpu\":\"d\",\"cost\":2,\"tputs\":[[0],[5]],\"indexes\":[[4,8],[16]]}";
    opt_profile r, s;
    assert_int_equal(opt_profile_parse(a, strlen(a), &p, err, sizeof(err)), 0);
    assert_int_equal(opt_profile_parse(b, strlen(b), &q, err, sizeof(err)), 0);
    assert_int_equal(opt_profile_parse(c, strlen(c), &r, err, sizeof(err)), 0);
    assert_int_equal(opt_profile_parse(d, strlen(d), &s, err, sizeof(err)), 0);
    assert_int_equal(opt_profile_same_grid(&p, &q), 1);
    assert_int_equal(opt_profile_same_grid(&p, &r), 0);
    assert_int_equal(opt_profile_same_grid(&p, &s), 0);
}

static void cell(double in, double out, int want_in, int want_out, int want_clamped)
{
    int i = -1, o = -1, c = -1;
    opt_profile_cell(&p, in, out, &i, &o, &c);
    if (i != want_in || o != want_out || c != want_clamped)
        fail_msg("(%g, %g): in %d out %d clamped %d, want %d %d %d", in, out, i, o, c, want_in,
                 want_out, want_clamped);
}

static void test_cell(void **st)
{
    (void)st;
    char err[256];
    /* out 4..512 (powers of two), in 128, 256, 512, 2048 (a gap of two doublings) */
    const char *g = "{\"gpu\":\"a\",\"cost\":1,\"tputs\":[[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,0],"
                    "[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,0]],"
                    "\"indexes\":[[4,8,16,32,64,128,256,512],[128,256,512,2048]]}";
    assert_int_equal(opt_profile_parse(g, strlen(g), &p, err, sizeof(err)), 0);
    cell(128, 4, 0, 0, 0);    /* on the ticks */
    cell(2048, 512, 3, 7, 0); /* the far corner */
    cell(300, 40, 1, 3, 0);   /* nearest in log2: 300 -> 256, 40 -> 32 */
    cell(400, 48, 2, 4, 0);   /* 400 is nearer 512 in log2; 48 is past 32's midpoint */
    /* midpoints in log2 round up: sqrt(128*256) = 181.02, sqrt(32*64) = 45.25 */
    cell(181.01933598375618, 45.254833995939045, 1, 4, 0);
    cell(181.0, 45.25, 0, 3, 0); /* just below both midpoints */
    /* 512 .. 2048: the midpoint is 1024 (log2 10), not 1280 */
    cell(1024, 4, 3, 0, 0);
    cell(1023, 4, 2, 0, 0);
    /* beyond the edges: within half a doubling belongs to the edge tick... */
    cell(90.6, 2.83, 0, 0, 0);           /* log2 distance < 0.5 */
    cell(2896, 724, 3, 7, 0);            /* 2048 * 1.414 = 2896.3: still within */
    cell(90.50966799187809, 4, 0, 0, 0); /* exactly 0.5 below 128: the midpoint, kept */
    /* ...further out it is clamped and flagged */
    cell(90, 4, 0, 0, 1);
    cell(128, 2, 0, 0, 1);
    cell(3000, 64, 3, 4, 1);
    cell(128, 100000, 0, 7, 1);
    cell(0, 0, 0, 0, 1);   /* no tokens: counted as 1, below the grid */
    cell(-5, 16, 0, 2, 1); /* nonsense: clamped, not a crash */
    /* clamped may be NULL */
    int i, o;
    opt_profile_cell(&p, 600, 600, &i, &o, NULL);
    assert_int_equal(i, 2);
    assert_int_equal(o, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aibrix_example), cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_rejected),       cmocka_unit_test(test_same_grid),
        cmocka_unit_test(test_cell),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
