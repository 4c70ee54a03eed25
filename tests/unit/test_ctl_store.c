/* ctl_store: objects (put/get/list/delete, generation only on manifest
 * change, status apart from spec), events (aggregation, trimming), pods,
 * reopening a file, and the schema version check. Each test uses its own
 * temporary database file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/bx_yaml.h"
#include "ctl/ctl_store.h"

typedef struct fixture {
    char dir[64];
    char path[128];
    ctl_store *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f) return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/brix-ctl-store-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof(f->path), "%s/brix.db", f->dir);
    char err[256];
    if (ctl_store_open(f->path, &f->s, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ctl_store_close(f->s);
    char p[192];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static json_t *yaml(const char *y)
{
    json_t *j = NULL;
    char err[256];
    if (bx_yaml_load(y, strlen(y), NULL, &j, err, sizeof(err)) != 0) fail_msg("%s", err);
    return j;
}

#define DEP_YAML(replicas)                                                                         \
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: llama\n  labels: "                  \
    "{model.aibrix.ai/name: llama}\nspec: {replicas: " replicas "}\n"

static void test_put_get_list_delete(void **state)
{
    fixture *f = *state;
    char err[256];
    json_t *dep = yaml(DEP_YAML("2"));
    int64_t gen = 0;
    int changed = 0;
    assert_int_equal(
        ctl_store_put(f->s, "Deployment", "llama", dep, 1000, &gen, &changed, err, sizeof(err)), 0);
    assert_int_equal(gen, 1);
    assert_int_equal(changed, 1);

    json_t *ma = yaml("apiVersion: model.aibrix.ai/v1alpha1\nkind: ModelAdapter\nmetadata: "
                      "{name: sql}\nspec: {baseModel: llama, artifactURL: /x}\n");
    assert_int_equal(
        ctl_store_put(f->s, "ModelAdapter", "sql", ma, 1001, NULL, NULL, err, sizeof(err)), 0);
    json_t *dep2 = yaml("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: alpha\n  "
                        "labels: {model.aibrix.ai/name: a}\nspec: {}\n");
    assert_int_equal(
        ctl_store_put(f->s, "Deployment", "alpha", dep2, 1002, NULL, NULL, err, sizeof(err)), 0);

    ctl_record r;
    assert_int_equal(ctl_store_get(f->s, "Deployment", "llama", &r, err, sizeof(err)), 0);
    assert_string_equal(r.kind, "Deployment");
    assert_string_equal(r.name, "llama");
    assert_true(json_equal(r.object, dep));
    assert_int_equal(json_object_size(r.status), 0);
    assert_int_equal(r.generation, 1);
    assert_int_equal(r.created_ms, 1000);
    assert_int_equal(r.updated_ms, 1000);
    ctl_record_clear(&r);
    assert_int_equal(ctl_store_get(f->s, "Deployment", "nope", &r, err, sizeof(err)), 1);
    assert_int_equal(ctl_store_get(f->s, "ModelAdapter", "llama", &r, err, sizeof(err)), 1);

    ctl_record *list = NULL;
    size_t n = 0;
    assert_int_equal(ctl_store_list(f->s, NULL, &list, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].name, "alpha");
    assert_string_equal(list[1].name, "llama");
    assert_string_equal(list[2].kind, "ModelAdapter");
    ctl_records_free(list, n);
    assert_int_equal(ctl_store_list(f->s, "Deployment", &list, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    ctl_records_free(list, n);
    assert_int_equal(ctl_store_list(f->s, "PodAutoscaler", &list, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    ctl_records_free(list, n);

    assert_int_equal(ctl_store_delete(f->s, "Deployment", "llama", err, sizeof(err)), 0);
    assert_int_equal(ctl_store_delete(f->s, "Deployment", "llama", err, sizeof(err)), 1);
    assert_int_equal(ctl_store_get(f->s, "Deployment", "llama", &r, err, sizeof(err)), 1);
    assert_int_equal(ctl_store_list(f->s, NULL, &list, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    ctl_records_free(list, n);

    /* bad keys are refused before touching SQLite */
    assert_int_equal(
        ctl_store_put(f->s, "Deployment", "Bad_Name", dep, 0, NULL, NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "store: invalid name 'Bad_Name'");
    json_t *arr = json_array();
    assert_int_equal(ctl_store_put(f->s, "Deployment", "x", arr, 0, NULL, NULL, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "store: object must be a JSON object");
    json_decref(arr);
    json_decref(dep);
    json_decref(dep2);
    json_decref(ma);
}

static void test_generation_and_status(void **state)
{
    fixture *f = *state;
    char err[256];
    json_t *v1 = yaml(DEP_YAML("2"));
    int64_t gen = 0;
    int changed = -1;
    assert_int_equal(
        ctl_store_put(f->s, "Deployment", "llama", v1, 1000, &gen, &changed, err, sizeof(err)), 0);
    assert_int_equal(gen, 1);

    /* the same manifest again, with keys in another order, a status and
     * server-owned metadata: no change */
    json_t *same = yaml("spec: {replicas: 2}\nkind: Deployment\nstatus: {readyReplicas: 1}\n"
                        "metadata:\n  labels: {model.aibrix.ai/name: llama}\n  name: llama\n"
                        "  generation: 17\n  uid: abc\napiVersion: apps/v1\n");
    assert_int_equal(
        ctl_store_put(f->s, "Deployment", "llama", same, 2000, &gen, &changed, err, sizeof(err)),
        0);
    assert_int_equal(gen, 1);
    assert_int_equal(changed, 0);

    /* status is written apart and does not move the generation */
    json_t *st = json_pack("{sisi}", "readyReplicas", 2, "observedGeneration", 1);
    assert_int_equal(ctl_store_set_status(f->s, "Deployment", "llama", st, err, sizeof(err)), 0);
    ctl_record r;
    assert_int_equal(ctl_store_get(f->s, "Deployment", "llama", &r, err, sizeof(err)), 0);
    assert_int_equal(r.generation, 1);
    assert_int_equal(r.updated_ms, 1000);
    assert_true(json_equal(r.status, st));
    assert_null(json_object_get(r.object, "status"));
    ctl_record_clear(&r);
    assert_int_equal(ctl_store_set_status(f->s, "Deployment", "ghost", st, err, sizeof(err)), 1);
    assert_int_equal(ctl_store_set_status(f->s, "Deployment", "llama", json_object_get(st, "x"),
                                          err, sizeof(err)),
                     -1);

    /* a spec change bumps the generation and keeps the status */
    json_t *v2 = yaml(DEP_YAML("3"));
    assert_int_equal(
        ctl_store_put(f->s, "Deployment", "llama", v2, 3000, &gen, &changed, err, sizeof(err)), 0);
    assert_int_equal(gen, 2);
    assert_int_equal(changed, 1);
    assert_int_equal(ctl_store_get(f->s, "Deployment", "llama", &r, err, sizeof(err)), 0);
    assert_int_equal(r.generation, 2);
    assert_int_equal(r.created_ms, 1000);
    assert_int_equal(r.updated_ms, 3000);
    assert_true(json_equal(r.status, st));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r.object, "spec"), "replicas")), 3);
    ctl_record_clear(&r);

    /* through a parsed ctl_obj */
    char perr[256];
    ctl_obj *o = NULL;
    json_t *v3 = yaml(DEP_YAML("4"));
    assert_int_equal(ctl_obj_parse(v3, &o, perr, sizeof(perr)), 0);
    assert_int_equal(ctl_store_put_obj(f->s, o, &changed, err, sizeof(err)), 0);
    assert_int_equal(o->generation, 3);
    assert_int_equal(changed, 1);
    assert_int_equal(ctl_store_put_obj(f->s, o, &changed, err, sizeof(err)), 0);
    assert_int_equal(o->generation, 3);
    assert_int_equal(changed, 0);
    ctl_obj_free(o);
    json_decref(v1);
    json_decref(v2);
    json_decref(v3);
    json_decref(same);
    json_decref(st);
}

static void test_events(void **state)
{
    fixture *f = *state;
    char err[256];
    ctl_store_set_event_limits(f->s, 3, 5);
    assert_int_equal(ctl_store_event(f->s, "Deployment", "llama", CTL_EVENT_NORMAL, "Scaled",
                                     "replicas 1 -> 2", 100, err, sizeof(err)),
                     0);
    /* the same again aggregates */
    assert_int_equal(ctl_store_event(f->s, "Deployment", "llama", CTL_EVENT_NORMAL, "Scaled",
                                     "replicas 1 -> 2", 200, err, sizeof(err)),
                     0);
    ctl_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(ctl_store_events(f->s, "Deployment", "llama", 10, &ev, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].count, 2);
    assert_int_equal(ev[0].first_ms, 100);
    assert_int_equal(ev[0].last_ms, 200);
    assert_int_equal(ev[0].type, CTL_EVENT_NORMAL);
    assert_string_equal(ev[0].reason, "Scaled");
    assert_string_equal(ev[0].message, "replicas 1 -> 2");
    ctl_events_free(ev, n);

    /* per-object bound: 3 */
    for (int i = 0; i < 5; i++) {
        char msg[32];
        snprintf(msg, sizeof(msg), "crash %d", i);
        assert_int_equal(ctl_store_event(f->s, "Deployment", "llama", CTL_EVENT_WARNING, "BackOff",
                                         msg, 300 + i, err, sizeof(err)),
                         0);
    }
    assert_int_equal(ctl_store_events(f->s, "Deployment", "llama", 10, &ev, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 3);
    assert_string_equal(ev[0].message, "crash 2");
    assert_string_equal(ev[2].message, "crash 4");
    assert_int_equal(ev[2].type, CTL_EVENT_WARNING);
    assert_true(ev[0].id < ev[1].id && ev[1].id < ev[2].id);
    ctl_events_free(ev, n);
    /* the recent N, oldest first */
    assert_int_equal(ctl_store_events(f->s, "Deployment", "llama", 2, &ev, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].message, "crash 3");
    assert_string_equal(ev[1].message, "crash 4");
    ctl_events_free(ev, n);

    /* total bound: 5 across objects, oldest go first */
    for (int i = 0; i < 3; i++) {
        char msg[32];
        snprintf(msg, sizeof(msg), "loaded on pod %d", i);
        assert_int_equal(ctl_store_event(f->s, "ModelAdapter", "sql", CTL_EVENT_NORMAL, "Loaded",
                                         msg, 400 + i, err, sizeof(err)),
                         0);
    }
    assert_int_equal(ctl_store_events(f->s, "Deployment", "llama", 10, &ev, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].message, "crash 3");
    ctl_events_free(ev, n);
    assert_int_equal(ctl_store_events(f->s, "ModelAdapter", "sql", 10, &ev, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 3);
    ctl_events_free(ev, n);

    /* long messages are clipped on a UTF-8 boundary */
    char *big = malloc(5000);
    assert_non_null(big);
    memset(big, 'a', 5000);
    memcpy(big + 4095, "\xc3\xa9", 2); /* é straddling byte 4096 */
    big[4999] = '\0';
    assert_int_equal(ctl_store_event(f->s, "ModelAdapter", "other", CTL_EVENT_WARNING, "Big", big,
                                     500, err, sizeof(err)),
                     0);
    assert_int_equal(ctl_store_events(f->s, "ModelAdapter", "other", 1, &ev, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(strlen(ev[0].message), 4095);
    ctl_events_free(ev, n);
    free(big);

    /* deleting an object deletes its events */
    json_t *ma = yaml("kind: ModelAdapter\nmetadata: {name: sql}\n");
    assert_int_equal(
        ctl_store_put(f->s, "ModelAdapter", "sql", ma, 0, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(ctl_store_delete(f->s, "ModelAdapter", "sql", err, sizeof(err)), 0);
    assert_int_equal(ctl_store_events(f->s, "ModelAdapter", "sql", 10, &ev, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 0);
    ctl_events_free(ev, n);
    json_decref(ma);

    assert_int_equal(ctl_store_event(f->s, "Deployment", "llama", CTL_EVENT_NORMAL, "", "x", 0, err,
                                     sizeof(err)),
                     -1);
    assert_string_equal(err, "store: event reason required");
}

static void test_pods(void **state)
{
    fixture *f = *state;
    char err[256];
    ctl_pod p = {.name = "llama-0",
                 .deployment = "llama",
                 .replica = 0,
                 .port = 18000,
                 .pid = 4242,
                 .state = "Running",
                 .restarts = 2,
                 .generation = 3,
                 .started_ms = 123456};
    assert_int_equal(ctl_store_pod_put(f->s, &p, 999, err, sizeof(err)), 0);
    ctl_pod q = p;
    snprintf(q.name, sizeof(q.name), "llama-1");
    q.replica = 1;
    q.port = 18001;
    snprintf(q.state, sizeof(q.state), "Starting");
    assert_int_equal(ctl_store_pod_put(f->s, &q, 999, err, sizeof(err)), 0);
    ctl_pod o = q;
    snprintf(o.name, sizeof(o.name), "mistral-0");
    snprintf(o.deployment, sizeof(o.deployment), "mistral");
    assert_int_equal(ctl_store_pod_put(f->s, &o, 999, err, sizeof(err)), 0);

    ctl_pod got;
    assert_int_equal(ctl_store_pod_get(f->s, "llama-0", &got, err, sizeof(err)), 0);
    assert_string_equal(got.deployment, "llama");
    assert_int_equal(got.replica, 0);
    assert_int_equal(got.port, 18000);
    assert_int_equal(got.pid, 4242);
    assert_string_equal(got.state, "Running");
    assert_int_equal(got.restarts, 2);
    assert_int_equal(got.generation, 3);
    assert_int_equal(got.started_ms, 123456);
    assert_int_equal(got.updated_ms, 999);
    assert_int_equal(ctl_store_pod_get(f->s, "llama-9", &got, err, sizeof(err)), 1);

    /* update in place */
    p.pid = 5000;
    p.restarts = 3;
    snprintf(p.state, sizeof(p.state), "Failed");
    assert_int_equal(ctl_store_pod_put(f->s, &p, 1500, err, sizeof(err)), 0);
    assert_int_equal(ctl_store_pod_get(f->s, "llama-0", &got, err, sizeof(err)), 0);
    assert_int_equal(got.pid, 5000);
    assert_int_equal(got.restarts, 3);
    assert_string_equal(got.state, "Failed");
    assert_int_equal(got.updated_ms, 1500);

    ctl_pod *list = NULL;
    size_t n = 0;
    assert_int_equal(ctl_store_pod_list(f->s, "llama", &list, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "llama-0");
    assert_string_equal(list[1].name, "llama-1");
    free(list);
    assert_int_equal(ctl_store_pod_list(f->s, NULL, &list, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[2].name, "mistral-0");
    free(list);

    assert_int_equal(ctl_store_pod_delete(f->s, "llama-1", err, sizeof(err)), 0);
    assert_int_equal(ctl_store_pod_delete(f->s, "llama-1", err, sizeof(err)), 1);
    assert_int_equal(ctl_store_pod_list(f->s, "llama", &list, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    free(list);

    ctl_pod bad = p;
    snprintf(bad.deployment, sizeof(bad.deployment), "Not Valid");
    assert_int_equal(ctl_store_pod_put(f->s, &bad, 0, err, sizeof(err)), -1);
}

static void test_reopen_keeps_data(void **state)
{
    fixture *f = *state;
    char err[256];
    json_t *dep = yaml(DEP_YAML("2"));
    assert_int_equal(
        ctl_store_put(f->s, "Deployment", "llama", dep, 1000, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(
        ctl_store_put(f->s, "Deployment", "llama", dep, 0, NULL, NULL, err, sizeof(err)), 0);
    json_t *st = json_pack("{si}", "readyReplicas", 2);
    assert_int_equal(ctl_store_set_status(f->s, "Deployment", "llama", st, err, sizeof(err)), 0);
    assert_int_equal(ctl_store_event(f->s, "Deployment", "llama", CTL_EVENT_NORMAL, "Created",
                                     "2 replicas", 1000, err, sizeof(err)),
                     0);
    ctl_pod p = {
        .name = "llama-0", .deployment = "llama", .port = 18000, .pid = 77, .state = "Running"};
    assert_int_equal(ctl_store_pod_put(f->s, &p, 0, err, sizeof(err)), 0);
    ctl_store_close(f->s);
    f->s = NULL;

    assert_int_equal(ctl_store_open(f->path, &f->s, err, sizeof(err)), 0);
    ctl_record r;
    assert_int_equal(ctl_store_get(f->s, "Deployment", "llama", &r, err, sizeof(err)), 0);
    assert_true(json_equal(r.object, dep));
    assert_true(json_equal(r.status, st));
    assert_int_equal(r.generation, 1);
    ctl_record_clear(&r);
    ctl_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(ctl_store_events(f->s, "Deployment", "llama", 5, &ev, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].reason, "Created");
    ctl_events_free(ev, n);
    ctl_pod got;
    assert_int_equal(ctl_store_pod_get(f->s, "llama-0", &got, err, sizeof(err)), 0);
    assert_int_equal(got.pid, 77);

    /* the file is in WAL mode */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), CTL_STORE_SCHEMA_VERSION);
    sqlite3_finalize(q);
    sqlite3_close(db);
    json_decref(dep);
    json_decref(st);
}

static void set_pragma(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_schema_version_check(void **state)
{
    fixture *f = *state;
    char err[256];
    ctl_store_close(f->s);
    f->s = NULL;
    set_pragma(f->path, "PRAGMA user_version = 99");
    ctl_store *s = NULL;
    assert_int_equal(ctl_store_open(f->path, &s, err, sizeof(err)), -1);
    assert_null(s);
    assert_string_equal(err, "store: schema version 99 is newer than this brix supports (1)");
    set_pragma(f->path, "PRAGMA user_version = 1");
    assert_int_equal(ctl_store_open(f->path, &f->s, err, sizeof(err)), 0);

    /* a foreign database is refused, not written into */
    char other[192];
    snprintf(other, sizeof(other), "%s/other.db", f->dir);
    set_pragma(other, "CREATE TABLE t(x)");
    assert_int_equal(ctl_store_open(other, &s, err, sizeof(err)), -1);
    assert_string_equal(err, "store: not a brix store (tables without a schema version)");
    char p[224];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", other, suffix[i]);
        unlink(p);
    }

    /* a path that cannot be opened */
    assert_int_equal(ctl_store_open("/nonexistent-dir/x/brix.db", &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "store: open /nonexistent-dir/x/brix.db"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generation_and_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_version_check, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
