/* ctl_objstore_k8s: the "kubernetes" object store (ctl_objstore_k8s.h):
 * one reflector per kind (ModelAdapters, PodAutoscalers, RayClusterFleets,
 * RayClusterReplicaSets, RayClusters) whose changes are filtered by
 * generation into ctl_objstore_notify (status changes to the status
 * watchers), writes sent through k8s_write, and the ModelAdapter
 * finalizer. The pure helpers of the fleet kinds: ctl_objstore_k8s_orch.c. */
#include "ctl/ctl_objstore_k8s.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "common/bx_time.h"
#include "k8s/k8s_reflector.h"
#include "k8s/k8s_write.h"

#define K8S_NKINDS 5
#define K8S_FIN_CHECK_MS 200
#define K8S_STATUS_RETRY_MIN_MS 1000
#define K8S_STATUS_RETRY_MAX_MS 60000
#define K8S_MAX_QUEUED_EVENTS 1024

typedef struct kind_info {
    ctl_kind kind;
    const char *group, *version, *plural;
    int optional; /* its CRD may be absent: a LIST answering 404/403 counts as synced */
    int replace;  /* put of an existing object: GET + PUT (else a merge-patch) */
} kind_info;

/* ModelAdapter first: index 0 is the one with the finalizer. */
static const kind_info KINDS[K8S_NKINDS] = {
    {CTL_KIND_MODEL_ADAPTER, "model.aibrix.ai", "v1alpha1", "modeladapters", 0, 0},
    {CTL_KIND_POD_AUTOSCALER, "autoscaling.aibrix.ai", "v1alpha1", "podautoscalers", 0, 0},
    {CTL_KIND_RAYCLUSTER_FLEET, "orchestration.aibrix.ai", "v1alpha1", "rayclusterfleets", 1, 1},
    {CTL_KIND_RAYCLUSTER_REPLICASET, "orchestration.aibrix.ai", "v1alpha1", "rayclusterreplicasets",
     1, 1},
    {CTL_KIND_RAYCLUSTER, "ray.io", "v1", "rayclusters", 1, 1},
};

typedef struct ctl_objstore_k8s ctl_objstore_k8s;

typedef struct refl_ctx {
    ctl_objstore_k8s *s;
    int ki;
} refl_ctx;

/* One write in flight (so close and deactivation can cancel it). */
typedef struct k8s_wr {
    struct k8s_wr *next, *prev;
    ctl_objstore_k8s *s;
    k8s_req *req;
    k8s_op *op;
    int what;     /* WR_* */
    int ki;       /* the kind */
    json_t *want; /* WR_STATUS: the status sent (put back when it failed); WR_CREATE,
                   * WR_UPDATE: the manifest */
    char name[CTL_NAME_MAX + 1];
} k8s_wr;

enum { WR_STATUS, WR_PUT, WR_DELETE, WR_FIN_ADD, WR_FIN_DEL, WR_CREATE, WR_UPDATE };

struct ctl_objstore_k8s {
    ctl_objstore base; /* first */
    k8s_client *c;
    k8s_recorder *rec;
    char ns[CTL_NAME_MAX + 1];
    ctl_objstore_k8s_opts opts;
    k8s_reflector *refl[K8S_NKINDS];
    struct refl_ctx *ctx;     /* one per reflector */
    json_t *gone[K8S_NKINDS]; /* names whose DELETE was told at their deletionTimestamp */
    char coll[K8S_NKINDS][256];
    int synced_mask, synced_told, active, timers_open; /* synced: listed, or an absent CRD */
    json_t *pending; /* ModelAdapter name -> true: being deleted, finalizer ours */
    uv_timer_t fin_timer;
    /* Writes wait here for the flush timer (0 ms): a reflector callback
     * runs inside libcurl's, where no request may be started. */
    uv_timer_t flush_timer;
    json_t *q_fin;                /* ModelAdapter names whose finalizer to add */
    json_t *q_status[K8S_NKINDS]; /* name -> the status wanted (latest wins) */
    /* name -> {"status": the last status written, "rv": its reply's resourceVersion ("" while
     * in flight)}, until the cache shows that resourceVersion: the cache is older than our
     * write, so a status is compared with what was written rather than with the cache */
    json_t *sent[K8S_NKINDS];
    /* replace kinds: name -> {"m": the manifest put (latest wins), "exists": true when a
     * create found it there} */
    json_t *q_update[K8S_NKINDS];
    /* replace kinds: name -> true while our create/update is in flight (false once a watch
     * event of the object came meanwhile: judge by the cache then), then the resourceVersion it
     * got until the cache shows it (till then the cache is older than what we wrote: no put is
     * skipped by it) */
    json_t *upd_rv[K8S_NKINDS];
    json_t *q_events; /* [{io, type, reason, message}] */
    json_t *q_sends;  /* [{what, name, method, path, ctype, body}] */
    /* A status write that failed for a passing reason (no answer, 429, 5xx)
     * is queued again and waits: name -> [loop ms it may go, failures] */
    json_t *retry_at[K8S_NKINDS];
    uv_timer_t retry_timer;
    k8s_wr wrs; /* list head */
    ctl_objstore_k8s_stats stats;
};

/* ---------------------------------------------------------------- pure */

json_t *ctl_objstore_k8s_manifest(const json_t *cr)
{
    json_t *m = json_deep_copy(cr);
    if (!m) return NULL;
    json_object_del(m, "status");
    json_t *md = json_object_get(m, "metadata");
    if (json_is_object(md)) {
        static const char *const keep[] = {"name", "namespace", "labels", "annotations",
                                           "ownerReferences"};
        json_t *nm = json_object();
        if (!nm) {
            json_decref(m);
            return NULL;
        }
        for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
            json_t *v = json_object_get(md, keep[i]);
            if (v) json_object_set(nm, keep[i], v);
        }
        json_object_set_new(m, "metadata", nm);
    }
    return m;
}

int ctl_objstore_k8s_has_finalizer(const json_t *cr, const char *name)
{
    json_t *f = json_object_get(json_object_get(cr, "metadata"), "finalizers");
    size_t i;
    json_t *v;
    json_array_foreach(f, i,
                       v) if (json_is_string(v) && !strcmp(json_string_value(v), name)) return 1;
    return 0;
}

int64_t ctl_objstore_k8s_time_ms(const char *ts)
{
    int64_t ms;
    return ts && bx_time_parse_rfc3339(ts, &ms) == 0 ? ms : 0;
}

static int64_t gen_of(const json_t *obj)
{
    json_t *g = json_object_get(json_object_get(obj, "metadata"), "generation");
    return json_is_integer(g) ? (int64_t)json_integer_value(g) : 0;
}

static int deleting(const json_t *obj)
{
    return k8s_meta(obj, "deletionTimestamp")[0] != '\0';
}

int ctl_objstore_k8s_change(const json_t *old, const json_t *obj)
{
    if (!old) return deleting(obj) ? CTL_WATCH_DELETE + 1 : CTL_WATCH_PUT + 1;
    if (deleting(obj)) return deleting(old) ? 0 : CTL_WATCH_DELETE + 1;
    if (deleting(old)) return CTL_WATCH_PUT + 1; /* cannot happen on a server; be safe */
    return gen_of(old) != gen_of(obj) ? CTL_WATCH_PUT + 1 : 0;
}

json_t *ctl_objstore_k8s_status(ctl_kind kind, const json_t *status, int64_t generation)
{
    static const char *const ma[] = {
        "phase", "candidates", "desiredReplicas", "readyReplicas", "instances", "conditions", NULL};
    static const char *const pa[] = {
        "lastScaleTime",  "desiredScale",    "actualScale", "conditions",
        "scalingHistory", "scheduledBounds", "predictive",  NULL};
    if (kind != CTL_KIND_MODEL_ADAPTER && kind != CTL_KIND_POD_AUTOSCALER)
        return ctl_objstore_k8s_status_orch(kind, status);
    const char *const *keep = kind == CTL_KIND_MODEL_ADAPTER ? ma : pa;
    json_t *og = json_object_get(status, "observedGeneration");
    int64_t gen = json_is_integer(og) ? (int64_t)json_integer_value(og) : generation;
    json_t *out = json_object();
    if (!out) return NULL;
    for (size_t i = 0; keep[i]; i++) {
        json_t *v = json_object_get(status, keep[i]);
        if (v && json_object_set_new(out, keep[i], json_deep_copy(v)) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(out, "conditions"), i, c)
    {
        if (json_is_object(c) && !json_object_get(c, "observedGeneration"))
            json_object_set_new(c, "observedGeneration", json_integer(gen));
    }
    return out;
}

void ctl_objstore_k8s_keep_transitions(json_t *status, const json_t *cur)
{
    json_t *conds = json_object_get(status, "conditions");
    json_t *old = json_object_get(cur, "conditions");
    size_t i, k;
    json_t *c, *o;
    json_array_foreach(conds, i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        if (!type) continue;
        json_array_foreach(old, k, o)
        {
            const char *ot = json_string_value(json_object_get(o, "type"));
            if (!ot || strcmp(ot, type)) continue;
            json_t *t = json_object_get(o, "lastTransitionTime");
            if (json_equal(json_object_get(c, "status"), json_object_get(o, "status")) &&
                json_is_string(t))
                json_object_set(c, "lastTransitionTime", t);
            break;
        }
    }
}

/* ---------------------------------------------------------------- helpers */

static int kind_index(ctl_kind k)
{
    for (int i = 0; i < K8S_NKINDS; i++)
        if (KINDS[i].kind == k) return i;
    return -1;
}

static int kind_index_name(const char *kind)
{
    return kind ? kind_index(ctl_kind_parse(kind)) : -1;
}

static int item_path(ctl_objstore_k8s *s, int ki, const char *name, const char *sub, char *buf,
                     size_t cap)
{
    const kind_info *k = &KINDS[ki];
    return k8s_path(buf, cap, k->group, k->version, s->ns, k->plural, name, sub);
}

/* The cached object, or NULL. */
static const json_t *cached(ctl_objstore_k8s *s, int ki, const char *name)
{
    return s->refl[ki] ? k8s_reflector_get(s->refl[ki], s->ns, name) : NULL;
}

static void notify_obj(ctl_objstore_k8s *s, int ki, ctl_watch_type type, const json_t *obj)
{
    const char *name = k8s_meta(obj, "name");
    if (type == CTL_WATCH_DELETE) {
        ctl_watch_event ev = {.type = type, .kind = KINDS[ki].kind, .name = name};
        s->stats.notify_delete++;
        ctl_objstore_notify(&s->base, &ev);
        return;
    }
    json_t *m = ctl_objstore_k8s_manifest(obj);
    ctl_obj *o = NULL;
    char err[512];
    if (!m || ctl_obj_parse(m, &o, err, sizeof(err)) != 0) {
        bx_warn("%s %s/%s: %s", ctl_kind_name(KINDS[ki].kind), s->ns, name,
                m ? err : "out of memory");
        json_decref(m);
        return;
    }
    json_decref(m);
    o->generation = gen_of(obj);
    ctl_watch_event ev = {.type = type, .kind = o->kind, .name = o->name, .obj = o};
    s->stats.notify_put++;
    ctl_objstore_notify(&s->base, &ev);
    ctl_obj_free(o);
}

/* ---------------------------------------------------------------- writes */

static void schedule_flush(ctl_objstore_k8s *s);

static k8s_wr *wr_new(ctl_objstore_k8s *s, int what, const char *name)
{
    k8s_wr *w = calloc(1, sizeof(*w));
    if (!w) return NULL;
    w->s = s;
    w->what = what;
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->next = s->wrs.next;
    w->prev = &s->wrs;
    s->wrs.next->prev = w;
    s->wrs.next = w;
    return w;
}

static void wr_free(k8s_wr *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
    json_decref(w->want);
    free(w);
}

static void wr_cancel_all(ctl_objstore_k8s *s)
{
    while (s->wrs.next != &s->wrs) {
        k8s_wr *w = s->wrs.next;
        if (w->req) k8s_cancel(w->req);
        if (w->op) k8s_op_cancel(w->op);
        wr_free(w);
    }
}

static int wr_pending(ctl_objstore_k8s *s, int what, int ki, const char *name)
{
    for (k8s_wr *w = s->wrs.next; w != &s->wrs; w = w->next)
        if (w->what == what && w->ki == ki && !strcmp(w->name, name)) return 1;
    return 0;
}

static void on_retry_timer(uv_timer_t *t);

/* The backoff of a status write's next try after `fails` failures. */
uint64_t ctl_objstore_k8s_retry_ms(unsigned fails)
{
    uint64_t ms = K8S_STATUS_RETRY_MIN_MS;
    for (unsigned i = 1; i < fails && ms < K8S_STATUS_RETRY_MAX_MS; i++)
        ms *= 2;
    return ms < K8S_STATUS_RETRY_MAX_MS ? ms : K8S_STATUS_RETRY_MAX_MS;
}

/* A status write came back: forget its failures, or, when it failed for a
 * passing reason and no newer status waits, queue it again after a backoff
 * (otherwise a controller that writes only on change would leave it stale
 * until the next change). */
static void status_written(ctl_objstore_k8s *s, k8s_wr *w, long code)
{
    json_t *ra = s->retry_at[w->ki];
    if (code >= 200 && code < 300) {
        json_object_del(ra, w->name);
        return;
    }
    if (!s->active || !w->want || !(code == 0 || code == 429 || code >= 500)) {
        json_object_del(ra, w->name);
        return;
    }
    s->stats.status_retries++;
    json_int_t fails = json_integer_value(json_array_get(json_object_get(ra, w->name), 1)) + 1;
    uint64_t wait = ctl_objstore_k8s_retry_ms((unsigned)fails);
    uint64_t at = uv_now(k8s_client_loop(s->c)) + wait;
    json_object_set_new(ra, w->name, json_pack("[I,I]", (json_int_t)at, fails));
    if (!json_object_get(s->q_status[w->ki], w->name))
        json_object_set(s->q_status[w->ki], w->name, w->want);
    if (!uv_is_active((uv_handle_t *)&s->retry_timer) ||
        uv_timer_get_due_in(&s->retry_timer) > wait)
        uv_timer_start(&s->retry_timer, on_retry_timer, wait, 0);
}

static const char *const WR_NAMES[] = {"status write",      "put",    "delete", "finalizer add",
                                       "finalizer removal", "create", "update"};

static void wr_done(const k8s_resp *r, void *ud)
{
    k8s_wr *w = ud;
    ctl_objstore_k8s *s = w->s;
    int ok = r->code >= 200 && r->code < 300;
    int exists = w->what == WR_CREATE && r->code == 409 && r->status &&
                 !strcmp(r->status->reason, "AlreadyExists");
    if (exists && s->active && !json_object_get(s->q_update[w->ki], w->name)) {
        /* the cache was behind: update it instead (from the flush) */
        json_t *e = json_pack("{s:O,s:b}", "m", w->want, "exists", 1);
        if (e) json_object_set_new(s->q_update[w->ki], w->name, e);
    }
    /* a delete that finds nothing: already gone (the garbage collector, or
     * another controller, got there first), which is what it asked for */
    int gone = (w->what == WR_FIN_DEL || w->what == WR_DELETE) && r->code == 404;
    if (gone && w->what == WR_DELETE) bx_debug("delete of %s/%s: already gone", s->ns, w->name);
    if (!ok && !exists && !gone)
        bx_warn("%s of %s/%s failed: %ld %s %s", WR_NAMES[w->what], s->ns, w->name, r->code,
                r->status ? r->status->reason : "", r->status ? r->status->message : r->error);
    if (w->what == WR_FIN_DEL) {
        if (ok || r->code == 404) {
            if (ok) s->stats.finalizers_removed++;
            json_object_del(s->pending, w->name);
            bx_info("ModelAdapter %s/%s: finalizer removed", s->ns, w->name);
        }
    } else if (w->what == WR_FIN_ADD && ok) {
        s->stats.finalizers_added++;
    } else if (w->what == WR_STATUS) {
        const char *rv = ok ? k8s_meta(r->body, "resourceVersion") : "";
        const json_t *cur = cached(s, w->ki, w->name);
        json_t *snt = json_object_get(s->sent[w->ki], w->name);
        /* not taken, or the cache already shows it, or the cache moved while
         * it was in flight (our write's event may have come first, and no
         * later event names its resourceVersion): judge by the cache again */
        if (!snt || !rv[0] || json_is_true(json_object_get(snt, "moved")) ||
            (cur && !strcmp(k8s_meta(cur, "resourceVersion"), rv)))
            json_object_del(s->sent[w->ki], w->name);
        else
            json_object_set_new(snt, "rv", json_string(rv));
    }
    if (w->what == WR_CREATE || w->what == WR_UPDATE) {
        const char *rv = ok ? k8s_meta(r->body, "resourceVersion") : "";
        const json_t *cur = cached(s, w->ki, w->name);
        if (rv[0] && json_is_true(json_object_get(s->upd_rv[w->ki], w->name)) &&
            !(cur && !strcmp(k8s_meta(cur, "resourceVersion"), rv)))
            json_object_set_new(s->upd_rv[w->ki], w->name, json_string(rv));
        else
            json_object_del(s->upd_rv[w->ki], w->name);
    }
    int again = w->what == WR_STATUS || w->what == WR_CREATE || w->what == WR_UPDATE;
    if (w->what == WR_STATUS) status_written(s, w, r->code);
    wr_free(w);
    if (again) schedule_flush(s); /* a newer status may wait for this one */
}

static int fin_add_mutate(json_t *obj, void *ud)
{
    (void)ud;
    if (deleting(obj) || ctl_objstore_k8s_has_finalizer(obj, CTL_K8S_ADAPTER_FINALIZER)) return 1;
    json_t *md = json_object_get(obj, "metadata");
    json_t *f = json_object_get(md, "finalizers");
    if (!json_is_array(f)) {
        f = json_array();
        if (!f || json_object_set_new(md, "finalizers", f) != 0) return -1;
    }
    return json_array_append_new(f, json_string(CTL_K8S_ADAPTER_FINALIZER)) == 0 ? 0 : -1;
}

static int fin_del_mutate(json_t *obj, void *ud)
{
    (void)ud;
    json_t *f = json_object_get(json_object_get(obj, "metadata"), "finalizers");
    for (size_t i = 0; i < json_array_size(f); i++) {
        json_t *v = json_array_get(f, i);
        if (json_is_string(v) && !strcmp(json_string_value(v), CTL_K8S_ADAPTER_FINALIZER))
            return json_array_remove(f, i) == 0 ? 0 : -1;
    }
    return 1;
}

static void on_flush(uv_timer_t *t);

static void fin_write(ctl_objstore_k8s *s, int what, const char *name)
{
    if (!s->active || wr_pending(s, what, 0, name)) return;
    char path[512];
    if (item_path(s, 0, name, NULL, path, sizeof(path)) != 0) return;
    k8s_wr *w = wr_new(s, what, name);
    if (!w) return;
    w->op = k8s_update_retry(s->c, path, 5, what == WR_FIN_ADD ? fin_add_mutate : fin_del_mutate,
                             wr_done, w);
    if (!w->op) wr_free(w);
}

static void on_fin_timer(uv_timer_t *t);

static void schedule_flush(ctl_objstore_k8s *s)
{
    if (!uv_is_active((uv_handle_t *)&s->flush_timer))
        uv_timer_start(&s->flush_timer, on_flush, 0, 0);
}

/* An object seen being deleted: tell the watchers, and for a ModelAdapter
 * carrying our finalizer wait for the controller to let go. */
static void begin_finalize(ctl_objstore_k8s *s, int ki, const json_t *obj, int known)
{
    if (!s->active) return; /* a leader takes it over when it activates */
    const char *name = k8s_meta(obj, "name");
    int ours = ki == 0 && ctl_objstore_k8s_has_finalizer(obj, CTL_K8S_ADAPTER_FINALIZER);
    if (ours && json_object_get(s->pending, name)) return; /* already */
    if (!known) notify_obj(s, ki, CTL_WATCH_PUT, obj);
    notify_obj(s, ki, CTL_WATCH_DELETE, obj);
    json_object_set_new(s->gone[ki], name, json_true());
    if (ours) {
        json_object_set_new(s->pending, name, json_true());
        if (!uv_is_active((uv_handle_t *)&s->fin_timer))
            uv_timer_start(&s->fin_timer, on_fin_timer, K8S_FIN_CHECK_MS, K8S_FIN_CHECK_MS);
    }
}

static void on_fin_timer(uv_timer_t *t)
{
    ctl_objstore_k8s *s = t->data;
    if (!s->active || json_object_size(s->pending) == 0) {
        uv_timer_stop(t);
        return;
    }
    const char *name;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(s->pending, tmp, name, v)
    {
        const json_t *obj = cached(s, 0, name);
        if (!obj || !ctl_objstore_k8s_has_finalizer(obj, CTL_K8S_ADAPTER_FINALIZER)) {
            json_object_del(s->pending, name); /* gone, or someone else removed it */
            continue;
        }
        if (s->opts.released && !s->opts.released(s->opts.ud, CTL_KIND_MODEL_ADAPTER, name))
            continue;
        fin_write(s, WR_FIN_DEL, name);
    }
}

static void maybe_add_finalizer(ctl_objstore_k8s *s, int ki, const json_t *obj)
{
    if (ki != 0 || !s->active || deleting(obj) ||
        ctl_objstore_k8s_has_finalizer(obj, CTL_K8S_ADAPTER_FINALIZER))
        return;
    json_object_set_new(s->q_fin, k8s_meta(obj, "name"), json_true());
    schedule_flush(s);
}

/* ---------------------------------------------------------------- reflectors */

static ctl_objstore_k8s *ctx_store(void *ud, int *ki)
{
    refl_ctx *c = ud;
    *ki = c->ki;
    return c->s;
}

/* The cache caught up with our last status write of obj. */
static void sent_seen(ctl_objstore_k8s *s, int ki, const json_t *obj)
{
    const char *name = k8s_meta(obj, "name");
    json_t *e = json_object_get(s->sent[ki], name);
    if (!e) return;
    const char *rv = json_string_value(json_object_get(e, "rv"));
    if (rv && rv[0]) {
        if (!strcmp(rv, k8s_meta(obj, "resourceVersion"))) json_object_del(s->sent[ki], name);
    } else {
        json_object_set_new(e, "moved", json_true()); /* in flight: see wr_done */
    }
}

static void on_change(ctl_objstore_k8s *s, int ki, const json_t *old, const json_t *obj)
{
    sent_seen(s, ki, obj);
    const char *name = k8s_meta(obj, "name");
    json_t *u = json_object_get(s->upd_rv[ki], name);
    if (json_is_true(u))
        json_object_set_new(s->upd_rv[ki], name, json_false()); /* moved while in flight */
    else if (json_is_string(u) && !strcmp(json_string_value(u), k8s_meta(obj, "resourceVersion")))
        json_object_del(s->upd_rv[ki], name);
    int ch = ctl_objstore_k8s_change(old, obj);
    if (ch == CTL_WATCH_PUT + 1) {
        json_object_del(s->gone[ki], name);
        notify_obj(s, ki, CTL_WATCH_PUT, obj);
    } else if (ch == CTL_WATCH_DELETE + 1)
        begin_finalize(s, ki, obj, old != NULL);
    if (old && !deleting(obj) &&
        !json_equal(json_object_get(old, "status"), json_object_get(obj, "status"))) {
        /* a status write (ours or another's) reached the cache: the status watchers */
        ctl_watch_event ev = {.type = CTL_WATCH_STATUS, .kind = KINDS[ki].kind, .name = name};
        s->stats.notify_status++;
        ctl_objstore_notify(&s->base, &ev);
    }
    maybe_add_finalizer(s, ki, obj);
    if (s->opts.on_object) s->opts.on_object(s->opts.ud, KINDS[ki].kind);
}

static void r_add(k8s_reflector *r, const json_t *obj, void *ud)
{
    (void)r;
    int ki;
    ctl_objstore_k8s *s = ctx_store(ud, &ki);
    on_change(s, ki, NULL, obj);
}

static void r_update(k8s_reflector *r, const json_t *old, const json_t *obj, void *ud)
{
    (void)r;
    int ki;
    ctl_objstore_k8s *s = ctx_store(ud, &ki);
    on_change(s, ki, old, obj);
}

static void r_delete(k8s_reflector *r, const json_t *obj, void *ud)
{
    (void)r;
    int ki;
    ctl_objstore_k8s *s = ctx_store(ud, &ki);
    const char *name = k8s_meta(obj, "name");
    json_object_del(s->sent[ki], name);
    json_object_del(s->retry_at[ki], name);
    json_object_del(s->upd_rv[ki], name);
    int was_pending = ki == 0 && json_object_get(s->pending, name) != NULL;
    if (was_pending) json_object_del(s->pending, name);
    /* an object whose deletion began while we watched was reported then */
    if (json_object_get(s->gone[ki], name))
        json_object_del(s->gone[ki], name);
    else
        notify_obj(s, ki, CTL_WATCH_DELETE, obj);
    if (s->opts.on_object) s->opts.on_object(s->opts.ud, KINDS[ki].kind);
}

static void mark_synced(ctl_objstore_k8s *s, int ki)
{
    s->synced_mask |= 1 << ki;
    if (s->synced_mask == (1 << K8S_NKINDS) - 1 && !s->synced_told) {
        s->synced_told = 1;
        if (s->opts.on_synced) s->opts.on_synced(s->opts.ud);
    }
}

static void r_synced(k8s_reflector *r, void *ud)
{
    (void)r;
    int ki;
    ctl_objstore_k8s *s = ctx_store(ud, &ki);
    /* a relist replaced the cache: writes answered before it are in it */
    const char *name;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(s->sent[ki], tmp, name, v)
    {
        const char *rv = json_string_value(json_object_get(v, "rv"));
        if (rv && rv[0]) json_object_del(s->sent[ki], name);
    }
    json_object_clear(s->upd_rv[ki]);
    mark_synced(s, ki);
}

/* A LIST failed: an optional kind whose CRD is not installed (404) or not
 * granted (403) counts as synced and empty; its reflector keeps trying. */
static void r_list_error(k8s_reflector *r, long code, void *ud)
{
    (void)r;
    int ki;
    ctl_objstore_k8s *s = ctx_store(ud, &ki);
    if (!KINDS[ki].optional || (code != 404 && code != 403) || (s->synced_mask & (1 << ki))) return;
    bx_info("%s: %s.%s/%s not served (%ld): none until its CRD is installed",
            ctl_kind_name(KINDS[ki].kind), KINDS[ki].plural, KINDS[ki].group, KINDS[ki].version,
            code);
    mark_synced(s, ki);
}

/* ---------------------------------------------------------------- the table */

static int fill_record(ctl_objstore_k8s *s, int ki, const json_t *obj, ctl_record *out, char *err,
                       size_t errlen)
{
    (void)s;
    memset(out, 0, sizeof(*out));
    snprintf(out->kind, sizeof(out->kind), "%s", ctl_kind_name(KINDS[ki].kind));
    snprintf(out->name, sizeof(out->name), "%s", k8s_meta(obj, "name"));
    out->object = ctl_objstore_k8s_manifest(obj);
    json_t *st = json_object_get(obj, "status");
    out->status = json_is_object(st) ? json_deep_copy(st) : json_object();
    if (!out->object || !out->status) {
        ctl_record_clear(out);
        if (err && errlen) snprintf(err, errlen, "store: out of memory");
        return -1;
    }
    out->generation = gen_of(obj);
    out->created_ms = out->updated_ms =
        ctl_objstore_k8s_time_ms(k8s_meta(obj, "creationTimestamp"));
    return 0;
}

static int k_get(ctl_objstore *st, const char *kind, const char *name, ctl_record *out, char *err,
                 size_t errlen)
{
    ctl_objstore_k8s *s = (ctl_objstore_k8s *)st;
    int ki = kind_index_name(kind);
    if (ki < 0) return 1;
    const json_t *obj = cached(s, ki, name);
    if (!obj || deleting(obj)) return 1;
    return fill_record(s, ki, obj, out, err, errlen);
}

static int rec_cmp(const void *a, const void *b)
{
    const ctl_record *x = a, *y = b;
    int c = strcmp(x->kind, y->kind);
    return c ? c : strcmp(x->name, y->name);
}

static int k_list(ctl_objstore *st, const char *kind, ctl_record **out, size_t *n, char *err,
                  size_t errlen)
{
    ctl_objstore_k8s *s = (ctl_objstore_k8s *)st;
    *out = NULL;
    *n = 0;
    int only = kind ? kind_index_name(kind) : -1;
    if (kind && only < 0) return 0;
    size_t cap = 0;
    for (int ki = 0; ki < K8S_NKINDS; ki++)
        if ((only < 0 || only == ki) && s->refl[ki])
            cap += json_object_size(k8s_reflector_cache(s->refl[ki]));
    if (cap == 0) return 0;
    ctl_record *rs = calloc(cap, sizeof(*rs));
    if (!rs) {
        if (err && errlen) snprintf(err, errlen, "store: out of memory");
        return -1;
    }
    size_t k = 0;
    for (int ki = 0; ki < K8S_NKINDS; ki++) {
        if ((only >= 0 && only != ki) || !s->refl[ki]) continue;
        const char *key;
        json_t *obj;
        json_object_foreach((json_t *)k8s_reflector_cache(s->refl[ki]), key, obj)
        {
            if (deleting(obj) || k >= cap) continue;
            if (fill_record(s, ki, obj, &rs[k], err, errlen) != 0) {
                ctl_records_free(rs, k);
                return -1;
            }
            k++;
        }
    }
    qsort(rs, k, sizeof(*rs), rec_cmp);
    *out = rs;
    *n = k;
    return 0;
}

static int not_leading(char *err, size_t errlen)
{
    if (err && errlen) snprintf(err, errlen, "store: not leading (no writes)");
    return -1;
}

static int oom(char *err, size_t errlen)
{
    if (err && errlen) snprintf(err, errlen, "store: out of memory");
    return -1;
}

/* The write in flight, or NULL when it could not be sent (logged). */
static k8s_wr *send_now(ctl_objstore_k8s *s, int what, const char *name, const char *method,
                        const char *path, const char *ctype, const char *body)
{
    k8s_wr *w = wr_new(s, what, name);
    if (!w) return NULL;
    w->req = k8s_request(s->c, method, path, NULL, ctype[0] ? ctype : NULL, body[0] ? body : NULL,
                         wr_done, w);
    if (!w->req) {
        bx_warn("%s of %s/%s: cannot send", WR_NAMES[what], s->ns, name);
        wr_free(w);
        return NULL;
    }
    return w;
}

/* Queues a write for the flush (body stolen, may be NULL). */
static int send_wr(ctl_objstore_k8s *s, int what, const char *name, const char *method,
                   const char *path, const char *ctype, json_t *body, char *err, size_t errlen)
{
    char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    json_t *e = (body && !txt) ? NULL
                               : json_pack("{s:i,s:s,s:s,s:s,s:s,s:s}", "what", what, "name", name,
                                           "method", method, "path", path, "ctype",
                                           ctype ? ctype : "", "body", txt ? txt : "");
    free(txt);
    if (!e || json_array_append_new(s->q_sends, e) != 0) return oom(err, errlen);
    schedule_flush(s);
    return 0;
}

static void flush_status(ctl_objstore_k8s *s, int ki)
{
    const char *name;
    json_t *want;
    void *tmp;
    uint64_t now = uv_now(k8s_client_loop(s->c));
    json_object_foreach_safe(s->q_status[ki], tmp, name, want)
    {
        if (wr_pending(s, WR_STATUS, ki, name)) continue; /* one at a time per object, in order */
        json_t *ra = json_object_get(s->retry_at[ki], name);
        if (ra && (uint64_t)json_integer_value(json_array_get(ra, 0)) > now)
            continue; /* failed: waits for its backoff (the retry timer flushes) */
        const json_t *obj = cached(s, ki, name);
        json_t *snt = json_object_get(s->sent[ki], name);
        const json_t *base = snt ? json_object_get(snt, "status") : json_object_get(obj, "status");
        if (obj) ctl_objstore_k8s_keep_transitions(want, base);
        if (!obj || deleting(obj) || json_equal(want, base)) {
            if (obj) s->stats.status_skipped++;
            json_object_del(s->retry_at[ki], name);
            json_object_del(s->q_status[ki], name);
            continue;
        }
        char path[512];
        json_t *patch = json_pack("[{s:s,s:s,s:O}]", "op", "add", "path", "/status", "value", want);
        char *txt = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
        json_decref(patch);
        if (txt) bx_debug("%s %s/%s: status %s", ctl_kind_name(KINDS[ki].kind), s->ns, name, txt);
        k8s_wr *w = NULL;
        if (txt && item_path(s, ki, name, "status", path, sizeof(path)) == 0 &&
            (w = send_now(s, WR_STATUS, name, "PATCH", path, "application/json-patch+json", txt))) {
            s->stats.status_writes++;
            w->ki = ki;
            w->want = json_incref(want);
            json_object_set_new(
                s->sent[ki], name,
                json_pack("{s:O,s:s}", "status", want, "rv", "")); /* OOM: dropped */
        }
        free(txt);
        json_object_del(s->q_status[ki], name);
    }
}

static int update_mutate(json_t *obj, void *ud)
{
    k8s_wr *w = ud;
    if (deleting(obj)) return 1; /* going: nothing to update */
    return ctl_objstore_k8s_apply(obj, w->want);
}

/* Sends the creates and updates put (replace kinds), one per object at a time. */
static void flush_updates(ctl_objstore_k8s *s, int ki)
{
    const char *name;
    json_t *e;
    void *tmp;
    json_object_foreach_safe(s->q_update[ki], tmp, name, e)
    {
        if (wr_pending(s, WR_CREATE, ki, name) || wr_pending(s, WR_UPDATE, ki, name)) continue;
        json_t *m = json_object_get(e, "m");
        int exists = cached(s, ki, name) || json_is_true(json_object_get(e, "exists"));
        char path[512];
        k8s_wr *w = NULL;
        if (item_path(s, ki, exists ? name : NULL, NULL, path, sizeof(path)) == 0 &&
            (w = wr_new(s, exists ? WR_UPDATE : WR_CREATE, name))) {
            w->ki = ki;
            w->want = json_incref(m);
            if (exists) {
                w->op = k8s_update_retry(s->c, path, 5, update_mutate, wr_done, w);
                if (w->op) s->stats.updates++;
            } else {
                w->req = k8s_create(s->c, path, m, wr_done, w);
            }
            if (!w->op && !w->req) {
                wr_free(w);
                w = NULL;
            } else {
                json_object_set_new(s->upd_rv[ki], name, json_true()); /* in flight */
            }
        }
        if (!w)
            bx_warn("%s %s/%s: cannot send the %s", ctl_kind_name(KINDS[ki].kind), s->ns, name,
                    exists ? "update" : "create");
        json_object_del(s->q_update[ki], name);
    }
}

static void on_flush(uv_timer_t *t)
{
    ctl_objstore_k8s *s = t->data;
    if (!s->active) return;
    const char *name;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(s->q_fin, tmp, name, v)
    {
        const json_t *obj = cached(s, 0, name);
        if (obj && !deleting(obj) &&
            !ctl_objstore_k8s_has_finalizer(obj, CTL_K8S_ADAPTER_FINALIZER))
            fin_write(s, WR_FIN_ADD, name);
        json_object_del(s->q_fin, name);
    }
    for (int ki = 0; ki < K8S_NKINDS; ki++) {
        flush_status(s, ki);
        flush_updates(s, ki);
    }
    size_t i;
    json_array_foreach(s->q_sends, i, v)
    {
        send_now(s, (int)json_integer_value(json_object_get(v, "what")),
                 json_string_value(json_object_get(v, "name")),
                 json_string_value(json_object_get(v, "method")),
                 json_string_value(json_object_get(v, "path")),
                 json_string_value(json_object_get(v, "ctype")),
                 json_string_value(json_object_get(v, "body")));
    }
    json_array_clear(s->q_sends);
    json_array_foreach(s->q_events, i, v)
    {
        k8s_event_emit(s->rec, json_object_get(v, "io"),
                       json_string_value(json_object_get(v, "type")),
                       json_string_value(json_object_get(v, "reason")), "%s",
                       json_string_value(json_object_get(v, "message")));
    }
    json_array_clear(s->q_events);
}

static void on_retry_timer(uv_timer_t *t)
{
    schedule_flush(t->data);
}

static const json_t *owner_lookup(const char *kind, const char *name, void *ud)
{
    ctl_objstore_k8s *s = ud;
    int ki = kind_index_name(kind);
    return ki < 0 ? NULL : cached(s, ki, name);
}

/* put of a replace kind: queued for flush_updates (create or update). */
static int put_replace(ctl_objstore_k8s *s, int ki, ctl_obj *o, int *changed, char *err,
                       size_t errlen)
{
    json_t *m = ctl_objstore_k8s_manifest(o->raw);
    json_t *md = m ? json_object_get(m, "metadata") : NULL;
    if (!json_is_object(md)) {
        json_decref(m);
        if (err && errlen) snprintf(err, errlen, "store: bad object");
        return -1;
    }
    if (json_object_set_new(md, "namespace", json_string(s->ns)) != 0) {
        json_decref(m);
        return oom(err, errlen);
    }
    if (ctl_objstore_k8s_fill_owners(m, owner_lookup, s, err, errlen) != 0) {
        json_decref(m);
        return -1;
    }
    const json_t *cur = cached(s, ki, o->name);
    if (cur && !deleting(cur)) {
        int ch = !ctl_objstore_k8s_subset(json_object_get(m, "spec"), json_object_get(cur, "spec"));
        o->generation = gen_of(cur) + (ch ? 1 : 0);
        if (changed) *changed = ch;
        json_t *copy = json_deep_copy(cur);
        int same = copy && ctl_objstore_k8s_apply(copy, m) == 1;
        json_decref(copy);
        /* equal to the cache, and the cache is not behind a write of ours */
        if (same && !json_object_get(s->q_update[ki], o->name) &&
            !json_object_get(s->upd_rv[ki], o->name) && !wr_pending(s, WR_CREATE, ki, o->name) &&
            !wr_pending(s, WR_UPDATE, ki, o->name)) {
            json_decref(m);
            return 0;
        }
    } else {
        o->generation = 1;
        if (changed) *changed = 1;
    }
    json_t *old = json_object_get(s->q_update[ki], o->name);
    json_t *e =
        json_pack("{s:o,s:b}", "m", m, "exists", json_is_true(json_object_get(old, "exists")));
    if (!e || json_object_set_new(s->q_update[ki], o->name, e) != 0) return oom(err, errlen);
    schedule_flush(s);
    return 0;
}

static int k_put(ctl_objstore *st, ctl_obj *o, int *changed, char *err, size_t errlen)
{
    ctl_objstore_k8s *s = (ctl_objstore_k8s *)st;
    if (changed) *changed = 0;
    int ki = kind_index(o->kind);
    if (ki < 0) {
        if (err && errlen)
            snprintf(err, errlen, "store: %s is not kept here", ctl_kind_lower(o->kind));
        return -1;
    }
    if (!s->active) return not_leading(err, errlen);
    if (KINDS[ki].replace) return put_replace(s, ki, o, changed, err, errlen);
    char path[512];
    const json_t *cur = cached(s, ki, o->name);
    json_t *spec = json_object_get(o->raw, "spec");
    if (cur) {
        int ch = !json_equal(json_object_get(cur, "spec"), spec);
        o->generation = gen_of(cur) + (ch ? 1 : 0);
        if (changed) *changed = ch;
        json_t *md = json_object_get(o->raw, "metadata");
        json_t *patch =
            json_pack("{s:{s:O*,s:O*},s:O*}", "metadata", "labels", json_object_get(md, "labels"),
                      "annotations", json_object_get(md, "annotations"), "spec", spec);
        if (!patch || item_path(s, ki, o->name, NULL, path, sizeof(path)) != 0) {
            json_decref(patch);
            return oom(err, errlen);
        }
        return send_wr(s, WR_PUT, o->name, "PATCH", path, "application/merge-patch+json", patch,
                       err, errlen);
    }
    json_t *body = json_deep_copy(o->raw);
    json_t *md = body ? json_object_get(body, "metadata") : NULL;
    if (!json_is_object(md) || item_path(s, ki, NULL, NULL, path, sizeof(path)) != 0) {
        json_decref(body);
        if (err && errlen) snprintf(err, errlen, "store: bad object");
        return -1;
    }
    json_object_set_new(md, "namespace", json_string(s->ns));
    o->generation = 1;
    if (changed) *changed = 1;
    return send_wr(s, WR_PUT, o->name, "POST", path, NULL, body, err, errlen);
}

static int k_del(ctl_objstore *st, const char *kind, const char *name, char *err, size_t errlen)
{
    ctl_objstore_k8s *s = (ctl_objstore_k8s *)st;
    int ki = kind_index_name(kind);
    if (ki < 0 || !cached(s, ki, name)) return 1;
    if (!s->active) return not_leading(err, errlen);
    char path[512];
    if (item_path(s, ki, name, NULL, path, sizeof(path)) != 0) return 1;
    return send_wr(s, WR_DELETE, name, "DELETE", path, NULL, NULL, err, errlen);
}

static int k_set_status(ctl_objstore *st, const char *kind, const char *name, const json_t *status,
                        char *err, size_t errlen)
{
    ctl_objstore_k8s *s = (ctl_objstore_k8s *)st;
    int ki = kind_index_name(kind);
    const json_t *obj = ki < 0 ? NULL : cached(s, ki, name);
    if (!obj || deleting(obj)) return 1;
    if (!s->active) return not_leading(err, errlen);
    json_t *want = ctl_objstore_k8s_status(KINDS[ki].kind, status, gen_of(obj));
    if (!want) return oom(err, errlen);
    if (json_object_set_new(s->q_status[ki], name, want) != 0) return oom(err, errlen);
    schedule_flush(s);
    return 0;
}

static int k_event(ctl_objstore *st, const char *kind, const char *name, ctl_event_type type,
                   const char *reason, const char *message, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    ctl_objstore_k8s *s = (ctl_objstore_k8s *)st;
    int ki = kind_index_name(kind);
    const json_t *obj = ki < 0 ? NULL : cached(s, ki, name);
    if (!obj || !s->active || !s->rec) return 0; /* dropped: not ours to report */
    json_t *io =
        json_pack("{s:s,s:s,s:O}", "apiVersion", ctl_obj_kind_api_version(KINDS[ki].kind), "kind",
                  ctl_kind_name(KINDS[ki].kind), "metadata", json_object_get(obj, "metadata"));
    if (!io) return 0;
    if (json_array_size(s->q_events) >= K8S_MAX_QUEUED_EVENTS) {
        json_decref(io); /* bounded: dropped */
        return 0;
    }
    json_array_append_new(s->q_events, json_pack("{s:o,s:s,s:s,s:s}", "io", io, "type",
                                                 ctl_event_type_name(type), "reason", reason,
                                                 "message", message ? message : ""));
    schedule_flush(s);
    return 0;
}

static int k_events(ctl_objstore *st, const char *kind, const char *name, size_t limit,
                    ctl_event **out, size_t *n, char *err, size_t errlen)
{
    (void)st;
    (void)kind;
    (void)name;
    (void)limit;
    (void)err;
    (void)errlen;
    *out = NULL;
    *n = 0;
    return 0;
}

/* The per-kind name maps, allocated, cleared and freed together. */
#define K8S_NMAPS 6
static json_t **kmap(ctl_objstore_k8s *s, int ki, int m)
{
    json_t **maps[K8S_NMAPS] = {&s->gone[ki],     &s->q_status[ki], &s->sent[ki],
                                &s->retry_at[ki], &s->q_update[ki], &s->upd_rv[ki]};
    return maps[m];
}

static int kmaps_new(ctl_objstore_k8s *s)
{
    for (int ki = 0; ki < K8S_NKINDS; ki++)
        for (int m = 0; m < K8S_NMAPS; m++)
            if (!(*kmap(s, ki, m) = json_object())) return -1;
    return 0;
}

static void kmaps_free(ctl_objstore_k8s *s)
{
    for (int ki = 0; ki < K8S_NKINDS; ki++)
        for (int m = 0; m < K8S_NMAPS; m++) {
            json_decref(*kmap(s, ki, m));
            *kmap(s, ki, m) = NULL;
        }
}

/* Leadership lost: every pending write forgotten (gone stays: what was told). */
static void kmaps_clear(ctl_objstore_k8s *s)
{
    for (int ki = 0; ki < K8S_NKINDS; ki++)
        for (int m = 1; m < K8S_NMAPS; m++)
            json_object_clear(*kmap(s, ki, m));
}

static void timer_closed(uv_handle_t *h)
{
    ctl_objstore_k8s *s = h->data;
    if (--s->timers_open == 0) free(s);
}

static void k_close(ctl_objstore *st)
{
    ctl_objstore_k8s *s = (ctl_objstore_k8s *)st;
    wr_cancel_all(s);
    for (int ki = 0; ki < K8S_NKINDS; ki++) {
        if (s->refl[ki]) k8s_reflector_close(s->refl[ki], NULL, NULL);
    }
    free(s->ctx); /* only the reflectors' callbacks used it */
    json_decref(s->pending);
    json_decref(s->q_fin);
    kmaps_free(s);
    json_decref(s->q_events);
    json_decref(s->q_sends);
    s->timers_open = 3;
    uv_timer_stop(&s->retry_timer);
    s->retry_timer.data = s;
    uv_close((uv_handle_t *)&s->retry_timer, timer_closed);
    s->flush_timer.data = s;
    uv_close((uv_handle_t *)&s->flush_timer, timer_closed);
    uv_timer_stop(&s->fin_timer);
    s->fin_timer.data = s;
    uv_close((uv_handle_t *)&s->fin_timer, timer_closed);
}

static const ctl_objstore_ops ctl_objstore_k8s_ops = {
    .name = "kubernetes",
    .get = k_get,
    .list = k_list,
    .put = k_put,
    .del = k_del,
    .set_status = k_set_status,
    .event = k_event,
    .events = k_events,
    .close = k_close,
};

/* ---------------------------------------------------------------- API */

int ctl_objstore_k8s_open(k8s_client *c, k8s_recorder *rec, const ctl_objstore_k8s_opts *opts,
                          ctl_objstore **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!opts || !opts->ns || !opts->ns[0] || strlen(opts->ns) > CTL_NAME_MAX) {
        snprintf(err, errlen, "store: a namespace is required");
        return -1;
    }
    ctl_objstore_k8s *s = calloc(1, sizeof(*s));
    refl_ctx *ctx = calloc(K8S_NKINDS, sizeof(*ctx));
    if (!s || !ctx || !(s->pending = json_object()) || kmaps_new(s) != 0 ||
        !(s->q_fin = json_object()) || !(s->q_events = json_array()) ||
        !(s->q_sends = json_array())) {
        if (s) {
            json_decref(s->pending);
            kmaps_free(s);
            json_decref(s->q_fin);
            json_decref(s->q_events);
            json_decref(s->q_sends);
        }
        free(s);
        free(ctx);
        snprintf(err, errlen, "store: out of memory");
        return -1;
    }
    s->c = c;
    s->rec = rec;
    s->ctx = ctx;
    s->opts = *opts;
    snprintf(s->ns, sizeof(s->ns), "%s", opts->ns);
    s->opts.ns = s->ns;
    s->wrs.next = s->wrs.prev = &s->wrs;
    uv_timer_init(k8s_client_loop(c), &s->fin_timer);
    s->fin_timer.data = s;
    uv_timer_init(k8s_client_loop(c), &s->flush_timer);
    s->flush_timer.data = s;
    uv_timer_init(k8s_client_loop(c), &s->retry_timer);
    s->retry_timer.data = s;
    ctl_objstore_base_init(&s->base, &ctl_objstore_k8s_ops);
    static const k8s_reflector_cbs cbs = {.on_add = r_add,
                                          .on_update = r_update,
                                          .on_delete = r_delete,
                                          .on_synced = r_synced,
                                          .on_list_error = r_list_error};
    for (int ki = 0; ki < K8S_NKINDS; ki++) {
        ctx[ki].s = s;
        ctx[ki].ki = ki;
        k8s_reflector_opts ro;
        k8s_reflector_opts_default(&ro);
        if (item_path(s, ki, NULL, NULL, s->coll[ki], sizeof(s->coll[ki])) != 0) goto fail;
        ro.path = s->coll[ki];
        if (k8s_reflector_new(c, &ro, &cbs, &ctx[ki], &s->refl[ki]) != 0) goto fail;
    }
    for (int ki = 0; ki < K8S_NKINDS; ki++)
        k8s_reflector_start(s->refl[ki]);
    *out = &s->base;
    return 0;
fail:
    snprintf(err, errlen, "store: cannot start the reflectors");
    for (int ki = 0; ki < K8S_NKINDS; ki++)
        if (s->refl[ki]) k8s_reflector_close(s->refl[ki], NULL, NULL);
    for (int ki = 0; ki < K8S_NKINDS; ki++)
        s->refl[ki] = NULL;
    ctl_objstore_close(&s->base);
    return -1;
}

const json_t *ctl_objstore_k8s_cache(const ctl_objstore *st, ctl_kind kind)
{
    if (!st || st->ops != &ctl_objstore_k8s_ops) return NULL;
    const ctl_objstore_k8s *s = (const ctl_objstore_k8s *)st;
    int ki = kind_index(kind);
    return ki >= 0 && s->refl[ki] ? k8s_reflector_cache(s->refl[ki]) : NULL;
}

int ctl_objstore_k8s_synced(const ctl_objstore *st)
{
    if (!st || st->ops != &ctl_objstore_k8s_ops) return 0;
    const ctl_objstore_k8s *s = (const ctl_objstore_k8s *)st;
    return s->synced_mask == (1 << K8S_NKINDS) - 1;
}

void ctl_objstore_k8s_set_active(ctl_objstore *st, int active)
{
    if (!st || st->ops != &ctl_objstore_k8s_ops) return;
    ctl_objstore_k8s *s = (ctl_objstore_k8s *)st;
    if (!active) {
        s->active = 0;
        wr_cancel_all(s);
        json_object_clear(s->pending);
        json_object_clear(s->q_fin);
        kmaps_clear(s);
        json_array_clear(s->q_events);
        json_array_clear(s->q_sends);
        uv_timer_stop(&s->fin_timer);
        uv_timer_stop(&s->flush_timer);
        uv_timer_stop(&s->retry_timer);
        return;
    }
    if (s->active) return;
    s->active = 1;
    if (!s->refl[0]) return;
    /* take over: finalizers to add, deletions to finish (copy the keys:
     * notifying may run controllers that read the cache) */
    json_t *objs = json_deep_copy(k8s_reflector_cache(s->refl[0]));
    const char *key;
    json_t *obj;
    json_object_foreach(objs, key, obj)
    {
        if (deleting(obj))
            begin_finalize(s, 0, obj, 0);
        else
            maybe_add_finalizer(s, 0, obj);
    }
    json_decref(objs);
}

void ctl_objstore_k8s_get_stats(const ctl_objstore *st, ctl_objstore_k8s_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (st && st->ops == &ctl_objstore_k8s_ops) *out = ((const ctl_objstore_k8s *)st)->stats;
}
