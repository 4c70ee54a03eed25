/* ctl_gpuopt: the optimizer service (ctl_gpuopt.h). */
#include "ctl/ctl_gpuopt.h"
#include "ctl/ctl_gpuopt_int.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/bx_addr.h"
#include "common/bx_http.h"
#include "common/bx_log.h"
#include "common/bx_reply.h"
#include "ctl/ctl_ctrl.h"
#include "ctl/ctl_key.h"
#include "opt/opt_server.h"

/* ------------------------------------------------------------ profiles */

static uint64_t gpo_mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

static int gpo_is_json(const char *n)
{
    size_t l = strlen(n);
    return l > 5 && strcmp(n + l - 5, ".json") == 0 && n[0] != '.';
}

static uint64_t gpo_dir_sig(const ctl_gpuopt *g)
{
    DIR *d = opendir(g->profiles_dir);
    if (!d) return 1;
    uint64_t h = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!gpo_is_json(e->d_name)) continue;
        char path[1400];
        snprintf(path, sizeof(path), "%s/%s", g->profiles_dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        uint64_t x = 1469598103934665603ULL;
        for (const char *p = e->d_name; *p; p++)
            x = (x ^ (unsigned char)*p) * 1099511628211ULL;
        /* order-free: sum of each file's mix */
        h += gpo_mix(gpo_mix(x, (uint64_t)st.st_size),
                     (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec);
    }
    closedir(d);
    return h + 2;
}

static int gpo_read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char *b = malloc(GPO_PROFILE_MAX_BYTES + 1);
    if (!b) {
        fclose(f);
        return -1;
    }
    size_t n = fread(b, 1, GPO_PROFILE_MAX_BYTES + 1, f);
    fclose(f);
    if (n > GPO_PROFILE_MAX_BYTES) {
        free(b);
        return -1;
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return 0;
}

static void gpo_profiles_load(ctl_gpuopt *g, int force)
{
    if (!g->profiles_dir[0]) return;
    uint64_t sig = gpo_dir_sig(g);
    if (!force && sig == g->dir_sig) return;
    g->dir_sig = sig;
    g->prof_err[0] = '\0';
    DIR *d = opendir(g->profiles_dir);
    if (!d) {
        snprintf(g->prof_err, sizeof(g->prof_err), "%.300s: %s", g->profiles_dir, strerror(errno));
        return;
    }
    opt_profile *p = malloc(sizeof(*p));
    if (!p) {
        closedir(d);
        return;
    }
    struct dirent *e;
    int nread = 0;
    while ((e = readdir(d))) {
        if (!gpo_is_json(e->d_name)) continue;
        char path[1400];
        snprintf(path, sizeof(path), "%s/%s", g->profiles_dir, e->d_name);
        char *buf;
        size_t len;
        char err[256];
        if (gpo_read_file(path, &buf, &len) != 0) {
            snprintf(g->prof_err, sizeof(g->prof_err), "%s: unreadable or over 1 MiB", e->d_name);
            continue;
        }
        int rc = opt_profile_parse(buf, len, p, err, sizeof(err));
        free(buf);
        if (rc != 0) {
            char esc[300];
            bx_warn("gpu optimizer: profile %s: %s", e->d_name,
                    bx_log_escape(esc, sizeof(esc), err, strlen(err)));
            snprintf(g->prof_err, sizeof(g->prof_err), "%.200s: %.255s", e->d_name, err);
            continue;
        }
        gpo_prof_offer(g, e->d_name, p);
        nread++;
    }
    closedir(d);
    free(p);
    bx_info("gpu optimizer: %d profile%s read from %s (%d held)", nread, nread == 1 ? "" : "s",
            g->profiles_dir, g->nprofs);
}

static const gpo_prof *gpo_prof_for(const ctl_gpuopt *g, const gpo_dep *d)
{
    const gpo_prof *best = NULL;
    for (int i = 0; i < g->nprofs; i++) {
        const opt_profile *p = &g->profs[i]->p;
        if (!opt_server_profile_matches(p->gpu, d->ns, d->name)) continue;
        if (p->model[0] && strcmp(p->model, d->model) != 0) continue;
        if (!best || strchr(p->gpu, '/')) best = g->profs[i]; /* ns/name wins over name */
    }
    return best;
}

/* ------------------------------------------------------------ models and Deployments */

static gpo_dep *gpo_dep_get(ctl_gpuopt *g, const char *key)
{
    for (int i = 0; i < g->ndeps; i++)
        if (strcmp(g->deps[i].key, key) == 0) return &g->deps[i];
    return NULL;
}

static gpo_dep *gpo_dep_by_ns_name(ctl_gpuopt *g, const char *ns, const char *name)
{
    for (int i = 0; i < g->ndeps; i++)
        if (!strcmp(g->deps[i].ns, ns) && !strcmp(g->deps[i].name, name)) return &g->deps[i];
    return NULL;
}

static void gpo_dep_set(ctl_gpuopt *g, const char *key, const char *model, int64_t min)
{
    gpo_dep *d = gpo_dep_get(g, key);
    if (!d) {
        if (g->ndeps == GPO_MAX_DEPS || !ctl_key_valid(key)) return;
        d = &g->deps[g->ndeps++];
        memset(d, 0, sizeof(*d));
        gpo_fmt(d->key, sizeof(d->key), key);
        if (strchr(key, CTL_KEY_SEP))
            ctl_key_ns(key, d->ns, sizeof(d->ns));
        else
            gpo_fmt(d->ns, sizeof(d->ns), g->ns);
        gpo_fmt(d->name, sizeof(d->name), ctl_key_name(key));
        d->override = -1;
        d->last_replicas = -1;
    }
    gpo_fmt(d->model, sizeof(d->model), model);
    d->min_replicas = min < 0 ? 0 : min;
    d->seen = 1;
}

static void gpo_dep_drop(ctl_gpuopt *g, int i)
{
    g->deps[i] = g->deps[g->ndeps - 1];
    g->ndeps--;
}

/* Models without Deployments go. */
static void gpo_models_gc(ctl_gpuopt *g)
{
    for (int i = 0; i < g->nmodels;) {
        int used = 0;
        for (int k = 0; k < g->ndeps && !used; k++)
            used = !strcmp(g->deps[k].model, g->models[i]->name);
        if (used || g->models[i]->loading || gpo_redis_busy(g->models[i])) {
            i++;
            continue;
        }
        opt_model_free(g->models[i]->m);
        free(g->models[i]);
        g->models[i] = g->models[--g->nmodels];
    }
}

static const char *gpo_label(const json_t *obj, const char *label)
{
    const json_t *l = json_object_get(json_object_get(obj, "metadata"), "labels");
    const char *v = json_string_value(json_object_get(l, label));
    if (v || strcmp(label, GPO_LABEL_MODEL) != 0) return v;
    const json_t *t = json_object_get(json_object_get(obj, "spec"), "template");
    l = json_object_get(json_object_get(t, "metadata"), "labels");
    return json_string_value(json_object_get(l, label));
}

/* brix up: the store's Deployments. */
static void gpo_list_store(ctl_gpuopt *g)
{
    ctl_record *recs = NULL;
    size_t n = 0;
    char err[256];
    if (ctl_objstore_list(g->store, "Deployment", &recs, &n, err, sizeof(err)) != 0) {
        bx_warn("gpu optimizer: list Deployments: %s", err);
        return;
    }
    for (int i = 0; i < g->ndeps; i++)
        g->deps[i].seen = 0;
    for (size_t i = 0; i < n; i++) {
        const char *model = gpo_label(recs[i].object, GPO_LABEL_MODEL);
        if (!model || !model[0]) continue;
        const char *min = gpo_label(recs[i].object, GPO_LABEL_MIN);
        gpo_dep_set(g, recs[i].name, model, min ? strtoll(min, NULL, 10) : 0);
    }
    ctl_records_free(recs, n);
    for (int i = 0; i < g->ndeps;)
        if (!g->deps[i].seen)
            gpo_dep_drop(g, i);
        else
            i++;
}

/* The maxReplicas of the PodAutoscalers that target a Deployment. */
static void gpo_list_bounds(ctl_gpuopt *g)
{
    for (int i = 0; i < g->ndeps; i++)
        g->deps[i].max_replicas = 0;
    ctl_record *recs = NULL;
    size_t n = 0;
    char err[256];
    if (ctl_objstore_list(g->store, "PodAutoscaler", &recs, &n, err, sizeof(err)) != 0) return;
    for (size_t i = 0; i < n; i++) {
        const json_t *spec = json_object_get(recs[i].object, "spec");
        const json_t *ref = json_object_get(spec, "scaleTargetRef");
        const char *kind = json_string_value(json_object_get(ref, "kind"));
        const char *name = json_string_value(json_object_get(ref, "name"));
        json_int_t max = json_integer_value(json_object_get(spec, "maxReplicas"));
        char key[CTL_NAME_MAX + 1];
        if (!kind || strcmp(kind, "Deployment") || !name || max <= 0 ||
            ctl_key_sibling(recs[i].name, name, key, sizeof(key)) != 0)
            continue;
        gpo_dep *d = gpo_dep_get(g, key);
        if (d) d->max_replicas = max;
    }
    ctl_records_free(recs, n);
}

/* ------------------------------------------------------------ runs */

void gpo_run(ctl_gpuopt *g, gpo_model *gm)
{
    int n = 0;
    for (int i = 0; i < g->ndeps && n < OPT_CORE_MAX_DEPLOYS; i++) {
        const gpo_dep *d = &g->deps[i];
        if (strcmp(d->model, gm->name) || d->unmonitored) continue;
        opt_deploy *o = &g->dbuf[n++];
        memset(o, 0, sizeof(*o));
        gpo_fmt(o->name, sizeof(o->name), d->name);
        gpo_fmt(o->ns, sizeof(o->ns), d->ns);
        const gpo_prof *p = gpo_prof_for(g, d);
        o->has_profile = p != NULL;
        if (p) o->profile = p->p;
        o->min_replicas = d->min_replicas;
        o->max_replicas = d->max_replicas;
        o->override = d->override;
    }
    char err[256];
    if (opt_model_set_deployments(gm->m, g->dbuf, n, err, sizeof(err)) != 0) {
        gm->rc = -1;
        snprintf(gm->reason, sizeof(gm->reason), "profiles: %s", err);
        return;
    }
    opt_result *r = malloc(sizeof(*r));
    if (!r) return;
    int64_t now = ctl_ctrl_wall_ms() / 1000;
    gm->rc = opt_model_run(gm->m, now, r);
    gm->runs++;
    gpo_fmt(gm->reason, sizeof(gm->reason), r->reason);
    if (gm->rc == 0) {
        for (int i = 0; i < r->ndeploys; i++) {
            gpo_dep *d = gpo_dep_by_ns_name(g, r->deploys[i].ns, r->deploys[i].name);
            if (!d || d->last_replicas == r->deploys[i].replicas) continue;
            if (d->last_replicas >= 0 || r->deploys[i].replicas > 0) {
                char msg[OPT_CORE_REASON_MAX + 64];
                snprintf(msg, sizeof(msg), "%lld replicas (%lld units): %s",
                         (long long)r->deploys[i].replicas, (long long)r->deploys[i].units,
                         r->reason);
                if (g->cfg.event)
                    g->cfg.event(g->cfg.event_ud, d->key, "GPUMixChosen", msg);
                else
                    ctl_ctrl_event(g->ctrl, d->key, CTL_EVENT_NORMAL, "GPUMixChosen", "%s", msg);
            }
            d->last_replicas = r->deploys[i].replicas;
        }
        if (g->cfg.assignment && r->generation != gm->pushed_gen) {
            char *js = opt_model_assignment_json(gm->m);
            if (js) {
                g->cfg.assignment(g->cfg.assignment_ud, gm->name, js, strlen(js));
                gm->pushed_gen = r->generation;
                free(js);
            }
        }
    }
    free(r);
}

typedef struct gpo_ctx {
    char model[OPT_SERVER_MODEL_MAX];
} gpo_ctx;

static void gpo_on_load(void *ud, const ctl_ctrl_reply *rep, void *ctx)
{
    ctl_gpuopt *g = ud;
    gpo_model *gm = gpo_model_get(g, ((gpo_ctx *)ctx)->model, 0);
    if (!gm) return;
    gm->loading = 0;
    gm->load_err[0] = '\0';
    if (rep->err || rep->status != 200) {
        snprintf(gm->load_err, sizeof(gm->load_err), "GET /brix/load: %s",
                 rep->err ? bx_http_strerror(rep->err) : "not 200");
        if (!rep->err)
            snprintf(gm->load_err, sizeof(gm->load_err), "GET /brix/load: HTTP %d", rep->status);
    } else {
        int n = 0;
        char err[256];
        if (opt_server_load_parse(rep->body, rep->len, gm->name, g->wbuf, GPO_MAX_WINDOWS, &n, err,
                                  sizeof(err)) != 0) {
            snprintf(gm->load_err, sizeof(gm->load_err), "GET /brix/load: %.200s", err);
        } else {
            for (int i = 0; i < n; i++) {
                opt_model_add_window(gm->m, &g->wbuf[i]);
                /* the newest window may still grow: read it again next time */
                if (g->wbuf[i].ts > gm->since) gm->since = g->wbuf[i].ts;
            }
        }
    }
    if (gm->load_err[0]) {
        char esc[300];
        bx_debug("gpu optimizer: %s: %s", gm->name,
                 bx_log_escape(esc, sizeof(esc), gm->load_err, strlen(gm->load_err)));
    }
    gpo_run(g, gm);
}

/* %-encodes s (RFC 3986 unreserved kept) into out. */
static void gpo_urlenc(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

static void gpo_model_tick(ctl_gpuopt *g, gpo_model *gm)
{
    if (gm->loading) return;
    if (g->redis) {
        gpo_redis_load(g, gm);
        return;
    }
    if (!g->load_host[0]) {
        gpo_fmt(gm->load_err, sizeof(gm->load_err), "no load source configured");
        gpo_run(g, gm);
        return;
    }
    char enc[3 * OPT_SERVER_MODEL_MAX + 1], path[4096];
    gpo_urlenc(enc, sizeof(enc), gm->name);
    snprintf(path, sizeof(path), "/brix/load?model=%s&since=%lld", enc, (long long)gm->since);
    char auth[1200];
    bx_http_header h = {.name = "Authorization", .value = auth};
    snprintf(auth, sizeof(auth), "Bearer %s", g->load_key);
    bx_http_client_req req = {.method = "GET",
                              .host = g->load_host,
                              .port = g->cfg.load_port,
                              .path = path,
                              .headers = &h,
                              .nheaders = g->load_key[0] ? 1 : 0,
                              .timeout_ms = 5000};
    gpo_ctx ctx;
    gpo_fmt(ctx.model, sizeof(ctx.model), gm->name);
    if (ctl_ctrl_call(g->ctrl, &req, GPO_LOAD_MAX_BYTES, gpo_on_load, &ctx, sizeof(ctx)) != 0) {
        gpo_fmt(gm->load_err, sizeof(gm->load_err), "GET /brix/load: cannot start");
        gpo_run(g, gm);
        return;
    }
    gm->loading = 1;
}

static void gpo_pass(void *ud, ctl_ctrl_why why)
{
    ctl_gpuopt *g = ud;
    if (g->closing) return;
    if (g->cfg.list_store) gpo_list_store(g);
    gpo_list_bounds(g);
    gpo_profiles_load(g, 0);
    for (int i = 0; i < g->ndeps; i++)
        gpo_model_get(g, g->deps[i].model, 1);
    gpo_models_gc(g);
    for (int i = 0; g->redis && (why == CTL_CTRL_TICK || !g->started) && i < g->nmodels; i++)
        gpo_redis_profiles(g, g->models[i]);
    /* a kick refreshes what is known; the first pass runs too */
    if (why != CTL_CTRL_TICK && g->started) return;
    g->started = 1;
    for (int i = 0; i < g->nmodels; i++)
        gpo_model_tick(g, g->models[i]);
}

void ctl_gpuopt_deployment(ctl_gpuopt *g, const char *key, const char *model, int min_replicas)
{
    if (!g || !key) return;
    if (!model || !model[0]) {
        for (int i = 0; i < g->ndeps; i++)
            if (!strcmp(g->deps[i].key, key)) {
                gpo_dep_drop(g, i);
                break;
            }
        return;
    }
    gpo_dep_set(g, key, model, min_replicas);
}

/* ------------------------------------------------------------ HTTP */

static json_t *gpo_model_json(ctl_gpuopt *g, gpo_model *gm)
{
    opt_result *r = malloc(sizeof(*r));
    json_t *o = json_object();
    json_t *deps = json_array();
    if (!r || !o || !deps) {
        free(r);
        json_decref(o);
        json_decref(deps);
        return NULL;
    }
    opt_model_result(gm->m, r);
    static const char *const st[] = {"Optimal", "Infeasible", "Timeout", "Error"};
    json_object_set_new(o, "model", json_string(gm->name));
    json_object_set_new(o, "ok", json_boolean(r->ok));
    json_object_set_new(o, "generation", json_integer(r->generation));
    json_object_set_new(o, "ts", json_integer(r->ts));
    json_object_set_new(o, "solver",
                        json_string((unsigned)r->status < 4 ? st[r->status] : "Unknown"));
    json_object_set_new(o, "rps", json_real(r->rps));
    json_object_set_new(o, "unservedRps", json_real(r->unserved_rps));
    json_object_set_new(o, "solveMs", json_real(r->solve_ms));
    json_object_set_new(o, "cost", json_real(r->cost));
    json_object_set_new(o, "runs", json_integer(gm->runs));
    json_object_set_new(o, "reason", json_string(gm->rc == 1 ? "not run yet" : gm->reason));
    json_object_set_new(o, "resultReason", json_string(r->reason));
    json_object_set_new(o, "loadError", gm->load_err[0] ? json_string(gm->load_err) : json_null());
    json_object_set_new(o, "profileError", g->prof_err[0] ? json_string(g->prof_err) : json_null());
    json_t *rj = gpo_redis_json(g, gm);
    if (rj) json_object_set_new(o, "redis", rj);
    for (int i = 0; i < g->ndeps; i++) {
        const gpo_dep *d = &g->deps[i];
        if (strcmp(d->model, gm->name)) continue;
        json_t *x = json_pack("{s:s,s:s,s:b,s:b,s:I,s:I,s:I}", "namespace", d->ns, "name", d->name,
                              "profile", gpo_prof_for(g, d) != NULL, "monitored", !d->unmonitored,
                              "minReplicas", (json_int_t)d->min_replicas, "maxReplicas",
                              (json_int_t)d->max_replicas, "override", (json_int_t)d->override);
        if (!x) continue;
        const gpo_prof *gp = gpo_prof_for(g, d);
        if (gp) {
            json_object_set_new(x, "profileFrom", json_string(gp->file));
            json_object_set_new(x, "profileCreated", json_real(gp->p.created));
        }
        for (int k = 0; r->ok && k < r->ndeploys; k++)
            if (!strcmp(r->deploys[k].ns, d->ns) && !strcmp(r->deploys[k].name, d->name)) {
                json_object_set_new(x, "units", json_integer(r->deploys[k].units));
                json_object_set_new(x, "replicas", json_integer(r->deploys[k].replicas));
                json_object_set_new(x, "ilpUnits", json_integer(r->deploys[k].ilp_units));
                json_object_set_new(x, "cost", json_real(r->deploys[k].cost));
            }
        json_array_append_new(deps, x);
    }
    json_object_set_new(o, "deployments", deps);
    free(r);
    return o;
}

static void gpo_metrics(ctl_gpuopt *g, const opt_server_route *rt, bx_http_res *res)
{
    gpo_dep *d = gpo_dep_by_ns_name(g, rt->ns, rt->name);
    gpo_model *gm = d ? gpo_model_get(g, d->model, 0) : NULL;
    if (!d || !gm) {
        bx_reply_error(res, 404, NULL, "no such Deployment with model.aibrix.ai/name");
        return;
    }
    opt_result *r = malloc(sizeof(*r));
    if (!r) {
        bx_reply_error(res, 500, NULL, "out of memory");
        return;
    }
    opt_model_result(gm->m, r);
    int found = 0;
    int64_t units = 0;
    for (int k = 0; r->ok && k < r->ndeploys; k++)
        if (!strcmp(r->deploys[k].ns, d->ns) && !strcmp(r->deploys[k].name, d->name)) {
            units = r->deploys[k].units;
            found = 1;
        }
    free(r);
    if (!found) { /* no result yet: AIBrix answers 404 until the monitor has one */
        bx_reply_error(res, 404, NULL, "no result yet for this Deployment");
        return;
    }
    char buf[1024];
    int n = opt_server_metric_text(d->model, units, buf, sizeof(buf));
    if (n < 0) {
        bx_reply_error(res, 500, NULL, "model name too long");
        return;
    }
    bx_http_res_send(res, 200, "text/plain; version=0.0.4; charset=utf-8", buf, (size_t)n);
}

static void gpo_scale(ctl_gpuopt *g, const bx_http_req *req, const opt_server_route *rt,
                      bx_http_res *res)
{
    int64_t v = rt->replicas;
    char err[256];
    if (!rt->has_replicas &&
        opt_server_scale_body(req->body, req->body_len, &v, err, sizeof(err)) != 0) {
        bx_reply_error(res, 400, NULL, err);
        return;
    }
    gpo_dep *d = gpo_dep_by_ns_name(g, rt->ns, rt->name);
    if (!d) {
        bx_reply_error(res, 404, NULL, "no such Deployment with model.aibrix.ai/name");
        return;
    }
    if (v < 0) {
        for (int i = 0; i < g->ndeps; i++)
            if (!strcmp(g->deps[i].model, d->model)) g->deps[i].override = -1;
    } else {
        d->override = v;
    }
    gpo_model *gm = gpo_model_get(g, d->model, 0);
    if (gm) gpo_run(g, gm);
    bx_reply_json(res, 200,
                  json_pack("{s:s,s:s,s:s,s:I}", "message", v < 0 ? "overrides cleared" : "scaled",
                            "namespace", d->ns, "name", d->name, "replicas", (json_int_t)v));
}

static void gpo_handler(bx_http_req *req, bx_http_res *res, void *ud)
{
    ctl_gpuopt *g = ud;
    opt_server_route rt;
    opt_server_route_kind k = opt_server_route_parse(req->method, req->path, &rt);
    if (k == OPT_SERVER_NOT_FOUND) {
        bx_reply_error(res, 404, NULL, "not found");
        return;
    }
    if (k == OPT_SERVER_BAD_METHOD) {
        bx_http_res_header(res, "Allow", rt.allow);
        bx_reply_error(res, 405, NULL, "method not allowed");
        return;
    }
    if (!opt_server_route_public(k)) {
        if (g->cfg.keys.n > 0) {
            if (!bx_apikeys_check_bearer(&g->cfg.keys, bx_http_req_header(req, "Authorization"))) {
                bx_http_res_header(res, "WWW-Authenticate", "Bearer");
                bx_reply_error(res, 401, NULL, "a valid API key is required (Bearer)");
                return;
            }
        } else if (!g->cfg.open_writes && k != OPT_SERVER_STATUS) {
            bx_reply_error(res, 403, NULL,
                           "no API keys configured: this route is refused "
                           "(--gpu-optimizer-api-key-file or BRIX_GPU_OPTIMIZER_API_KEYS)");
            return;
        }
    }
    switch (k) {
    case OPT_SERVER_HEALTH:
        bx_reply_json(res, 200, json_pack("{s:s}", "status", "ok"));
        return;
    case OPT_SERVER_METRICS:
        gpo_metrics(g, &rt, res);
        return;
    case OPT_SERVER_ASSIGNMENT: {
        gpo_model *gm = gpo_model_get(g, rt.model, 0);
        char *s = gm ? opt_model_assignment_json(gm->m) : NULL;
        if (!s) {
            bx_reply_error(res, 404, NULL, gm ? "no result yet" : "model not optimized");
            return;
        }
        bx_http_res_send(res, 200, "application/json", s, strlen(s));
        free(s);
        return;
    }
    case OPT_SERVER_STATUS: {
        json_t *arr = json_array();
        for (int i = 0; arr && i < g->nmodels; i++) {
            json_t *m = gpo_model_json(g, g->models[i]);
            if (m) json_array_append_new(arr, m);
        }
        bx_reply_json(res, 200,
                      arr ? json_pack("{s:o,s:s?}", "models", arr, "profilesDir",
                                      g->profiles_dir[0] ? g->profiles_dir : NULL)
                          : NULL);
        return;
    }
    case OPT_SERVER_UPDATE_PROFILE: {
        gpo_model *gm = gpo_model_get(g, rt.model, 0);
        if (!gm) {
            bx_reply_error(res, 404, NULL, "model not monitored");
            return;
        }
        gpo_profiles_load(g, 1);
        if (g->prof_err[0]) {
            bx_reply_error(res, 500, NULL, g->prof_err);
            return;
        }
        if (g->redis) gpo_redis_profiles(g, gm); /* answered in /status, as it lands */
        bx_reply_json(res, 200,
                      json_pack("{s:s}", "message",
                                g->redis ? "workload profiles updated; Redis read started"
                                         : "workload profiles updated"));
        return;
    }
    case OPT_SERVER_SCALE:
        gpo_scale(g, req, &rt, res);
        return;
    case OPT_SERVER_MONITOR_ADD:
    case OPT_SERVER_MONITOR_DEL: {
        gpo_dep *d = gpo_dep_by_ns_name(g, rt.ns, rt.name);
        if (!d) {
            bx_reply_error(res, 404, NULL, "no such Deployment with model.aibrix.ai/name");
            return;
        }
        d->unmonitored = k == OPT_SERVER_MONITOR_DEL;
        bx_reply_json(res, 200,
                      json_pack("{s:s}", "message",
                                d->unmonitored ? "Deployment optimization stopped"
                                               : "Deployment optimization started"));
        return;
    }
    default:
        bx_reply_error(res, 404, NULL, "not found");
    }
}

/* ------------------------------------------------------------ lifecycle */

int ctl_gpuopt_is_service(const char *host, int port)
{
    static const char *const names[] = {
        CTL_GPUOPT_SERVICE,
        CTL_GPUOPT_SERVICE "." CTL_GPUOPT_SERVICE_NS,
        CTL_GPUOPT_SERVICE "." CTL_GPUOPT_SERVICE_NS ".svc",
        CTL_GPUOPT_SERVICE "." CTL_GPUOPT_SERVICE_NS ".svc.cluster.local",
    };
    if (!host || port != CTL_GPUOPT_SERVICE_PORT) return 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(host, names[i]) == 0) return 1;
    return 0;
}

int ctl_gpuopt_init(ctl_gpuopt **out, uv_loop_t *loop, ctl_objstore *store,
                    const ctl_gpuopt_cfg *cfg, char *err, size_t errlen)
{
    ctl_gpuopt *g = calloc(1, sizeof(*g));
    if (!g || !(g->wbuf = calloc(GPO_MAX_WINDOWS, sizeof(opt_trace)))) {
        if (g) free(g);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    g->loop = loop;
    g->store = store;
    g->cfg = *cfg;
    g->rerun = gpo_run;
    gpo_fmt(g->host, sizeof(g->host), cfg->host ? cfg->host : "127.0.0.1");
    gpo_fmt(g->load_host, sizeof(g->load_host), cfg->load_host);
    gpo_fmt(g->load_key, sizeof(g->load_key), cfg->load_key);
    g->load_key[strcspn(g->load_key, ", \t\r\n")] = '\0'; /* a key list: its first */
    gpo_fmt(g->ns, sizeof(g->ns), cfg->ns && cfg->ns[0] ? cfg->ns : CTL_NS_DEFAULT);
    gpo_fmt(g->profiles_dir, sizeof(g->profiles_dir), cfg->profiles_dir);
    g->cfg.host = g->host;
    g->cfg.load_host = g->load_host;
    g->cfg.load_key = g->load_key;
    g->cfg.ns = g->ns;
    g->cfg.profiles_dir = g->profiles_dir;
    if (!g->cfg.period_ms) g->cfg.period_ms = 10000;
    if (cfg->redis_host && cfg->redis_host[0] && gpo_redis_init(g, err, errlen) != 0) {
        free(g->wbuf);
        free(g);
        return -1;
    }
    ctl_ctrl_cfg kc = {.kind = "Deployment",
                       .log_name = "gpu optimizer",
                       .period_ms = g->cfg.period_ms,
                       .log_events = 1,
                       .pass = gpo_pass,
                       .ud = g};
    if (ctl_ctrl_init(&g->ctrl, loop, store, &kc, err, errlen) != 0) {
        gpo_redis_close(g);
        free(g->wbuf);
        free(g);
        return -1;
    }
    bx_http_limits lim;
    bx_http_limits_default(&lim);
    lim.max_body_bytes = GPO_BODY_MAX;
    lim.max_connections = GPO_MAX_CONNECTIONS;
    lim.head_timeout_ms = 5000;
    lim.body_timeout_ms = 5000;
    lim.idle_timeout_ms = 30000;
    if (bx_http_server_init(&g->srv, loop, &lim, gpo_handler, g) != 0) {
        snprintf(err, errlen, "gpu optimizer: cannot create the HTTP server");
        ctl_gpuopt_close(g, NULL, NULL);
        return -1;
    }
    int port = bx_http_server_listen(g->srv, g->host, cfg->port, 0);
    if (port <= 0) {
        snprintf(err, errlen, "gpu optimizer: cannot listen on %s:%d: %s", g->host, cfg->port,
                 port < 0 ? uv_strerror(port) : "no port");
        ctl_gpuopt_close(g, NULL, NULL);
        return -1;
    }
    g->port = port;
    gpo_profiles_load(g, 1);
    ctl_ctrl_kick(g->ctrl);
    *out = g;
    return 0;
}

int ctl_gpuopt_port(const ctl_gpuopt *g)
{
    return g ? g->port : 0;
}

static void gpo_after_server(void *ud)
{
    ctl_gpuopt *g = ud;
    for (int i = 0; i < g->nmodels; i++) {
        opt_model_free(g->models[i]->m);
        free(g->models[i]);
    }
    g->nmodels = 0;
    for (int i = 0; i < g->nprofs; i++)
        free(g->profs[i]);
    g->nprofs = 0;
    free(g->wbuf);
    g->wbuf = NULL;
    ctl_ctrl_close(g->ctrl, g, g->done, g->done_ud);
}

void ctl_gpuopt_close(ctl_gpuopt *g, void (*done)(void *ud), void *ud)
{
    if (!g || g->closing) return;
    g->closing = 1;
    gpo_redis_close(g); /* its pending reads fail now */
    g->done = done;
    g->done_ud = ud;
    if (g->srv)
        bx_http_server_close(g->srv, gpo_after_server, g);
    else
        gpo_after_server(g);
}
