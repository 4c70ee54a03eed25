/* ctl_orch_k8s: the "kubernetes" orchestrator (ctl_orch_k8s.h): a Pod and
 * a Deployment reflector, pod views rebuilt lazily, /scale for apply and
 * scale; other kinds' targets in ctl_orch_k8s_tgt.c. */
#include "ctl/ctl_orch_k8s.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "ctl/ctl_objstore_k8s.h" /* ctl_objstore_k8s_time_ms */
#include "ctl/ctl_orch_k8s_tgt.h"
#include "k8s/k8s_reflector.h"
#include "k8s/k8s_write.h"

typedef struct pod_ent {
    char *name, *deployment, *model, *host, *url;
    json_t *labels;
    ctl_podview v;
} pod_ent;

typedef struct scale_wr {
    struct scale_wr *next, *prev;
    struct ctl_orch_k8s *o;
    k8s_req *req;
    char name[CTL_TARGET_KEY_MAX];
    long replicas;
} scale_wr;

typedef struct ctl_orch_k8s {
    ctl_orch base; /* first */
    k8s_client *c;
    ctl_orch_k8s_cfg cfg;
    char ns[CTL_NAME_MAX + 1];
    char pods_path[256], deps_path[256];
    k8s_reflector *pods_r, *deps_r;
    ctl_orch_k8s_tgt *tgts; /* kinds other than Deployment */
    int synced_mask, synced_told, closing;
    pod_ent *ents;
    size_t nents;
    int dirty;
    scale_wr wrs;
    unsigned long scales;
    void (*done)(void *);
    void *done_ud;
    int closes_left;
} ctl_orch_k8s;

/* ---------------------------------------------------------------- pure */

static const char *label(const json_t *obj, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), key));
}

int ctl_orch_k8s_pod_deployment(const json_t *pod, char *buf, size_t cap)
{
    json_t *owners = json_object_get(json_object_get(pod, "metadata"), "ownerReferences");
    const char *ctrl = NULL, *rs = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(owners, i, r)
    {
        const char *kind = json_string_value(json_object_get(r, "kind"));
        const char *name = json_string_value(json_object_get(r, "name"));
        if (!kind || !name) continue;
        if (!strcmp(kind, "ReplicaSet")) rs = name;
        if (json_is_true(json_object_get(r, "controller")) && !ctrl) ctrl = name;
    }
    if (rs) {
        const char *hash = label(pod, "pod-template-hash");
        size_t n = strlen(rs), h = hash ? strlen(hash) : 0;
        if (h && n > h + 1 && rs[n - h - 1] == '-' && !strcmp(rs + n - h, hash)) {
            if (n - h - 1 >= cap) return -1;
            memcpy(buf, rs, n - h - 1);
            buf[n - h - 1] = '\0';
            return 0;
        }
        ctrl = rs;
    }
    if (!ctrl) ctrl = label(pod, CTL_LABEL_MODEL);
    if (!ctrl || strlen(ctrl) >= cap) return -1;
    snprintf(buf, cap, "%s", ctrl);
    return 0;
}

/* ---------------------------------------------------------------- views */

static void ent_free(pod_ent *e)
{
    free(e->name);
    free(e->deployment);
    free(e->model);
    free(e->host);
    free(e->url);
    json_decref(e->labels);
}

static void ents_clear(ctl_orch_k8s *o)
{
    for (size_t i = 0; i < o->nents; i++)
        ent_free(&o->ents[i]);
    free(o->ents);
    o->ents = NULL;
    o->nents = 0;
}

/* Fills e from a pod; 0, 1 when it is not an engine pod, -1 on OOM. */
static int ent_from(const ctl_orch_k8s *o, pod_ent *e, const json_t *pod)
{
    memset(e, 0, sizeof(*e));
    const char *model = NULL;
    int port = 0;
    if (k8s_pod_engine_labels(pod, &model, &port) != K8S_POD_ENGINE) return 1; /* as the gateway */
    char dep[CTL_TARGET_KEY_MAX];
    const char *key = ctl_orch_k8s_tgt_match(
        o->tgts, json_object_get(json_object_get(pod, "metadata"), "labels"));
    if (key)
        snprintf(dep, sizeof(dep), "%s", key);
    else if (ctl_orch_k8s_pod_deployment(pod, dep, sizeof(dep)) != 0)
        return 1;
    json_t *st = json_object_get(pod, "status");
    const char *ip = json_string_value(json_object_get(st, "podIP"));
    if (!ip) ip = "";
    char url[300];
    snprintf(url, sizeof(url), strchr(ip, ':') ? "http://[%s]:%d" : "http://%s:%d", ip, port);
    e->name = strdup(k8s_meta(pod, "name"));
    e->deployment = strdup(dep);
    e->model = strdup(model);
    e->host = strdup(ip);
    e->url = strdup(url);
    json_t *lb = json_object_get(json_object_get(pod, "metadata"), "labels");
    e->labels = json_is_object(lb) ? json_incref(lb) : json_object();
    if (!e->name || !e->deployment || !e->model || !e->host || !e->url || !e->labels) {
        ent_free(e);
        return -1;
    }
    ctl_pod_phase ph = CTL_POD_STARTING;
    int64_t since = 0;
    if (k8s_meta(pod, "deletionTimestamp")[0])
        ph = CTL_POD_STOPPING;
    else if (ip[0] && k8s_pod_ready(pod))
        ph = CTL_POD_READY;
    if (ph == CTL_POD_READY) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(st, "conditions"), i, c)
        {
            const char *t = json_string_value(json_object_get(c, "type"));
            if (t && !strcmp(t, "Ready"))
                since = ctl_objstore_k8s_time_ms(
                    json_string_value(json_object_get(c, "lastTransitionTime")));
        }
    }
    json_t *cs = json_array_get(json_object_get(st, "containerStatuses"), 0);
    int restarts = (int)json_integer_value(json_object_get(cs, "restartCount"));
    e->v = (ctl_podview){.name = e->name,
                         .deployment = e->deployment,
                         .model = e->model,
                         .url = e->url,
                         .host = e->host,
                         .labels = e->labels,
                         .port = port,
                         .phase = ph,
                         .restarts = restarts,
                         .ready_since_ms = since};
    return 0;
}

static int ent_cmp(const void *a, const void *b)
{
    const pod_ent *x = a, *y = b;
    int c = strcmp(x->deployment, y->deployment);
    return c ? c : strcmp(x->name, y->name);
}

static void rebuild(ctl_orch_k8s *o)
{
    if (!o->dirty) return;
    ents_clear(o);
    o->dirty = 0;
    const json_t *cache = o->pods_r ? k8s_reflector_cache(o->pods_r) : NULL;
    size_t cap = json_object_size(cache);
    if (!cap) return;
    o->ents = calloc(cap, sizeof(*o->ents));
    if (!o->ents) {
        o->dirty = 1;
        return;
    }
    const char *k;
    json_t *pod;
    json_object_foreach((json_t *)cache, k, pod)
    {
        if (o->nents < cap && ent_from(o, &o->ents[o->nents], pod) == 0) o->nents++;
    }
    qsort(o->ents, o->nents, sizeof(*o->ents), ent_cmp);
    int replica = 0;
    for (size_t i = 0; i < o->nents; i++) {
        if (i && strcmp(o->ents[i].deployment, o->ents[i - 1].deployment)) replica = 0;
        o->ents[i].v.replica = replica++;
    }
}

/* ---------------------------------------------------------------- reflectors */

static void pod_changed(ctl_orch_k8s *o, const json_t *pod, int gone)
{
    o->dirty = 1;
    if (!o->synced_told || o->closing) return;
    pod_ent e;
    if (ent_from(o, &e, pod) != 0) return;
    if (gone) e.v.phase = CTL_POD_GONE;
    /* The replica index as of the last snapshot (0 for a pod not in it):
     * rebuilding the snapshot for every event would make a LIST of n pods
     * arriving as n events cost n^2. ctl_orch_pods rebuilds it. */
    pod_ent *old = o->nents ? bsearch(&e, o->ents, o->nents, sizeof(*o->ents), ent_cmp) : NULL;
    e.v.replica = old ? old->v.replica : 0;
    ctl_orch_changed(&o->base, &e.v);
    ent_free(&e);
}

/* The cache keeps what ent_from and the adapters' podSelectors read: every
 * label, the owners, readiness and its time, restarts. */
static json_t *p_slim(k8s_reflector *r, const json_t *obj, void *ud)
{
    (void)r;
    (void)ud;
    return k8s_pod_slim(obj, K8S_POD_SLIM_ALL_LABELS | K8S_POD_SLIM_OWNERS | K8S_POD_SLIM_DETAIL);
}

static void p_add(k8s_reflector *r, const json_t *obj, void *ud)
{
    (void)r;
    pod_changed(ud, obj, 0);
}

static void p_update(k8s_reflector *r, const json_t *old, const json_t *obj, void *ud)
{
    (void)r;
    (void)old;
    pod_changed(ud, obj, 0);
}

static void p_delete(k8s_reflector *r, const json_t *obj, void *ud)
{
    (void)r;
    pod_changed(ud, obj, 1);
}

static void synced_bit(ctl_orch_k8s *o, int bit)
{
    o->synced_mask |= bit;
    if (o->synced_mask == 3 && !o->synced_told) {
        o->synced_told = 1;
        if (o->cfg.on_synced) o->cfg.on_synced(o->base.ud);
    }
}

static void p_synced(k8s_reflector *r, void *ud)
{
    (void)r;
    synced_bit(ud, 1);
}

static void dep_report(ctl_orch_k8s *o, const json_t *dep)
{
    if (!o->cfg.on_replicas || o->closing) return;
    json_t *rep = json_object_get(json_object_get(dep, "spec"), "replicas");
    int n = json_is_integer(rep) ? (int)json_integer_value(rep) : 1;
    o->cfg.on_replicas(o->base.ud, k8s_meta(dep, "name"), label(dep, CTL_LABEL_MODEL), n);
}

static void dep_tell(ctl_orch_k8s *o, const json_t *dep, int gone)
{
    if (o->cfg.on_deployment && !o->closing)
        o->cfg.on_deployment(o->base.ud, k8s_meta(dep, "name"), gone ? NULL : dep);
}

static void d_add(k8s_reflector *r, const json_t *obj, void *ud)
{
    (void)r;
    dep_report(ud, obj);
    dep_tell(ud, obj, 0);
}

static void d_delete(k8s_reflector *r, const json_t *obj, void *ud)
{
    (void)r;
    dep_tell(ud, obj, 1);
}

static void d_update(k8s_reflector *r, const json_t *old, const json_t *obj, void *ud)
{
    (void)r;
    json_t *a = json_object_get(json_object_get(old, "spec"), "replicas");
    json_t *b = json_object_get(json_object_get(obj, "spec"), "replicas");
    if (!json_equal(a, b) || !a) dep_report(ud, obj);
    dep_tell(ud, obj, 0);
}

static void d_synced(k8s_reflector *r, void *ud)
{
    (void)r;
    synced_bit(ud, 2);
}

/* ---------------------------------------------------------------- scale targets */

static void t_replicas(void *ud, const char *key, const char *model, int replicas)
{
    ctl_orch_k8s *o = ud;
    if (o->cfg.on_replicas && !o->closing) o->cfg.on_replicas(o->base.ud, key, model, replicas);
}

static void t_error(void *ud, const char *key, const char *reason, const char *message)
{
    ctl_orch_k8s *o = ud;
    if (o->cfg.on_target_error && !o->closing)
        o->cfg.on_target_error(o->base.ud, key, reason, message);
}

/* Pods may belong to other targets now: the pods whose target changed are
 * told again (all of them when the views were stale already). */
static void t_selectors(void *ud)
{
    ctl_orch_k8s *o = ud;
    json_t *was = NULL;
    if (!o->dirty && (was = json_object()))
        for (size_t i = 0; i < o->nents; i++)
            json_object_set_new(was, o->ents[i].name, json_string(o->ents[i].deployment));
    o->dirty = 1;
    if (o->synced_told && !o->closing) {
        rebuild(o);
        for (size_t i = 0; i < o->nents; i++) {
            const char *dep = json_string_value(json_object_get(was, o->ents[i].name));
            if (!dep || strcmp(dep, o->ents[i].deployment))
                ctl_orch_changed(&o->base, &o->ents[i].v);
        }
    }
    json_decref(was);
}

/* ---------------------------------------------------------------- table */

static void scale_free(scale_wr *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
    free(w);
}

static void scale_done(const k8s_resp *r, void *ud)
{
    scale_wr *w = ud;
    if (r->code >= 200 && r->code < 300)
        bx_info("%s/%s: scaled to %ld", w->o->ns, w->name, w->replicas);
    else
        bx_warn("%s/%s: scale to %ld failed: %ld %s %s", w->o->ns, w->name, w->replicas, r->code,
                r->status ? r->status->reason : "", r->status ? r->status->message : r->error);
    scale_free(w);
}

/* Merge-patches <path>/scale; name is the target's key (for the log). */
static int scale_send(ctl_orch_k8s *o, const char *path, const char *name, int replicas, char *err,
                      size_t errlen)
{
    scale_wr *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->o = o;
    w->replicas = replicas;
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->next = o->wrs.next;
    w->prev = &o->wrs;
    o->wrs.next->prev = w;
    o->wrs.next = w;
    w->req = k8s_scale(o->c, path, replicas, scale_done, w);
    if (!w->req) {
        scale_free(w);
        snprintf(err, errlen, "orchestrator: cannot send the scale request");
        return -1;
    }
    o->scales++;
    return 0;
}

static int k_scale(ctl_orch *b, const char *key, int replicas, char *err, size_t errlen)
{
    ctl_orch_k8s *o = (ctl_orch_k8s *)b;
    if (o->closing || !key || replicas < 0) {
        snprintf(err, errlen, "orchestrator: %s", o->closing ? "closing" : "bad scale");
        return -1;
    }
    char path[600];
    int r = ctl_orch_k8s_tgt_path(o->tgts, key, path, sizeof(path), err, errlen);
    if (r < 0) return -1;
    if (r == 1 && (strchr(key, '/') || k8s_path(path, sizeof(path), "apps", "v1", o->ns,
                                                "deployments", key, NULL) != 0)) {
        snprintf(err, errlen, "orchestrator: %s is not a known scale target", key);
        return -1;
    }
    return scale_send(o, path, key, replicas, err, errlen);
}

static int k_apply(ctl_orch *b, const ctl_obj *d, int replicas, char *err, size_t errlen)
{
    if (!d || d->kind != CTL_KIND_DEPLOYMENT) {
        snprintf(err, errlen, "orchestrator: bad apply");
        return -1;
    }
    return k_scale(b, d->name, replicas, err, errlen);
}

static void k_track(ctl_orch *b, const ctl_target *ts, size_t n)
{
    ctl_orch_k8s *o = (ctl_orch_k8s *)b;
    if (!o->closing) ctl_orch_k8s_tgt_set(o->tgts, ts, n);
}

static int k_adopt(ctl_orch *b, const ctl_obj *d, int replicas, char *err, size_t errlen)
{
    (void)b;
    (void)d;
    (void)replicas;
    (void)err;
    (void)errlen;
    return 0;
}

static int k_remove(ctl_orch *b, const char *d, char *err, size_t errlen)
{
    (void)b;
    (void)d;
    (void)err;
    (void)errlen;
    return 0;
}

static size_t k_pods(ctl_orch *b, const char *dep, ctl_podview *out, size_t max)
{
    ctl_orch_k8s *o = (ctl_orch_k8s *)b;
    rebuild(o);
    size_t n = 0;
    for (size_t i = 0; i < o->nents; i++) {
        if (dep && strcmp(o->ents[i].deployment, dep)) continue;
        if (n < max && out) out[n] = o->ents[i].v;
        n++;
    }
    return n;
}

static void k_stats(const ctl_orch *b, ctl_orch_stats *out)
{
    const ctl_orch_k8s *o = (const ctl_orch_k8s *)b;
    memset(out, 0, sizeof(*out));
    out->pods = o->pods_r ? json_object_size(k8s_reflector_cache(o->pods_r)) : 0;
}

static void closed_one(void *ud)
{
    ctl_orch_k8s *o = ud;
    if (--o->closes_left > 0) return;
    void (*done)(void *) = o->done;
    void *dud = o->done_ud;
    ents_clear(o);
    free(o);
    if (done) done(dud);
}

static void k_close(ctl_orch *b, int stop_pods, void (*done)(void *ud), void *ud)
{
    (void)stop_pods;
    ctl_orch_k8s *o = (ctl_orch_k8s *)b;
    o->closing = 1;
    o->done = done;
    o->done_ud = ud;
    while (o->wrs.next != &o->wrs) {
        k8s_cancel(o->wrs.next->req);
        scale_free(o->wrs.next);
    }
    o->closes_left = 3;
    k8s_reflector_close(o->pods_r, closed_one, o);
    k8s_reflector_close(o->deps_r, closed_one, o);
    ctl_orch_k8s_tgt_close(o->tgts, closed_one, o);
    o->tgts = NULL;
}

static const ctl_orch_ops ctl_orch_k8s_ops = {
    .name = "kubernetes",
    .apply = k_apply,
    .adopt = k_adopt,
    .remove = k_remove,
    .pods = k_pods,
    .get_stats = k_stats,
    .close = k_close,
    .track = k_track,
    .scale = k_scale,
};

int ctl_orch_k8s_init(ctl_orch **out, k8s_client *c, const ctl_orch_k8s_cfg *cfg,
                      const ctl_orch_cbs *cbs, void *ud, char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg || !cfg->ns || !cfg->ns[0] || strlen(cfg->ns) > CTL_NAME_MAX) {
        snprintf(err, errlen, "orchestrator: a namespace is required");
        return -1;
    }
    ctl_orch_k8s *o = calloc(1, sizeof(*o));
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    o->c = c;
    o->cfg = *cfg;
    snprintf(o->ns, sizeof(o->ns), "%s", cfg->ns);
    o->cfg.ns = o->ns;
    o->wrs.next = o->wrs.prev = &o->wrs;
    ctl_orch_base_init(&o->base, &ctl_orch_k8s_ops, cbs, ud);
    static const ctl_orch_k8s_tgt_cbs tcbs = {
        .replicas = t_replicas, .error = t_error, .selectors = t_selectors};
    if (ctl_orch_k8s_tgt_new(c, o->ns, &tcbs, o, &o->tgts) != 0) {
        free(o);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    k8s_path(o->pods_path, sizeof(o->pods_path), "", "v1", o->ns, "pods", NULL, NULL);
    k8s_path(o->deps_path, sizeof(o->deps_path), "apps", "v1", o->ns, "deployments", NULL, NULL);
    static const k8s_reflector_cbs pcbs = {.on_add = p_add,
                                           .on_update = p_update,
                                           .on_delete = p_delete,
                                           .on_synced = p_synced,
                                           .transform = p_slim};
    static const k8s_reflector_cbs dcbs = {
        .on_add = d_add, .on_update = d_update, .on_delete = d_delete, .on_synced = d_synced};
    k8s_reflector_opts ro;
    k8s_reflector_opts_default(&ro);
    ro.path = o->pods_path;
    ro.label_selector = CTL_LABEL_MODEL;
    if (k8s_reflector_new(c, &ro, &pcbs, o, &o->pods_r) != 0) goto fail;
    k8s_reflector_opts_default(&ro);
    ro.path = o->deps_path;
    if (k8s_reflector_new(c, &ro, &dcbs, o, &o->deps_r) != 0) goto fail;
    k8s_reflector_start(o->pods_r);
    k8s_reflector_start(o->deps_r);
    *out = &o->base;
    return 0;
fail:
    if (o->pods_r) k8s_reflector_close(o->pods_r, NULL, NULL);
    ctl_orch_k8s_tgt_close(o->tgts, NULL, NULL);
    free(o);
    snprintf(err, errlen, "orchestrator: cannot start the reflectors");
    return -1;
}

int ctl_orch_k8s_synced(const ctl_orch *b)
{
    return b && b->ops == &ctl_orch_k8s_ops && ((const ctl_orch_k8s *)b)->synced_mask == 3;
}

unsigned long ctl_orch_k8s_scales(const ctl_orch *b)
{
    return b && b->ops == &ctl_orch_k8s_ops ? ((const ctl_orch_k8s *)b)->scales : 0;
}

unsigned long ctl_orch_k8s_target_reads(const ctl_orch *b)
{
    return b && b->ops == &ctl_orch_k8s_ops
               ? ctl_orch_k8s_tgt_reads(((const ctl_orch_k8s *)b)->tgts)
               : 0;
}
