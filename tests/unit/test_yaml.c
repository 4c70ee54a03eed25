/* bx_yaml: typing of scalars, structure, multi-document streams, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_adapter_shape),
        cmocka_unit_test(test_multi_document),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
