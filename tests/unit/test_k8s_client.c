/* The Kubernetes client against the fake API server (tests/k8s/
 * fake_apiserver.py, a test fixture): Status errors surfaced with their
 * reason, 429/5xx retries, writes (merge and JSON patch, /scale, delete
 * preconditions), the retry-on-conflict helper, the reflector (paged list,
 * watch, a half-open watch cut by the low-speed bound, relist after a
 * compaction that misses nothing), Lease leader election (handover, a
 * leader that cannot renew stops at its deadline) and Event aggregation.
 *
 * Skipped, with a message, when python3 or the fake is absent. The fake is
 * found beside this file (../k8s/fake_apiserver.py) or at
 * $BRIX_FAKE_APISERVER. */
#include <curl/curl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "common/bx_buf.h"
#include "k8s/k8s_client.h"
#include "k8s/k8s_event.h"
#include "k8s/k8s_lease.h"
#include "k8s/k8s_reflector.h"
#include "k8s/k8s_write.h"
#include "k8s_fake_fixture.h"
#include "loop_fixture.h"

static uv_loop_t loop;

static int setup(void **state)
{
    (void)state;
    static const char *const extra[] = {"--bookmark-interval", "1", NULL};
    if (k8s_fake_start("t", extra) != 0) return -1;
    if (k8s_fake_url[0]) uv_loop_init(&loop);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (k8s_fake_url[0]) {
        k8s_fake_stop();
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_loop_close(&loop);
    }
    return 0;
}

#define NEED_FAKE() K8S_NEED_FAKE()

/* A blocking call to the fake's control endpoints (/fake/...): 200 expected. */
static void fake_ctl(const char *method, const char *path, const char *body)
{
    assert_int_equal(k8s_fake_http("t", method, path, body ? body : "", NULL, NULL), 200);
}

static k8s_client *client_new_opts(const k8s_client_opts *o)
{
    k8s_config cfg = {0};
    cfg.server = strdup(k8s_fake_url);
    cfg.ns = strdup("default");
    cfg.token = strdup("t");
    k8s_client *c;
    char err[256];
    assert_int_equal(k8s_client_new(&loop, &cfg, o, &c, err, sizeof(err)), 0);
    return c;
}

static k8s_client *client_new(long low_speed_s)
{
    k8s_config cfg = {0};
    cfg.server = strdup(k8s_fake_url);
    cfg.ns = strdup("default");
    cfg.token = strdup("t");
    k8s_client_opts o;
    k8s_client_opts_default(&o);
    o.retry_base_ms = 50;
    if (low_speed_s) o.low_speed_s = low_speed_s;
    k8s_client *c;
    char err[256];
    assert_int_equal(k8s_client_new(&loop, &cfg, &o, &c, err, sizeof(err)), 0);
    return c;
}

static int closed;
static void on_closed(void *ud)
{
    (void)ud;
    closed++;
}

static void client_close(k8s_client *c)
{
    int before = closed;
    k8s_client_close(c, on_closed, NULL);
    RUN_UNTIL(&loop, closed > before);
}

/* A finished request, copied out of the callback. */
struct reply {
    int done;
    long code;
    json_t *body;
    k8s_status st;
};

static void on_reply(const k8s_resp *r, void *ud)
{
    struct reply *rp = ud;
    rp->done = 1;
    rp->code = r->code;
    rp->body = json_incref(r->body);
    if (r->status) rp->st = *r->status;
}

static void reply_wait(struct reply *rp)
{
    RUN_UNTIL(&loop, rp->done);
}

static void reply_free(struct reply *rp)
{
    json_decref(rp->body);
    memset(rp, 0, sizeof(*rp));
}

static long call(k8s_client *c, const char *method, const char *path, const char *body,
                 struct reply *rp)
{
    memset(rp, 0, sizeof(*rp));
    assert_non_null(k8s_request(c, method, path, NULL, NULL, body, on_reply, rp));
    reply_wait(rp);
    return rp->code;
}

static void test_status_errors(void **state)
{
    (void)state;
    NEED_FAKE();
    k8s_client *c = client_new(0);
    struct reply r;
    assert_int_equal(call(c, "GET", "/api/v1/namespaces/default/configmaps/nope", NULL, &r), 404);
    assert_string_equal(r.st.reason, "NotFound");
    assert_non_null(strstr(r.st.message, "nope"));
    reply_free(&r);
    const char *cm = "{\"metadata\":{\"name\":\"dup\"},\"data\":{\"a\":\"1\"}}";
    assert_int_equal(call(c, "POST", "/api/v1/namespaces/default/configmaps", cm, &r), 201);
    assert_true(k8s_meta(r.body, "uid")[0] && k8s_meta(r.body, "resourceVersion")[0]);
    reply_free(&r);
    assert_int_equal(call(c, "POST", "/api/v1/namespaces/default/configmaps", cm, &r), 409);
    assert_string_equal(r.st.reason, "AlreadyExists");
    assert_string_equal(r.st.details_name, "dup");
    reply_free(&r);
    /* Three requests one after the other went over one kept connection. */
    assert_int_equal(k8s_client_connections(c), 1);
    /* A PUT without a resourceVersion is refused here, before the wire. */
    json_t *o = json_loads(cm, 0, NULL);
    assert_null(k8s_replace(c, "/api/v1/namespaces/default/configmaps/dup", o, on_reply, &r));
    json_decref(o);
    client_close(c);
}

static int on_line_ignore(const char *line, size_t len, void *ud)
{
    (void)line;
    (void)len;
    (void)ud;
    return 0;
}

/* The rate limit: a burst goes at once, the rest wait for their tokens
 * (not sent yet: cancelling one sends nothing and calls nothing back), and
 * every request that was not cancelled is answered. Watches are exempt. */
static void test_rate_limit(void **state)
{
    (void)state;
    NEED_FAKE();
    k8s_client_opts o;
    k8s_client_opts_default(&o);
    o.qps = 20;
    o.burst = 3;
    k8s_client *c = client_new_opts(&o);
    struct reply r[8];
    memset(r, 0, sizeof(r));
    k8s_req *reqs[8];
    for (int i = 0; i < 8; i++)
        assert_non_null(reqs[i] = k8s_request(c, "GET", "/api/v1/namespaces/default/configmaps",
                                              NULL, NULL, NULL, on_reply, &r[i]));
    assert_int_equal(k8s_client_throttled(c), 5);
    assert_int_equal(k8s_client_requests(c), 3); /* the burst */
    k8s_req *last = reqs[7];
    k8s_cancel(last);
    RUN_UNTIL(&loop, r[0].done && r[1].done && r[2].done && r[3].done && r[4].done && r[5].done &&
                         r[6].done);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(r[i].code, 200);
        reply_free(&r[i]);
    }
    assert_int_equal(k8s_client_requests(c), 7);
    /* a watch does not wait (nor take a token) */
    unsigned long long t = k8s_client_throttled(c);
    struct reply w = {0};
    k8s_req *wr = k8s_stream(c, "/api/v1/namespaces/default/configmaps", "watch=1", 5,
                             on_line_ignore, on_reply, &w);
    assert_non_null(wr);
    assert_int_equal(k8s_client_throttled(c), t);
    assert_int_equal(k8s_client_requests(c), 8);
    k8s_cancel(wr);
    client_close(c);
    assert_false(r[7].done); /* cancelled while waiting: never answered */
    assert_false(w.done);
}

/* A token file is re-read when its token is old (bound tokens rotate): a
 * rotated token is picked up without a restart. The fake wants "t". */
static void test_token_file(void **state)
{
    (void)state;
    NEED_FAKE();
    char tok[160];
    snprintf(tok, sizeof(tok), "%s/token", k8s_fake_dir);
    FILE *f = fopen(tok, "w");
    assert_non_null(f);
    fputs("stale\n", f);
    fclose(f);
    k8s_config cfg = {0};
    cfg.server = strdup(k8s_fake_url);
    cfg.token_file = strdup(tok);
    k8s_client_opts o;
    k8s_client_opts_default(&o);
    o.token_reread_ms = 100;
    k8s_client *c;
    char err[128];
    assert_int_equal(k8s_client_new(&loop, &cfg, &o, &c, err, sizeof(err)), 0);
    struct reply r;
    assert_int_equal(call(c, "GET", "/api/v1/namespaces/default/configmaps", NULL, &r), 401);
    assert_string_equal(r.st.reason, "Unauthorized");
    reply_free(&r);
    f = fopen(tok, "w");
    assert_non_null(f);
    fputs("t\n", f);
    fclose(f);
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    RUN_UNTIL(&loop, uv_now(&loop) - t0 > 150);
    assert_int_equal(call(c, "GET", "/api/v1/namespaces/default/configmaps", NULL, &r), 200);
    reply_free(&r);
    client_close(c);
}

static void test_retries(void **state)
{
    (void)state;
    NEED_FAKE();
    k8s_client *c = client_new(0);
    struct reply r;
    /* A 429 (Retry-After 1) then a 500 on GET: both retried. */
    fake_ctl("POST", "/fake/fault",
             "{\"method\":\"GET\",\"path\":\"configmaps/dup\",\"code\":429,\"retryAfter\":1}");
    fake_ctl("POST", "/fake/fault",
             "{\"method\":\"GET\",\"path\":\"configmaps/dup\",\"code\":500}");
    unsigned long long n0 = k8s_client_requests(c);
    assert_int_equal(call(c, "GET", "/api/v1/namespaces/default/configmaps/dup", NULL, &r), 200);
    assert_int_equal(k8s_client_requests(c) - n0, 3);
    reply_free(&r);
    /* A 500 on a POST is not retried: surfaced. */
    fake_ctl("POST", "/fake/fault", "{\"method\":\"POST\",\"path\":\"configmaps\",\"code\":500}");
    n0 = k8s_client_requests(c);
    assert_int_equal(call(c, "POST", "/api/v1/namespaces/default/configmaps",
                          "{\"metadata\":{\"name\":\"p500\"}}", &r),
                     500);
    assert_string_equal(r.st.reason, "InternalError");
    assert_int_equal(k8s_client_requests(c) - n0, 1);
    reply_free(&r);
    /* Connection refused on a GET: retried, then a transport error (code 0). */
    k8s_config cfg = {0};
    cfg.server = strdup("http://127.0.0.1:1");
    k8s_client_opts o;
    k8s_client_opts_default(&o);
    o.retry_base_ms = 10;
    o.max_retries = 2;
    k8s_client *bad;
    char err[128];
    assert_int_equal(k8s_client_new(&loop, &cfg, &o, &bad, err, sizeof(err)), 0);
    assert_int_equal(call(bad, "GET", "/api/v1/pods", NULL, &r), 0);
    assert_int_equal(k8s_client_requests(bad), 3);
    assert_true(r.st.message[0] != '\0');
    reply_free(&r);
    client_close(bad);
    client_close(c);
}

static void test_writes(void **state)
{
    (void)state;
    NEED_FAKE();
    k8s_client *c = client_new(0);
    struct reply r = {0};
    char coll[256], item[256];
    assert_int_equal(
        k8s_path(coll, sizeof(coll), "apps", "v1", "default", "deployments", NULL, NULL), 0);
    assert_string_equal(coll, "/apis/apps/v1/namespaces/default/deployments");
    k8s_path(item, sizeof(item), "apps", "v1", "default", "deployments", "web", NULL);
    json_t *d = json_loads(
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
        "\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{"
        "\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
        "\"image\":\"x\"}]}}}}",
        0, NULL);
    assert_non_null(k8s_create(c, coll, d, on_reply, &r));
    reply_wait(&r);
    assert_int_equal(r.code, 201);
    char uid[64];
    snprintf(uid, sizeof(uid), "%s", k8s_meta(r.body, "uid"));
    reply_free(&r);
    json_decref(d);

    json_t *p = json_loads("{\"metadata\":{\"labels\":{\"tier\":\"front\"}}}", 0, NULL);
    assert_non_null(k8s_patch(c, item, K8S_PATCH_MERGE, p, on_reply, &r));
    reply_wait(&r);
    assert_int_equal(r.code, 200);
    reply_free(&r);
    json_decref(p);
    p = json_loads("[{\"op\":\"test\",\"path\":\"/metadata/labels/tier\",\"value\":\"back\"}]", 0,
                   NULL);
    assert_non_null(k8s_patch(c, item, K8S_PATCH_JSON, p, on_reply, &r));
    reply_wait(&r);
    assert_int_equal(r.code, 422); /* the test op failed */
    reply_free(&r);
    json_decref(p);

    /* The status subresource: a merge patch of <item>/status sets status
     * and leaves the spec's generation alone. */
    char status[300];
    k8s_path(status, sizeof(status), "apps", "v1", "default", "deployments", "web", "status");
    assert_string_equal(status, "/apis/apps/v1/namespaces/default/deployments/web/status");
    p = json_loads("{\"status\":{\"observedGeneration\":1,\"readyReplicas\":1}}", 0, NULL);
    assert_non_null(k8s_patch(c, status, K8S_PATCH_MERGE, p, on_reply, &r));
    reply_wait(&r);
    assert_int_equal(r.code, 200);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r.body, "status"), "readyReplicas")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r.body, "metadata"), "generation")), 1);
    reply_free(&r);
    json_decref(p);

    assert_non_null(k8s_scale(c, item, 3, on_reply, &r));
    reply_wait(&r);
    assert_int_equal(r.code, 200);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r.body, "spec"), "replicas")), 3);
    reply_free(&r);

    assert_non_null(k8s_delete(c, item, "Background", "not-the-uid", NULL, on_reply, &r));
    reply_wait(&r);
    assert_int_equal(r.code, 409);
    assert_string_equal(r.st.reason, "Conflict");
    reply_free(&r);
    assert_non_null(k8s_delete(c, item, "Background", uid, NULL, on_reply, &r));
    reply_wait(&r);
    assert_int_equal(r.code, 200);
    reply_free(&r);
    client_close(c);
}

static int mutations;
static int mutate_set(json_t *obj, void *ud)
{
    (void)ud;
    mutations++;
    json_t *data = json_object_get(obj, "data");
    if (!data) json_object_set_new(obj, "data", data = json_object());
    json_object_set_new(data, "n", json_string("42"));
    return 0;
}

static void test_retry_on_conflict(void **state)
{
    (void)state;
    NEED_FAKE();
    k8s_client *c = client_new(0);
    struct reply r;
    assert_int_equal(call(c, "POST", "/api/v1/namespaces/default/configmaps",
                          "{\"metadata\":{\"name\":\"rc\"},\"data\":{}}", &r),
                     201);
    reply_free(&r);
    const char *item = "/api/v1/namespaces/default/configmaps/rc";
    /* Two 409s, then the PUT goes through: three GET-mutate-PUT rounds. */
    fake_ctl("POST", "/fake/fault",
             "{\"method\":\"PUT\",\"path\":\"configmaps/rc\",\"code\":409,\"count\":2}");
    mutations = 0;
    memset(&r, 0, sizeof(r));
    assert_non_null(k8s_update_retry(c, item, 5, mutate_set, on_reply, &r));
    reply_wait(&r);
    assert_int_equal(r.code, 200);
    assert_int_equal(mutations, 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.body, "data"), "n")),
                        "42");
    reply_free(&r);
    /* Out of tries: the Conflict is surfaced. */
    fake_ctl("POST", "/fake/fault",
             "{\"method\":\"PUT\",\"path\":\"configmaps/rc\",\"code\":409,\"count\":5}");
    assert_non_null(k8s_update_retry(c, item, 2, mutate_set, on_reply, &r));
    reply_wait(&r);
    assert_int_equal(r.code, 409);
    assert_string_equal(r.st.reason, "Conflict");
    reply_free(&r);
    fake_ctl("DELETE", "/fake/fault", NULL);
    client_close(c);
}

struct seen {
    int adds, updates, deletes, synced;
    char last_deleted[64];
};

static void s_add(k8s_reflector *r, const json_t *o, void *ud)
{
    (void)r;
    (void)o;
    ((struct seen *)ud)->adds++;
}
static void s_update(k8s_reflector *r, const json_t *old, const json_t *o, void *ud)
{
    (void)r;
    (void)old;
    (void)o;
    ((struct seen *)ud)->updates++;
}
static void s_delete(k8s_reflector *r, const json_t *o, void *ud)
{
    (void)r;
    struct seen *s = ud;
    s->deletes++;
    snprintf(s->last_deleted, sizeof(s->last_deleted), "%s", k8s_meta(o, "name"));
}
static void s_synced(k8s_reflector *r, void *ud)
{
    (void)r;
    ((struct seen *)ud)->synced++;
}

static void mk_cm(k8s_client *c, const char *name, const char *label)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"set\":\"%s\"}}}",
             name, label);
    struct reply r;
    assert_int_equal(call(c, "POST", "/api/v1/namespaces/default/configmaps", body, &r), 201);
    reply_free(&r);
}

static void test_reflector(void **state)
{
    (void)state;
    NEED_FAKE();
    k8s_client *c = client_new(2); /* a watch silent for 2 s is cut */
    mk_cm(c, "r-a", "refl");
    mk_cm(c, "r-b", "refl");
    mk_cm(c, "r-c", "refl");
    mk_cm(c, "r-other", "not");
    k8s_reflector_opts o;
    k8s_reflector_opts_default(&o);
    o.path = "/api/v1/namespaces/default/configmaps";
    o.label_selector = "set=refl";
    o.page_limit = 2;
    o.watch_min_s = 30;
    o.watch_max_s = 40;
    o.backoff_min_ms = 50;
    k8s_reflector_cbs cbs = {
        .on_add = s_add, .on_update = s_update, .on_delete = s_delete, .on_synced = s_synced};
    struct seen s = {0};
    k8s_reflector *r;
    assert_int_equal(k8s_reflector_new(c, &o, &cbs, &s, &r), 0);
    k8s_reflector_start(r);
    RUN_UNTIL(&loop, s.synced == 1);
    const k8s_reflector_stats *st = k8s_reflector_get_stats(r);
    assert_int_equal(st->lists, 2); /* two pages */
    assert_int_equal(s.adds, 3);
    assert_int_equal(json_object_size(k8s_reflector_cache(r)), 3);
    assert_non_null(k8s_reflector_get(r, "default", "r-b"));
    assert_null(k8s_reflector_get(r, "default", "r-other"));

    /* Watch: add, update, a no-op merge patch (no event), delete. */
    mk_cm(c, "r-d", "refl");
    RUN_UNTIL(&loop, s.adds == 4);
    struct reply rp;
    const char *upd = "{\"data\":{\"k\":\"v\"}}";
    memset(&rp, 0, sizeof(rp));
    json_t *p = json_loads(upd, 0, NULL);
    k8s_patch(c, "/api/v1/namespaces/default/configmaps/r-d", K8S_PATCH_MERGE, p, on_reply, &rp);
    reply_wait(&rp);
    reply_free(&rp);
    RUN_UNTIL(&loop, s.updates == 1);
    k8s_patch(c, "/api/v1/namespaces/default/configmaps/r-d", K8S_PATCH_MERGE, p, on_reply, &rp);
    reply_wait(&rp);
    reply_free(&rp);
    json_decref(p);
    assert_int_equal(call(c, "DELETE", "/api/v1/namespaces/default/configmaps/r-a", NULL, &rp),
                     200);
    reply_free(&rp);
    RUN_UNTIL(&loop, s.deletes == 1);
    assert_string_equal(s.last_deleted, "r-a");
    assert_int_equal(s.updates, 1); /* the no-op patch reported nothing */
    assert_int_equal(st->expired, 0);

    /* Half-open: the watch stops sending. Changes made meanwhile, then the
     * event history compacted: the low-speed bound cuts the watch, the
     * resume gets 410 Expired, the relist reports exactly what was missed. */
    fake_ctl("POST", "/fake/watches", "{\"path\":\"configmaps\",\"action\":\"hang\"}");
    usleep(400000);
    assert_int_equal(call(c, "DELETE", "/api/v1/namespaces/default/configmaps/r-b", NULL, &rp),
                     200);
    reply_free(&rp);
    mk_cm(c, "r-e", "refl");
    p = json_loads("{\"data\":{\"x\":\"1\"}}", 0, NULL);
    k8s_patch(c, "/api/v1/namespaces/default/configmaps/r-c", K8S_PATCH_MERGE, p, on_reply, &rp);
    reply_wait(&rp);
    reply_free(&rp);
    json_decref(p);
    fake_ctl("POST", "/fake/compact", "{}");
    int adds = s.adds, updates = s.updates, deletes = s.deletes;
    RUN_UNTIL(&loop, s.synced == 2);
    assert_true(st->expired >= 1);
    assert_int_equal(st->relists, 1);
    assert_int_equal(s.adds - adds, 1);
    assert_int_equal(s.updates - updates, 1);
    assert_int_equal(s.deletes - deletes, 1);
    assert_string_equal(s.last_deleted, "r-b");
    assert_int_equal(json_object_size(k8s_reflector_cache(r)), 3); /* c, d, e */
    assert_non_null(k8s_reflector_get(r, "default", "r-e"));
    fake_ctl("POST", "/fake/watches", "{\"path\":\"configmaps\",\"action\":\"release\"}");

    /* And it keeps watching after the relist. */
    mk_cm(c, "r-f", "refl");
    RUN_UNTIL(&loop, k8s_reflector_get(r, "default", "r-f") != NULL);
    int before = closed;
    k8s_reflector_close(r, on_closed, NULL);
    RUN_UNTIL(&loop, closed > before);
    client_close(c);
}

struct cand {
    int started, stopped;
};
static void l_start(k8s_lease *l, void *ud)
{
    (void)l;
    ((struct cand *)ud)->started++;
}
static void l_stop(k8s_lease *l, void *ud)
{
    (void)l;
    ((struct cand *)ud)->stopped++;
}

static k8s_lease *lease_new(k8s_client *c, const char *id, struct cand *cd)
{
    k8s_lease_opts o;
    k8s_lease_opts_default(&o);
    o.ns = "default";
    o.name = "brix-test";
    o.identity = id;
    o.lease_ms = 3000;
    o.renew_ms = 2000;
    o.retry_ms = 300;
    o.started_leading = l_start;
    o.stopped_leading = l_stop;
    o.ud = cd;
    k8s_lease *l;
    char err[128];
    assert_int_equal(k8s_lease_new(c, &o, &l, err, sizeof(err)), 0);
    return l;
}

static void test_lease(void **state)
{
    (void)state;
    NEED_FAKE();
    k8s_client *c1 = client_new(0), *c2 = client_new(0);
    struct cand a = {0}, b = {0};
    k8s_lease *la = lease_new(c1, "cand-a", &a);
    k8s_lease_start(la);
    RUN_UNTIL(&loop, a.started == 1);
    k8s_lease *lb = lease_new(c2, "cand-b", &b);
    k8s_lease_start(lb);
    /* b sees a valid holder and waits (a keeps renewing). */
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    RUN_UNTIL(&loop, uv_now(&loop) - t0 > 1500);
    assert_int_equal(b.started, 0);
    assert_true(k8s_lease_is_leader(la));

    /* a cannot renew (every lease write fails): it stops leading at its
     * renew deadline, before the lease runs out, and b cannot take it
     * either while writes fail. */
    fake_ctl("POST", "/fake/fault",
             "{\"method\":\"PUT\",\"path\":\"leases/brix-test\",\"code\":500,\"count\":100000}");
    RUN_UNTIL(&loop, a.stopped == 1);
    assert_false(k8s_lease_is_leader(la));
    assert_int_equal(b.started, 0);
    fake_ctl("DELETE", "/fake/fault", NULL);
    /* Writes work again: one of them leads. */
    RUN_UNTIL(&loop, a.started + b.started == 2);
    k8s_lease *leader = k8s_lease_is_leader(la) ? la : lb, *other = leader == la ? lb : la;
    struct cand *oc = other == la ? &a : &b;
    int ostarted = oc->started;
    /* Close the leader: it releases, the other takes over at once. */
    int before = closed;
    k8s_lease_close(leader, on_closed, NULL);
    RUN_UNTIL(&loop, closed > before && oc->started == ostarted + 1);
    struct reply r;
    assert_int_equal(call(c1, "GET",
                          "/apis/coordination.k8s.io/v1/namespaces/default/leases/brix-test", NULL,
                          &r),
                     200);
    json_t *spec = json_object_get(r.body, "spec");
    assert_string_equal(json_string_value(json_object_get(spec, "holderIdentity")),
                        other == la ? "cand-a" : "cand-b");
    assert_true(json_integer_value(json_object_get(spec, "leaseTransitions")) >= 2);
    assert_int_equal(json_integer_value(json_object_get(spec, "leaseDurationSeconds")), 3);
    reply_free(&r);
    before = closed;
    k8s_lease_close(other, on_closed, NULL);
    RUN_UNTIL(&loop, closed > before);
    client_close(c1);
    client_close(c2);
}

/* The count of the Loaded event in an event list, 0 if there is none. */
static json_int_t loaded_count(json_t *items)
{
    size_t i;
    json_t *e;
    json_array_foreach(items, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "reason")), "Loaded") == 0)
            return json_integer_value(json_object_get(e, "count"));
    }
    return 0;
}

static void test_events(void **state)
{
    (void)state;
    NEED_FAKE();
    k8s_client *c = client_new(0);
    k8s_recorder *rec = k8s_recorder_new(c, "brix-controller", 0);
    json_t *obj = json_loads("{\"apiVersion\":\"model.aibrix.ai/v1alpha1\",\"kind\":"
                             "\"ModelAdapter\",\"metadata\":{\"name\":\"ad\",\"namespace\":"
                             "\"default\",\"uid\":\"u-1\"}}",
                             0, NULL);
    assert_int_equal(k8s_event_emit(rec, obj, "Normal", "Loaded", "loaded on %s", "pod-1"), 0);
    struct reply r;
    /* Let the POST land before the repeat patches it. */
    RUN_UNTIL(&loop,
              (call(c, "GET", "/api/v1/namespaces/default/events", NULL, &r),
               json_array_size(json_object_get(r.body, "items")) == 1 ? 1 : (reply_free(&r), 0)));
    reply_free(&r);
    assert_int_equal(k8s_event_emit(rec, obj, "Normal", "Loaded", "loaded on %s", "pod-1"), 0);
    assert_int_equal(k8s_event_emit(rec, obj, "Warning", "Failed", "no pod"), 0);
    assert_int_equal(k8s_recorder_writes(rec), 3);
    /* The repeat's PATCH and the Warning's POST may land in either order:
     * wait for both (two events, the Loaded one counted twice). */
    json_t *items = NULL;
    RUN_UNTIL(&loop,
              (call(c, "GET", "/api/v1/namespaces/default/events", NULL, &r),
               items = json_object_get(r.body, "items"),
               json_array_size(items) == 2 && loaded_count(items) == 2 ? 1 : (reply_free(&r), 0)));
    size_t i;
    json_t *e;
    int found = 0;
    json_array_foreach(items, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "reason")), "Loaded") != 0) continue;
        found = 1;
        assert_int_equal(json_integer_value(json_object_get(e, "count")), 2);
        assert_string_equal(json_string_value(json_object_get(e, "message")), "loaded on pod-1");
        json_t *io = json_object_get(e, "involvedObject");
        assert_string_equal(json_string_value(json_object_get(io, "kind")), "ModelAdapter");
        assert_string_equal(json_string_value(json_object_get(io, "uid")), "u-1");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(e, "source"), "component")),
            "brix-controller");
        assert_non_null(strstr(k8s_meta(e, "name"), "ad."));
    }
    assert_true(found);
    reply_free(&r);
    json_decref(obj);
    k8s_recorder_close(rec);
    client_close(c);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_errors), cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_token_file),    cmocka_unit_test(test_retries),
        cmocka_unit_test(test_writes),        cmocka_unit_test(test_retry_on_conflict),
        cmocka_unit_test(test_reflector),     cmocka_unit_test(test_lease),
        cmocka_unit_test(test_events),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
