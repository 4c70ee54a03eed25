/* The orchestrator table (ctl_orch.c): every dispatch function reaches the
 * implementation's entry with its arguments, close(NULL) is harmless, and
 * the shared callback side (changes, inflight, events) behaves the same
 * whatever the implementation: events named "pod <name>: ..." under
 * ("Deployment", <name>), inflight 0 and nothing called when no callback is
 * set. The implementation here is a recorder of calls: the real one, local
 * processes, has its own test (test_ctl_orch_local.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_queue.h"
#include "ctl/ctl_orch.h"

typedef struct rec_orch {
    ctl_orch base;
    char calls[256];
    int replicas;
    const ctl_obj *obj;
    int stop_pods;
    void (*done)(void *ud);
} rec_orch;

static rec_orch *rec_of(ctl_orch *o)
{
    return bx_container_of(o, rec_orch, base);
}

static void rec_call(ctl_orch *o, const char *name)
{
    rec_orch *r = rec_of(o);
    size_t n = strlen(r->calls);
    snprintf(r->calls + n, sizeof(r->calls) - n, "%s%s", n ? " " : "", name);
}

static int rec_apply(ctl_orch *o, const ctl_obj *dep, int replicas, char *err, size_t errlen)
{
    rec_call(o, "apply");
    rec_of(o)->obj = dep;
    rec_of(o)->replicas = replicas;
    snprintf(err, errlen, "applied");
    return 0;
}

static int rec_adopt(ctl_orch *o, const ctl_obj *dep, int replicas, char *err, size_t errlen)
{
    rec_call(o, "adopt");
    rec_of(o)->obj = dep;
    rec_of(o)->replicas = replicas;
    snprintf(err, errlen, "adopt failed");
    return -1;
}

static int rec_remove(ctl_orch *o, const char *dep, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    rec_call(o, "remove");
    rec_call(o, dep);
    return 0;
}

static size_t rec_pods(ctl_orch *o, const char *dep, ctl_podview *out, size_t max)
{
    rec_call(o, "pods");
    rec_call(o, dep ? dep : "(all)");
    if (max > 0) out[0] = (ctl_podview){.name = "d-0", .host = "10.0.0.7", .port = 8000};
    return 3;
}

static void rec_stats(const ctl_orch *o, ctl_orch_stats *out)
{
    (void)o;
    memset(out, 0, sizeof(*out));
    out->spawns = 7;
}

static void rec_close(ctl_orch *o, int stop_pods, void (*done)(void *ud), void *ud)
{
    rec_call(o, "close");
    rec_of(o)->stop_pods = stop_pods;
    if (done) done(ud);
}

static const ctl_orch_ops rec_ops = {.name = "recorder",
                                     .apply = rec_apply,
                                     .adopt = rec_adopt,
                                     .remove = rec_remove,
                                     .pods = rec_pods,
                                     .get_stats = rec_stats,
                                     .close = rec_close};

typedef struct seen {
    int changes, closed;
    char kind[32], name[64], reason[32], message[1100];
    ctl_event_type type;
} seen;

static void on_change(void *ud, const ctl_podview *pod)
{
    seen *s = ud;
    assert_string_equal(pod->name, "d-1");
    s->changes++;
}

static int inflight(void *ud, const ctl_podview *pod)
{
    (void)ud;
    return pod->port;
}

static void on_event(void *ud, const char *kind, const char *name, ctl_event_type type,
                     const char *reason, const char *message)
{
    seen *s = ud;
    snprintf(s->kind, sizeof(s->kind), "%s", kind);
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->reason, sizeof(s->reason), "%s", reason);
    snprintf(s->message, sizeof(s->message), "%s", message);
    s->type = type;
}

static void on_closed(void *ud)
{
    ((seen *)ud)->closed++;
}

static void test_dispatch(void **st)
{
    (void)st;
    rec_orch r;
    seen s = {0};
    ctl_orch_cbs cbs = {.on_change = on_change, .inflight = inflight, .on_event = on_event};
    ctl_orch_base_init(&r.base, &rec_ops, &cbs, &s);
    memset(r.calls, 0, sizeof(r.calls));
    ctl_orch *o = &r.base;
    assert_string_equal(ctl_orch_name(o), "recorder");

    ctl_obj obj;
    memset(&obj, 0, sizeof(obj));
    char err[64] = "";
    assert_int_equal(ctl_orch_apply(o, &obj, 4, err, sizeof(err)), 0);
    assert_ptr_equal(r.obj, &obj);
    assert_int_equal(r.replicas, 4);
    assert_string_equal(err, "applied");
    assert_int_equal(ctl_orch_adopt(o, &obj, 2, err, sizeof(err)), -1);
    assert_int_equal(r.replicas, 2);
    assert_string_equal(err, "adopt failed");
    assert_int_equal(ctl_orch_remove(o, "gone", err, sizeof(err)), 0);

    ctl_podview v[1];
    assert_int_equal(ctl_orch_pods(o, NULL, v, 1), 3);
    assert_string_equal(v[0].host, "10.0.0.7");
    assert_int_equal(ctl_orch_pods(o, "d", NULL, 0), 3);
    ctl_orch_stats stats;
    ctl_orch_get_stats(o, &stats);
    assert_int_equal(stats.spawns, 7);

    ctl_orch_close(NULL, 1, on_closed, &s); /* no-op */
    assert_int_equal(s.closed, 0);
    ctl_orch_close(o, 0, on_closed, &s);
    assert_int_equal(s.closed, 1);
    assert_int_equal(r.stop_pods, 0);
    assert_string_equal(r.calls, "apply adopt remove gone pods (all) pods d close");
}

static void test_callbacks(void **st)
{
    (void)st;
    rec_orch r;
    seen s = {0};
    ctl_orch_cbs cbs = {.on_change = on_change, .inflight = inflight, .on_event = on_event};
    ctl_orch_base_init(&r.base, &rec_ops, &cbs, &s);
    ctl_podview v = {.name = "d-1", .port = 2};
    ctl_orch_changed(&r.base, &v);
    assert_int_equal(s.changes, 1);
    assert_int_equal(ctl_orch_inflight(&r.base, &v), 2);

    ctl_orch_event(&r.base, "d", "d-1", CTL_EVENT_WARNING, "Exited", "pid %d exited with code %d",
                   42, 3);
    assert_string_equal(s.kind, "Deployment");
    assert_string_equal(s.name, "d");
    assert_string_equal(s.reason, "Exited");
    assert_int_equal(s.type, CTL_EVENT_WARNING);
    assert_string_equal(s.message, "pod d-1: pid 42 exited with code 3");

    /* a long message is cut, never overflows */
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ctl_orch_event(&r.base, "d", "d-1", CTL_EVENT_NORMAL, "Started", "%s", big);
    assert_int_equal(strlen(s.message), strlen("pod d-1: ") + 767);

    /* no callbacks: nothing called, inflight 0 */
    ctl_orch_base_init(&r.base, &rec_ops, NULL, NULL);
    ctl_orch_changed(&r.base, &v);
    ctl_orch_event(&r.base, "d", "d-1", CTL_EVENT_NORMAL, "Ready", "ok");
    assert_int_equal(ctl_orch_inflight(&r.base, &v), 0);
    assert_int_equal(s.changes, 1);
    assert_string_equal(s.reason, "Started");
}

static void test_phase_names(void **st)
{
    (void)st;
    assert_string_equal(ctl_pod_phase_name(CTL_POD_STARTING), "Starting");
    assert_string_equal(ctl_pod_phase_name(CTL_POD_READY), "Ready");
    assert_string_equal(ctl_pod_phase_name(CTL_POD_DRAINING), "Draining");
    assert_string_equal(ctl_pod_phase_name(CTL_POD_STOPPING), "Stopping");
    assert_string_equal(ctl_pod_phase_name(CTL_POD_BACKOFF), "Backoff");
    assert_string_equal(ctl_pod_phase_name(CTL_POD_GONE), "Gone");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_callbacks),
        cmocka_unit_test(test_phase_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
