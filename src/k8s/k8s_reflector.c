/* k8s_reflector: see k8s_reflector.h. One request at a time (a LIST page
 * or the WATCH) and one timer for backoff; the state says which. */
#include "k8s/k8s_reflector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "common/bx_rand.h"

struct k8s_reflector {
    k8s_client *c;
    k8s_reflector_opts o;
    char *path, *label, *field;
    k8s_reflector_cbs cbs;
    void *ud;
    uv_timer_t timer;
    k8s_req *req;
    json_t *cache;   /* key -> object */
    json_t *pending; /* a LIST in progress: key -> object */
    char rv[64];
    int synced;
    int full_list; /* next LIST without limit (an expired continue token) */
    int expired;   /* the watch saw an ERROR 410 */
    int werr;      /* the watch saw another ERROR */
    int started;
    int closing;
    unsigned long w_events; /* events in the current watch */
    uint64_t w_start;
    long backoff_ms;
    uint64_t last_fail;
    uint64_t rng;
    k8s_reflector_stats st;
    void (*done)(void *);
    void *done_ud;
};

void k8s_reflector_opts_default(k8s_reflector_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->page_limit = 500;
    o->watch_min_s = 300;
    o->watch_max_s = 600;
    o->backoff_min_ms = 800;
    o->backoff_max_ms = 30000;
    o->backoff_reset_ms = 120000;
}

/* What the cache keeps of obj: a new reference (cbs.transform, or obj). */
static json_t *kept(k8s_reflector *r, json_t *obj)
{
    json_t *k = r->cbs.transform ? r->cbs.transform(r, obj, r->ud) : NULL;
    return k ? k : json_incref(obj);
}

static void do_list(k8s_reflector *r, const char *cont);
static void do_watch(k8s_reflector *r);

static int key_of(const json_t *obj, char *buf, size_t cap)
{
    const char *ns = k8s_meta(obj, "namespace"), *name = k8s_meta(obj, "name");
    if (!name[0]) return -1;
    int n = ns[0] ? snprintf(buf, cap, "%s/%s", ns, name) : snprintf(buf, cap, "%s", name);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static void on_backoff(uv_timer_t *t)
{
    k8s_reflector *r = t->data;
    if (r->synced && r->rv[0])
        do_watch(r);
    else
        do_list(r, NULL);
}

/* Waits the next backoff step, then lists (no RV) or watches (RV). */
static void backoff(k8s_reflector *r)
{
    uint64_t now = uv_now(k8s_client_loop(r->c));
    if (!r->backoff_ms || now - r->last_fail > (uint64_t)r->o.backoff_reset_ms)
        r->backoff_ms = r->o.backoff_min_ms;
    else if ((r->backoff_ms *= 2) > r->o.backoff_max_ms)
        r->backoff_ms = r->o.backoff_max_ms;
    r->last_fail = now;
    uv_timer_start(&r->timer, on_backoff, (uint64_t)r->backoff_ms, 0);
}

static void base_query(k8s_reflector *r, bx_buf *q)
{
    if (r->label) k8s_query_add(q, "labelSelector", r->label);
    if (r->field) k8s_query_add(q, "fieldSelector", r->field);
}

/* The LIST is complete: the pages replace the cache; report the diff. */
static void list_complete(k8s_reflector *r, const char *rv)
{
    json_t *old = r->cache;
    r->cache = r->pending;
    r->pending = NULL;
    snprintf(r->rv, sizeof(r->rv), "%s", rv);
    if (r->synced) r->st.relists++;
    const char *k;
    json_t *obj;
    json_object_foreach(r->cache, k, obj)
    {
        if (r->closing) break;
        json_t *was = json_object_get(old, k);
        if (!was) {
            if (r->cbs.on_add) r->cbs.on_add(r, obj, r->ud);
        } else if (strcmp(k8s_meta(was, "resourceVersion"), k8s_meta(obj, "resourceVersion"))) {
            if (r->cbs.on_update) r->cbs.on_update(r, was, obj, r->ud);
        }
    }
    json_object_foreach(old, k, obj)
    {
        if (r->closing) break;
        if (!json_object_get(r->cache, k) && r->cbs.on_delete) r->cbs.on_delete(r, obj, r->ud);
    }
    json_decref(old);
    r->synced = 1;
    if (!r->closing && r->cbs.on_synced) r->cbs.on_synced(r, r->ud);
    if (!r->closing) do_watch(r);
}

static void on_list(const k8s_resp *resp, void *ud)
{
    k8s_reflector *r = ud;
    r->req = NULL;
    if (resp->code != 200) {
        json_decref(r->pending);
        r->pending = NULL;
        if (resp->code == 410 && !r->full_list) {
            /* The continue token expired: one full list, at once. */
            r->st.expired++;
            r->full_list = 1;
            do_list(r, NULL);
            return;
        }
        r->full_list = 0;
        bx_warn("k8s: list %s: %ld %s: %s", r->path, resp->code, resp->status->reason,
                resp->status->message);
        backoff(r);
        if (r->cbs.on_list_error) r->cbs.on_list_error(r, resp->code, r->ud);
        return;
    }
    k8s_list l;
    char err[200];
    if (k8s_list_from(resp->body, &l, err, sizeof(err)) != 0) {
        bx_warn("k8s: list %s: %s", r->path, err);
        json_decref(r->pending);
        r->pending = NULL;
        backoff(r);
        return;
    }
    size_t i;
    json_t *it;
    char key[512];
    json_array_foreach(l.items, i, it)
    {
        if (key_of(it, key, sizeof(key)) == 0) json_object_set_new(r->pending, key, kept(r, it));
    }
    if (l.cont && !r->full_list) {
        do_list(r, l.cont);
    } else {
        r->full_list = 0;
        list_complete(r, l.rv);
    }
    k8s_list_free(&l);
}

static void do_list(k8s_reflector *r, const char *cont)
{
    if (!cont) {
        json_decref(r->pending);
        r->pending = json_object();
    }
    bx_buf q;
    bx_buf_init(&q);
    base_query(r, &q);
    if (!r->full_list) {
        char lim[16];
        snprintf(lim, sizeof(lim), "%d", r->o.page_limit);
        k8s_query_add(&q, "limit", lim);
    }
    if (cont) k8s_query_add(&q, "continue", cont);
    r->st.lists++;
    r->req = k8s_request(r->c, "GET", r->path, q.data ? q.data : "", NULL, NULL, on_list, r);
    bx_buf_free(&q);
    if (!r->req) backoff(r);
}

static void apply_event(k8s_reflector *r, k8s_watch_event *ev)
{
    char key[512];
    if (ev->rv[0]) snprintf(r->rv, sizeof(r->rv), "%s", ev->rv);
    if (ev->type == K8S_EV_BOOKMARK || key_of(ev->object, key, sizeof(key)) != 0) return;
    r->st.events++;
    json_t *was = json_object_get(r->cache, key);
    if (ev->type == K8S_EV_DELETED) {
        if (!was) return;
        json_t *obj = kept(r, ev->object);
        json_incref(was);
        json_object_del(r->cache, key);
        if (r->cbs.on_delete) r->cbs.on_delete(r, obj, r->ud);
        json_decref(was);
        json_decref(obj);
        return;
    }
    if (was && strcmp(k8s_meta(was, "resourceVersion"), ev->rv) == 0) return;
    json_t *obj = kept(r, ev->object);
    json_incref(was);
    json_object_set(r->cache, key, obj);
    if (!was) {
        if (r->cbs.on_add) r->cbs.on_add(r, obj, r->ud);
    } else {
        if (r->cbs.on_update) r->cbs.on_update(r, was, obj, r->ud);
        json_decref(was);
    }
    json_decref(obj);
}

static int on_line(const char *line, size_t len, void *ud)
{
    k8s_reflector *r = ud;
    k8s_watch_event ev;
    char err[200];
    if (k8s_watch_parse(line, len, &ev, err, sizeof(err)) != 0) {
        bx_warn("k8s: watch %s: skipped a line: %s", r->path, err);
        return 0;
    }
    r->w_events++;
    int stop = 0;
    if (ev.type == K8S_EV_ERROR) {
        if (ev.status.code == 410) {
            r->expired = 1;
        } else {
            bx_warn("k8s: watch %s: ERROR %ld %s: %s", r->path, ev.status.code, ev.status.reason,
                    ev.status.message);
        }
        stop = 1; /* the server ends the stream after an ERROR; do not wait for it */
        r->werr = ev.status.code != 410;
    } else {
        apply_event(r, &ev);
    }
    k8s_watch_event_free(&ev);
    return stop || r->closing;
}

static void relist(k8s_reflector *r)
{
    r->st.expired++;
    r->rv[0] = '\0';
    do_list(r, NULL);
}

static void on_watch_done(const k8s_resp *resp, void *ud)
{
    k8s_reflector *r = ud;
    r->req = NULL;
    if (r->closing) return;
    if (r->expired || resp->code == 410) {
        r->expired = 0;
        relist(r);
        return;
    }
    uint64_t now = uv_now(k8s_client_loop(r->c));
    if (resp->code == 200 && !r->werr && (r->w_events > 0 || now - r->w_start >= 1000)) {
        do_watch(r); /* a clean end: resume */
        return;
    }
    if (resp->code != 200)
        bx_warn("k8s: watch %s: %ld %s: %s", r->path, resp->code, resp->status->reason,
                resp->status->message);
    backoff(r);
}

static void do_watch(k8s_reflector *r)
{
    bx_buf q;
    bx_buf_init(&q);
    base_query(r, &q);
    int span = r->o.watch_max_s - r->o.watch_min_s;
    long to =
        r->o.watch_min_s + (span > 0 ? (long)(bx_splitmix64(&r->rng) % (uint64_t)(span + 1)) : 0);
    char tos[24];
    snprintf(tos, sizeof(tos), "%ld", to);
    k8s_query_add(&q, "watch", "1");
    k8s_query_add(&q, "resourceVersion", r->rv);
    k8s_query_add(&q, "allowWatchBookmarks", "true");
    k8s_query_add(&q, "timeoutSeconds", tos);
    r->st.watches++;
    r->w_events = 0;
    r->expired = 0;
    r->werr = 0;
    r->w_start = uv_now(k8s_client_loop(r->c));
    r->req = k8s_stream(r->c, r->path, q.data, to, on_line, on_watch_done, r);
    bx_buf_free(&q);
    if (!r->req) backoff(r);
}

int k8s_reflector_new(k8s_client *c, const k8s_reflector_opts *o, const k8s_reflector_cbs *cbs,
                      void *ud, k8s_reflector **out)
{
    *out = NULL;
    if (!o || !o->path || o->path[0] != '/') return -1;
    k8s_reflector *r = calloc(1, sizeof(*r));
    if (!r) return -1;
    r->c = c;
    r->o = *o;
    k8s_reflector_opts def;
    k8s_reflector_opts_default(&def);
    if (r->o.page_limit <= 0) r->o.page_limit = def.page_limit;
    if (r->o.watch_min_s <= 0) r->o.watch_min_s = def.watch_min_s;
    if (r->o.watch_max_s < r->o.watch_min_s) r->o.watch_max_s = r->o.watch_min_s;
    if (r->o.backoff_min_ms <= 0) r->o.backoff_min_ms = def.backoff_min_ms;
    if (r->o.backoff_max_ms < r->o.backoff_min_ms) r->o.backoff_max_ms = def.backoff_max_ms;
    if (r->o.backoff_reset_ms <= 0) r->o.backoff_reset_ms = def.backoff_reset_ms;
    if (cbs) r->cbs = *cbs;
    r->ud = ud;
    r->path = strdup(o->path);
    r->label = o->label_selector && o->label_selector[0] ? strdup(o->label_selector) : NULL;
    r->field = o->field_selector && o->field_selector[0] ? strdup(o->field_selector) : NULL;
    r->cache = json_object();
    r->rng = (uint64_t)(uintptr_t)r ^ uv_hrtime();
    if (!r->path || !r->cache || (o->label_selector && o->label_selector[0] && !r->label) ||
        (o->field_selector && o->field_selector[0] && !r->field) ||
        uv_timer_init(k8s_client_loop(c), &r->timer) != 0) {
        free(r->path);
        free(r->label);
        free(r->field);
        json_decref(r->cache);
        free(r);
        return -1;
    }
    r->timer.data = r;
    *out = r;
    return 0;
}

void k8s_reflector_start(k8s_reflector *r)
{
    if (r->started || r->closing) return;
    r->started = 1;
    do_list(r, NULL);
}

static void timer_closed(uv_handle_t *h)
{
    k8s_reflector *r = h->data;
    void (*done)(void *) = r->done;
    void *ud = r->done_ud;
    json_decref(r->cache);
    json_decref(r->pending);
    free(r->path);
    free(r->label);
    free(r->field);
    free(r);
    if (done) done(ud);
}

void k8s_reflector_close(k8s_reflector *r, void (*done)(void *ud), void *ud)
{
    if (r->closing) return;
    r->closing = 1;
    r->done = done;
    r->done_ud = ud;
    if (r->req) k8s_cancel(r->req);
    r->req = NULL;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, timer_closed);
}

const json_t *k8s_reflector_get(const k8s_reflector *r, const char *ns, const char *name)
{
    char key[512];
    int n = ns && ns[0] ? snprintf(key, sizeof(key), "%s/%s", ns, name)
                        : snprintf(key, sizeof(key), "%s", name);
    if (n < 0 || (size_t)n >= sizeof(key)) return NULL;
    return json_object_get(r->cache, key);
}

const json_t *k8s_reflector_cache(const k8s_reflector *r)
{
    return r->cache;
}

int k8s_reflector_synced(const k8s_reflector *r)
{
    return r->synced;
}

const char *k8s_reflector_rv(const k8s_reflector *r)
{
    return r->rv;
}

const k8s_reflector_stats *k8s_reflector_get_stats(const k8s_reflector *r)
{
    return &r->st;
}
