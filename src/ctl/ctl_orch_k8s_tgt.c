/* ctl_orch_k8s_tgt: scale targets other than Deployments
 * (ctl_orch_k8s_tgt.h): discovery per group/version, a reflector per kind,
 * a /scale GET per change of a target's object. Counts are small (a
 * handful of autoscalers), so lookups are linear. */
#include "ctl/ctl_orch_k8s_tgt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "ctl/ctl_obj.h" /* CTL_LABEL_MODEL */
#include "k8s/k8s_discovery.h"
#include "k8s/k8s_reflector.h"
#include "k8s/k8s_selector.h"
#include "k8s/k8s_write.h"

#define TGT_GROUP_MAX 128
#define TGT_VERSION_MAX 32
#define TGT_PLURAL_MAX 128
#define TGT_REASON "FailedGetScale"
#define TGT_RETRY_MIN_MS 1000
#define TGT_RETRY_MAX_MS 60000

typedef struct gv_ent { /* one group/version's discovery */
    struct ctl_orch_k8s_tgt *t;
    char group[TGT_GROUP_MAX], version[TGT_VERSION_MAX];
    int state; /* 0 not asked or failed, 1 in flight, 2 listed */
    int retry; /* failed for a reason that may pass (not 404) */
    json_t *list;
    k8s_req *req;
    char err[256];
} gv_ent;

typedef struct kind_ent { /* one kind's reflector */
    struct ctl_orch_k8s_tgt *t;
    char group[TGT_GROUP_MAX], version[TGT_VERSION_MAX], plural[TGT_PLURAL_MAX];
    char path[512];
    k8s_reflector *r;
} kind_ent;

typedef struct tgt_ent {
    struct ctl_orch_k8s_tgt *t;
    ctl_target tg;
    char group[TGT_GROUP_MAX], version[TGT_VERSION_MAX];
    kind_ent *k; /* set once discovery resolved it */
    int err;     /* an error reported and standing */
    char err_msg[256];
    k8s_selector *sel; /* from the last Scale; NULL: none */
    char *sel_str;
    k8s_req *get; /* a /scale GET in flight */
    int again;    /* a change came while it was in flight */
    int retry;    /* the last GET failed for a reason that may pass */
    int mark;     /* in the latest set */
} tgt_ent;

struct ctl_orch_k8s_tgt {
    k8s_client *c;
    char ns[CTL_NAME_MAX + 1];
    ctl_orch_k8s_tgt_cbs cbs;
    void *ud;
    gv_ent **gvs;
    size_t ngvs;
    kind_ent **kinds;
    size_t nkinds;
    tgt_ent **tgts;
    size_t ntgts;
    unsigned long reads;
    uv_timer_t timer; /* retries of failed reads, backing off */
    uint64_t backoff_ms;
    int closing, closes_left;
    void (*done)(void *);
    void *done_ud;
};

/* ---------------------------------------------------------------- errors */

static void tgt_error(tgt_ent *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tgt_error(tgt_ent *e, const char *fmt, ...)
{
    char msg[sizeof(e->err_msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (e->err && !strcmp(msg, e->err_msg)) return;
    e->err = 1;
    snprintf(e->err_msg, sizeof(e->err_msg), "%s", msg);
    bx_warn("scale target %s: %s", e->tg.key, msg);
    if (e->t->cbs.error) e->t->cbs.error(e->t->ud, e->tg.key, TGT_REASON, msg);
}

static void tgt_ok(tgt_ent *e)
{
    if (!e->err) return;
    e->err = 0;
    e->err_msg[0] = '\0';
    if (e->t->cbs.error) e->t->cbs.error(e->t->ud, e->tg.key, NULL, NULL);
}

/* ---------------------------------------------------------------- /scale */

static void tgt_get(tgt_ent *e);
static void retry_fire(uv_timer_t *h);

/* A read failed for a reason that may pass: try again after a backoff. */
static void retry_later(ctl_orch_k8s_tgt *t)
{
    if (t->closing || uv_is_active((uv_handle_t *)&t->timer)) return;
    uv_timer_start(&t->timer, retry_fire, t->backoff_ms, 0);
    t->backoff_ms = t->backoff_ms * 2 > TGT_RETRY_MAX_MS ? TGT_RETRY_MAX_MS : t->backoff_ms * 2;
}

static void tgt_set_selector(tgt_ent *e, const char *s)
{
    if (!s) s = "";
    if (e->sel_str && !strcmp(e->sel_str, s)) return;
    k8s_selector *sel = NULL;
    char err[160];
    if (s[0] && k8s_selector_parse(s, &sel, err, sizeof(err)) != 0) {
        bx_warn("scale target %s: status.selector '%s': %s", e->tg.key, s, err);
        sel = NULL;
    }
    char *copy = strdup(s);
    if (!copy) {
        k8s_selector_free(sel);
        return;
    }
    k8s_selector_free(e->sel);
    free(e->sel_str);
    e->sel = sel;
    e->sel_str = copy;
    if (e->t->cbs.selectors) e->t->cbs.selectors(e->t->ud);
}

static void tgt_got(const k8s_resp *r, void *ud)
{
    tgt_ent *e = ud;
    e->get = NULL;
    if (r->code == 200) {
        json_t *spec = json_object_get(r->body, "spec");
        json_t *rep = json_object_get(spec, "replicas");
        const char *sel =
            json_string_value(json_object_get(json_object_get(r->body, "status"), "selector"));
        e->retry = 0;
        e->t->backoff_ms = TGT_RETRY_MIN_MS;
        tgt_ok(e);
        tgt_set_selector(e, sel);
        const json_t *obj = k8s_reflector_get(e->k->r, e->t->ns, e->tg.name);
        const char *model = json_string_value(json_object_get(
            json_object_get(json_object_get(obj, "metadata"), "labels"), CTL_LABEL_MODEL));
        if (e->t->cbs.replicas)
            e->t->cbs.replicas(e->t->ud, e->tg.key, model,
                               json_is_integer(rep) ? (int)json_integer_value(rep) : 0);
    } else if (r->code == 404) {
        tgt_error(e, "%s %s not found", e->tg.kind, e->tg.name);
    } else {
        tgt_error(e, "GET %s %s scale: %ld %s", e->tg.kind, e->tg.name, r->code,
                  r->status ? r->status->message : r->error);
        e->retry = 1;
        retry_later(e->t);
    }
    if (e->again) {
        e->again = 0;
        tgt_get(e);
    }
}

static void tgt_get(tgt_ent *e)
{
    if (e->t->closing || !e->k) return;
    if (e->get) {
        e->again = 1;
        return;
    }
    char path[600];
    if (k8s_path(path, sizeof(path), e->group, e->version, e->t->ns, e->k->plural, e->tg.name,
                 "scale") != 0) {
        tgt_error(e, "path too long");
        return;
    }
    e->get = k8s_request(e->t->c, "GET", path, NULL, NULL, NULL, tgt_got, e);
    if (e->get) e->t->reads++;
}

/* The object's presence in its kind's synced cache decides. */
static void tgt_check(tgt_ent *e)
{
    if (!e->k || !k8s_reflector_synced(e->k->r)) return;
    if (k8s_reflector_get(e->k->r, e->t->ns, e->tg.name))
        tgt_get(e);
    else
        tgt_error(e, "%s %s not found", e->tg.kind, e->tg.name);
}

/* ---------------------------------------------------------------- kind reflectors */

static void kind_obj(kind_ent *k, const json_t *obj, int gone)
{
    ctl_orch_k8s_tgt *t = k->t;
    const char *name = k8s_meta(obj, "name");
    for (size_t i = 0; i < t->ntgts; i++) {
        tgt_ent *e = t->tgts[i];
        if (e->k != k || strcmp(e->tg.name, name)) continue;
        if (gone) {
            tgt_set_selector(e, ""); /* its pods are no one's target now */
            tgt_error(e, "%s %s not found", e->tg.kind, e->tg.name);
        } else {
            tgt_get(e);
        }
    }
}

static void k_add(k8s_reflector *r, const json_t *obj, void *ud)
{
    (void)r;
    kind_obj(ud, obj, 0);
}

static void k_update(k8s_reflector *r, const json_t *old, const json_t *obj, void *ud)
{
    (void)r;
    (void)old;
    kind_obj(ud, obj, 0);
}

static void k_delete(k8s_reflector *r, const json_t *obj, void *ud)
{
    (void)r;
    kind_obj(ud, obj, 1);
}

static void k_synced(k8s_reflector *r, void *ud)
{
    (void)r;
    kind_ent *k = ud;
    for (size_t i = 0; i < k->t->ntgts; i++)
        if (k->t->tgts[i]->k == k && !k8s_reflector_get(k->r, k->t->ns, k->t->tgts[i]->tg.name))
            tgt_check(k->t->tgts[i]);
}

/* Metadata only: the name, the resourceVersion (a change), the labels. */
static json_t *k_transform(k8s_reflector *r, const json_t *obj, void *ud)
{
    (void)r;
    (void)ud;
    json_t *md = json_object_get(obj, "metadata");
    json_t *keep = json_object();
    json_t *m = json_object();
    if (!keep || !m) {
        json_decref(keep);
        json_decref(m);
        return NULL;
    }
    static const char *const keys[] = {"name", "namespace", "resourceVersion", "labels",
                                       "generation"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(md, keys[i]);
        if (v) json_object_set(m, keys[i], v);
    }
    json_object_set_new(keep, "metadata", m);
    return keep;
}

static kind_ent *kind_get(ctl_orch_k8s_tgt *t, const char *group, const char *version,
                          const char *plural)
{
    for (size_t i = 0; i < t->nkinds; i++) {
        kind_ent *k = t->kinds[i];
        if (!strcmp(k->group, group) && !strcmp(k->version, version) && !strcmp(k->plural, plural))
            return k;
    }
    kind_ent **nk = realloc(t->kinds, (t->nkinds + 1) * sizeof(*nk));
    if (!nk) return NULL;
    t->kinds = nk;
    kind_ent *k = calloc(1, sizeof(*k));
    if (!k) return NULL;
    k->t = t;
    snprintf(k->group, sizeof(k->group), "%s", group);
    snprintf(k->version, sizeof(k->version), "%s", version);
    snprintf(k->plural, sizeof(k->plural), "%s", plural);
    static const k8s_reflector_cbs cbs = {.on_add = k_add,
                                          .on_update = k_update,
                                          .on_delete = k_delete,
                                          .on_synced = k_synced,
                                          .transform = k_transform};
    k8s_reflector_opts ro;
    k8s_reflector_opts_default(&ro);
    ro.path = k->path;
    if (k8s_path(k->path, sizeof(k->path), group, version, t->ns, plural, NULL, NULL) != 0 ||
        k8s_reflector_new(t->c, &ro, &cbs, k, &k->r) != 0) {
        free(k);
        return NULL;
    }
    t->kinds[t->nkinds++] = k;
    bx_info("scale targets: watching %s", k->path);
    k8s_reflector_start(k->r);
    return k;
}

/* ---------------------------------------------------------------- discovery */

static void gv_request(gv_ent *g);

/* Discovery of e's group/version is in: find its plural and /scale. */
static void tgt_resolve(tgt_ent *e, gv_ent *g)
{
    if (g->state != 2) {
        if (g->state == 0 && g->err[0])
            tgt_error(e, "discovery of %s: %s", e->tg.api_version, g->err);
        return;
    }
    char plural[TGT_PLURAL_MAX];
    int namespaced = 0;
    switch (k8s_discovery_find(g->list, e->tg.kind, plural, sizeof(plural), &namespaced)) {
    case K8S_DISC_SCALE:
        break;
    case K8S_DISC_NO_SCALE:
        tgt_error(e, "%s (%s) has no scale subresource: it cannot be autoscaled", e->tg.kind,
                  e->tg.api_version);
        return;
    case K8S_DISC_NO_KIND:
        tgt_error(e, "%s serves no kind %s", e->tg.api_version, e->tg.kind);
        return;
    default:
        tgt_error(e, "discovery of %s: not a resource list", e->tg.api_version);
        return;
    }
    if (!namespaced) {
        tgt_error(e, "%s (%s) is cluster-scoped; a PodAutoscaler scales its own namespace's",
                  e->tg.kind, e->tg.api_version);
        return;
    }
    e->k = kind_get(e->t, e->group, e->version, plural);
    if (!e->k) {
        tgt_error(e, "cannot watch %s: out of memory", plural);
        return;
    }
    tgt_check(e);
}

static void gv_done(const k8s_resp *r, void *ud)
{
    gv_ent *g = ud;
    g->req = NULL;
    if (r->code == 200 && json_is_array(json_object_get(r->body, "resources"))) {
        g->list = json_incref(r->body);
        g->state = 2;
        g->retry = 0;
        g->err[0] = '\0';
        g->t->backoff_ms = TGT_RETRY_MIN_MS;
    } else {
        g->state = 0;
        g->retry = r->code != 404;
        if (g->retry) retry_later(g->t);
        snprintf(g->err, sizeof(g->err), "%s%ld %.150s",
                 r->code == 404 ? "not served by the API server: " : "", r->code,
                 r->status ? r->status->message : r->error);
    }
    ctl_orch_k8s_tgt *t = g->t;
    for (size_t i = 0; i < t->ntgts; i++) {
        tgt_ent *e = t->tgts[i];
        if (!e->k && !strcmp(e->group, g->group) && !strcmp(e->version, g->version))
            tgt_resolve(e, g);
    }
}

static void gv_request(gv_ent *g)
{
    if (g->state != 0 || g->t->closing) return;
    char path[256];
    if (k8s_discovery_path(path, sizeof(path), g->group, g->version) != 0) {
        snprintf(g->err, sizeof(g->err), "path too long");
        return;
    }
    g->req = k8s_request(g->t->c, "GET", path, NULL, NULL, NULL, gv_done, g);
    if (g->req) {
        g->state = 1;
        g->t->reads++;
    } else {
        snprintf(g->err, sizeof(g->err), "cannot send the request");
    }
}

static gv_ent *gv_get(ctl_orch_k8s_tgt *t, const char *group, const char *version)
{
    for (size_t i = 0; i < t->ngvs; i++)
        if (!strcmp(t->gvs[i]->group, group) && !strcmp(t->gvs[i]->version, version))
            return t->gvs[i];
    gv_ent **ng = realloc(t->gvs, (t->ngvs + 1) * sizeof(*ng));
    if (!ng) return NULL;
    t->gvs = ng;
    gv_ent *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->t = t;
    snprintf(g->group, sizeof(g->group), "%s", group);
    snprintf(g->version, sizeof(g->version), "%s", version);
    t->gvs[t->ngvs++] = g;
    return g;
}

/* The timer: the failed discoveries that targets wait on, the failed
 * Scale reads. */
static void retry_fire(uv_timer_t *h)
{
    ctl_orch_k8s_tgt *t = h->data;
    for (size_t i = 0; i < t->ngvs; i++) {
        gv_ent *g = t->gvs[i];
        for (size_t j = 0; g->retry && g->state == 0 && j < t->ntgts; j++)
            if (!t->tgts[j]->k && !strcmp(t->tgts[j]->group, g->group) &&
                !strcmp(t->tgts[j]->version, g->version))
                gv_request(g);
    }
    for (size_t i = 0; i < t->ntgts; i++)
        if (t->tgts[i]->retry && t->tgts[i]->k) {
            t->tgts[i]->retry = 0;
            tgt_get(t->tgts[i]);
        }
}

/* ---------------------------------------------------------------- targets */

static void tgt_free(tgt_ent *e)
{
    if (e->get) k8s_cancel(e->get);
    k8s_selector_free(e->sel);
    free(e->sel_str);
    free(e);
}

static tgt_ent *tgt_find(const ctl_orch_k8s_tgt *t, const char *key)
{
    for (size_t i = 0; i < t->ntgts; i++)
        if (!strcmp(t->tgts[i]->tg.key, key)) return t->tgts[i];
    return NULL;
}

/* A new target: its discovery, or at once its resolution. */
static void tgt_add(ctl_orch_k8s_tgt *t, const ctl_target *tg)
{
    tgt_ent **nt = realloc(t->tgts, (t->ntgts + 1) * sizeof(*nt));
    if (!nt) return;
    t->tgts = nt;
    tgt_ent *e = calloc(1, sizeof(*e));
    if (!e) return;
    e->t = t;
    e->tg = *tg;
    e->mark = 1;
    t->tgts[t->ntgts++] = e;
    if (!tg->api_version[0]) {
        tgt_error(e, "spec.scaleTargetRef.apiVersion is required for kind %s", tg->kind);
        return;
    }
    if (k8s_api_version_split(tg->api_version, e->group, sizeof(e->group), e->version,
                              sizeof(e->version)) != 0) {
        tgt_error(e, "spec.scaleTargetRef.apiVersion '%s' is not group/version", tg->api_version);
        return;
    }
    gv_ent *g = gv_get(t, e->group, e->version);
    if (!g) {
        tgt_error(e, "out of memory");
        return;
    }
    if (g->state == 0) gv_request(g);
    tgt_resolve(e, g);
}

void ctl_orch_k8s_tgt_set(ctl_orch_k8s_tgt *t, const ctl_target *ts, size_t n)
{
    if (!t || t->closing) return;
    for (size_t i = 0; i < t->ntgts; i++)
        t->tgts[i]->mark = 0;
    for (size_t i = 0; i < n; i++) {
        if (ctl_target_is_deployment(&ts[i])) continue;
        tgt_ent *e = tgt_find(t, ts[i].key);
        if (e) {
            if (!e->mark && e->err && t->cbs.error) /* tell a restarted autoscaler again */
                t->cbs.error(t->ud, e->tg.key, TGT_REASON, e->err_msg);
            e->mark = 1;
            continue;
        }
        tgt_add(t, &ts[i]);
    }
    size_t k = 0;
    int dropped = 0;
    for (size_t i = 0; i < t->ntgts; i++) {
        if (t->tgts[i]->mark) {
            t->tgts[k++] = t->tgts[i];
            continue;
        }
        dropped |= t->tgts[i]->sel != NULL;
        tgt_free(t->tgts[i]);
    }
    t->ntgts = k;
    /* failed discoveries: once more for the targets that wait on them */
    for (size_t i = 0; i < t->ngvs; i++) {
        gv_ent *g = t->gvs[i];
        for (size_t j = 0; g->state == 0 && j < t->ntgts; j++)
            if (!t->tgts[j]->k && !strcmp(t->tgts[j]->group, g->group) &&
                !strcmp(t->tgts[j]->version, g->version))
                gv_request(g);
    }
    if (dropped && t->cbs.selectors) t->cbs.selectors(t->ud);
}

const char *ctl_orch_k8s_tgt_match(const ctl_orch_k8s_tgt *t, const json_t *labels)
{
    if (!t) return NULL;
    for (size_t i = 0; i < t->ntgts; i++) {
        const tgt_ent *e = t->tgts[i];
        if (e->sel && !k8s_selector_empty(e->sel) && k8s_selector_matches(e->sel, labels))
            return e->tg.key;
    }
    return NULL;
}

int ctl_orch_k8s_tgt_path(const ctl_orch_k8s_tgt *t, const char *key, char *buf, size_t cap,
                          char *err, size_t errlen)
{
    const tgt_ent *e = t ? tgt_find(t, key) : NULL;
    if (!e) return 1;
    if (!e->k || e->err) {
        snprintf(err, errlen, "%s", e->err ? e->err_msg : "not resolved yet");
        return -1;
    }
    if (k8s_path(buf, cap, e->group, e->version, t->ns, e->k->plural, e->tg.name, NULL) != 0) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    return 0;
}

unsigned long ctl_orch_k8s_tgt_reads(const ctl_orch_k8s_tgt *t)
{
    return t ? t->reads : 0;
}

/* ---------------------------------------------------------------- life */

int ctl_orch_k8s_tgt_new(k8s_client *c, const char *ns, const ctl_orch_k8s_tgt_cbs *cbs, void *ud,
                         ctl_orch_k8s_tgt **out)
{
    *out = NULL;
    ctl_orch_k8s_tgt *t = calloc(1, sizeof(*t));
    if (!t || !ns || strlen(ns) > CTL_NAME_MAX) {
        free(t);
        return -1;
    }
    t->c = c;
    t->backoff_ms = TGT_RETRY_MIN_MS;
    if (uv_timer_init(k8s_client_loop(c), &t->timer) != 0) {
        free(t);
        return -1;
    }
    t->timer.data = t;
    snprintf(t->ns, sizeof(t->ns), "%s", ns);
    if (cbs) t->cbs = *cbs;
    t->ud = ud;
    *out = t;
    return 0;
}

static void tgt_closed_one(void *ud)
{
    ctl_orch_k8s_tgt *t = ud;
    if (--t->closes_left > 0) return;
    for (size_t i = 0; i < t->nkinds; i++)
        free(t->kinds[i]);
    free(t->kinds);
    void (*done)(void *) = t->done;
    void *dud = t->done_ud;
    free(t);
    if (done) done(dud);
}

static void timer_closed(uv_handle_t *h)
{
    tgt_closed_one(h->data);
}

void ctl_orch_k8s_tgt_close(ctl_orch_k8s_tgt *t, void (*done)(void *ud), void *ud)
{
    if (!t) {
        if (done) done(ud);
        return;
    }
    t->closing = 1;
    t->done = done;
    t->done_ud = ud;
    for (size_t i = 0; i < t->ntgts; i++)
        tgt_free(t->tgts[i]);
    free(t->tgts);
    t->tgts = NULL;
    t->ntgts = 0;
    for (size_t i = 0; i < t->ngvs; i++) {
        if (t->gvs[i]->req) k8s_cancel(t->gvs[i]->req);
        json_decref(t->gvs[i]->list);
        free(t->gvs[i]);
    }
    free(t->gvs);
    t->gvs = NULL;
    t->ngvs = 0;
    t->closes_left = (int)t->nkinds + 1; /* + the timer */
    for (size_t i = 0; i < t->nkinds; i++)
        k8s_reflector_close(t->kinds[i]->r, tgt_closed_one, t);
    uv_close((uv_handle_t *)&t->timer, timer_closed);
}
