/* bx_json: OpenAI-style error bodies (vLLM's shapes), request body parsing
 * with limits, typed getters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/bx_json.h"

static void test_error_body(void **st)
{
    (void)st;
    char *s = bx_json_error_body(404, NULL, "The model `x\"y` does not exist.");
    assert_non_null(s);
    json_t *o = json_loads(s, 0, NULL);
    assert_non_null(o);
    json_t *e = json_object_get(o, "error");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "The model `x\"y` does not exist.");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "NotFoundError");
    assert_true(json_is_null(json_object_get(e, "param")));
    assert_int_equal(json_integer_value(json_object_get(e, "code")), 404);
    json_decref(o);
    free(s);
    s = bx_json_error_body(400, "InvalidUserInput", "x");
    assert_non_null(strstr(s, "\"type\":\"InvalidUserInput\""));
    free(s);
}

static void test_types(void **st)
{
    (void)st;
    assert_string_equal(bx_json_error_type(429), "RateLimitError");
    assert_string_equal(bx_json_error_type(503), "ServiceUnavailableError");
    assert_string_equal(bx_json_error_type(502), "InternalServerError");
    assert_string_equal(bx_json_error_type(400), "BadRequestError");
}

static void test_flat_and_odd_messages(void **st)
{
    (void)st;
    char *s = bx_json_error_body_flat(400, NULL, "bad");
    assert_string_equal(s, "{\"object\":\"error\",\"message\":\"bad\",\"type\":\"BadRequestError\","
                           "\"param\":null,\"code\":400}");
    free(s);
    s = bx_json_error_body(503, NULL, NULL);
    assert_string_equal(s, "{\"error\":{\"message\":\"\",\"type\":\"ServiceUnavailableError\","
                           "\"param\":null,\"code\":503}}");
    free(s);
    /* invalid UTF-8 in a message still yields a valid body */
    s = bx_json_error_body(404, NULL, "model \xff\xfe x");
    assert_non_null(s);
    assert_non_null(strstr(s, "\"message\":\"model ?? x\""));
    free(s);
    s = bx_json_error_body(500, NULL, "line\nbreak \"q\" \\");
    assert_non_null(strstr(s, "\"message\":\"line\\nbreak \\\"q\\\" \\\\\""));
    assert_non_null(strstr(s, "\"type\":\"InternalServerError\""));
    free(s);
}

static void test_parse(void **st)
{
    (void)st;
    char err[160];
    const char *b = "{\"model\":\"m\",\"n\":2}";
    json_t *j = bx_json_parse_object(b, strlen(b), 0, err, sizeof(err));
    assert_non_null(j);
    json_decref(j);
    /* len bounds the input: no NUL needed */
    j = bx_json_parse("[1]xyz", 3, 0, err, sizeof(err));
    assert_non_null(j);
    json_decref(j);
    b = "{\"a\":1,\n \"b\": tru}";
    assert_null(bx_json_parse(b, strlen(b), 0, err, sizeof(err)));
    assert_non_null(strstr(err, "Invalid JSON: "));
    assert_non_null(strstr(err, "(line 2, column"));
    b = "{\"a\":1,\"a\":2}";
    assert_null(bx_json_parse(b, strlen(b), 0, err, sizeof(err)));
    assert_non_null(strstr(err, "duplicate"));
    assert_null(bx_json_parse(b, strlen(b), 5, err, sizeof(err)));
    assert_string_equal(err, "request body larger than 5 bytes");
    assert_null(bx_json_parse("", 0, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "empty"));
    assert_null(bx_json_parse_object("[1]", 3, 0, err, sizeof(err)));
    assert_string_equal(err, "request body must be a JSON object");
    j = bx_json_parse("\"s\"", 3, 0, err, sizeof(err));
    assert_true(json_is_string(j));
    json_decref(j);
}

static void test_getters(void **st)
{
    (void)st;
    char err[128];
    const char *b = "{\"model\":\"m\",\"n\":3,\"t\":0.5,\"s\":true,\"nul\":null,\"f\":4.0,"
                    "\"big\":1e300,\"half\":2.5,\"num\":\"7\"}";
    json_t *o = bx_json_parse_object(b, strlen(b), 0, err, sizeof(err));
    assert_non_null(o);
    const char *str;
    int64_t i;
    double d;
    int bo;
    assert_int_equal(bx_json_get_str(o, "model", "dflt", &str, err, sizeof(err)), 1);
    assert_string_equal(str, "m");
    assert_int_equal(bx_json_get_str(o, "absent", "dflt", &str, err, sizeof(err)), 0);
    assert_string_equal(str, "dflt");
    assert_int_equal(bx_json_get_str(o, "nul", "dflt", &str, err, sizeof(err)), 0);
    assert_string_equal(str, "dflt");
    assert_int_equal(bx_json_get_str(o, "n", "dflt", &str, err, sizeof(err)), -1);
    assert_string_equal(err, "'n' must be a string");
    assert_string_equal(str, "dflt");
    assert_int_equal(bx_json_get_int(o, "n", -1, &i, err, sizeof(err)), 1);
    assert_int_equal(i, 3);
    assert_int_equal(bx_json_get_int(o, "f", -1, &i, err, sizeof(err)), 1);
    assert_int_equal(i, 4);
    assert_int_equal(bx_json_get_int(o, "half", -1, &i, err, sizeof(err)), -1);
    assert_string_equal(err, "'half' must be an integer");
    assert_int_equal(i, -1);
    assert_int_equal(bx_json_get_int(o, "big", -1, &i, err, sizeof(err)), -1);
    assert_int_equal(bx_json_get_int(o, "num", -1, &i, err, sizeof(err)), -1);
    assert_int_equal(bx_json_get_int(o, "nul", 16, &i, err, sizeof(err)), 0);
    assert_int_equal(i, 16);
    assert_int_equal(bx_json_get_double(o, "t", 1, &d, err, sizeof(err)), 1);
    assert_true(d == 0.5);
    assert_int_equal(bx_json_get_double(o, "n", 1, &d, err, sizeof(err)), 1);
    assert_true(d == 3);
    assert_int_equal(bx_json_get_double(o, "s", 1, &d, err, sizeof(err)), -1);
    assert_string_equal(err, "'s' must be a number");
    assert_int_equal(bx_json_get_double(o, "absent", 0.25, &d, err, sizeof(err)), 0);
    assert_true(d == 0.25);
    assert_int_equal(bx_json_get_bool(o, "s", 0, &bo, err, sizeof(err)), 1);
    assert_int_equal(bo, 1);
    assert_int_equal(bx_json_get_bool(o, "n", 0, &bo, err, sizeof(err)), -1);
    assert_string_equal(err, "'n' must be a boolean");
    assert_int_equal(bx_json_get_bool(o, "absent", 1, &bo, err, sizeof(err)), 0);
    assert_int_equal(bo, 1);
    json_t *arr = json_array();
    assert_int_equal(bx_json_get_int(arr, "n", 9, &i, err, sizeof(err)), -1);
    assert_int_equal(i, 9);
    assert_int_equal(bx_json_get_bool(NULL, "n", 0, &bo, err, sizeof(err)), -1);
    json_decref(arr);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_body), cmocka_unit_test(test_types),
        cmocka_unit_test(test_flat_and_odd_messages), cmocka_unit_test(test_parse),
        cmocka_unit_test(test_getters)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
