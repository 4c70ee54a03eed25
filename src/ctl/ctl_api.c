/* ctl_api: the admin HTTP API (see ctl_api.h). One ctl_api_handler routes by path;
 * each route reads or writes the store synchronously on the loop thread
 * (SQLite on a local file: fast enough for an admin surface) and answers a
 * whole JSON body through bx_reply. */
#include "ctl/ctl_api.h"
#include "ctl/ctl_api_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "autoscale/as_spec.h"
#include "common/bx_query.h"
#include "common/bx_addr.h"
#include "common/bx_http.h"
#include "common/bx_log.h"
#include "common/bx_reply.h"
#include "common/bx_yaml.h"
#include "ctl/ctl_autoscale.h"
#include "ctl/ctl_key.h"

#define API_DEFAULT_BODY (4u << 20)
#define API_DEFAULT_EVENTS 50
#define API_MAX_EVENTS 1000
/* Connections the admin API keeps open at once: operators and controllers
 * need a few; a flood must not take the descriptors of the gateway that
 * `brix up` runs in the same process. Deadlines and the body budget are
 * bx_http's defaults. */
#define API_MAX_CONNECTIONS 256

void ctl_api_config_default(ctl_api_config *c)
{
    memset(c, 0, sizeof(*c));
    c->host = "127.0.0.1";
    c->port = CTL_API_DEFAULT_PORT;
    c->max_body_bytes = API_DEFAULT_BODY;
    c->event_limit = API_DEFAULT_EVENTS;
}

ctl_kind ctl_api_kind_parse(const char *s)
{
    static const struct {
        const char *alias;
        ctl_kind kind;
    } extra[] = {
        {"models", CTL_KIND_DEPLOYMENT},          {"model", CTL_KIND_DEPLOYMENT},
        {"adapters", CTL_KIND_MODEL_ADAPTER},     {"adapter", CTL_KIND_MODEL_ADAPTER},
        {"autoscalers", CTL_KIND_POD_AUTOSCALER}, {"autoscaler", CTL_KIND_POD_AUTOSCALER},
    };
    if (!s) return CTL_KIND_NONE;
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
        if (strcasecmp(s, extra[i].alias) == 0) return extra[i].kind;
    return ctl_kind_parse(s);
}

/* ---- small helpers ---- */

int ctl_api_host_ok(const char *v)
{
    char h[API_HOST_MAX];
    size_t n;
    if (v[0] == '[') {
        const char *e = strchr(v, ']');
        if (!e) return 0;
        n = (size_t)(e - v - 1);
        if (n >= sizeof(h)) return 0;
        memcpy(h, v + 1, n);
        v = e + 1;
    } else {
        n = strcspn(v, ":");
        if (n >= sizeof(h)) return 0;
        memcpy(h, v, n);
        v += n;
    }
    h[n] = 0;
    if (*v && *v != ':') return 0;
    if (*v == ':')
        for (const char *p = v + 1; *p; p++)
            if (!isdigit((unsigned char)*p)) return 0;
    return bx_addr_is_loopback(h);
}

/* Content types a browser cannot send cross-site without a preflight. */
static int ctl_api_content_type_ok(const char *v)
{
    static const char *const ok[] = {"application/yaml", "application/x-yaml", "text/yaml",
                                     "text/x-yaml", "application/json"};
    if (!v) return 0;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strcspn(v, "; \t");
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (n == strlen(ok[i]) && strncasecmp(v, ok[i], n) == 0) return 1;
    return 0;
}

/* ---- JSON views ---- */

/* The stored manifest plus server fields and status. New reference. */
static json_t *ctl_api_record_json(const ctl_record *r)
{
    json_t *o = json_deep_copy(r->object);
    if (!o) return NULL;
    json_t *meta = json_object_get(o, "metadata");
    if (!json_is_object(meta)) {
        meta = json_object();
        if (!meta || json_object_set_new(o, "metadata", meta) < 0) goto fail;
    }
    char ns[CTL_NAME_MAX + 1];
    ctl_key_ns(r->name, ns, sizeof(ns));
    if (json_object_set_new(meta, "name", json_string(ctl_key_name(r->name))) < 0 ||
        json_object_set_new(meta, "namespace", json_string(ns)) < 0 ||
        json_object_set_new(meta, "generation", json_integer(r->generation)) < 0 ||
        json_object_set_new(meta, "creationTimestamp", ctl_api_ts_json(r->created_ms)) < 0 ||
        json_object_set(o, "status", r->status ? r->status : json_object()) < 0)
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

/* The stored Deployments and RayClusterFleets, as one list (*recs, *n;
 * free with ctl_records_free). 0 or -1. */
static int ctl_api_model_servers(ctl_api *a, ctl_record **recs, size_t *n, char *err, size_t errlen)
{
    ctl_record *d = NULL, *f = NULL;
    size_t nd = 0, nf = 0;
    if (ctl_objstore_list(a->store, ctl_kind_name(CTL_KIND_DEPLOYMENT), &d, &nd, err, errlen) < 0)
        return -1;
    if (ctl_objstore_list(a->store, ctl_kind_name(CTL_KIND_RAYCLUSTER_FLEET), &f, &nf, err,
                          errlen) < 0) {
        ctl_records_free(d, nd);
        return -1;
    }
    ctl_record *all = nf ? realloc(d, (nd + nf) * sizeof(*all)) : d;
    if (nf && !all) {
        ctl_records_free(d, nd);
        ctl_records_free(f, nf);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (nf) memcpy(all + nd, f, nf * sizeof(*f));
    free(f); /* its records now belong to all */
    *recs = all;
    *n = nd + nf;
    return 0;
}

/* Services (ctl_obj_service_models): each object of svcs (API JSON, a
 * list) gets status.models, the models of the Deployments and
 * RayClusterFleets of its namespace whose pods its selector matches, and
 * status.endpoint, the gateway's address that serves them (null when the
 * Service names no model or no gateway was given). 0, or -1 with a
 * message. */
static int ctl_api_services_status(ctl_api *a, json_t *svcs, char *err, size_t errlen)
{
    ctl_record *recs = NULL;
    size_t n = 0;
    if (ctl_api_model_servers(a, &recs, &n, err, errlen) < 0) return -1;
    ctl_obj **deps = calloc(n ? n : 1, sizeof(*deps));
    ctl_obj **same = calloc(n ? n : 1, sizeof(*same));
    char(*dns)[CTL_NAME_MAX + 1] = calloc(n ? n : 1, sizeof(*dns));
    int rc = deps && same && dns ? 0 : -1;
    char why[API_ERR_MAX];
    for (size_t i = 0; !rc && i < n; i++) {
        ctl_key_ns(recs[i].name, dns[i], sizeof(dns[i]));
        if (ctl_obj_parse(recs[i].object, &deps[i], why, sizeof(why)) != 0) deps[i] = NULL;
    }
    ctl_records_free(recs, n);
    size_t k;
    json_t *o;
    json_array_foreach(svcs, k, o)
    {
        if (rc) break;
        ctl_obj *svc = NULL;
        json_t *doc = json_deep_copy(o);
        if (doc) (void)json_object_del(doc, "status");
        if (!doc || ctl_obj_parse(doc, &svc, why, sizeof(why)) != 0) {
            json_decref(doc);
            continue; /* stored before a check of today's: shown as stored */
        }
        json_decref(doc);
        const char *sns =
            json_string_value(json_object_get(json_object_get(o, "metadata"), "namespace"));
        if (!sns || !*sns) sns = CTL_NS_DEFAULT;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (deps[i] && !strcmp(dns[i], sns)) same[m++] = deps[i];
        json_t *models = ctl_obj_service_models(svc, same, m);
        ctl_obj_free(svc);
        json_t *st = json_object_get(o, "status");
        if (!models || !json_is_object(st) ||
            json_object_set_new(st, "endpoint",
                                json_array_size(models) && a->cfg.gateway_url
                                    ? json_string(a->cfg.gateway_url)
                                    : json_null()) < 0 ||
            json_object_set_new(st, "models", models) < 0)
            rc = -1;
    }
    if (rc) snprintf(err, errlen, "out of memory");
    if (deps) ctl_objs_free(deps, n);
    free(same);
    free(dns);
    return rc;
}

static json_t *ctl_api_event_json(const ctl_event *e)
{
    char ns[CTL_NAME_MAX + 1];
    ctl_key_ns(e->name, ns, sizeof(ns));
    return json_pack("{s:s, s:s, s:s?, s:I, s:o, s:o, s:{s:s, s:s, s:s}}", "type",
                     ctl_event_type_name(e->type), "reason", e->reason, "message", e->message,
                     "count", (json_int_t)e->count, "firstTimestamp", ctl_api_ts_json(e->first_ms),
                     "lastTimestamp", ctl_api_ts_json(e->last_ms), "involvedObject", "kind",
                     e->kind, "namespace", ns, "name", ctl_key_name(e->name));
}

/* ---- namespaces ---- */

/* Appends the latest `limit` events of (kind, name) to arr. 0 or -1. */
static int ctl_api_append_events(ctl_api *a, const char *kind, const char *name, size_t limit,
                                 json_t *arr, char *err, size_t errlen)
{
    ctl_event *ev = NULL;
    size_t n = 0;
    if (ctl_objstore_events(a->store, kind, name, limit, &ev, &n, err, errlen) < 0) return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *j = ctl_api_event_json(&ev[i]);
        if (!j || json_array_append_new(arr, j) < 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    ctl_events_free(ev, n);
    return rc;
}

/* ---- routes ---- */

/* kubectl apply -n NS: a document without metadata.namespace goes to ns;
 * one that names another namespace is refused. 0 or -1 with a message. */
static int ctl_api_apply_ns(json_t *docs, const char *ns, char *err, size_t errlen)
{
    size_t i;
    json_t *d;
    if (!ns || !*ns) return 0;
    json_array_foreach(docs, i, d)
    {
        json_t *meta = json_object_get(d, "metadata");
        if (!json_is_object(meta)) continue; /* ctl_obj_parse says what is wrong */
        const char *have = json_string_value(json_object_get(meta, "namespace"));
        if (have && strcmp(have, ns) != 0) {
            snprintf(err, errlen,
                     "the namespace from the provided object \"%.63s\" does not match the "
                     "namespace \"%.63s\". You must pass '--namespace=%.63s' to perform this "
                     "operation.",
                     have, ns, have);
            return -1;
        }
        if (!have && strcmp(ns, CTL_NS_DEFAULT) != 0 &&
            json_object_set_new(meta, "namespace", json_string(ns)) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* Validation of every document before anything is stored. 0 with objs
 * (and the skipped documents' warnings appended to warnings), or the HTTP
 * status (400/500) with a message. */
static int ctl_api_apply_validate(ctl_api *a, const char *ns, const char *body, size_t len,
                                  json_t *warnings, ctl_obj ***objs, size_t *n, char *err,
                                  size_t errlen)
{
    bx_yaml_limits lim;
    bx_yaml_limits_default(&lim);
    lim.max_bytes = a->cfg.max_body_bytes;
    json_t *docs = NULL;
    char why[API_ERR_MAX];
    *objs = NULL;
    *n = 0;
    if (bx_yaml_load_all(body, len, &lim, &docs, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "invalid YAML: %s", why);
        return 400;
    }
    size_t total = json_array_size(docs);
    if (ctl_api_apply_ns(docs, ns, err, errlen) < 0 ||
        ctl_obj_parse_all(docs, warnings, objs, n, err, errlen) < 0) {
        json_decref(docs);
        return 400;
    }
    json_decref(docs);
    int status = 0;
    if (*n == 0 && json_array_size(warnings) == 0) {
        snprintf(err, errlen, "no objects in the request body");
        status = 400;
    }
    /* PodAutoscalers: the autoscaler's own validation too. */
    as_spec *spec = status ? NULL : malloc(sizeof(*spec));
    if (!status && !spec) {
        snprintf(err, errlen, "out of memory");
        status = 500;
    }
    for (size_t i = 0; !status && i < *n; i++) {
        const ctl_obj *o = (*objs)[i];
        if (o->kind != CTL_KIND_POD_AUTOSCALER) continue;
        if (ctl_as_spec_parse(o->raw, spec, NULL, why, sizeof(why)) < 0) {
            if (total > 1)
                snprintf(err, errlen, "document %zu: PodAutoscaler %s: %s", o->doc, o->name, why);
            else
                snprintf(err, errlen, "PodAutoscaler %s: %s", o->name, why);
            status = 400;
        }
    }
    free(spec);
    if (status) {
        ctl_objs_free(*objs, *n);
        *objs = NULL;
        *n = 0;
    }
    return status;
}

int ctl_api_apply(ctl_api *a, const char *body, size_t len, json_t **answer, char *err,
                  size_t errlen)
{
    return ctl_api_apply_in(a, NULL, body, len, answer, err, errlen);
}

int ctl_api_apply_in(ctl_api *a, const char *ns, const char *body, size_t len, json_t **answer,
                     char *err, size_t errlen)
{
    ctl_obj **objs = NULL;
    size_t n = 0;
    *answer = NULL;
    json_t *warnings = json_array();
    if (!warnings) {
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    int st = ctl_api_apply_validate(a, ns, body, len, warnings, &objs, &n, err, errlen);
    if (st) {
        json_decref(warnings);
        return st;
    }
    json_t *items = json_array();
    if (!items) {
        json_decref(warnings);
        ctl_objs_free(objs, n);
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    char why[API_ERR_MAX];
    for (size_t i = 0; i < n; i++) {
        ctl_obj *o = objs[i];
        const char *kname = ctl_kind_name(o->kind);
        ctl_record rec = {0};
        int ex = ctl_objstore_get(a->store, kname, o->name, &rec, why, sizeof(why));
        if (ex == 0) ctl_record_clear(&rec);
        int changed = 0;
        if (ex < 0 || ctl_objstore_put(a->store, o, &changed, why, sizeof(why)) < 0) {
            bx_error("api: apply %s/%s: %s", ctl_kind_lower(o->kind), o->name, why);
            snprintf(err, errlen, "storing %s/%s failed after %zu of %zu objects: %s",
                     ctl_kind_lower(o->kind), o->name, i, n, why);
            json_decref(warnings);
            json_decref(items);
            ctl_objs_free(objs, n);
            return 500;
        }
        const char *result = ex == 1 ? "created" : changed ? "configured" : "unchanged";
        char ons[CTL_NAME_MAX + 1];
        ctl_key_ns(o->name, ons, sizeof(ons));
        json_t *it = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "kind", kname, "namespace", ons,
                               "name", ctl_key_name(o->name), "result", result, "generation",
                               (json_int_t)o->generation, "notes", o->notes);
        if (!it || json_array_append_new(items, it) < 0) {
            json_decref(warnings);
            json_decref(items);
            ctl_objs_free(objs, n);
            snprintf(err, errlen, "out of memory");
            return 500;
        }
    }
    ctl_objs_free(objs, n);
    *answer = json_pack("{s:o, s:o}", "items", items, "warnings", warnings);
    if (!*answer) {
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    return 200;
}

static void ctl_api_route_apply(ctl_api *a, bx_http_req *req, bx_http_res *res)
{
    char err[API_ERR_MAX];
    if (!ctl_api_content_type_ok(bx_http_req_header(req, "content-type"))) {
        bx_reply_error(res, 415, NULL,
                       "Content-Type must be application/yaml, application/x-yaml, text/yaml or "
                       "application/json");
        return;
    }
    char ns[CTL_NAME_MAX + 1];
    int hn = bx_query_get(req->query, "namespace", ns, sizeof(ns));
    if (hn < 0 || (hn && ns[0] && !ctl_name_valid(ns))) {
        bx_reply_error(res, 400, NULL, "namespace: must be a DNS-1123 label");
        return;
    }
    json_t *answer = NULL;
    int st =
        ctl_api_apply_in(a, hn ? ns : NULL, req->body, req->body_len, &answer, err, sizeof(err));
    if (st == 200)
        bx_reply_json(res, 200, answer);
    else
        bx_reply_error(res, st, NULL, err);
}

static void ctl_api_route_list(ctl_api *a, ctl_kind kind, const char *ns, bx_http_res *res)
{
    char err[API_ERR_MAX];
    ctl_record *recs = NULL;
    size_t n = 0;
    if (ctl_objstore_list(a->store, ctl_kind_name(kind), &recs, &n, err, sizeof(err)) < 0) {
        ctl_api_reply_errorf(res, 500, "%s", err);
        return;
    }
    json_t *items = json_array();
    int ok = items != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        if (!ctl_api_in_ns(recs[i].name, ns)) continue;
        json_t *o = ctl_api_record_json(&recs[i]);
        ok = o && json_array_append_new(items, o) == 0;
    }
    ctl_records_free(recs, n);
    if (!ok) {
        json_decref(items);
        bx_reply_error(res, 500, NULL, "out of memory");
        return;
    }
    if (kind == CTL_KIND_SERVICE && ctl_api_services_status(a, items, err, sizeof(err)) < 0) {
        json_decref(items);
        ctl_api_reply_errorf(res, 500, "%s", err);
        return;
    }
    bx_reply_json(res, 200, json_pack("{s:s, s:o}", "kind", ctl_kind_name(kind), "items", items));
}

static void ctl_api_route_get(ctl_api *a, ctl_kind kind, const char *name, bx_http_res *res)
{
    char err[API_ERR_MAX];
    ctl_record rec = {0};
    int r = ctl_objstore_get(a->store, ctl_kind_name(kind), name, &rec, err, sizeof(err));
    if (r == 1) {
        ctl_api_reply_errorf(res, 404, "%s \"%s\" not found", ctl_kind_lower(kind),
                             ctl_key_name(name));
        return;
    }
    if (r < 0) {
        ctl_api_reply_errorf(res, 500, "%s", err);
        return;
    }
    json_t *obj = ctl_api_record_json(&rec);
    ctl_record_clear(&rec);
    json_t *events = json_array(), *one = json_pack("[O]", obj);
    if (obj && one && kind == CTL_KIND_SERVICE &&
        ctl_api_services_status(a, one, err, sizeof(err)) < 0) {
        json_decref(one);
        json_decref(obj);
        json_decref(events);
        ctl_api_reply_errorf(res, 500, "%s", err);
        return;
    }
    json_decref(one);
    if (!obj || !events) {
        json_decref(obj);
        json_decref(events);
        bx_reply_error(res, 500, NULL, "out of memory");
        return;
    }
    if (ctl_api_append_events(a, ctl_kind_name(kind), name, a->cfg.event_limit, events, err,
                              sizeof(err)) < 0) {
        json_decref(obj);
        json_decref(events);
        ctl_api_reply_errorf(res, 500, "%s", err);
        return;
    }
    bx_reply_json(res, 200, json_pack("{s:o, s:o}", "object", obj, "events", events));
}

static void ctl_api_route_delete(ctl_api *a, ctl_kind kind, const char *name, bx_http_res *res)
{
    char err[API_ERR_MAX];
    int r = ctl_objstore_delete(a->store, ctl_kind_name(kind), name, err, sizeof(err));
    if (r == 1) {
        ctl_api_reply_errorf(res, 404, "%s \"%s\" not found", ctl_kind_lower(kind),
                             ctl_key_name(name));
        return;
    }
    if (r < 0) {
        ctl_api_reply_errorf(res, 500, "%s", err);
        return;
    }
    char ns[CTL_NAME_MAX + 1];
    ctl_key_ns(name, ns, sizeof(ns));
    bx_reply_json(res, 200,
                  json_pack("{s:s, s:s, s:s, s:s}", "kind", ctl_kind_name(kind), "namespace", ns,
                            "name", ctl_key_name(name), "result", "deleted"));
}

static void ctl_api_route_objects(ctl_api *a, bx_http_req *req, bx_http_res *res, const char *rest)
{
    char kind_s[64], name[CTL_NAME_MAX + 2], ns[CTL_NAME_MAX + 1], key[CTL_NAME_MAX + 1];
    if (ctl_api_ns_param(req, res, ns, sizeof(ns)) < 0) return;
    size_t kl = strcspn(rest, "/");
    if (kl == 0 || kl >= sizeof(kind_s)) {
        ctl_api_reply_errorf(res, 404, "no such path: %.200s", req->path);
        return;
    }
    memcpy(kind_s, rest, kl);
    kind_s[kl] = 0;
    ctl_kind kind = ctl_api_kind_parse(kind_s);
    if (kind == CTL_KIND_NONE) {
        ctl_api_reply_errorf(
            res, 404, "unknown kind \"%s\" (want deployments, modeladapters or podautoscalers)",
            kind_s);
        return;
    }
    rest += kl;
    if (*rest == '/') rest++;
    if (!*rest) {
        if (strcmp(req->method, "GET") != 0) {
            ctl_api_reply_405(res, "GET", req->method);
            return;
        }
        ctl_api_route_list(a, kind, ns, res);
        return;
    }
    size_t nl = strlen(rest);
    if (nl && rest[nl - 1] == '/') nl--;
    if (nl >= sizeof(name) || memchr(rest, '/', nl)) {
        ctl_api_reply_errorf(res, 404, "no such path: %.200s", req->path);
        return;
    }
    memcpy(name, rest, nl);
    name[nl] = 0;
    if (!ctl_name_valid(name)) {
        ctl_api_reply_errorf(
            res, 400, "invalid name \"%.64s\": must be a DNS-1123 subdomain of at most 63 bytes",
            name);
        return;
    }
    if (!ns[0]) snprintf(ns, sizeof(ns), "%s", CTL_NS_DEFAULT); /* one object: one namespace */
    if (ctl_api_key_of(res, ns, name, key, sizeof(key)) < 0) return;
    if (strcmp(req->method, "GET") == 0)
        ctl_api_route_get(a, kind, key, res);
    else if (strcmp(req->method, "DELETE") == 0)
        ctl_api_route_delete(a, kind, key, res);
    else
        ctl_api_reply_405(res, "GET, DELETE", req->method);
}

static void ctl_api_route_events(ctl_api *a, bx_http_req *req, bx_http_res *res)
{
    char err[API_ERR_MAX], kind_s[64], name[CTL_NAME_MAX + 1], lim_s[16], ns[CTL_NAME_MAX + 1],
        key[CTL_NAME_MAX + 1];
    if (ctl_api_ns_param(req, res, ns, sizeof(ns)) < 0) return;
    int hk = bx_query_get(req->query, "kind", kind_s, sizeof(kind_s));
    int hn = bx_query_get(req->query, "name", name, sizeof(name));
    int hl = bx_query_get(req->query, "limit", lim_s, sizeof(lim_s));
    if (hk < 0 || hn < 0 || hl < 0) {
        bx_reply_error(res, 400, NULL, "invalid query parameter");
        return;
    }
    size_t limit = a->cfg.event_limit;
    if (hl) {
        char *end;
        long v = strtol(lim_s, &end, 10);
        if (*end || v < 1 || v > API_MAX_EVENTS) {
            ctl_api_reply_errorf(res, 400, "limit: must be an integer in 1..%d", API_MAX_EVENTS);
            return;
        }
        limit = (size_t)v;
    }
    ctl_kind kind = CTL_KIND_NONE;
    if (hk && kind_s[0]) {
        kind = ctl_api_kind_parse(kind_s);
        if (kind == CTL_KIND_NONE) {
            ctl_api_reply_errorf(res, 400, "kind: unknown kind \"%s\"", kind_s);
            return;
        }
    }
    if (hn && name[0] && kind == CTL_KIND_NONE) {
        bx_reply_error(res, 400, NULL, "name: needs kind");
        return;
    }
    json_t *items = json_array();
    if (!items) {
        bx_reply_error(res, 500, NULL, "out of memory");
        return;
    }
    int rc = 0;
    if (hn && name[0]) {
        if (ctl_api_key_of(res, ns[0] ? ns : CTL_NS_DEFAULT, name, key, sizeof(key)) < 0) {
            json_decref(items);
            return;
        }
        rc = ctl_api_append_events(a, ctl_kind_name(kind), key, limit, items, err, sizeof(err));
    } else {
        ctl_record *recs = NULL;
        size_t n = 0;
        rc = ctl_objstore_list(a->store, kind == CTL_KIND_NONE ? NULL : ctl_kind_name(kind), &recs,
                               &n, err, sizeof(err));
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (ctl_api_in_ns(recs[i].name, ns))
                rc = ctl_api_append_events(a, recs[i].kind, recs[i].name, limit, items, err,
                                           sizeof(err));
        ctl_records_free(recs, n);
    }
    if (rc < 0) {
        json_decref(items);
        ctl_api_reply_errorf(res, 500, "%s", err);
        return;
    }
    bx_reply_json(res, 200, json_pack("{s:o}", "items", items));
}

static void ctl_api_handler(bx_http_req *req, bx_http_res *res, void *ud)
{
    ctl_api *a = ud;
    const char *host = bx_http_req_header(req, "host");
    if (host && !ctl_api_host_ok(host)) {
        bx_reply_error(res, 403, NULL, "Host must be a loopback address");
        return;
    }
    const char *p = req->path;
    const char *allow = NULL; /* set: the method is not one of these */
    if (strcmp(p, "/healthz") == 0) {
        if (strcmp(req->method, "GET") == 0)
            bx_reply_json(res, 200, json_pack("{s:s}", "status", "ok"));
        else
            allow = "GET";
    } else if (strcmp(p, "/v1/apply") == 0) {
        if (strcmp(req->method, "POST") == 0)
            ctl_api_route_apply(a, req, res);
        else
            allow = "POST";
    } else if (strncmp(p, "/v1/objects/", 12) == 0) {
        ctl_api_route_objects(a, req, res, p + 12);
    } else if (strncmp(p, "/v1/pods/", 9) == 0) {
        ctl_api_route_log(a, req, res, p + 9);
    } else if (strcmp(p, "/v1/pods") == 0) {
        if (strcmp(req->method, "GET") == 0)
            ctl_api_route_pods(a, req, res);
        else
            allow = "GET";
    } else if (strcmp(p, "/v1/events") == 0) {
        if (strcmp(req->method, "GET") == 0)
            ctl_api_route_events(a, req, res);
        else
            allow = "GET";
    } else {
        ctl_api_reply_errorf(res, 404, "no such path: %.200s", p);
    }
    if (allow) ctl_api_reply_405(res, allow, req->method);
}

/* ---- lifecycle ---- */

int ctl_api_init(ctl_api **out, uv_loop_t *loop, ctl_objstore *store, const ctl_api_config *cfg,
                 const ctl_api_callbacks *cbs, char *err, size_t errlen)
{
    *out = NULL;
    ctl_api_config def;
    ctl_api_config_default(&def);
    if (!cfg) cfg = &def;
    const char *host = cfg->host ? cfg->host : def.host;
    if (strcasecmp(host, "localhost") == 0) host = "127.0.0.1";
    if (!bx_addr_is_loopback(host) || strlen(host) >= API_HOST_MAX) {
        if (err && errlen)
            snprintf(err, errlen, "admin API: host %.64s is not a loopback address", host);
        return -1;
    }
    if (cfg->port < 0 || cfg->port > 65535) {
        if (err && errlen) snprintf(err, errlen, "admin API: port %d out of range", cfg->port);
        return -1;
    }
    ctl_api *a = calloc(1, sizeof(*a));
    if (!a) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->loop = loop;
    a->store = store;
    a->cfg = *cfg;
    snprintf(a->host, sizeof(a->host), "%s", host);
    a->cfg.host = a->host;
    if (!a->cfg.max_body_bytes) a->cfg.max_body_bytes = def.max_body_bytes;
    if (!a->cfg.event_limit) a->cfg.event_limit = def.event_limit;
    if (a->cfg.event_limit > API_MAX_EVENTS) a->cfg.event_limit = API_MAX_EVENTS;
    if (cbs) a->cbs = *cbs;
    bx_http_limits lim;
    bx_http_limits_default(&lim);
    lim.max_body_bytes = a->cfg.max_body_bytes;
    lim.max_connections = API_MAX_CONNECTIONS;
    if (bx_http_server_init(&a->srv, loop, &lim, ctl_api_handler, a) != 0) {
        if (err && errlen) snprintf(err, errlen, "admin API: cannot create the HTTP server");
        free(a);
        return -1;
    }
    *out = a;
    return 0;
}

int ctl_api_listen(ctl_api *a, char *err, size_t errlen)
{
    int port = bx_http_server_listen(a->srv, a->host, a->cfg.port, 0);
    if (port <= 0) {
        if (err && errlen)
            snprintf(err, errlen, "admin API: cannot listen on %s:%d: %s", a->host, a->cfg.port,
                     port < 0 ? uv_strerror(port) : "no port");
        return -1;
    }
    return port;
}

static void ctl_api_on_server_closed(void *ud)
{
    ctl_api *a = ud;
    void (*cb)(void *) = a->close_cb;
    void *cud = a->close_ud;
    free(a);
    if (cb) cb(cud);
}

void ctl_api_close(ctl_api *a, void (*cb)(void *ud), void *ud)
{
    if (!a) return;
    a->close_cb = cb;
    a->close_ud = ud;
    bx_http_server_close(a->srv, ctl_api_on_server_closed, a);
}
