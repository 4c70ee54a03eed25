/* Tests for the Server-Sent-Events parser (bx_sse). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/bx_sse.h"

#include <stdio.h>
#include <string.h>

#define MAXEV 16

typedef struct evrec {
    char data[MAXEV][256];
    size_t len[MAXEV];
    char event[MAXEV][32];
    char id[MAXEV][32];
    int done[MAXEV];
    int n;
    int stop_at; /* stop when n reaches this (0 = never) */
} evrec;

static int on_event(const bx_sse_event *ev, void *ud)
{
    evrec *r = ud;
    assert_true(r->n < MAXEV);
    assert_true(ev->data_len < sizeof(r->data[0]));
    assert_int_equal(ev->data[ev->data_len], '\0');
    memcpy(r->data[r->n], ev->data, ev->data_len + 1);
    r->len[r->n] = ev->data_len;
    snprintf(r->event[r->n], sizeof(r->event[0]), "%s", ev->event);
    snprintf(r->id[r->n], sizeof(r->id[0]), "%s", ev->id);
    r->done[r->n] = bx_sse_is_done(ev);
    r->n++;
    return r->stop_at && r->n >= r->stop_at;
}

static void test_vllm_stream(void **state)
{
    const char *s = "data: {\"id\":\"c1\",\"choices\":[{\"text\":\"Hi\"}]}\n\n"
                    "data: {\"id\":\"c1\",\"choices\":[{\"text\":\"!\"}]}\n\n"
                    "data: [DONE]\n\n";
    evrec r = {0};
    bx_sse_parser p;
    bx_sse_parser_init(&p, 0, on_event, &r);
    assert_int_equal(bx_sse_parser_feed(&p, s, strlen(s)), 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.data[0], "{\"id\":\"c1\",\"choices\":[{\"text\":\"Hi\"}]}");
    assert_string_equal(r.data[1], "{\"id\":\"c1\",\"choices\":[{\"text\":\"!\"}]}");
    assert_string_equal(r.event[0], "");
    assert_int_equal(r.done[0], 0);
    assert_int_equal(r.done[2], 1);
    bx_sse_parser_free(&p);
}

/* A stream with every feature; parsed whole, split at every offset, in
 * three pieces, and byte by byte, it must give the same events. */
static const char MIXED[] = "\xEF\xBB\xBF"
                            ": a comment\r\n"
                            "event: delta\r\n"
                            "id: 7\r\n"
                            "data: line one\r\n"
                            "data:line two\r\n"
                            "\r\n"
                            "retry: 1000\n"
                            "data\n"
                            "\n"
                            "event: nodata\n"
                            "\n"
                            "data: cr only\r"
                            "unknown: x\r"
                            "\r"
                            ":comment before\n"
                            "data: last\n"
                            "\n"
                            "data: incomplete";

static void check_mixed(const evrec *r)
{
    assert_int_equal(r->n, 4);
    assert_string_equal(r->data[0], "line one\nline two");
    assert_string_equal(r->event[0], "delta");
    assert_string_equal(r->id[0], "7");
    assert_string_equal(r->data[1], "");
    assert_int_equal(r->len[1], 0);
    assert_string_equal(r->event[1], "");
    assert_string_equal(r->id[1], "7"); /* the id persists */
    assert_string_equal(r->data[2], "cr only");
    assert_string_equal(r->event[2], ""); /* "nodata" event was dropped */
    assert_string_equal(r->data[3], "last");
}

static void test_split_everywhere(void **state)
{
    size_t len = sizeof(MIXED) - 1;
    bx_sse_parser p;
    evrec r = {0};
    bx_sse_parser_init(&p, 0, on_event, &r);
    assert_int_equal(bx_sse_parser_feed(&p, MIXED, len), 0);
    check_mixed(&r);
    bx_sse_parser_free(&p);

    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b += 7) {
            memset(&r, 0, sizeof(r));
            bx_sse_parser_init(&p, 0, on_event, &r);
            assert_int_equal(bx_sse_parser_feed(&p, MIXED, a), 0);
            assert_int_equal(bx_sse_parser_feed(&p, MIXED + a, b - a), 0);
            assert_int_equal(bx_sse_parser_feed(&p, MIXED + b, len - b), 0);
            check_mixed(&r);
            bx_sse_parser_free(&p);
        }
    }
    memset(&r, 0, sizeof(r));
    bx_sse_parser_init(&p, 0, on_event, &r);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(bx_sse_parser_feed(&p, MIXED + i, 1), 0);
    check_mixed(&r);
    bx_sse_parser_free(&p);
}

static void test_not_a_bom(void **state)
{
    /* Two bytes of a BOM, then something else: the bytes are data. */
    const char s[] = "\xEF\xBB"
                     "data: x\n\ndata: y\n\n";
    evrec r = {0};
    bx_sse_parser p;
    bx_sse_parser_init(&p, 0, on_event, &r);
    assert_int_equal(bx_sse_parser_feed(&p, s, 1), 0);
    assert_int_equal(bx_sse_parser_feed(&p, s + 1, sizeof(s) - 2), 0);
    /* the first line's field name is "\xEF\xBBdata": unknown, ignored */
    assert_int_equal(r.n, 1);
    assert_string_equal(r.data[0], "y");
    bx_sse_parser_free(&p);
}

static void test_max_event_size(void **state)
{
    evrec r = {0};
    bx_sse_parser p;
    bx_sse_parser_init(&p, 16, on_event, &r);
    assert_int_equal(bx_sse_parser_feed(&p, "data: 0123456789\n\n", 18), 0);
    assert_int_equal(r.n, 1);
    /* 17 bytes of data in one event */
    assert_int_equal(bx_sse_parser_feed(&p, "data: 0123456789\ndata: 012345\n\n", 31),
                     BX_SSE_ETOOBIG);
    assert_int_equal(bx_sse_parser_feed(&p, "data: a\n\n", 9), BX_SSE_ETOOBIG); /* dead */
    bx_sse_parser_reset(&p);
    assert_int_equal(bx_sse_parser_feed(&p, "data: a\n\n", 9), 0);
    assert_int_equal(r.n, 2);
    /* a partial line that grows past the limit without a newline */
    for (int i = 0; i < 3; i++) {
        int rc = bx_sse_parser_feed(&p, "data: 01234", 11);
        if (i < 1)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, BX_SSE_ETOOBIG);
    }
    bx_sse_parser_reset(&p);
    /* a comment line of any length is skipped without buffering */
    assert_int_equal(bx_sse_parser_feed(&p, ":", 1), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(bx_sse_parser_feed(&p, "xxxxxxxxxx", 10), 0);
    assert_int_equal(bx_sse_parser_feed(&p, "\ndata: ok\n\n", 11), 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.data[2], "ok");
    bx_sse_parser_free(&p);
}

static void test_stop(void **state)
{
    evrec r = {0};
    r.stop_at = 1;
    bx_sse_parser p;
    bx_sse_parser_init(&p, 0, on_event, &r);
    assert_int_equal(bx_sse_parser_feed(&p, "data: a\n\ndata: b\n\n", 18), BX_SSE_ESTOPPED);
    assert_int_equal(r.n, 1);
    bx_sse_parser_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vllm_stream), cmocka_unit_test(test_split_everywhere),
        cmocka_unit_test(test_not_a_bom),   cmocka_unit_test(test_max_event_size),
        cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
