/* ctl_objstore over its "sqlite" implementation: the calls reach the
 * store, and the watch fires on what changes a manifest (create, a new
 * generation, delete) and on nothing else (an unchanged put, a status
 * write, an event); sync replays what is stored; watchers are called in
 * registration order, filtered by kind, and may unwatch from inside a
 * callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/ctl_objstore_sqlite.h"

#define DEP_YAML(name, replicas)                                                                   \
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " name "\n  labels: "               \
    "{model.aibrix.ai/name: " name "}\nspec:\n  replicas: " replicas "\n  template:\n    spec:\n"  \
    "      containers:\n        - command: [\"{brix}\", engine, --port, \"{port}\"]\n"

#define ADAPTER_YAML                                                                               \
    "apiVersion: model.aibrix.ai/v1alpha1\nkind: ModelAdapter\nmetadata: {name: sql}\n"            \
    "spec:\n  baseModel: llama\n  artifactURL: /tmp/sql\n"

typedef struct seen {
    ctl_watch_type type[16];
    ctl_kind kind[16];
    char name[16][CTL_NAME_MAX + 1];
    int64_t generation[16];
    int n;
    const char *tag; /* appended to order */
    char *order;     /* shared between watchers: who ran first */
    ctl_objstore *st;
    int unwatch_self; /* unwatch from inside the first callback */
    int read_back;    /* the object was readable from inside the callback */
} seen;

static void on_watch(void *ud, const ctl_watch_event *ev)
{
    seen *s = ud;
    assert_true(s->n < 16);
    s->type[s->n] = ev->type;
    s->kind[s->n] = ev->kind;
    snprintf(s->name[s->n], sizeof(s->name[0]), "%s", ev->name);
    s->generation[s->n] = ev->obj ? ev->obj->generation : -1;
    s->n++;
    if (s->order) strcat(s->order, s->tag);
    if (s->st && ev->type != CTL_WATCH_DELETE && ev->type != CTL_WATCH_STATUS) {
        ctl_record r;
        char err[256];
        if (ctl_objstore_get(s->st, ctl_kind_name(ev->kind), ev->name, &r, err, sizeof(err)) == 0) {
            s->read_back = r.generation == ev->obj->generation;
            ctl_record_clear(&r);
        }
    }
    if (s->unwatch_self) ctl_objstore_unwatch(s->st, on_watch, s);
}

static ctl_obj *parse(const char *y)
{
    ctl_obj **objs;
    size_t n;
    char err[512];
    if (ctl_obj_load_yaml(y, strlen(y), &objs, &n, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(n, 1);
    ctl_obj *o = objs[0];
    objs[0] = NULL;
    ctl_objs_free(objs, n);
    return o;
}

static int put_yaml(ctl_objstore *st, const char *y, int *changed)
{
    ctl_obj *o = parse(y);
    char err[256];
    int rc = ctl_objstore_put(st, o, changed, err, sizeof(err));
    ctl_obj_free(o);
    return rc;
}

static ctl_objstore *open_store(void)
{
    ctl_objstore *st = NULL;
    char err[256];
    assert_int_equal(ctl_objstore_sqlite_open(":memory:", &st, err, sizeof(err)), 0);
    assert_string_equal(ctl_objstore_name(st), "sqlite");
    assert_non_null(ctl_objstore_sqlite_store(st));
    return st;
}

/* A put notifies when it creates or changes the manifest, not when it
 * repeats it; the watcher sees the new generation and can read it back. */
static void test_put_notifies_on_change_only(void **state)
{
    (void)state;
    ctl_objstore *st = open_store();
    seen s = {.st = st};
    assert_int_equal(ctl_objstore_watch(st, CTL_KIND_DEPLOYMENT, on_watch, &s), 0);
    int changed = -1;
    assert_int_equal(put_yaml(st, DEP_YAML("llama", "1"), &changed), 0);
    assert_int_equal(changed, 1);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.type[0], CTL_WATCH_PUT);
    assert_int_equal(s.kind[0], CTL_KIND_DEPLOYMENT);
    assert_string_equal(s.name[0], "llama");
    assert_int_equal(s.generation[0], 1);
    assert_true(s.read_back); /* stored before the watchers run */

    assert_int_equal(put_yaml(st, DEP_YAML("llama", "1"), &changed), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(s.n, 1); /* unchanged: nobody told */

    assert_int_equal(put_yaml(st, DEP_YAML("llama", "3"), &changed), 0);
    assert_int_equal(changed, 1);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.type[1], CTL_WATCH_PUT);
    assert_int_equal(s.generation[1], 2);
    ctl_objstore_unwatch(st, on_watch, &s);
    ctl_objstore_close(st);
}

/* Status writes and events notify no one (a controller writing its own
 * status must not wake itself); the generation stays. */
static void test_status_and_events_do_not_notify(void **state)
{
    (void)state;
    ctl_objstore *st = open_store();
    seen s = {0};
    assert_int_equal(ctl_objstore_watch(st, CTL_KIND_NONE, on_watch, &s), 0);
    assert_int_equal(put_yaml(st, DEP_YAML("llama", "1"), NULL), 0);
    assert_int_equal(s.n, 1);
    char err[256];
    json_t *status = json_pack("{s:i}", "readyReplicas", 1);
    assert_int_equal(ctl_objstore_set_status(st, "Deployment", "llama", status, err, sizeof(err)),
                     0);
    assert_int_equal(ctl_objstore_set_status(st, "Deployment", "nosuch", status, err, sizeof(err)),
                     1);
    json_decref(status);
    assert_int_equal(ctl_objstore_event(st, "Deployment", "llama", CTL_EVENT_WARNING, "Exited",
                                        "pod llama-0 exited", err, sizeof(err)),
                     0);
    assert_int_equal(ctl_objstore_event(st, "Deployment", "llama", CTL_EVENT_WARNING, "Exited",
                                        "pod llama-0 exited", err, sizeof(err)),
                     0);
    assert_int_equal(s.n, 1);

    ctl_record r;
    assert_int_equal(ctl_objstore_get(st, "Deployment", "llama", &r, err, sizeof(err)), 0);
    assert_int_equal(r.generation, 1);
    assert_int_equal(json_integer_value(json_object_get(r.status, "readyReplicas")), 1);
    ctl_record_clear(&r);
    ctl_event *ev;
    size_t n;
    assert_int_equal(ctl_objstore_events(st, "Deployment", "llama", 10, &ev, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 1); /* aggregated */
    assert_int_equal(ev[0].count, 2);
    assert_string_equal(ev[0].reason, "Exited");
    ctl_events_free(ev, n);
    ctl_objstore_unwatch(st, on_watch, &s);
    ctl_objstore_close(st);
}

/* A delete that finds the object notifies (no object in the event); one
 * that finds nothing does not. */
static void test_delete_notifies(void **state)
{
    (void)state;
    ctl_objstore *st = open_store();
    seen s = {0};
    assert_int_equal(ctl_objstore_watch(st, CTL_KIND_MODEL_ADAPTER, on_watch, &s), 0);
    assert_int_equal(put_yaml(st, ADAPTER_YAML, NULL), 0);
    char err[256];
    assert_int_equal(ctl_objstore_delete(st, "ModelAdapter", "sql", err, sizeof(err)), 0);
    assert_int_equal(ctl_objstore_delete(st, "ModelAdapter", "sql", err, sizeof(err)), 1);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.type[1], CTL_WATCH_DELETE);
    assert_int_equal(s.kind[1], CTL_KIND_MODEL_ADAPTER);
    assert_string_equal(s.name[1], "sql");
    assert_int_equal(s.generation[1], -1);
    ctl_record r;
    assert_int_equal(ctl_objstore_get(st, "ModelAdapter", "sql", &r, err, sizeof(err)), 1);
    ctl_objstore_unwatch(st, on_watch, &s);
    ctl_objstore_close(st);
}

/* Watchers see only their kind, in the order they registered; one may
 * unwatch itself from inside its callback without the next being skipped. */
static void test_kinds_order_and_unwatch(void **state)
{
    (void)state;
    ctl_objstore *st = open_store();
    char order[64] = "";
    seen a = {.tag = "a", .order = order, .st = st, .unwatch_self = 1};
    seen b = {.tag = "b", .order = order};
    seen c = {.tag = "c", .order = order};
    seen d = {.tag = "d", .order = order};
    assert_int_equal(ctl_objstore_watch(st, CTL_KIND_DEPLOYMENT, on_watch, &a), 0);
    assert_int_equal(ctl_objstore_watch(st, CTL_KIND_MODEL_ADAPTER, on_watch, &b), 0);
    assert_int_equal(ctl_objstore_watch(st, CTL_KIND_NONE, on_watch, &c), 0);
    assert_int_equal(ctl_objstore_watch(st, CTL_KIND_DEPLOYMENT, on_watch, &d), 0);
    assert_int_equal(put_yaml(st, DEP_YAML("llama", "1"), NULL), 0);
    assert_string_equal(order, "acd");
    assert_int_equal(put_yaml(st, ADAPTER_YAML, NULL), 0);
    assert_string_equal(order, "acdbc");
    assert_int_equal(put_yaml(st, DEP_YAML("llama", "2"), NULL), 0);
    assert_string_equal(order, "acdbccd"); /* a unwatched itself */
    assert_int_equal(a.n, 1);
    ctl_objstore_unwatch(st, on_watch, &b);
    ctl_objstore_unwatch(st, on_watch, &c);
    ctl_objstore_unwatch(st, on_watch, &d);
    assert_int_equal(put_yaml(st, DEP_YAML("llama", "3"), NULL), 0);
    assert_string_equal(order, "acdbccd");
    ctl_objstore_close(st);
}

/* sync replays the stored objects of one kind, in name order, as SYNC
 * events with their generation; other kinds are not replayed. */
static void test_sync_replays_stored_objects(void **state)
{
    (void)state;
    ctl_objstore *st = open_store();
    assert_int_equal(put_yaml(st, DEP_YAML("zeta", "1"), NULL), 0);
    assert_int_equal(put_yaml(st, DEP_YAML("alpha", "1"), NULL), 0);
    assert_int_equal(put_yaml(st, DEP_YAML("alpha", "2"), NULL), 0);
    assert_int_equal(put_yaml(st, ADAPTER_YAML, NULL), 0);
    seen s = {0};
    assert_int_equal(ctl_objstore_watch(st, CTL_KIND_NONE, on_watch, &s), 0);
    char err[256];
    assert_int_equal(ctl_objstore_sync(st, CTL_KIND_DEPLOYMENT, err, sizeof(err)), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.type[0], CTL_WATCH_SYNC);
    assert_string_equal(s.name[0], "alpha");
    assert_int_equal(s.generation[0], 2);
    assert_string_equal(s.name[1], "zeta");
    assert_int_equal(s.generation[1], 1);
    assert_int_equal(ctl_objstore_sync(st, CTL_KIND_MODEL_ADAPTER, err, sizeof(err)), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.kind[2], CTL_KIND_MODEL_ADAPTER);
    assert_int_equal(ctl_objstore_sync(st, CTL_KIND_NONE, err, sizeof(err)), -1);
    ctl_objstore_unwatch(st, on_watch, &s);
    ctl_objstore_close(st);
}

/* A status watcher gets STATUS events for its kind's status writes and
 * nothing else; a plain watcher gets no STATUS events. */
static void test_status_watch(void **state)
{
    (void)state;
    ctl_objstore *st = open_store();
    seen plain = {0}, stat = {0};
    assert_int_equal(ctl_objstore_watch(st, CTL_KIND_NONE, on_watch, &plain), 0);
    assert_int_equal(ctl_objstore_watch_status(st, CTL_KIND_DEPLOYMENT, on_watch, &stat), 0);
    assert_int_equal(put_yaml(st, DEP_YAML("llama", "1"), NULL), 0);
    assert_int_equal(put_yaml(st, ADAPTER_YAML, NULL), 0);
    assert_int_equal(stat.n, 0);
    char err[256];
    json_t *status = json_pack("{s:i}", "replicas", 1);
    assert_int_equal(ctl_objstore_set_status(st, "Deployment", "llama", status, err, sizeof(err)),
                     0);
    assert_int_equal(ctl_objstore_set_status(st, "ModelAdapter", "sql", status, err, sizeof(err)),
                     0);
    json_decref(status);
    assert_int_equal(stat.n, 1);
    assert_int_equal(stat.type[0], CTL_WATCH_STATUS);
    assert_string_equal(stat.name[0], "llama");
    assert_int_equal(plain.n, 2); /* the two puts only */
    ctl_objstore_unwatch(st, on_watch, &plain);
    ctl_objstore_unwatch(st, on_watch, &stat);
    ctl_objstore_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_notifies_on_change_only),
        cmocka_unit_test(test_status_and_events_do_not_notify),
        cmocka_unit_test(test_delete_notifies),
        cmocka_unit_test(test_kinds_order_and_unwatch),
        cmocka_unit_test(test_sync_replays_stored_objects),
        cmocka_unit_test(test_status_watch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
