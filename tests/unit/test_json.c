/* bx_json: OpenAI-style error bodies, escaped, with vLLM's shape. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_error_body),
                                       cmocka_unit_test(test_types)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
