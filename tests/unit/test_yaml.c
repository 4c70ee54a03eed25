/* bx_yaml: typing of scalars, structure, multi-document streams, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_yaml.h"

static json_t *load(const char *y)
{
    json_t *j = NULL;
    char err[256];
    if (bx_yaml_load(y, strlen(y), NULL, &j, err, sizeof(err)) != 0) return NULL;
    return j;
}

static void test_model_adapter_shape(void **st)
{
    (void)st;
    const char *y = "apiVersion: model.aibrix.ai/v1alpha1\n"
                    "kind: ModelAdapter\n"
                    "metadata:\n"
                    "  name: text2sql\n"
                    "  labels: {model.aibrix.ai/name: \"text2sql\", port: \"8000\"}\n"
                    "spec:\n"
                    "  replicas: 2\n"
                    "  ratio: 0.5\n"
                    "  enabled: true\n"
                    "  nothing: ~\n"
                    "  hex: 0x1f\n"
                    "  version: '1.10'\n"
                    "  tags: [a, 2, null]\n"
                    "  text: |\n"
                    "    line one\n"
                    "    line two\n";
    json_t *j = load(y);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "ModelAdapter");
    json_t *spec = json_object_get(j, "spec");
    assert_int_equal(json_integer_value(json_object_get(spec, "replicas")), 2);
    assert_true(json_real_value(json_object_get(spec, "ratio")) == 0.5);
    assert_true(json_is_true(json_object_get(spec, "enabled")));
    assert_true(json_is_null(json_object_get(spec, "nothing")));
    assert_int_equal(json_integer_value(json_object_get(spec, "hex")), 31);
    assert_string_equal(json_string_value(json_object_get(spec, "version")), "1.10");
    json_t *tags = json_object_get(spec, "tags");
    assert_int_equal(json_array_size(tags), 3);
    assert_int_equal(json_integer_value(json_array_get(tags, 1)), 2);
    assert_string_equal(json_string_value(json_object_get(spec, "text")), "line one\nline two\n");
    json_t *labels = json_object_get(json_object_get(j, "metadata"), "labels");
    assert_string_equal(json_string_value(json_object_get(labels, "port")), "8000");
    json_decref(j);
}

static void test_multi_document(void **st)
{
    (void)st;
    const char *y = "a: 1\n---\nb: 2\n---\n- x\n";
    json_t *all;
    char err[256];
    assert_int_equal(bx_yaml_load_all(y, strlen(y), NULL, &all, err, sizeof(err)), 0);
    assert_int_equal(json_array_size(all), 3);
    assert_string_equal(json_string_value(json_array_get(json_array_get(all, 2), 0)), "x");
    json_decref(all);
    json_t *first = load(y);
    assert_int_equal(json_integer_value(json_object_get(first, "a")), 1);
    json_decref(first);
    json_t *empty = load("");
    assert_true(json_is_null(empty));
    json_decref(empty);
}

static void expect_error(const char *y, const char *needle)
{
    json_t *j = NULL;
    char err[256] = "";
    assert_int_equal(bx_yaml_load(y, strlen(y), NULL, &j, err, sizeof(err)), -1);
    assert_null(j);
    assert_non_null(strstr(err, needle));
}

static void test_refusals(void **st)
{
    (void)st;
    expect_error("a: &x 1\nb: *x\n", "anchors");
    expect_error("a: 1\na: 2\n", "duplicate");
    expect_error("a: [1, 2\n", "line");
    expect_error("? [1]\n: 2\n", "scalars");
    bx_yaml_limits lim;
    bx_yaml_limits_default(&lim);
    lim.max_depth = 3;
    json_t *j;
    char err[128];
    assert_int_equal(bx_yaml_load("[[[[1]]]]", 9, &lim, &j, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "deep"));
    lim.max_depth = 64;
    lim.max_bytes = 4;
    assert_int_equal(bx_yaml_load("a: 12", 5, &lim, &j, err, sizeof(err)), -1);
}

/* value of key "v" in "v: <plain>", dumped as JSON */
static void expect_scalar(const char *plain, const char *json)
{
    char y[128];
    snprintf(y, sizeof(y), "v: %s\n", plain);
    json_t *j = load(y);
    assert_non_null(j);
    char *d = json_dumps(json_object_get(j, "v"), JSON_ENCODE_ANY);
    assert_non_null(d);
    if (strcmp(d, json)) fail_msg("%s -> %s, want %s", plain, d, json);
    free(d);
    json_decref(j);
}

static void test_core_schema(void **st)
{
    (void)st;
    expect_scalar("12", "12");
    expect_scalar("+12", "12");
    expect_scalar("-7", "-7");
    expect_scalar("007", "7");
    expect_scalar("0o17", "15");
    expect_scalar("0xFF", "255");
    expect_scalar("0o8", "\"0o8\"");
    expect_scalar("0x-5", "\"0x-5\"");
    expect_scalar("0x 5", "\"0x 5\"");
    expect_scalar("0b101", "\"0b101\"");
    expect_scalar("1.5", "1.5");
    expect_scalar(".5", "0.5");
    expect_scalar("-.5e-3", "-0.00050000000000000001");
    expect_scalar("1e3", "1000.0");
    expect_scalar("1.", "1.0");
    expect_scalar("1e", "\"1e\"");
    expect_scalar("1.2.3", "\"1.2.3\"");
    expect_scalar("1_000", "\"1_000\"");
    expect_scalar("0x1p3", "\"0x1p3\"");
    expect_scalar("99999999999999999999", "1e20");
    expect_scalar("inf", "\"inf\"");
    expect_scalar("nan", "\"nan\"");
    expect_scalar(".inf", "\".inf\"");
    expect_scalar("-.Inf", "\"-.Inf\"");
    expect_scalar("True", "true");
    expect_scalar("FALSE", "false");
    expect_scalar("yes", "\"yes\""); /* YAML 1.1 only */
    expect_scalar("on", "\"on\"");
    expect_scalar("~", "null");
    expect_scalar("", "null");
    expect_scalar("Null", "null");
    expect_scalar("'true'", "\"true\"");
    expect_scalar("\"12\"", "\"12\"");
    expect_scalar("!!str 12", "\"12\"");
    expect_scalar("\"a\\tb\"", "\"a\\tb\"");
    /* non-string keys become their JSON text */
    json_t *j = load("1: a\ntrue: b\n~: c\n");
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "1")), "a");
    assert_string_equal(json_string_value(json_object_get(j, "true")), "b");
    assert_string_equal(json_string_value(json_object_get(j, "null")), "c");
    json_decref(j);
}

static void test_errors_and_limits(void **st)
{
    (void)st;
    json_t *j = NULL;
    char err[256] = "";
    const char *y = "a: 1\nb: [1, 2\nc: 3\n";
    assert_int_equal(bx_yaml_load(y, strlen(y), NULL, &j, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "line 3, column"));
    y = "a:\n  b: 1\n c: 2\n";
    assert_int_equal(bx_yaml_load(y, strlen(y), NULL, &j, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "line 3"));
    /* billion laughs is refused at the first anchor */
    y = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n";
    assert_int_equal(bx_yaml_load(y, strlen(y), NULL, &j, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "line 1, column 4: anchors are not supported"));
    /* an error in a later document fails load_all, not load */
    y = "a: 1\n---\nb: [\n";
    assert_int_equal(bx_yaml_load_all(y, strlen(y), NULL, &j, err, sizeof(err)), -1);
    assert_int_equal(bx_yaml_load(y, strlen(y), NULL, &j, err, sizeof(err)), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
    json_decref(j);
    bx_yaml_limits lim;
    bx_yaml_limits_default(&lim);
    lim.max_nodes = 4;
    y = "[1, 2, 3]";
    assert_int_equal(bx_yaml_load(y, strlen(y), &lim, &j, err, sizeof(err)), 0);
    json_decref(j);
    y = "[1, 2, 3, 4]";
    assert_int_equal(bx_yaml_load(y, strlen(y), &lim, &j, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too many nodes"));
    /* input is bounded by len, not by a NUL */
    assert_int_equal(bx_yaml_load("a: 1\nb: [", 4, NULL, &j, err, sizeof(err)), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
    json_decref(j);
    /* invalid UTF-8 is an error, not a crash */
    assert_int_equal(bx_yaml_load("a: \xff\xfe", 5, NULL, &j, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_adapter_shape),
        cmocka_unit_test(test_multi_document),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_core_schema),
        cmocka_unit_test(test_errors_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
