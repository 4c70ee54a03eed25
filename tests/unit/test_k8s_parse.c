/* k8s_parse: Status errors, List bodies, the watch line splitter and watch
 * events, on the shapes the API server sends (docs/kubernetes.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/k8s_parse.h"

static void test_status_conflict(void **state)
{
    (void)state;
    json_t *b = json_loads(
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"Operation cannot be fulfilled on modeladapters.model.aibrix.ai \\\"a\\\": "
        "the object has been modified\",\"reason\":\"Conflict\",\"details\":{\"name\":\"a\","
        "\"kind\":\"modeladapters\"},\"code\":409}",
        0, NULL);
    assert_non_null(b);
    k8s_status st;
    assert_int_equal(k8s_status_from(b, 409, &st), 1);
    assert_int_equal(st.code, 409);
    assert_string_equal(st.reason, "Conflict");
    assert_non_null(strstr(st.message, "has been modified"));
    assert_string_equal(st.details_name, "a");
    assert_string_equal(st.details_kind, "modeladapters");
    json_decref(b);

    b = json_loads("{\"kind\":\"Status\",\"code\":429,\"reason\":\"TooManyRequests\","
                   "\"details\":{\"retryAfterSeconds\":3}}",
                   0, NULL);
    k8s_status_from(b, 429, &st);
    assert_int_equal(st.retry_after_s, 3);
    json_decref(b);
}

static void test_status_not_a_status(void **state)
{
    (void)state;
    k8s_status st;
    assert_int_equal(k8s_status_from(NULL, 404, &st), 0);
    assert_string_equal(st.reason, "NotFound");
    assert_string_equal(st.message, "");
    json_t *b = json_loads("{\"kind\":\"Pod\"}", 0, NULL);
    assert_int_equal(k8s_status_from(b, 410, &st), 0);
    assert_string_equal(st.reason, "Expired");
    json_decref(b);
    k8s_status_from(NULL, 502, &st);
    assert_string_equal(st.reason, "InternalError");
    k8s_status_from(NULL, 0, &st);
    assert_string_equal(st.reason, "Unknown");
}

static void test_list(void **state)
{
    (void)state;
    const char *body = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{"
                       "\"resourceVersion\":\"10245\",\"continue\":\"T\","
                       "\"remainingItemCount\":3},\"items\":[{\"metadata\":{\"name\":\"a\"}},"
                       "{\"metadata\":{\"name\":\"b\"}}]}";
    k8s_list l;
    char err[128];
    assert_int_equal(k8s_list_parse(body, strlen(body), 1 << 20, &l, err, sizeof(err)), 0);
    assert_string_equal(l.rv, "10245");
    assert_string_equal(l.cont, "T");
    assert_int_equal(json_array_size(l.items), 2);
    k8s_list_free(&l);
    /* The last page: continue is "" (or absent); items null is an empty list. */
    body = "{\"metadata\":{\"resourceVersion\":\"7\",\"continue\":\"\"},\"items\":null}";
    assert_int_equal(k8s_list_parse(body, strlen(body), 1 << 20, &l, err, sizeof(err)), 0);
    assert_null(l.cont);
    assert_int_equal(json_array_size(l.items), 0);
    k8s_list_free(&l);

    static const char *const bad[] = {"[]", "{\"items\":{}}", "{\"items\":[1]}", "{",
                                      "{\"items\":[],\"metadata\":{\"resourceVersion\":"
                                      "\"0123456789012345678901234567890123456789012345678901234567"
                                      "890123456789\"}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(k8s_list_parse(bad[i], strlen(bad[i]), 1 << 20, &l, err, sizeof(err)), -1);
    assert_int_equal(k8s_list_parse("{}", 2, 1, &l, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "larger"));
}

struct lines {
    char got[8][64];
    int n;
};

static int collect(void *ud, const char *line, size_t len)
{
    struct lines *l = ud;
    if (l->n < 8) snprintf(l->got[l->n++], 64, "%.*s", (int)len, line);
    return 0;
}

static void test_lines(void **state)
{
    (void)state;
    k8s_lines l;
    k8s_lines_init(&l, 16);
    struct lines got = {0};
    /* Split across chunks, \r\n, empty lines, a whole line in one chunk. */
    assert_int_equal(k8s_lines_feed(&l, "ab", 2, collect, &got), 0);
    assert_int_equal(got.n, 0);
    assert_int_equal(k8s_lines_feed(&l, "c\r\n\n{x}\nde", 10, collect, &got), 0);
    assert_int_equal(k8s_lines_feed(&l, "f\n", 2, collect, &got), 0);
    assert_int_equal(got.n, 3);
    assert_string_equal(got.got[0], "abc");
    assert_string_equal(got.got[1], "{x}");
    assert_string_equal(got.got[2], "def");
    /* A line over the bound fails the feed, even when it comes in pieces. */
    assert_int_equal(k8s_lines_feed(&l, "0123456789", 10, collect, &got), 0);
    assert_int_equal(k8s_lines_feed(&l, "0123456789", 10, collect, &got), -1);
    k8s_lines_free(&l);
}

static void test_watch_events(void **state)
{
    (void)state;
    k8s_watch_event ev;
    char err[128];
    const char *add = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":"
                      "\"p\",\"namespace\":\"ns\",\"resourceVersion\":\"12\"}}}";
    assert_int_equal(k8s_watch_parse(add, strlen(add), &ev, err, sizeof(err)), 0);
    assert_int_equal(ev.type, K8S_EV_ADDED);
    assert_string_equal(ev.rv, "12");
    assert_string_equal(k8s_meta(ev.object, "name"), "p");
    k8s_watch_event_free(&ev);

    const char *bm = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{"
                     "\"resourceVersion\":\"99\"}}}";
    assert_int_equal(k8s_watch_parse(bm, strlen(bm), &ev, err, sizeof(err)), 0);
    assert_int_equal(ev.type, K8S_EV_BOOKMARK);
    assert_string_equal(ev.rv, "99");
    k8s_watch_event_free(&ev);

    const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                       "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource "
                       "version: 5 (40)\",\"reason\":\"Expired\",\"code\":410}}";
    assert_int_equal(k8s_watch_parse(gone, strlen(gone), &ev, err, sizeof(err)), 0);
    assert_int_equal(ev.type, K8S_EV_ERROR);
    assert_int_equal(ev.status.code, 410);
    assert_string_equal(ev.status.reason, "Expired");
    assert_non_null(strstr(ev.status.message, "too old"));
    k8s_watch_event_free(&ev);

    static const char *const bad[] = {
        "x",
        "{}",
        "{\"type\":\"ADDED\"}",
        "{\"type\":\"ADDED\",\"object\":[]}",
        "{\"type\":\"RENAMED\",\"object\":{\"metadata\":{\"name\":\"p\"}}}",
        "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{}}}",
        "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}",
        "{\"type\":\"DELETED\",\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"p\"}}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (k8s_watch_parse(bad[i], strlen(bad[i]), &ev, err, sizeof(err)) != -1)
            fail_msg("case %zu parsed", i);
        assert_null(ev.object);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_conflict),
        cmocka_unit_test(test_status_not_a_status),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_watch_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
