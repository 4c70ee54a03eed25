/* ctl_adaptersvc_k8s: the Service and EndpointSlice per ModelAdapter
 * (ctl_adaptersvc_k8s.h): two reflectors, a reconcile on a 0 ms timer that
 * compares the wanted objects (ctl_adaptersvc_desired.c) with their caches,
 * and the writes with their expectations and backoffs. */
#include "ctl/ctl_adaptersvc_k8s.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "ctl/ctl_objstore_k8s.h"
#include "k8s/k8s_reflector.h"
#include "k8s/k8s_write.h"

#define ASVC_NK 2
#define ASVC_BACKOFF_MIN_MS 1000
#define ASVC_BACKOFF_MAX_MS 60000

typedef struct asvc_kind {
    const char *group, *version, *plural, *kind;
} asvc_kind;

static const asvc_kind KINDS[ASVC_NK] = {
    {"", "v1", "services", "Service"},
    {"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"},
};

typedef struct asvc_ctx {
    ctl_adaptersvc *a;
    int ki;
} asvc_ctx;

/* One write in flight. */
typedef struct asvc_wr {
    struct asvc_wr *next, *prev;
    ctl_adaptersvc *a;
    k8s_req *req;
    int ki, create;
    char name[CTL_NAME_MAX + 1];
} asvc_wr;

struct ctl_adaptersvc {
    k8s_client *c;
    ctl_objstore *store;
    ctl_orch *orch;
    char ns[CTL_NAME_MAX + 1];
    char coll[ASVC_NK][256];
    k8s_reflector *refl[ASVC_NK];
    asvc_ctx ctx[ASVC_NK];
    int synced_mask, active, timers_open;
    uv_timer_t run_timer;     /* 0 ms: reconcile */
    uv_timer_t retry_timer;   /* the earliest expectation or backoff deadline */
    json_t *expect[ASVC_NK];  /* name -> {"rv": written resourceVersion, "until": ms} */
    json_t *backoff[ASVC_NK]; /* name -> {"next": ms, "delay": ms} */
    asvc_wr wrs;              /* list head */
    ctl_adaptersvc_stats stats;
};

static int64_t now_ms(ctl_adaptersvc *a)
{
    return (int64_t)uv_now(k8s_client_loop(a->c));
}

static int64_t int_at(const json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

/* ---------------------------------------------------------------- writes */

static void wr_unlink(asvc_wr *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
    free(w);
}

static void wr_cancel_all(ctl_adaptersvc *a)
{
    while (a->wrs.next != &a->wrs) {
        asvc_wr *w = a->wrs.next;
        if (w->req) k8s_cancel(w->req);
        wr_unlink(w);
    }
}

static int wr_pending(ctl_adaptersvc *a, int ki, const char *name)
{
    for (asvc_wr *w = a->wrs.next; w != &a->wrs; w = w->next)
        if (w->ki == ki && !strcmp(w->name, name)) return 1;
    return 0;
}

static void set_backoff(ctl_adaptersvc *a, int ki, const char *name)
{
    json_t *b = json_object_get(a->backoff[ki], name);
    int64_t d = b ? int_at(b, "delay") * 2 : ASVC_BACKOFF_MIN_MS;
    if (d > ASVC_BACKOFF_MAX_MS) d = ASVC_BACKOFF_MAX_MS;
    json_object_set_new(a->backoff[ki], name,
                        json_pack("{s:I,s:I}", "next", (json_int_t)(now_ms(a) + d), "delay",
                                  (json_int_t)d)); /* NULL on OOM: retried at the next kick */
}

static void wr_done(const k8s_resp *r, void *ud)
{
    asvc_wr *w = ud;
    ctl_adaptersvc *a = w->a;
    int ki = w->ki;
    if (r->code >= 200 && r->code < 300) {
        json_object_del(a->backoff[ki], w->name);
        const char *rv = k8s_meta(r->body, "resourceVersion");
        const json_t *cur = k8s_reflector_get(a->refl[ki], a->ns, w->name);
        /* wait for the watch to show it, unless it already does */
        if (rv[0] && (!cur || strcmp(k8s_meta(cur, "resourceVersion"), rv)))
            json_object_set_new(a->expect[ki], w->name,
                                json_pack("{s:s,s:I}", "rv", rv, "until",
                                          (json_int_t)(now_ms(a) + CTL_ADAPTERSVC_EXPECT_MS)));
        bx_info("%s %s/%s: %s", KINDS[ki].kind, a->ns, w->name, w->create ? "created" : "patched");
    } else if (w->create && r->code == 409) {
        /* One of that name exists without our label (a user's, or AIBrix's controller's): not
         * ours to change. Said once; no retry until the adapter goes or this process restarts
         * (prune drops the mark with the adapter). */
        a->stats.failures++;
        json_object_set_new(a->backoff[ki], w->name,
                            json_pack("{s:I,s:I}", "next", (json_int_t)INT64_MAX, "delay",
                                      (json_int_t)ASVC_BACKOFF_MAX_MS));
        bx_warn("%s %s/%s exists and is not the adapter's (no label %s): left alone",
                KINDS[ki].kind, a->ns, w->name, "adapter.model.aibrix.ai/name");
    } else {
        a->stats.failures++;
        set_backoff(a, ki, w->name);
        bx_warn("%s %s/%s: %s failed: %ld %s %s", KINDS[ki].kind, a->ns, w->name,
                w->create ? "create" : "patch", r->code, r->status ? r->status->reason : "",
                r->status ? r->status->message : r->error);
    }
    wr_unlink(w);
    ctl_adaptersvc_kick(a);
}

static void send_write(ctl_adaptersvc *a, int ki, const char *name, const json_t *cur,
                       const json_t *want)
{
    char path[512];
    const asvc_kind *k = &KINDS[ki];
    if (k8s_path(path, sizeof(path), k->group, k->version, a->ns, k->plural, cur ? name : NULL,
                 NULL) != 0)
        return;
    json_t *body = cur ? json_deep_copy(want) : ctl_adaptersvc_strip_nulls(want);
    asvc_wr *w = calloc(1, sizeof(*w));
    if (!body || !w ||
        (cur && json_object_set_new(json_object_get(body, "metadata"), "resourceVersion",
                                    json_string(k8s_meta(cur, "resourceVersion"))) != 0)) {
        json_decref(body);
        free(w);
        return;
    }
    w->a = a;
    w->ki = ki;
    w->create = !cur;
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->req = cur ? k8s_patch(a->c, path, K8S_PATCH_MERGE, body, wr_done, w)
                 : k8s_create(a->c, path, body, wr_done, w);
    json_decref(body);
    if (!w->req) {
        free(w);
        return;
    }
    w->next = a->wrs.next;
    w->prev = &a->wrs;
    a->wrs.next->prev = w;
    a->wrs.next = w;
    if (cur)
        a->stats.patches++;
    else
        a->stats.creates++;
}

/* ---------------------------------------------------------------- reconcile */

/* 1 while the object waits (an expectation or a backoff); *next: the
 * earliest deadline so far. */
static int waiting(ctl_adaptersvc *a, int ki, const char *name, int64_t now, int64_t *next)
{
    const json_t *e = json_object_get(a->expect[ki], name);
    int64_t t = 0;
    if (e) {
        t = int_at(e, "until");
        if (now >= t) {
            json_object_del(a->expect[ki], name);
            t = 0;
        }
    }
    const json_t *b = t ? NULL : json_object_get(a->backoff[ki], name);
    if (b && int_at(b, "next") > now) t = int_at(b, "next");
    if (t && t != INT64_MAX && (!*next || t < *next)) *next = t; /* MAX: left alone */
    return t != 0;
}

static void reconcile_one(ctl_adaptersvc *a, const json_t *adapter, const ctl_podview *pods,
                          size_t n, int64_t now, int64_t *next)
{
    const char *name = k8s_meta(adapter, "name");
    if (k8s_meta(adapter, "deletionTimestamp")[0]) return; /* its objects go with it */
    json_t *want[ASVC_NK];
    if (ctl_adaptersvc_desired(adapter, pods, n, &want[0], &want[1]) != 0) return;
    for (int ki = 0; ki < ASVC_NK; ki++) {
        if (wr_pending(a, ki, name) || waiting(a, ki, name, now, next)) continue;
        const json_t *cur = k8s_reflector_get(a->refl[ki], a->ns, name);
        if (!cur || ctl_adaptersvc_differs(cur, want[ki])) send_write(a, ki, name, cur, want[ki]);
    }
    json_decref(want[0]);
    json_decref(want[1]);
}

static int pod_name_cmp(const void *x, const void *y)
{
    return strcmp(((const ctl_podview *)x)->name, ((const ctl_podview *)y)->name);
}

/* Drops the expectations and backoffs of adapters that went. */
static void prune(ctl_adaptersvc *a, const json_t *adapters, json_t *m)
{
    const char *name;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(m, tmp, name, v)
    {
        char key[2 * CTL_NAME_MAX + 2];
        snprintf(key, sizeof(key), "%s/%s", a->ns, name);
        if (!json_object_get(adapters, key)) json_object_del(m, name);
    }
}

static void on_retry(uv_timer_t *t)
{
    ctl_adaptersvc_kick(t->data);
}

static void on_run(uv_timer_t *t)
{
    ctl_adaptersvc *a = t->data;
    if (!a->active || a->synced_mask != (1 << ASVC_NK) - 1) return;
    const json_t *adapters = ctl_objstore_k8s_cache(a->store, CTL_KIND_MODEL_ADAPTER);
    if (!adapters) return;
    a->stats.reconciles++;
    size_t n = ctl_orch_pods(a->orch, NULL, NULL, 0);
    ctl_podview *pods = n ? calloc(n, sizeof(*pods)) : NULL;
    if (n && !pods) {
        uv_timer_start(&a->retry_timer, on_retry, ASVC_BACKOFF_MIN_MS, 0);
        return;
    }
    n = ctl_orch_pods(a->orch, NULL, pods, n);
    if (n > 1) qsort(pods, n, sizeof(*pods), pod_name_cmp);
    int64_t now = now_ms(a), next = 0;
    const char *key;
    json_t *obj;
    json_object_foreach((json_t *)adapters, key, obj) reconcile_one(a, obj, pods, n, now, &next);
    free(pods);
    for (int ki = 0; ki < ASVC_NK; ki++) {
        prune(a, adapters, a->expect[ki]);
        prune(a, adapters, a->backoff[ki]);
    }
    uv_timer_stop(&a->retry_timer);
    if (next) uv_timer_start(&a->retry_timer, on_retry, (uint64_t)(next - now), 0);
}

/* ---------------------------------------------------------------- reflectors */

static void seen(void *ud, const json_t *obj, int gone)
{
    asvc_ctx *x = ud;
    ctl_adaptersvc *a = x->a;
    const char *name = k8s_meta(obj, "name");
    const json_t *e = json_object_get(a->expect[x->ki], name);
    if (e && (gone || !strcmp(json_string_value(json_object_get(e, "rv")),
                              k8s_meta(obj, "resourceVersion"))))
        json_object_del(a->expect[x->ki], name);
    ctl_adaptersvc_kick(a);
}

static void r_add(k8s_reflector *r, const json_t *obj, void *ud)
{
    (void)r;
    seen(ud, obj, 0);
}

static void r_update(k8s_reflector *r, const json_t *old, const json_t *obj, void *ud)
{
    (void)r;
    (void)old;
    seen(ud, obj, 0);
}

static void r_delete(k8s_reflector *r, const json_t *obj, void *ud)
{
    (void)r;
    seen(ud, obj, 1);
}

static void r_synced(k8s_reflector *r, void *ud)
{
    (void)r;
    asvc_ctx *x = ud;
    x->a->synced_mask |= 1 << x->ki;
    ctl_adaptersvc_kick(x->a);
}

/* ---------------------------------------------------------------- API */

static void timer_closed(uv_handle_t *h)
{
    ctl_adaptersvc *a = h->data;
    if (--a->timers_open == 0) free(a);
}

void ctl_adaptersvc_close(ctl_adaptersvc *a)
{
    if (!a) return;
    wr_cancel_all(a);
    for (int ki = 0; ki < ASVC_NK; ki++) {
        if (a->refl[ki]) k8s_reflector_close(a->refl[ki], NULL, NULL);
        a->refl[ki] = NULL;
        json_decref(a->expect[ki]);
        json_decref(a->backoff[ki]);
    }
    a->timers_open = 2;
    uv_close((uv_handle_t *)&a->run_timer, timer_closed);
    uv_close((uv_handle_t *)&a->retry_timer, timer_closed);
}

int ctl_adaptersvc_open(k8s_client *c, const ctl_adaptersvc_opts *o, ctl_adaptersvc **out,
                        char *err, size_t errlen)
{
    *out = NULL;
    if (!o || !o->ns || !o->ns[0] || strlen(o->ns) > CTL_NAME_MAX || !o->store || !o->orch) {
        snprintf(err, errlen, "adapter services: a namespace, store and orchestrator are required");
        return -1;
    }
    ctl_adaptersvc *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "adapter services: out of memory");
        return -1;
    }
    a->c = c;
    a->store = o->store;
    a->orch = o->orch;
    snprintf(a->ns, sizeof(a->ns), "%s", o->ns);
    a->wrs.next = a->wrs.prev = &a->wrs;
    uv_timer_init(k8s_client_loop(c), &a->run_timer);
    uv_timer_init(k8s_client_loop(c), &a->retry_timer);
    a->run_timer.data = a->retry_timer.data = a;
    static const k8s_reflector_cbs cbs = {
        .on_add = r_add, .on_update = r_update, .on_delete = r_delete, .on_synced = r_synced};
    for (int ki = 0; ki < ASVC_NK; ki++) {
        const asvc_kind *k = &KINDS[ki];
        a->ctx[ki].a = a;
        a->ctx[ki].ki = ki;
        k8s_reflector_opts ro;
        k8s_reflector_opts_default(&ro);
        ro.label_selector = CTL_ADAPTERSVC_LABEL_ADAPTER;
        if (!(a->expect[ki] = json_object()) || !(a->backoff[ki] = json_object()) ||
            k8s_path(a->coll[ki], sizeof(a->coll[ki]), k->group, k->version, a->ns, k->plural, NULL,
                     NULL) != 0)
            goto fail;
        ro.path = a->coll[ki];
        if (k8s_reflector_new(c, &ro, &cbs, &a->ctx[ki], &a->refl[ki]) != 0) goto fail;
    }
    for (int ki = 0; ki < ASVC_NK; ki++)
        k8s_reflector_start(a->refl[ki]);
    *out = a;
    return 0;
fail:
    snprintf(err, errlen, "adapter services: cannot start the reflectors");
    ctl_adaptersvc_close(a);
    return -1;
}

int ctl_adaptersvc_synced(const ctl_adaptersvc *a)
{
    return a && a->synced_mask == (1 << ASVC_NK) - 1;
}

void ctl_adaptersvc_set_active(ctl_adaptersvc *a, int active)
{
    if (!a) return;
    a->active = active;
    if (active) {
        ctl_adaptersvc_kick(a);
        return;
    }
    wr_cancel_all(a);
    for (int ki = 0; ki < ASVC_NK; ki++) {
        json_object_clear(a->expect[ki]);
        json_object_clear(a->backoff[ki]);
    }
    uv_timer_stop(&a->run_timer);
    uv_timer_stop(&a->retry_timer);
}

void ctl_adaptersvc_kick(ctl_adaptersvc *a)
{
    if (!a || !a->active || uv_is_active((uv_handle_t *)&a->run_timer)) return;
    uv_timer_start(&a->run_timer, on_run, 0, 0);
}

void ctl_adaptersvc_get_stats(const ctl_adaptersvc *a, ctl_adaptersvc_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (a) *out = a->stats;
}
