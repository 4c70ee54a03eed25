/* bx_flags: the one table-driven flag parser (issue 14: it was written three
 * times, in the engine, the gateway and the load generator). Every built-in
 * kind, "--name=value" and "--name value", the error lines word for word
 * (the programs' tests and users read them), custom kinds, "=true/false" on
 * no-value flags, the seen[] record, and the generated --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_flags.h"

typedef struct cfg {
    const char *name, *word;
    int n, on, quiet;
    long count;
    int64_t big;
    uint64_t seed;
    double scale, frac;
    const char *items[4];
    int nitems;
    int color; /* 0 red, 1 green */
    int size;  /* BX_FLAG_CHOICE: 0 s, 1 m, 2 l */
} cfg;

enum { K_ITEM = BX_FLAG_CUSTOM, K_COLOR };

#define O(f) offsetof(cfg, f)

static const bx_flag flags[] = {
    {"--name", BX_FLAG_STR, O(name), "a name"},
    {"--word W", BX_FLAG_STR_NONEMPTY, O(word), "a word, not empty"},
    {"--n N", BX_FLAG_INT, O(n), "a count"},
    {"--count C", BX_FLAG_LONG, O(count), "a long count"},
    {"--big B", BX_FLAG_I64, O(big), "a big count"},
    {"--seed S", BX_FLAG_U64, O(seed), "a seed"},
    {"--scale X", BX_FLAG_DBL, O(scale), "any number"},
    {"--frac F", BX_FLAG_DBL_NONNEG, O(frac), "a finite number, 0 or more"},
    {"--on", BX_FLAG_ON, O(on), "turns it on"},
    {"--quiet", BX_FLAG_OFF, O(quiet), "turns talking off"},
    {"--item K=V", K_ITEM, 0, "an item (repeatable, at most 4)"},
    {"--color red|green", K_COLOR, 0, "a colour"},
    {"--size s|m|l", BX_FLAG_CHOICE, O(size), "a size"},
};
#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

static int set_custom(void *p, const bx_flag *fl, const char *val, FILE *err)
{
    cfg *c = p;
    if (fl->kind == K_COLOR) {
        if (!strcmp(val, "red"))
            c->color = 0;
        else if (!strcmp(val, "green"))
            c->color = 1;
        else
            return BX_FLAG_BAD;
        return 0;
    }
    if (c->nitems == 4) {
        fprintf(err, "t: at most 4 items\n");
        return BX_FLAG_FAIL;
    }
    c->items[c->nitems++] = val;
    return 0;
}

static void tail(FILE *out)
{
    fputs("the end\n", out);
}

static bx_flags_spec spec(void)
{
    return (bx_flags_spec){
        .flags = flags,
        .nflags = NFLAGS,
        .prog = "t",
        .not_valid = "a valid number",
        .usage = "usage: t [options]\n",
        .name_width = 10,
        .help_tail = tail,
        .set = set_custom,
    };
}

/* Runs the parser over argv (argv[0] added), keeping out and err. */
static int run(const bx_flags_spec *s, cfg *c, unsigned char *seen, char *out, size_t outcap,
               char *err, size_t errcap, int argc, const char **argv)
{
    const char *av[32] = {"sub"};
    for (int i = 0; i < argc; i++)
        av[i + 1] = argv[i];
    FILE *fo = fmemopen(out, outcap, "w"), *fe = fmemopen(err, errcap, "w");
    assert_non_null(fo);
    assert_non_null(fe);
    int rc = bx_flags_parse(s, c, argc + 1, (char **)av, seen, fo, fe);
    fclose(fo);
    fclose(fe);
    return rc;
}

#define ARGS(...)                                                                                  \
    (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)), (const char *[])                \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }

/* One bad argument list: rc -1, and err is exactly want. */
static void expect_error(const bx_flags_spec *s, const char *want, int argc, const char **argv)
{
    cfg c = {0};
    char out[64] = "", err[256] = "";
    assert_int_equal(run(s, &c, NULL, out, sizeof(out), err, sizeof(err), argc, argv), -1);
    assert_string_equal(err, want);
    assert_string_equal(out, "");
}

static void test_kinds(void **st)
{
    (void)st;
    bx_flags_spec s = spec();
    cfg c = {.quiet = 1};
    unsigned char seen[NFLAGS] = {0};
    char out[64] = "", err[256] = "";
    assert_int_equal(run(&s, &c, seen, out, sizeof(out), err, sizeof(err),
                         ARGS("--name=", "--word", "w", "--n", "2147483647", "--count=7", "--big",
                              "9223372036854775807", "--seed", "18446744073709551615", "--scale",
                              "-2.5", "--frac=0.5", "--on", "--quiet", "--item", "a=1",
                              "--item=b=2", "--color", "green", "--n", "3", "--size", "l")),
                     0);
    assert_string_equal(err, "");
    assert_string_equal(c.name, "");
    assert_string_equal(c.word, "w");
    assert_int_equal(c.n, 3); /* the later one wins */
    assert_int_equal(c.count, 7);
    assert_true(c.big == INT64_MAX);
    assert_true(c.seed == UINT64_MAX);
    assert_true(c.scale == -2.5);
    assert_true(c.frac == 0.5);
    assert_int_equal(c.on, 1);
    assert_int_equal(c.quiet, 0);
    assert_int_equal(c.nitems, 2);
    assert_string_equal(c.items[1], "b=2"); /* split at the first '=' only */
    assert_int_equal(c.color, 1);
    assert_int_equal(c.size, 2);
    assert_int_equal(run(&s, &c, NULL, out, sizeof(out), err, sizeof(err), ARGS("--size=s")), 0);
    assert_int_equal(c.size, 0);
    for (size_t i = 0; i < NFLAGS; i++)
        assert_int_equal(seen[i], 1);

    /* seen[] marks only what was given */
    memset(seen, 0, sizeof(seen));
    assert_int_equal(run(&s, &c, seen, out, sizeof(out), err, sizeof(err), ARGS("--frac", "1")), 0);
    for (size_t i = 0; i < NFLAGS; i++)
        assert_int_equal(seen[i], !strcmp(flags[i].name, "--frac F"));
    assert_ptr_equal(bx_flags_find(&s, "--frac"), &flags[7]);
    assert_null(bx_flags_find(&s, "--frac F"));
    assert_null(bx_flags_find(&s, "--fra"));
}

static void test_errors(void **st)
{
    (void)st;
    bx_flags_spec s = spec();
    expect_error(&s, "t: unknown option '--nope' (see --help)\n", ARGS("--nope"));
    expect_error(&s, "t: unknown option 'pos' (see --help)\n", ARGS("pos"));
    expect_error(&s, "t: unknown option '--fra=1' (see --help)\n", ARGS("--fra=1"));
    expect_error(&s, "t: --n needs a value (N)\n", ARGS("--n"));
    expect_error(&s, "t: --name needs a value\n", ARGS("--name"));
    expect_error(&s, "t: --on takes no value\n", ARGS("--on=1"));
    expect_error(&s, "t: --n: '-1' is not a valid number\n", ARGS("--n", "-1"));
    expect_error(&s, "t: --n: '2147483648' is not a valid number\n", ARGS("--n=2147483648"));
    expect_error(&s, "t: --n: '' is not a valid number\n", ARGS("--n="));
    expect_error(&s, "t: --n: '3x' is not a valid number\n", ARGS("--n", "3x"));
    expect_error(&s, "t: --big: '9223372036854775808' is not a valid number\n",
                 ARGS("--big", "9223372036854775808"));
    expect_error(&s, "t: --seed: ' -1' is not a valid number\n", ARGS("--seed", " -1"));
    expect_error(&s, "t: --seed: '18446744073709551616' is not a valid number\n",
                 ARGS("--seed", "18446744073709551616"));
    expect_error(&s, "t: --scale: '1e999' is not a valid number\n", ARGS("--scale", "1e999"));
    expect_error(&s, "t: --frac: '-0.5' is not a valid number\n", ARGS("--frac", "-0.5"));
    expect_error(&s, "t: --frac: 'inf' is not a valid number\n", ARGS("--frac", "inf"));
    expect_error(&s, "t: --word: '' is not a valid number\n", ARGS("--word="));
    expect_error(&s, "t: --color: 'blue' is not a valid number\n", ARGS("--color", "blue"));
    expect_error(&s, "t: --size: 'xl' is not a valid number\n", ARGS("--size", "xl"));
    expect_error(&s, "t: --size: 's|m' is not a valid number\n", ARGS("--size", "s|m"));
    expect_error(&s, "t: --size: '' is not a valid number\n", ARGS("--size="));
    expect_error(&s, "t: at most 4 items\n",
                 ARGS("--item", "a", "--item", "b", "--item", "c", "--item", "d", "--item", "e"));
    /* the first error stops the parse, before a later --help */
    expect_error(&s, "t: unknown option '--x' (see --help)\n", ARGS("--x", "--help"));

    /* the other bad-value form, a hint of its own and a bound on integers */
    s.not_valid = NULL;
    s.help_hint = "t sub --help";
    s.int_max = 1000;
    expect_error(&s, "t: bad value 'blue' for --color (expected red|green)\n",
                 ARGS("--color=blue"));
    expect_error(&s, "t: bad value '1001' for --n (expected N)\n", ARGS("--n", "1001"));
    expect_error(&s, "t: bad value '1001' for --count (expected C)\n", ARGS("--count", "1001"));
    expect_error(&s, "t: bad value '' for --word (expected W)\n", ARGS("--word", ""));
    expect_error(&s, "t: --seed needs a value (S)\n", ARGS("--n", "1", "--seed"));
}

static void test_bool_values(void **st)
{
    (void)st;
    bx_flags_spec s = spec();
    s.bool_values = 1;
    cfg c = {0};
    char out[64], err[256] = "";
    assert_int_equal(
        run(&s, &c, NULL, out, sizeof(out), err, sizeof(err), ARGS("--on=true", "--quiet=false")),
        0);
    assert_int_equal(c.on, 1);
    assert_int_equal(c.quiet, 1);
    assert_int_equal(
        run(&s, &c, NULL, out, sizeof(out), err, sizeof(err), ARGS("--on=0", "--quiet=1")), 0);
    assert_int_equal(c.on, 0);
    assert_int_equal(c.quiet, 0);
    expect_error(&s, "t: --on wants true or false\n", ARGS("--on=yes"));

    /* bx_flags_set: a setting from elsewhere (a YAML file), by the same rules */
    FILE *fe = fopen("/dev/null", "w");
    assert_int_equal(bx_flags_set(&s, &c, bx_flags_find(&s, "--on"), "true", fe), 0);
    assert_int_equal(c.on, 1);
    assert_int_equal(bx_flags_set(&s, &c, bx_flags_find(&s, "--n"), "12", fe), 0);
    assert_int_equal(c.n, 12);
    assert_int_equal(bx_flags_set(&s, &c, bx_flags_find(&s, "--n"), "x", fe), -1);
    assert_int_equal(bx_flags_set(&s, &c, bx_flags_find(&s, "--n"), NULL, fe), -1);
    fclose(fe);
}

/* The unknown callback: "--name=v", "--name v" (a value: not starting with
 * '-', or a number) and "--name" alone are handed over and skipped; known
 * flags around them still parse; without the callback, or for a word that
 * is not "--name", the error stands. */
static char unknown_log[512];
static int on_unknown(void *p, const char *arg, const char *val, FILE *err)
{
    (void)p;
    if (!strcmp(arg, "--stop")) {
        fprintf(err, "t: no\n");
        return -1;
    }
    size_t o = strlen(unknown_log);
    snprintf(unknown_log + o, sizeof(unknown_log) - o, "[%s|%s]", arg, val ? val : "-");
    return 0;
}

static void test_unknown(void **st)
{
    (void)st;
    bx_flags_spec s = spec();
    s.unknown = on_unknown;
    cfg c = {0};
    char out[64] = "", err[256] = "";
    unknown_log[0] = 0;
    assert_int_equal(run(&s, &c, NULL, out, sizeof(out), err, sizeof(err),
                         ARGS("--gpu-memory-utilization", "0.9", "--n", "3", "--trust-remote-code",
                              "--tp=2", "--swap-space", "-1", "--flag", "--on", "--last")),
                     0);
    assert_string_equal(unknown_log, "[--gpu-memory-utilization|0.9][--trust-remote-code|-]"
                                     "[--tp=2|-][--swap-space|-1][--flag|-][--last|-]");
    assert_int_equal(c.n, 3);
    assert_int_equal(c.on, 1);
    assert_string_equal(err, "");
    expect_error(&s, "t: unknown option 'pos' (see --help)\n", ARGS("pos"));
    expect_error(&s, "t: unknown option '-x' (see --help)\n", ARGS("-x"));
    expect_error(&s, "t: no\n", ARGS("--stop"));
}

static void test_help(void **st)
{
    (void)st;
    static const bx_flag few[] = {
        {"--a N", BX_FLAG_INT, O(n), "short"},
        {"--a-very-long-flag-name X", BX_FLAG_STR, O(name), "one two three four five six"},
    };
    bx_flags_spec s = {.flags = few,
                       .nflags = 2,
                       .prog = "t",
                       .usage = "usage\n",
                       .name_width = 8,
                       .help_tail = tail};
    char out[512] = "", err[64] = "";
    cfg c = {0};
    assert_int_equal(run(&s, &c, NULL, out, sizeof(out), err, sizeof(err), ARGS("--a", "1", "-h")),
                     1);
    assert_string_equal(out, "usage\n"
                             "  --a N    short\n"
                             "  --a-very-long-flag-name X one two three four five six\n"
                             "the end\n");
    assert_int_equal(c.n, 1);
    /* wrapped: help in 9-column lines, a long name on a line of its own */
    s.wrap = 9;
    assert_int_equal(run(&s, &c, NULL, out, sizeof(out), err, sizeof(err), ARGS("--help")), 1);
    assert_string_equal(out, "usage\n"
                             "  --a N    short\n"
                             "  --a-very-long-flag-name X\n"
                             "           one two\n"
                             "           three\n"
                             "           four five\n"
                             "           six\n"
                             "the end\n");
    assert_string_equal(err, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),       cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bool_values), cmocka_unit_test(test_help),
        cmocka_unit_test(test_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
