/* bx_jscan: OK only for what jansson accepts (checked here against jansson
 * for every case), UNSURE for invalid JSON and for the valid corners it
 * leaves to jansson; member spans, types and flags. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_jscan.h"

static int jansson_ok(const char *s, size_t n)
{
    json_error_t je;
    json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    int ok = j && json_is_object(j);
    json_decref(j);
    return ok;
}

static void test_members(void **st)
{
    (void)st;
    const char *b = " {\"model\" : \"m-1\", \"prompt\":\"a\\nb \\u00e9 \xc3\xa9\",\"n\":-12,"
                    "\"t\":0.5e-3,\"s\":true,\"f\":false,\"z\":null,\"o\":{\"a\":[1,{}]},"
                    "\"e\":[],\"eo\":{ }} \r\n";
    bx_jscan_member m[16];
    size_t n;
    assert_int_equal(bx_jscan_object(b, strlen(b), m, 16, &n), BX_JSCAN_OK);
    assert_int_equal(n, 10);
    assert_int_equal(m[0].key_len, 5);
    assert_memory_equal(m[0].key, "model", 5);
    assert_int_equal(m[0].type, BX_JSCAN_STRING);
    assert_int_equal(m[0].val_len, 3);
    assert_memory_equal(m[0].val, "m-1", 3);
    assert_false(m[0].escaped);
    assert_true(m[1].escaped);
    assert_int_equal(m[2].type, BX_JSCAN_NUMBER);
    assert_true(m[2].integer);
    assert_int_equal(m[2].val_len, 3);
    assert_false(m[3].integer);
    assert_int_equal(m[4].type, BX_JSCAN_TRUE);
    assert_int_equal(m[5].type, BX_JSCAN_FALSE);
    assert_int_equal(m[6].type, BX_JSCAN_NULL);
    assert_int_equal(m[7].type, BX_JSCAN_OBJECT);
    assert_false(m[7].empty);
    assert_int_equal(m[7].val_len, strlen("{\"a\":[1,{}]}"));
    assert_int_equal(m[8].type, BX_JSCAN_ARRAY);
    assert_true(m[8].empty);
    assert_true(m[9].empty);
    assert_true(jansson_ok(b, strlen(b)));
    /* too many members for the caller's array */
    assert_int_equal(bx_jscan_object(b, strlen(b), m, 4, &n), BX_JSCAN_UNSURE);
}

static void test_unsure(void **st)
{
    (void)st;
    const char *cases[] = {
        "",                             /* empty */
        "[1]",                          /* not an object */
        "{\"a\":1",                     /* cut */
        "{\"a\":1}x",                   /* trailing bytes */
        "{\"a\":1,}",                   /* trailing comma */
        "{\"a\" 1}",                    /* no colon */
        "{a:1}",                        /* bare key */
        "{\"a\":01}",                   /* leading zero */
        "{\"a\":1.}",                   /* no fraction digits */
        "{\"a\":-}",                    /* lone minus */
        "{\"a\":1e}",                   /* no exponent digits */
        "{\"a\":tru}",                  /* short literal */
        "{\"a\":truex}",                /* long literal */
        "{\"a\":\"\x01\"}",             /* control character */
        "{\"a\":\"\\x\"}",              /* bad escape */
        "{\"a\":\"\\u12\"}",            /* short \u */
        "{\"a\":\"\\ud800\"}",          /* lone high surrogate */
        "{\"a\":\"\\udc00\"}",          /* lone low surrogate */
        "{\"a\":\"\xc0\xaf\"}",         /* overlong */
        "{\"a\":\"\xed\xa0\x80\"}",     /* surrogate in UTF-8 */
        "{\"a\":\"\xf4\x90\x80\x80\"}", /* over U+10FFFF */
        "{\"a\":\"\xe2\x82\"}",         /* cut sequence */
        "{\"a\":1,\"a\":2}",            /* duplicate key */
        "{\"o\":{\"k\":1,\"k\":2}}",    /* duplicate nested key */
        /* valid JSON left to jansson */
        "{\"\\u0061\":1}",             /* escaped key */
        "{\"a\":\"\\u0000\"}",         /* NUL: jansson refuses it by default */
        "{\"a\":1234567890123456789}", /* 19 digits */
        "{\"a\":1e100}",               /* 3-digit exponent */
        "\xef\xbb\xbf{}",              /* BOM */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bx_jscan_member m[8];
        size_t n = 99;
        assert_int_equal(bx_jscan_object(cases[i], strlen(cases[i]), m, 8, &n), BX_JSCAN_UNSURE);
        assert_int_equal(n, 0);
    }
    /* the first group is invalid for jansson too */
    for (size_t i = 0; i < 24; i++)
        assert_false(jansson_ok(cases[i], strlen(cases[i])));
    /* deep nesting */
    char deep[300];
    size_t k = 0;
    deep[k++] = '{';
    deep[k++] = '"';
    deep[k++] = 'a';
    deep[k++] = '"';
    deep[k++] = ':';
    for (int i = 0; i < 100; i++)
        deep[k++] = '[';
    for (int i = 0; i < 100; i++)
        deep[k++] = ']';
    deep[k++] = '}';
    bx_jscan_member m[2];
    size_t n;
    assert_int_equal(bx_jscan_object(deep, k, m, 2, &n), BX_JSCAN_UNSURE);
    /* a NUL byte inside is not whitespace */
    assert_int_equal(bx_jscan_object("{}\0", 3, m, 2, &n), BX_JSCAN_UNSURE);
}

static void test_valid_corners(void **st)
{
    (void)st;
    const char *ok[] = {"{}",
                        "\t{ \"a\" : [ ] }\n",
                        "{\"a\":\"\\ud83d\\ude00\"}",
                        "{\"a\":\"\xf0\x9f\x98\x80\"}",
                        "{\"a\":-0,\"b\":0.0,\"c\":1E+2,\"d\":123456789012345678}",
                        "{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2}}",
                        "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        bx_jscan_member m[8];
        size_t n;
        assert_int_equal(bx_jscan_object(ok[i], strlen(ok[i]), m, 8, &n), BX_JSCAN_OK);
        assert_true(jansson_ok(ok[i], strlen(ok[i])));
    }
}

static void test_head(void **st)
{
    (void)st;
    const char *b = " {\"prompt_tokens\":5,\"completion_tokens\":16},\"x\":[}";
    bx_jscan_member m[4];
    size_t n, used;
    assert_int_equal(bx_jscan_object_head(b, strlen(b), m, 4, &n, &used), BX_JSCAN_OK);
    assert_int_equal(n, 2);
    assert_int_equal(used, strlen(" {\"prompt_tokens\":5,\"completion_tokens\":16}"));
    assert_int_equal(bx_jscan_object(b, strlen(b), m, 4, &n), BX_JSCAN_UNSURE);
    assert_int_equal(bx_jscan_object_head("{\"a\":", 5, m, 4, &n, &used), BX_JSCAN_UNSURE);
}

/* Strings are scanned 8 bytes at a time: a byte that needs a look of its
 * own (control, quote, backslash escape, UTF-8 good or bad) at every offset
 * of strings of every length around that width. The verdict and the span
 * must equal jansson's and the string's. */
static void test_string_every_offset(void **st)
{
    (void)st;
    static const struct {
        const char *bytes;
        int ok;
    } specials[] = {
        {"\x01", 0}, {"\x1f", 0},         {"\\n", 1},  {"\\\"", 1}, {"\xc3\xa9", 1},
        {"\x80", 0}, {"\xed\xa0\x80", 0}, {"\x7f", 1}, {" ", 1},
    };
    for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++) {
        for (size_t len = 0; len < 40; len++) {
            for (size_t at = 0; at <= len; at++) {
                char body[128];
                size_t n = 0;
                memcpy(body + n, "{\"k\":\"", 6);
                n += 6;
                for (size_t i = 0; i < len; i++) {
                    if (i == at) {
                        size_t sl = strlen(specials[k].bytes);
                        memcpy(body + n, specials[k].bytes, sl);
                        n += sl;
                    }
                    body[n++] = (char)('a' + i % 26);
                }
                if (at == len) {
                    size_t sl = strlen(specials[k].bytes);
                    memcpy(body + n, specials[k].bytes, sl);
                    n += sl;
                }
                size_t vstart = 6, vlen = n - 6;
                memcpy(body + n, "\"}", 2);
                n += 2;
                bx_jscan_member m[2];
                size_t nm;
                bx_jscan_rc rc = bx_jscan_object(body, n, m, 2, &nm);
                assert_int_equal(rc == BX_JSCAN_OK, specials[k].ok);
                assert_int_equal(jansson_ok(body, n), specials[k].ok);
                if (rc == BX_JSCAN_OK) {
                    assert_int_equal(nm, 1);
                    assert_ptr_equal(m[0].val, body + vstart);
                    assert_int_equal(m[0].val_len, vlen);
                }
                /* unterminated: never OK, whatever the length */
                assert_int_equal(bx_jscan_object(body, n - 2, m, 2, &nm), BX_JSCAN_UNSURE);
            }
        }
    }
}

static void test_int(void **st)
{
    (void)st;
    const char *b = "{\"a\":-12,\"b\":0,\"c\":999999999999999999,\"d\":1.5,\"e\":\"7\",\"f\":-0}";
    bx_jscan_member m[8];
    size_t n;
    assert_int_equal(bx_jscan_object(b, strlen(b), m, 8, &n), BX_JSCAN_OK);
    assert_int_equal(n, 6);
    int64_t v = 42;
    assert_int_equal(bx_jscan_int(&m[0], &v), 0);
    assert_int_equal(v, -12);
    assert_int_equal(bx_jscan_int(&m[1], &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(bx_jscan_int(&m[2], &v), 0);
    assert_true(v == 999999999999999999LL);
    v = 42;
    assert_int_equal(bx_jscan_int(&m[3], &v), -1); /* a fraction */
    assert_int_equal(bx_jscan_int(&m[4], &v), -1); /* a string */
    assert_int_equal(v, 42);
    assert_int_equal(bx_jscan_int(&m[5], &v), 0);
    assert_int_equal(v, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_unsure),
        cmocka_unit_test(test_valid_corners),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_string_every_offset),
        cmocka_unit_test(test_int),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
