/* gw_k8s: see gw_k8s.h. The pure pod -> engine mapping and adapter index
 * first, then the gw_disc source: a k8s_client, a reflector on pods and one
 * on ModelAdapters, and a zero-delay timer that turns their events into one
 * gw_disc_set_engines_info per loop turn. */
#include "gateway/gw_k8s.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/bx_log.h"
#include "k8s/k8s_client.h"
#include "k8s/k8s_config.h"
#include "k8s/k8s_reflector.h"

/* ---- pure: pods and adapters ---- */

static const char *gw_k8s_str(const json_t *obj, const char *a, const char *b)
{
    const json_t *v = json_object_get(obj, a);
    if (b) v = json_object_get(v, b);
    return json_string_value(v);
}

gw_k8s_pod_why gw_k8s_pod_engine(const json_t *pod, gw_k8s_pod *out)
{
    const json_t *md = json_object_get(pod, "metadata");
    const char *model = NULL;
    int port = 0;
    switch (k8s_pod_engine_labels(pod, &model, &port)) {
    case K8S_POD_ENGINE:
        break;
    case K8S_POD_NO_MODEL:
        return GW_K8S_POD_NO_MODEL;
    case K8S_POD_RAY_WORKER:
        return GW_K8S_POD_RAY_WORKER;
    case K8S_POD_GROUP_MEMBER:
        return GW_K8S_POD_GROUP_MEMBER;
    case K8S_POD_BAD_PORT:
        return GW_K8S_POD_BAD_PORT;
    }
    if (strlen(model) >= sizeof(out->model)) return GW_K8S_POD_NO_MODEL;
    const json_t *del = json_object_get(md, "deletionTimestamp");
    if (del && !json_is_null(del)) return GW_K8S_POD_DELETING;
    const char *ip = gw_k8s_str(pod, "status", "podIP");
    if (!ip || !ip[0]) return GW_K8S_POD_NO_IP;
    if (!k8s_pod_ready(pod)) return GW_K8S_POD_NOT_READY;
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    if (!name || !name[0] || strlen(name) >= sizeof(out->name)) return GW_K8S_POD_BAD_NAME;
    if (!ns) ns = "";
    if (strlen(ns) >= sizeof(out->ns)) return GW_K8S_POD_BAD_NAME;
    /* an address the registry can parse: IPv6 bracketed; nothing odd */
    size_t iplen = strlen(ip);
    if (iplen > 64 || strspn(ip, "0123456789abcdefABCDEF.:") != iplen) return GW_K8S_POD_NO_IP;
    int v6 = strchr(ip, ':') != NULL;
    snprintf(out->addr, sizeof(out->addr), v6 ? "[%s]:%d" : "%s:%d", ip, port);
    snprintf(out->model, sizeof(out->model), "%s", model);
    snprintf(out->ns, sizeof(out->ns), "%s", ns);
    snprintf(out->name, sizeof(out->name), "%s", name);
    gw_k8s_pod_group(pod, out->group, sizeof(out->group));
    const char *role = gw_k8s_str(md, "labels", "role-name");
    const char *rs = gw_k8s_str(md, "labels", "roleset-name");
    out->pd_role[0] = out->roleset[0] = '\0';
    if (role && rs && strlen(role) < sizeof(out->pd_role) && strlen(rs) < sizeof(out->roleset)) {
        snprintf(out->pd_role, sizeof(out->pd_role), "%s", role);
        snprintf(out->roleset, sizeof(out->roleset), "%s", rs);
    }

    const char *kv = gw_k8s_str(md, "labels", GW_K8S_LABEL_KV_EVENTS);
    out->kv_events = kv && !strcmp(kv, "true");
    return GW_K8S_POD_OK;
}

int gw_k8s_pod_group(const json_t *pod, char *out, size_t outlen)
{
    out[0] = '\0';
    const json_t *md = json_object_get(pod, "metadata");
    const char *hash = gw_k8s_str(md, "labels", "pod-template-hash");
    if (!hash || !hash[0]) return -1;
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(md, "ownerReferences"), i, r)
    {
        const char *kind = json_string_value(json_object_get(r, "kind"));
        const char *name = json_string_value(json_object_get(r, "name"));
        if (!kind || strcmp(kind, "ReplicaSet") || !name ||
            !json_is_true(json_object_get(r, "controller")))
            continue;
        size_t nl = strlen(name), hl = strlen(hash);
        if (nl <= hl + 1 || name[nl - hl - 1] != '-' || strcmp(name + nl - hl, hash) != 0 ||
            nl - hl - 1 >= outlen)
            return -1;
        memcpy(out, name, nl - hl - 1);
        out[nl - hl - 1] = '\0';
        return 0;
    }
    return -1;
}

const char *gw_k8s_pod_why_str(gw_k8s_pod_why w)
{
    switch (w) {
    case GW_K8S_POD_OK:
        return "engine";
    case GW_K8S_POD_NO_MODEL:
        return "no model label";
    case GW_K8S_POD_RAY_WORKER:
        return "Ray worker";
    case GW_K8S_POD_GROUP_MEMBER:
        return "pod group member";
    case GW_K8S_POD_DELETING:
        return "being deleted";
    case GW_K8S_POD_NO_IP:
        return "no pod IP";
    case GW_K8S_POD_NOT_READY:
        return "not Ready";
    case GW_K8S_POD_BAD_PORT:
        return "bad port label";
    case GW_K8S_POD_BAD_NAME:
        return "bad name";
    }
    return "?";
}

/* Copies obj[key] (shared) into dst when present. 0, or -1 out of memory. */
static int gw_k8s_copy(json_t *dst, const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v ? json_object_set(dst, key, v) : 0;
}

/* A new object holding md's name, namespace and resourceVersion. */
static json_t *gw_k8s_slim_meta(const json_t *md)
{
    json_t *m = json_object();
    if (!m || gw_k8s_copy(m, md, "name") || gw_k8s_copy(m, md, "namespace") ||
        gw_k8s_copy(m, md, "resourceVersion")) {
        json_decref(m);
        return NULL;
    }
    return m;
}

/* Does some container of the pod wait in CrashLoopBackOff? */
static int gw_k8s_crashloop(const json_t *pod)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "containerStatuses"), i, c)
    {
        const char *r = gw_k8s_str(json_object_get(c, "state"), "waiting", "reason");
        if (r && !strcmp(r, "CrashLoopBackOff")) return 1;
    }
    return 0;
}

json_t *gw_k8s_pod_slim(const json_t *pod)
{
    /* the owners and pod-template-hash: the pod's Deployment (gw_k8s_pod_group) */
    json_t *out = k8s_pod_slim(pod, K8S_POD_SLIM_OWNERS);
    json_t *labels = json_object_get(json_object_get(out, "metadata"), "labels");
    /* the pod's Deployment, its P/D role and its KV events (gw_k8s_pod_engine) */
    static const char *const keep[] = {"pod-template-hash", "role-name", "roleset-name",
                                       GW_K8S_LABEL_KV_EVENTS};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        const char *v = gw_k8s_str(json_object_get(pod, "metadata"), "labels", keep[i]);
        if (out && v && labels && json_object_set_new(labels, keep[i], json_string(v)) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    if (!out || !gw_k8s_crashloop(pod)) return out;
    /* what gw_k8s_unready reads: the crash loop, nothing else */
    json_t *st = json_object_get(out, "status");
    if (!st || json_object_set_new(st, "containerStatuses",
                                   json_pack("[{s:{s:{s:s}}}]", "state", "waiting", "reason",
                                             "CrashLoopBackOff"))) {
        json_decref(out);
        return NULL;
    }
    return out;
}

int gw_k8s_unready(const json_t *pods, const json_t *adapters, gw_unready_model *out, int cap)
{
    json_t *acc = json_object(); /* model -> [not ready, crash-looping, engines] */
    if (!acc) return 0;
    const char *key;
    json_t *pod, *v;
    json_object_foreach((json_t *)pods, key, pod)
    {
        gw_k8s_pod e;
        gw_k8s_pod_why why = gw_k8s_pod_engine(pod, &e);
        const char *model =
            gw_k8s_str(json_object_get(pod, "metadata"), "labels", GW_K8S_LABEL_MODEL);
        if (!model || strlen(model) >= GW_NAME_MAX) continue;
        int slot = why == GW_K8S_POD_OK ? 2
                   : why == GW_K8S_POD_NOT_READY || why == GW_K8S_POD_NO_IP
                       ? (gw_k8s_crashloop(pod) ? 1 : 0)
                       : -1;
        if (slot < 0) continue;
        json_t *a = json_object_get(acc, model);
        if (!a) {
            a = json_pack("[iii]", 0, 0, 0);
            if (!a || json_object_set_new(acc, model, a)) continue;
        }
        json_array_set_new(a, (size_t)slot,
                           json_integer(json_integer_value(json_array_get(a, (size_t)slot)) + 1));
    }
    int n = 0;
    json_object_foreach(acc, key, v)
    {
        json_int_t notready = json_integer_value(json_array_get(v, 0));
        json_int_t crash = json_integer_value(json_array_get(v, 1));
        if (json_integer_value(json_array_get(v, 2)) > 0 || n >= cap) continue;
        gw_unready_model *m = &out[n++];
        snprintf(m->model, sizeof(m->model), "%s", key);
        if (notready > 0) {
            snprintf(m->why, sizeof(m->why), "no pod of model %.100s is Ready yet (%lld not Ready)",
                     key, (long long)(notready + crash));
            m->retry_after_s = 5;
        } else {
            snprintf(m->why, sizeof(m->why),
                     "every pod of model %.100s is crash-looping (CrashLoopBackOff)", key);
            m->retry_after_s = 10;
        }
    }
    json_decref(acc);
    json_t *ma;
    json_object_foreach((json_t *)adapters, key, ma)
    {
        const char *phase = gw_k8s_str(ma, "status", "phase");
        const char *name = gw_k8s_str(ma, "metadata", "name");
        if (!phase || strcmp(phase, "Failed") || !name || strlen(name) >= GW_NAME_MAX || n >= cap)
            continue;
        gw_unready_model *m = &out[n++];
        snprintf(m->model, sizeof(m->model), "%s", name);
        snprintf(m->why, sizeof(m->why), "adapter %.100s is Failed", name);
        m->retry_after_s = 10;
    }
    return n;
}

json_t *gw_k8s_adapter_slim(const json_t *ma)
{
    json_t *out = json_object(), *m = gw_k8s_slim_meta(json_object_get(ma, "metadata"));
    if (!out || !m || json_object_set_new(out, "metadata", m)) {
        json_decref(m);
        json_decref(out);
        return NULL;
    }
    const json_t *st = json_object_get(ma, "status");
    json_t *inst = json_object_get(st, "instances");
    json_t *phase = json_object_get(st, "phase"); /* Failed: gw_k8s_unready */
    if ((inst || phase) &&
        json_object_set_new(out, "status",
                            json_pack("{s:O?, s:O?}", "instances", inst, "phase", phase))) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *gw_k8s_adapter_index(const json_t *adapters)
{
    json_t *idx = json_object();
    if (!idx) return NULL;
    const char *key;
    json_t *ma;
    json_object_foreach((json_t *)adapters, key, ma)
    {
        (void)key;
        const json_t *md = json_object_get(ma, "metadata");
        const char *name = json_string_value(json_object_get(md, "name"));
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        if (!name || !name[0] || strlen(name) >= GW_NAME_MAX) continue;
        if (!ns) ns = "";
        const json_t *inst = json_object_get(json_object_get(ma, "status"), "instances");
        size_t i;
        const json_t *p;
        json_array_foreach(inst, i, p)
        {
            const char *pod = json_string_value(p);
            if (!pod || !pod[0]) continue;
            char k[512];
            int n = snprintf(k, sizeof(k), "%s/%s", ns, pod);
            if (n < 0 || (size_t)n >= sizeof(k)) continue;
            json_t *list = json_object_get(idx, k);
            if (!list) {
                list = json_array();
                if (!list || json_object_set_new(idx, k, list) != 0) goto oom;
            }
            int dup = 0;
            size_t j;
            const json_t *x;
            json_array_foreach(list, j, x) dup |= !strcmp(json_string_value(x), name);
            if (!dup && json_array_append_new(list, json_string(name)) != 0) goto oom;
        }
    }
    return idx;
oom:
    json_decref(idx);
    return NULL;
}

/* ---- the source ---- */

typedef struct gw_k8s {
    gw_disc *d;
    uv_loop_t *loop;
    k8s_client *client;
    k8s_reflector *pods, *adapters;
    uv_timer_t kick; /* zero-delay: one rebuild per loop turn */
    int running, closing, pending;
    char ns[GW_NAME_MAX]; /* "" = all namespaces */
    int nlast;            /* engines published last time (for logs) */
} gw_k8s;

static void gw_k8s_maybe_free(gw_k8s *k)
{
    if (--k->pending > 0) return;
    free(k);
}

static void gw_k8s_rebuild(gw_k8s *k)
{
    const json_t *pods = k8s_reflector_cache(k->pods);
    size_t np = json_object_size(pods);
    json_t *aidx = gw_k8s_adapter_index(k8s_reflector_cache(k->adapters));
    json_t *seen = json_object();
    gw_k8s_pod *eng = np ? calloc(np, sizeof(*eng)) : NULL;
    gw_disc_engine_info *in = np ? calloc(np, sizeof(*in)) : NULL;
    const char **names = NULL;
    size_t nnames = 0, cap = 0;
    if (!aidx || !seen || (np && (!eng || !in))) {
        bx_error("kubernetes: out of memory rebuilding %zu pods", np);
        goto out;
    }
    /* the adapter name pointers, one array for all engines */
    const char *key;
    json_t *pod, *v;
    json_object_foreach(aidx, key, v) cap += json_array_size(v);
    if (cap && !(names = calloc(cap, sizeof(*names)))) goto out;
    int n = 0;
    json_object_foreach((json_t *)pods, key, pod)
    {
        gw_k8s_pod *e = &eng[n];
        gw_k8s_pod_why why = gw_k8s_pod_engine(pod, e);
        if (why != GW_K8S_POD_OK) {
            if (why == GW_K8S_POD_BAD_PORT || why == GW_K8S_POD_BAD_NAME) {
                char ek[BX_LOG_ESC_MAX];
                bx_debug("kubernetes: pod %s skipped: %s",
                         bx_log_escape(ek, sizeof(ek), key, BX_LOG_CSTR), gw_k8s_pod_why_str(why));
            }
            continue;
        }
        if (json_object_get(seen, e->addr)) continue; /* another pod has this address */
        json_object_set_new(seen, e->addr, json_true());
        in[n].addr = e->addr;
        in[n].name = e->name;
        in[n].group = e->group;
        in[n].pd_role = e->pd_role[0] ? e->pd_role : NULL;
        in[n].roleset = e->roleset[0] ? e->roleset : NULL;
        in[n].model = e->model;
        in[n].kv_events = e->kv_events ? 1 : -1;
        char pk[GW_NAME_MAX * 4];
        snprintf(pk, sizeof(pk), "%s/%s", e->ns, e->name);
        const json_t *al = json_object_get(aidx, pk);
        in[n].adapters = names + nnames;
        size_t i;
        const json_t *a;
        json_array_foreach(al, i, a)
        {
            if (nnames < cap) {
                names[nnames++] = json_string_value(a);
                in[n].nadapters++;
            }
        }
        n++;
    }
    gw_disc_set_engines_info(k->d, in, n);
    {
        gw_unready_model *um = calloc(GW_MAX_UNREADY, sizeof(*um));
        if (um) {
            int nu = gw_k8s_unready(pods, k8s_reflector_cache(k->adapters), um, GW_MAX_UNREADY);
            gw_disc_set_unready(k->d, um, nu);
            free(um);
        }
    }
    if (n != k->nlast) bx_debug("kubernetes: %d engine pod(s) of %zu watched", n, np);
    k->nlast = n;
out:
    free(names);
    free(in);
    free(eng);
    json_decref(seen);
    json_decref(aidx);
}

static void gw_k8s_on_kick(uv_timer_t *t)
{
    gw_k8s *k = t->data;
    if (k->running && !k->closing) gw_k8s_rebuild(k);
}

/* Any change of either collection: rebuild on this loop turn's end (every
 * event read in one turn makes one rebuild). */
static void gw_k8s_dirty(gw_k8s *k)
{
    if (k->closing || !k->running) return;
    uv_timer_start(&k->kick, gw_k8s_on_kick, 0, 0);
}

static void gw_k8s_on_add(k8s_reflector *r, const json_t *obj, void *ud)
{
    (void)r;
    (void)obj;
    gw_k8s_dirty(ud);
}

static void gw_k8s_on_update(k8s_reflector *r, const json_t *old, const json_t *obj, void *ud)
{
    (void)r;
    (void)old;
    (void)obj;
    gw_k8s_dirty(ud);
}

static void gw_k8s_on_synced(k8s_reflector *r, void *ud)
{
    gw_k8s *k = ud;
    const k8s_reflector_stats *st = k8s_reflector_get_stats(r);
    bx_info("kubernetes: %s listed (%zu object(s), %lu list(s) so far)",
            r == k->pods ? "pods" : "modeladapters", json_object_size(k8s_reflector_cache(r)),
            st->lists);
    if (r == k->pods && k->running && !k->closing) {
        /* publish now, before /readyz says so: the set is complete (what
         * the LIST's diff scheduled is in it) */
        uv_timer_stop(&k->kick);
        gw_k8s_rebuild(k);
        gw_disc_source_synced(k->d);
        return;
    }
    if (r == k->pods) gw_disc_source_synced(k->d);
    gw_k8s_dirty(k);
}

/* The caches keep only what the mapping reads (gw_k8s_pod_slim). */
static json_t *gw_k8s_transform(k8s_reflector *r, const json_t *obj, void *ud)
{
    gw_k8s *k = ud;
    return r == k->adapters ? gw_k8s_adapter_slim(obj) : gw_k8s_pod_slim(obj);
}

static const k8s_reflector_cbs gw_k8s_cbs = {
    .on_add = gw_k8s_on_add,
    .on_update = gw_k8s_on_update,
    .on_delete = gw_k8s_on_add,
    .on_synced = gw_k8s_on_synced,
    .transform = gw_k8s_transform,
};

static void gw_k8s_client_closed(void *ud)
{
    gw_k8s_maybe_free(ud);
}

static void gw_k8s_kick_closed(uv_handle_t *h)
{
    gw_k8s_maybe_free(h->data);
}

static int gw_k8s_init(void **state, gw_disc *d, uv_loop_t *loop, const char *const *args,
                       int nargs, char *err, size_t errlen)
{
    const char *kubeconfig = nargs > 0 && args[0] && args[0][0] ? args[0] : NULL;
    const char *ns = nargs > 1 && args[1] ? args[1] : "";
    if (strlen(ns) >= GW_NAME_MAX || strchr(ns, '/')) {
        snprintf(err, errlen, "bad --namespace");
        return -1;
    }
    gw_k8s *k = calloc(1, sizeof(*k));
    if (!k) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    k->d = d;
    k->loop = loop;
    snprintf(k->ns, sizeof(k->ns), "%s", ns);
    k8s_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    char e[384];
    if (k8s_config_load(kubeconfig, NULL, &cfg, e, sizeof(e)) != 0) {
        snprintf(err, errlen, "kubernetes: %s", e);
        free(k);
        return -1;
    }
    k8s_client_opts co;
    k8s_client_opts_default(&co);
    co.user_agent = "brix-gateway/" BRIX_VERSION;
    if (k8s_client_new(loop, &cfg, &co, &k->client, e, sizeof(e)) != 0) {
        k8s_config_free(&cfg);
        snprintf(err, errlen, "kubernetes: %s", e);
        free(k);
        return -1;
    }
    k8s_config_free(&cfg); /* the client took its strings (zeroed) */
    char pods[GW_NAME_MAX + 64], mas[GW_NAME_MAX + 96];
    if (k->ns[0]) {
        snprintf(pods, sizeof(pods), "/api/v1/namespaces/%s/pods", k->ns);
        snprintf(mas, sizeof(mas), "/apis/model.aibrix.ai/v1alpha1/namespaces/%s/modeladapters",
                 k->ns);
    } else {
        snprintf(pods, sizeof(pods), "/api/v1/pods");
        snprintf(mas, sizeof(mas), "/apis/model.aibrix.ai/v1alpha1/modeladapters");
    }
    k8s_reflector_opts ro;
    k8s_reflector_opts_default(&ro);
    ro.path = pods;
    ro.label_selector = GW_K8S_LABEL_MODEL; /* the label exists */
    int rc = k8s_reflector_new(k->client, &ro, &gw_k8s_cbs, k, &k->pods);
    k8s_reflector_opts_default(&ro);
    ro.path = mas;
    if (rc == 0) rc = k8s_reflector_new(k->client, &ro, &gw_k8s_cbs, k, &k->adapters);
    if (rc == 0) rc = uv_timer_init(loop, &k->kick) == 0 ? 0 : -1;
    if (rc != 0) {
        if (k->pods) k8s_reflector_close(k->pods, NULL, NULL);
        if (k->adapters) k8s_reflector_close(k->adapters, NULL, NULL);
        k->pending = 1;
        k8s_client_close(k->client, gw_k8s_client_closed, k);
        snprintf(err, errlen, "kubernetes: cannot set up the watches");
        return -1;
    }
    k->kick.data = k;
    *state = k;
    return 0;
}

static int gw_k8s_start(void *state)
{
    gw_k8s *k = state;
    if (k->running) return 0;
    k->running = 1;
    bx_info("kubernetes: watching pods labelled %s and modeladapters in %s", GW_K8S_LABEL_MODEL,
            k->ns[0] ? k->ns : "all namespaces");
    k8s_reflector_start(k->pods);
    k8s_reflector_start(k->adapters);
    /* a stopped source that starts again republishes what it has */
    if (k8s_reflector_synced(k->pods)) gw_k8s_dirty(k);
    return 0;
}

/* Stopping keeps the watches (the caches stay current) and only stops
 * publishing; close ends them. */
static void gw_k8s_stop(void *state)
{
    gw_k8s *k = state;
    k->running = 0;
    uv_timer_stop(&k->kick);
}

static void gw_k8s_close(void *state)
{
    gw_k8s *k = state;
    if (!k) return;
    k->running = 0;
    k->closing = 1;
    k->pending = 2; /* the timer and the client */
    uv_timer_stop(&k->kick);
    uv_close((uv_handle_t *)&k->kick, gw_k8s_kick_closed);
    k8s_reflector_close(k->pods, NULL, NULL);
    k8s_reflector_close(k->adapters, NULL, NULL);
    k8s_client_close(k->client, gw_k8s_client_closed, k);
}

const gw_disc_source gw_disc_source_k8s = {
    .name = "kubernetes",
    .init = gw_k8s_init,
    .start = gw_k8s_start,
    .stop = gw_k8s_stop,
    .close = gw_k8s_close,
};
